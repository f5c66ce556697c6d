package proxy

import (
	"context"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy/redistest"
)

// ChromiumEnv names a directory where the screenshot test leaves its PNG, so
// a person can look at it.
const ChromiumEnv = "REDISHA_SCREENSHOT_DIR"

// requireChromium returns the browser's path, skipping without it unless
// REDISHA_REQUIRE_REDIS (CI) is set.
func requireChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv(redistest.RequireEnv) != "" {
		t.Fatal("chromium not found: install Debian's chromium package")
	}
	t.Skip("chromium not installed")
	return ""
}

func chromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	base := []string{"--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
		"--user-data-dir=" + t.TempDir(), "--disable-dev-shm-usage"}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v", args, err)
	}
	return out
}

func TestStatsPageRendersTheSeedServersInChromium(t *testing.T) {
	bin := requireChromium(t)
	nodes := trio(t)
	p := seedProxy(t, nodes, "")
	waitRouting(t, p.Backend("back_redis_master1"), []string{"redis1"}, 3*time.Second)
	waitRouting(t, p.Backend("back_redis_slave1"), []string{"redis2", "redis3"}, 3*time.Second)
	if err := p.Backend("back_redis_slave1").SetAdmin("redis3", AdminMaint, ViaAPI); err != nil {
		t.Fatal(err)
	}
	_, page := get(t, statsURL(p, ";norefresh"), "admin", "1234")
	dir := os.Getenv(ChromiumEnv)
	if dir == "" {
		dir = t.TempDir()
	}
	html := filepath.Join(dir, "stats.html")
	if err := os.WriteFile(html, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}

	// The browser's own DOM: a table per backend, a row per server in the
	// class of its state.
	dom := string(chromium(t, bin, "--dump-dom", "file://"+html))
	want := map[string]string{
		`back_redis_master1[\s\S]*?<tr class="active_up"><td>.*?</td><td class="ac">redis1</td>`:   "redis1 UP on the master port",
		`back_redis_master1[\s\S]*?<tr class="active_down"><td>.*?</td><td class="ac">redis2</td>`: "redis2 DOWN on the master port",
		`back_redis_slave1[\s\S]*?<tr class="active_up"><td>.*?</td><td class="ac">redis2</td>`:    "redis2 UP on the replica port",
		`back_redis_slave1[\s\S]*?<tr class="maintain"><td>.*?</td><td class="ac">redis3</td>`:     "redis3 MAINT on the replica port",
		`<select name="action">`: "the admin form",
		// "* L7OK" and an empty info while a check is in flight.
		`<td class="ac">\d+s UP</td><td class="ac"><u title="Layer7 check passed: (\(tcp-check\))?">(\* )?L7OK/0`: "an UP status with its last check",
	}
	for re, what := range want {
		if !regexp.MustCompile(re).MatchString(dom) {
			t.Errorf("the rendered page does not show %s (%s)", what, re)
		}
	}

	shot := filepath.Join(dir, "stats.png")
	chromium(t, bin, "--window-size=1600,1100", "--screenshot="+shot, "file://"+html)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	// Count the pixels of the UP (#c0ffc0), DOWN (#ff9090) and MAINT
	// (#c07820) row colours: each state must be visible.
	count := map[color.RGBA]int{}
	targets := []color.RGBA{{0xc0, 0xff, 0xc0, 0xff}, {0xff, 0x90, 0x90, 0xff}, {0xc0, 0x78, 0x20, 0xff}}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			c := color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), 0xff}
			for _, tc := range targets {
				if c == tc {
					count[tc]++
				}
			}
		}
	}
	for _, tc := range targets {
		if count[tc] < 500 {
			t.Errorf("colour %v covers %d sampled pixels: that state is not visible", tc, count[tc])
		}
	}
	if !strings.Contains(page, "redis3") {
		t.Error("page lacks redis3")
	}
	t.Logf("screenshot: %s", shot)
}

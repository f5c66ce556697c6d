package config

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/redisha-sim/redisha-sim/proxy/tcpcheck"
)

var renderCmp = []cmp.Option{
	cmpopts.IgnoreUnexported(Frontend{}, Backend{}, tcpcheck.Rule{}),
	cmpopts.IgnoreTypes(Pos{}),
	cmpopts.EquateEmpty(),
}

func renderInputs(t *testing.T) []string {
	t.Helper()
	t.Setenv("REDISHA_TEST_PASSWORD", "s3cret")
	files, _ := filepath.Glob("testdata/good/*.cfg")
	return append(files, seedPath)
}

func TestRenderReadsBackTheSame(t *testing.T) {
	for _, f := range renderInputs(t) {
		orig, _, err := ParseFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := Render(orig)
		back, _, err := Parse(f+" (rendered)", strings.NewReader(text), ParseOptions{})
		if err != nil {
			t.Errorf("%s: the rendered configuration does not parse:\n%v\n%s", f, err, text)
			continue
		}
		if d := cmp.Diff(orig, back, renderCmp...); d != "" {
			t.Errorf("%s: rendered and parsed back differs (-orig +back):\n%s", f, d)
		}
	}
}

func TestRenderEscapesBytesExactly(t *testing.T) {
	for _, s := range []string{"AUTH pass word\r\n", "#x\\y'\"z", "\x00\x7f\xff", ""} {
		words, err := splitLine("tcp-check send "+escape(s), nil)
		if err != nil || len(words) != 3 || words[2] != s {
			t.Errorf("%q: rendered %s, read back %q (%v)", s, escape(s), words, err)
		}
	}
}

// HAProxy itself must accept what Render writes (the container backend
// hands it rendered files).
func TestHAProxyAcceptsRenderedConfigurations(t *testing.T) {
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		if os.Getenv("REDISHA_REQUIRE_REDIS") != "" {
			t.Fatal("haproxy not found: install Debian's haproxy")
		}
		t.Skip("haproxy not installed")
	}
	for _, f := range renderInputs(t) {
		cfg, _, err := ParseFile(f)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "rendered.cfg")
		text := strings.ReplaceAll(Render(cfg), "/tmp/redisha-test.sock", filepath.Join(t.TempDir(), "s.sock"))
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(text, "init-state") {
			continue // HAProxy 3.1+ only
		}
		if strings.Contains(text, "redis-sentinel") {
			continue // redisha-sim's extension: HAProxy does not know it
		}
		out, err := exec.Command(haproxy, "-c", "-f", path).CombinedOutput()
		if err != nil {
			t.Errorf("%s: haproxy -c rejects the rendered configuration: %v\n%s\n%s", f, err, out, text)
		}
	}
}

func TestMinRecvZeroAndMinusOneAreDistinct(t *testing.T) {
	src := "backend b\n option tcp-check\n tcp-check expect min-recv 0 string a\n tcp-check expect min-recv -1 string b\n tcp-check expect min-recv 7 string c\n"
	cfg, _, err := Parse("m.cfg", strings.NewReader(src), ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := []int{cfg.Backends[0].CheckRules[0].MinRecv, cfg.Backends[0].CheckRules[1].MinRecv, cfg.Backends[0].CheckRules[2].MinRecv}
	if got[0] != -1 || got[1] != 0 || got[2] != 7 {
		t.Fatalf("min-recv 0, -1, 7 stored as %v, want -1 (decide at once), 0 (unset), 7", got)
	}
}

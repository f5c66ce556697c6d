package proxy

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy/config"
	"github.com/redisha-sim/redisha-sim/proxy/redistest"
)

// seedConfig is the seed configuration pointed at nodes: its binds on free
// loopback ports, its servers at the nodes, inter shortened to speed the
// tests up, plus a runtime socket at sock when not empty.
func seedConfig(t *testing.T, nodes []*redistest.Server, sock string) *config.Config {
	t.Helper()
	cfg, _, err := config.ParseFile("../scenarios/haproxy-seed.cfg")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range cfg.Frontends {
		for i := range f.Binds {
			f.Binds[i].Addr = "127.0.0.1:0"
		}
	}
	for _, name := range []string{"back_redis_master1", "back_redis_slave1"} {
		for i, s := range cfg.Backend(name).Servers {
			s.Addr = nodes[i].Addr
			fastChecks.apply(s)
		}
	}
	if sock != "" {
		cfg.Global.StatsSockets = []config.StatsSocket{{Network: "unix", Address: sock, Level: "admin", Mode: 0o600}}
	}
	return cfg
}

func seedProxy(t *testing.T, nodes []*redistest.Server, sock string) *Proxy {
	t.Helper()
	return start(t, seedConfig(t, nodes, sock))
}

func statsURL(p *Proxy, suffix string) string {
	return "http://" + p.StatsAddrs()[0].String() + "/haproxy_stats" + suffix
}

func get(t *testing.T, u, user, pass string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func post(t *testing.T, u string, form url.Values, header http.Header) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("admin", "1234")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestEveryStatsURLNeedsCredentials(t *testing.T) {
	nodes := trio(t)
	p := seedProxy(t, nodes, "")
	for _, suffix := range []string{"", ";csv", ";json", ";up", ";norefresh", ";events", ";csv;norefresh", "//URL"} {
		for _, cred := range [][2]string{{"", ""}, {"admin", "wrong"}, {"nobody", "1234"}, {"admin", ""}} {
			resp, _ := get(t, statsURL(p, suffix), cred[0], cred[1])
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s with %q: status %d, want 401", suffix, cred, resp.StatusCode)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != `Basic realm="HAProxy Statistics"` {
				t.Errorf("%s: WWW-Authenticate %q", suffix, got)
			}
		}
	}
	req, _ := http.NewRequest("POST", statsURL(p, ""), strings.NewReader("s=redis1&action=maint&b=back_redis_master1"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := noRedirect.Do(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("POST without credentials: %v %v", resp.Status, err)
	}
	if st := p.Backend("back_redis_master1").Servers()[0]; st.Admin != AdminReady {
		t.Fatal("an unauthenticated POST changed a server")
	}
	if resp, _ := get(t, statsURL(p, ";csv"), "admin", "1234"); resp.StatusCode != http.StatusOK {
		t.Fatalf("with the right credentials: %d", resp.StatusCode)
	}
}

func TestAdminPostSetsMaintThenReady(t *testing.T) {
	nodes := trio(t)
	p := seedProxy(t, nodes, "")
	b := p.Backend("back_redis_master1")
	waitRouting(t, b, []string{"redis1"}, 3*time.Second)
	id := p.ids["be:back_redis_master1"]
	form := url.Values{"s": {"redis1"}, "action": {"maint"}, "b": {"#" + strconv.Itoa(id)}}
	resp := post(t, statsURL(p, ""), form, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/haproxy_stats;st=DONE" {
		t.Fatalf("maint: %s, Location %q", resp.Status, resp.Header.Get("Location"))
	}
	if st := b.Servers()[0]; st.Status != "MAINT" {
		t.Fatalf("redis1 is %q after the maint action", st.Status)
	}
	c, err := net.Dial("tcp", p.Frontend("front_redis_master1").Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if d := closedWithin(t, c, time.Second); d > 100*time.Millisecond {
		t.Fatalf("master port kept a client %v with its only master in MAINT", d)
	}
	resp = post(t, statsURL(p, ""), url.Values{"s": {"redis1"}, "action": {"ready"}, "b": {"back_redis_master1"}}, nil)
	if resp.Header.Get("Location") != "/haproxy_stats;st=DONE" {
		t.Fatalf("ready: Location %q", resp.Header.Get("Location"))
	}
	if got := servedPort(t, p.Frontend("front_redis_master1").Addr().String()); got != portOf(nodes[0]) {
		t.Fatalf("after READY the master port reached %s, want %s", got, portOf(nodes[0]))
	}
	_, page := get(t, statsURL(p, ";st=DONE"), "admin", "1234")
	if !strings.Contains(page, "Action processed successfully.") {
		t.Fatal("the page does not show the action's result")
	}
	for _, tc := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"s": {"nope"}, "action": {"maint"}, "b": {"back_redis_master1"}}, "ERRP"},
		{url.Values{"s": {"redis1"}, "action": {"explode"}, "b": {"back_redis_master1"}}, "ERRP"},
		{url.Values{"s": {"redis1"}, "action": {"maint"}, "b": {"#999"}}, "ERRP"},
		{url.Values{"s": {"redis1", "nope"}, "action": {"drain"}, "b": {"back_redis_master1"}}, "PART"},
		{url.Values{"action": {"maint"}, "b": {"back_redis_master1"}}, "NONE"},
	} {
		resp := post(t, statsURL(p, ";norefresh"), tc.form, nil)
		if want := "/haproxy_stats;norefresh;st=" + tc.want; resp.Header.Get("Location") != want {
			t.Errorf("%v: Location %q, want %q", tc.form, resp.Header.Get("Location"), want)
		}
	}
}

func TestCrossSiteAdminPostsAreRefusedAndGETChangesNothing(t *testing.T) {
	nodes := trio(t)
	p := seedProxy(t, nodes, "")
	form := url.Values{"s": {"redis1"}, "action": {"maint"}, "b": {"back_redis_master1"}}
	for _, h := range []http.Header{
		{"Sec-Fetch-Site": {"cross-site"}},
		{"Origin": {"http://evil.example"}},
	} {
		if resp := post(t, statsURL(p, ""), form, h); resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-origin POST %v: %s, want 403", h, resp.Status)
		}
	}
	get(t, statsURL(p, "")+"?s=redis1&action=maint&b=back_redis_master1", "admin", "1234")
	if st := p.Backend("back_redis_master1").Servers()[0]; st.Admin != AdminReady {
		t.Fatalf("redis1 is %v: a refused or GET request changed it", st.Admin)
	}
}

func TestCSVHasHAProxysColumnsAndParses(t *testing.T) {
	nodes := trio(t)
	p := seedProxy(t, nodes, "")
	waitRouting(t, p.Backend("back_redis_master1"), []string{"redis1"}, 3*time.Second)
	resp, body := get(t, statsURL(p, ";csv"), "admin", "1234")
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain" {
		t.Errorf("content type %q", ct)
	}
	rd := csv.NewReader(strings.NewReader(strings.TrimPrefix(body, "# ")))
	records, err := rd.ReadAll()
	if err != nil {
		t.Fatalf("the CSV does not parse: %v", err)
	}
	ref, err := os.ReadFile("testdata/haproxy-2.6.12-show-stat-header.txt")
	if err != nil {
		t.Fatal(err)
	}
	haproxy := strings.Split(strings.TrimPrefix(strings.TrimSpace(string(ref)), "# "), ",")
	header := records[0]
	for i, name := range header[:len(header)-1] {
		if haproxy[i] != name {
			t.Fatalf("column %d is %q, HAProxy 2.6 has %q there", i+1, name, haproxy[i])
		}
	}
	col := map[string]int{}
	for i, name := range header {
		col[name] = i
	}
	status := map[string]string{}
	for _, r := range records[1:] {
		if len(r) != len(header) {
			t.Fatalf("row %v has %d fields, header %d", r[:2], len(r), len(header))
		}
		if r[col["pxname"]] == "back_redis_master1" {
			status[r[col["svname"]]] = r[col["status"]] + " " + r[col["check_status"]]
		}
	}
	if !strings.HasPrefix(status["redis1"], "UP") || !strings.HasPrefix(status["redis2"], "DOWN") || !strings.HasPrefix(status["BACKEND"], "UP") {
		t.Fatalf("master backend rows: %v", status)
	}
	resp, body = get(t, statsURL(p, ";json"), "admin", "1234")
	var js [][]map[string]any
	if err := json.Unmarshal([]byte(body), &js); err != nil || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf(";json: %v (%s)", err, resp.Header.Get("Content-Type"))
	}
	if len(js) != len(records)-1 {
		t.Fatalf(";json has %d objects, ;csv %d rows", len(js), len(records)-1)
	}
}

// socketCmd sends one line to the runtime socket and returns the answer.
func socketCmd(t *testing.T, sock, line string) string {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte(line + "\n"))
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	return string(b)
}

func TestRuntimeAPICommandsOverTheSocket(t *testing.T) {
	nodes := trio(t)
	sock := filepath.Join(t.TempDir(), "admin.sock")
	p := seedProxy(t, nodes, sock)
	b := p.Backend("back_redis_master1")
	waitRouting(t, b, []string{"redis1"}, 3*time.Second)
	status := func() string { return b.Servers()[0].Status }

	if out := socketCmd(t, sock, "show info"); !strings.Contains(out, "Name: redisha-sim\n") || !strings.HasSuffix(out, "\n\n") {
		t.Errorf("show info: %q", out)
	}
	if out := socketCmd(t, sock, "show stat"); !strings.HasPrefix(out, "# pxname,svname,") || !strings.Contains(out, "\nback_redis_master1,redis1,") {
		t.Errorf("show stat: %q", out)
	}
	if out := socketCmd(t, sock, "show stat -1 4 -1"); strings.Contains(out, "FRONTEND") || strings.Contains(out, "BACKEND") {
		t.Errorf("show stat for servers only lists frontends or backends: %q", out)
	}
	out := socketCmd(t, sock, "show servers state back_redis_master1")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 5 || lines[0] != "1" || !strings.HasPrefix(lines[2], strconv.Itoa(p.ids["be:back_redis_master1"])+" back_redis_master1 1 redis1 127.0.0.1 2 0 1 1 ") {
		t.Errorf("show servers state: %q", out)
	}
	steps := []struct{ cmd, want, status string }{
		{"disable server back_redis_master1/redis1", "\n", "MAINT"},
		{"enable server back_redis_master1/redis1", "\n", "UP 1/3"},
		{"set server back_redis_master1/redis1 state drain", "\n", "DRAIN 1/3"},
		{"set server back_redis_master1/redis1 state ready", "\n", "UP 1/3"},
		{"set server back_redis_master1/redis1 health down", "\n", "DOWN"},
		{"set server back_redis_master1/redis1 health up", "\n", "UP"},
		{"disable health back_redis_master1/redis1", "\n", "no check"},
		{"enable health back_redis_master1/redis1", "\n", "UP"},
		{"set server back_redis_master1/redis1 state maint", "\n", "MAINT"},
		{"set server back_redis_master1/redis1 state ready", "\n", "UP 1/3"},
	}
	for _, s := range steps {
		if out := socketCmd(t, sock, s.cmd); out != s.want {
			t.Errorf("%s: answered %q, want %q", s.cmd, out, s.want)
		}
		// Checks run every few hundred ms and may move the health counter
		// between two commands: UP and DRAIN are checked without it.
		sameWord := func(got, want string) bool {
			w, _, _ := strings.Cut(want, " ")
			g, _, _ := strings.Cut(got, " ")
			return (w == "UP" || w == "DRAIN") && g == w
		}
		if got := status(); got != s.status && !sameWord(got, s.status) {
			t.Errorf("after %q: %q, want %q", s.cmd, got, s.status)
		}
	}
	if out := socketCmd(t, sock, "set weight back_redis_master1/redis1 50; get weight back_redis_master1/redis1"); out != "\n50 (initial 1)\n\n" {
		t.Errorf("set/get weight: %q", out)
	}
	rc := dialRedis(t, p.Frontend("front_redis_master1").Addr().String())
	if out := socketCmd(t, sock, "shutdown sessions server back_redis_master1/redis1"); out != "\n" {
		t.Errorf("shutdown sessions: %q", out)
	}
	if _, err := rc.do("PING"); err == nil {
		t.Error("a session survived 'shutdown sessions server'")
	}
	for cmd, want := range map[string]string{
		"disable server nope/redis1":                     "No such backend.\n\n",
		"disable server back_redis_master1/nope":         "No such server.\n\n",
		"disable server redis1":                          "Require 'backend/server'.\n\n",
		"set server back_redis_master1/redis1 state foo": "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n\n",
		"set weight back_redis_master1/redis1 300":       "Absolute weight can only be between 0 and 256 inclusive.\n\n",
		"set weight back_redis_master1/redis1 abc":       "Empty weight string empty or preceded by garbage\n\n",
	} {
		if out := socketCmd(t, sock, cmd); out != want {
			t.Errorf("%s: %q, want %q", cmd, out, want)
		}
	}
	if out := socketCmd(t, sock, "bogus"); !strings.HasPrefix(out, "Unknown command, but maybe one of the following ones is a better match:") {
		t.Errorf("unknown command: %q", out)
	}
}

func TestRuntimeAPIWorksWithSocat(t *testing.T) {
	if _, err := exec.LookPath("socat"); err != nil {
		if os.Getenv(redistest.RequireEnv) != "" {
			t.Fatal("socat not found: install Debian's socat")
		}
		t.Skip("socat not installed")
	}
	nodes := trio(t)
	sock := filepath.Join(t.TempDir(), "admin.sock")
	seedProxy(t, nodes, sock)
	cmd := exec.Command("sh", "-c", `echo "show stat" | socat stdio "$SOCK"`)
	cmd.Env = append(os.Environ(), "SOCK="+sock)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "# pxname,svname,") {
		t.Fatalf("socat: %v %q", err, out)
	}
}

func TestMetricsFollowServerStatesThroughARoleSwap(t *testing.T) {
	nodes := trio(t)
	// The seed has no exporter line: add one.
	cfg := seedConfig(t, nodes, "")
	cfg.Frontend("stats").Stats.MetricsPath = "/metrics"
	p := start(t, cfg)
	waitRouting(t, p.Backend("back_redis_master1"), []string{"redis1"}, 3*time.Second)
	scrape := func() string {
		resp, err := http.Get("http://" + p.StatsAddrs()[0].String() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	up := func(body, server string) bool {
		return strings.Contains(body, `haproxy_server_status{proxy="back_redis_master1",server="`+server+`",state="UP"} 1`)
	}
	body := scrape()
	if !up(body, "redis1") || up(body, "redis2") {
		t.Fatalf("before the swap: redis1 UP=%v redis2 UP=%v", up(body, "redis1"), up(body, "redis2"))
	}
	for _, name := range []string{"haproxy_server_check_failures_total", "haproxy_server_check_up_down_total", "haproxy_server_current_sessions", "haproxy_server_bytes_in_total", "haproxy_server_check_duration_seconds"} {
		if !strings.Contains(body, name+"{") {
			t.Errorf("metric %s missing", name)
		}
	}
	swapRoles(t, nodes)
	deadline := time.Now().Add(4 * time.Second)
	for {
		body = scrape()
		if up(body, "redis2") && !up(body, "redis1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the swap: redis1 UP=%v redis2 UP=%v", up(body, "redis1"), up(body, "redis2"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(body, `haproxy_server_check_up_down_total{proxy="back_redis_master1",server="redis1"} 1`) {
		t.Error("redis1's UP to DOWN transition is not counted")
	}
}

func TestEventStreamOverHTTP(t *testing.T) {
	nodes := trio(t)
	p := seedProxy(t, nodes, "")
	waitRouting(t, p.Backend("back_redis_master1"), []string{"redis1"}, 3*time.Second)
	req, _ := http.NewRequest("GET", statsURL(p, ";events")+"?types=server-down", nil)
	req.SetBasicAuth("admin", "1234")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Fatalf("content type %q", ct)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		p.Backend("back_redis_master1").SetHealth("redis1", false, ViaAPI)
	}()
	lines := bufio.NewScanner(resp.Body)
	done := make(chan Event, 1)
	go func() {
		for lines.Scan() {
			var e Event
			if json.Unmarshal(lines.Bytes(), &e) == nil && e.Server == "redis1" && e.Backend == "back_redis_master1" {
				done <- e
				return
			}
		}
	}()
	select {
	case e := <-done:
		if e.Type != EventServerDown || !strings.Contains(e.Message, "is DOWN, changed from API") || e.Wall.IsZero() {
			t.Fatalf("got %+v", e)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no server-down event on the stream")
	}
}

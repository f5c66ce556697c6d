package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy/config"
)

// Tests of the stats listener and the runtime API against hostile but
// honest clients (issue 17, items 5, 6 and 12).

// pongServer is a stand-in Redis on loopback: it answers +PONG to every
// line, so the data path can be exercised without redis-server.
func pongServer(t *testing.T) string {
	t.Helper()
	return lineServer(t, "+PONG\r\n", false)
}

// lineServer answers every line it reads with reply; with hangUp, it
// closes the connection after the first answer.
func lineServer(t *testing.T, reply string, hangUp bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				rd := bufio.NewReader(c)
				for {
					if _, err := rd.ReadString('\n'); err != nil {
						return
					}
					if _, err := c.Write([]byte(reply)); err != nil || hangUp {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// bareConfig is a proxy with one frontend and backend (one unchecked
// server at addr), a stats section with authentication and admin, and a
// runtime socket on TCP loopback.
func bareConfig(addr string) *config.Config {
	return &config.Config{
		Global: config.Global{StatsSockets: []config.StatsSocket{{Network: "tcp", Address: "127.0.0.1:0", Level: "admin"}}},
		Frontends: []*config.Frontend{
			tcpFrontend("fe", "back"),
			{
				Name: "stats", Mode: config.ModeHTTP, Binds: []config.Bind{{Addr: "127.0.0.1:0"}},
				Timeouts: config.Timeouts{Client: 5 * time.Second},
				Stats:    &config.Stats{URI: "/stats", Auth: []config.Credential{{User: "admin", Password: "1234"}}, Admin: true},
			},
		},
		Backends: []*config.Backend{{
			Name: "back", Timeouts: config.Timeouts{Connect: time.Second, Server: 10 * time.Second},
			Servers: []*config.Server{{Name: "redis1", Addr: addr}},
		}},
	}
}

// rawHTTP sends raw bytes to the stats listener and returns what comes
// back until the proxy closes, and how long that took.
func rawHTTP(t *testing.T, p *Proxy, req string, wait time.Duration) (string, time.Duration) {
	t.Helper()
	c, err := net.Dial("tcp", p.StatsAddrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t0 := time.Now()
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(wait))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read the answer to %.40q: got %v after %v with %q, want the proxy to close within %v", req, err, time.Since(t0), b, wait)
	}
	return string(b), time.Since(t0)
}

func TestStatsAnswersAnUnauthenticatedPostWithoutWaitingForItsBody(t *testing.T) {
	p := start(t, bareConfig(pongServer(t)))
	// A body is announced and never sent: the 401 must come at once and
	// the connection close, long before timeout client (5 s).
	got, took := rawHTTP(t, p, "POST /stats HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n", 2*time.Second)
	if !strings.HasPrefix(got, "HTTP/1.1 401 ") {
		t.Fatalf("got %q, want a 401", got)
	}
	if took > time.Second {
		t.Errorf("got the answer and close after %v, want well under timeout client", took)
	}
}

func TestStatsRequestTimeoutCoversTheHeadAndTheBody(t *testing.T) {
	cfg := bareConfig(pongServer(t))
	cfg.Frontends[1].Timeouts.HTTPRequest = 300 * time.Millisecond
	p := start(t, cfg)

	// Authenticated, with a body announced and only partly sent.
	req := "POST /stats HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWRtaW46MTIzNA==\r\n" +
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nb=back"
	got, took := rawHTTP(t, p, req, 3*time.Second)
	if took < 250*time.Millisecond || took > 2*time.Second {
		t.Errorf("partial body: closed after %v, want about timeout http-request (300ms)", took)
	}
	if strings.Contains(got, "st=DONE") {
		t.Errorf("partial body: got %q, want no action taken", got)
	}

	// A head trickled one byte every 50 ms: each byte comes well within
	// the timeout, the whole head does not.
	c, err := net.Dial("tcp", p.StatsAddrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t0 := time.Now()
	head := "GET /stats HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 200) + "\r\n\r\n"
	closed := false
	for i := 0; i < len(head) && time.Since(t0) < 3*time.Second; i++ {
		if _, err := c.Write([]byte{head[i]}); err != nil {
			closed = true
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !closed {
		c.SetReadDeadline(time.Now().Add(time.Second))
		b, _ := io.ReadAll(c)
		if strings.Contains(string(b), "200 OK") {
			t.Fatalf("trickled head: got %q, want the connection closed by timeout http-request", b)
		}
	}
	if took := time.Since(t0); took > 2*time.Second {
		t.Errorf("trickled head: held for %v, want about 300ms", took)
	}
}

func TestStatsRefusesAnOversizedHead(t *testing.T) {
	p := start(t, bareConfig(pongServer(t)))
	req := "GET /stats HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 64<<10) + "\r\n\r\n"
	got, _ := rawHTTP(t, p, req, 3*time.Second)
	if !strings.HasPrefix(got, "HTTP/1.1 431 ") {
		t.Fatalf("got %.60q, want 431 Request Header Fields Too Large", got)
	}
}

func TestStatsAdminRefusesACrossSiteRefererWithoutOrigin(t *testing.T) {
	p := start(t, bareConfig(pongServer(t)))
	u := "http://" + p.StatsAddrs()[0].String() + "/stats"
	form := url.Values{"s": {"redis1"}, "action": {"maint"}, "b": {"back"}}
	for _, tc := range []struct {
		referer string
		want    int
	}{
		{"http://evil.example/page", http.StatusForbidden},
		{"http://" + p.StatsAddrs()[0].String() + ".evil.example/", http.StatusForbidden},
		{"%zz", http.StatusForbidden},
		{u, http.StatusSeeOther},
	} {
		resp := post(t, u, form, http.Header{"Referer": {tc.referer}})
		if resp.StatusCode != tc.want {
			t.Errorf("Referer %q: got %s, want %d", tc.referer, resp.Status, tc.want)
		}
		if got := p.Backend("back").Servers()[0].Admin; tc.want == http.StatusForbidden && got != AdminReady {
			t.Fatalf("Referer %q: redis1 is %v after a refused POST, want it unchanged", tc.referer, got)
		}
	}
	if got := p.Backend("back").Servers()[0].Admin; got != AdminMaint {
		t.Errorf("redis1 is %v after a same-site POST, want MAINT", got)
	}
}

func TestStatsRealmWithQuotesIsAQuotedString(t *testing.T) {
	cfg := bareConfig(pongServer(t))
	cfg.Frontends[1].Stats.Realm = `say "hi" \ bye`
	p := start(t, cfg)
	resp, _ := get(t, "http://"+p.StatsAddrs()[0].String()+"/stats", "", "")
	if got, want := resp.Header.Get("WWW-Authenticate"), `Basic realm="say \"hi\" \\ bye"`; got != want {
		t.Errorf("got WWW-Authenticate %s, want %s", got, want)
	}
}

func TestEscapeControlsKeepsTextAndEscapesControlBytes(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Redis server is ok", "Redis server is ok"},
		{"-ERR ünïcode", "-ERR ünïcode"},
		{"a\x00b\x1b[31mc\x7f\r\n", `a\x00b\x1b[31mc\x7f\x0d\x0a`},
		{"bad \xff\xfe utf8", `bad \xff\xfe utf8`},
		{"c1 \u0085", `c1 \xc2\x85`},
	} {
		if got := escapeControls(tc.in); got != tc.want {
			t.Errorf("escapeControls(%q): got %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestControlBytesOfACheckReplyNeverReachTheCSVOrShowStat(t *testing.T) {
	hostile := "-ERR \x1b[2J\x00bell\x07,\"quote\"\r\n"
	cfg := bareConfig(lineServer(t, hostile, true))
	be := cfg.Backends[0]
	be.CheckKind = config.CheckRedis
	be.Servers[0].Check = true
	be.Servers[0].Inter = 200 * time.Millisecond
	p := start(t, cfg)

	deadline := time.Now().Add(5 * time.Second)
	for p.Backend("back").Servers()[0].LastCheckT.IsZero() {
		if time.Now().After(deadline) {
			t.Fatal("no check within 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, csvText := get(t, "http://"+p.StatsAddrs()[0].String()+"/stats;csv", "admin", "1234")
	show := p.runtimeCommand("show stat", "admin")
	for name, text := range map[string]string{"the CSV": csvText, "show stat": show} {
		for i := 0; i < len(text); i++ {
			if c := text[i]; (c < 0x20 && c != '\n') || c == 0x7f {
				t.Fatalf("%s holds byte %#x at %d: %q", name, c, i, text)
			}
		}
		if !strings.Contains(text, `-ERR \x1b[2J\x00bell\x07,""quote""`) {
			t.Errorf("%s: got %q, want the reply escaped in last_chk", name, text)
		}
	}
}

// runtimeDial connects to the proxy's runtime socket (TCP).
func runtimeDial(t *testing.T, p *Proxy) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", p.RuntimeAddrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// runtimeIdle waits until the runtime socket has no connection left: its
// handlers have seen every end of stream.
func runtimeIdle(t *testing.T, p *Proxy) {
	t.Helper()
	s := p.sockets[0]
	deadline := time.Now().Add(3 * time.Second)
	for {
		s.mu.Lock()
		n := len(s.conns)
		s.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("runtime socket still has %d connections after 3s", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRuntimeAPIDoesNotRunACommandCutShortByAResetOrEOF(t *testing.T) {
	p := start(t, bareConfig(pongServer(t)))
	for _, end := range []string{"reset", "eof"} {
		c := runtimeDial(t, p)
		if _, err := c.Write([]byte("set weight back/redis1 0")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond) // let the proxy read the fragment
		if end == "reset" {
			c.SetLinger(0)
			c.Close()
		} else {
			c.CloseWrite()
			c.SetReadDeadline(time.Now().Add(3 * time.Second))
			if b, _ := io.ReadAll(c); len(b) != 0 {
				t.Errorf("%s: got %q, want no answer", end, b)
			}
		}
		runtimeIdle(t, p)
		if cur, _, _ := p.Backend("back").Weight("redis1"); cur != 1 {
			t.Fatalf("after a command cut short by %s: weight %d, want 1 (not run)", end, cur)
		}
	}
	// The same command with its newline runs.
	c := runtimeDial(t, p)
	c.Write([]byte("set weight back/redis1 0\n"))
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	io.ReadAll(c)
	if cur, _, _ := p.Backend("back").Weight("redis1"); cur != 0 {
		t.Fatalf("after the complete command: weight %d, want 0", cur)
	}
}

func TestRuntimeAPIAnswersAnErrorAndClosesOnALineTooLong(t *testing.T) {
	p := start(t, bareConfig(pongServer(t)))
	c := runtimeDial(t, p)
	line := "set weight back/redis1 0" + strings.Repeat(" ", maxRuntimeLine) + "\n"
	if _, err := c.Write([]byte(line)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("got %v, want the proxy to close", err)
	}
	if got, want := string(b), "Command line too long (the limit is 16384 bytes).\n\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if cur, _, _ := p.Backend("back").Weight("redis1"); cur != 1 {
		t.Errorf("weight %d after a refused line, want 1", cur)
	}
	// A line of exactly the limit still runs.
	c = runtimeDial(t, p)
	cmd := "get weight back/redis1"
	c.Write([]byte(cmd + strings.Repeat(" ", maxRuntimeLine-len(cmd)-1) + "\n"))
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if b, _ := io.ReadAll(c); string(b) != "1 (initial 1)\n\n" {
		t.Errorf("line of %d bytes: got %q, want the weight", maxRuntimeLine, b)
	}
}

func TestRuntimeAPIOnAUnixSocketStillAnswersSocat(t *testing.T) {
	cfg := bareConfig(pongServer(t))
	sock := filepath.Join(t.TempDir(), "admin.sock")
	cfg.Global.StatsSockets = []config.StatsSocket{{Network: "unix", Address: sock, Level: "admin"}}
	p := start(t, cfg)
	if got := socketCmd(t, sock, "get weight back/redis1; help"); !strings.HasPrefix(got, "1 (initial 1)\n\nThe following commands") {
		t.Errorf("got %.60q, want the answers of both commands", got)
	}
	_ = p
}

func TestRuntimeAPIServesStatsMaxconnConnectionsAtATime(t *testing.T) {
	cfg := bareConfig(pongServer(t))
	cfg.Global.StatsMaxConn = 2
	p := start(t, cfg)
	held := []*net.TCPConn{runtimeDial(t, p), runtimeDial(t, p)}
	time.Sleep(100 * time.Millisecond) // both accepted
	c := runtimeDial(t, p)
	c.Write([]byte("get weight back/redis1\n"))
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if b, err := io.ReadAll(c); len(b) != 0 || err == nil {
		t.Fatalf("a third connection with stats maxconn 2: got %q, %v; want no answer yet", b, err)
	}
	held[0].Close()
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if b, err := io.ReadAll(c); string(b) != "1 (initial 1)\n\n" {
		t.Fatalf("once a connection closed: got %q, %v; want the answer", b, err)
	}
}

package proxy

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy/config"
	"github.com/redisha-sim/redisha-sim/proxy/redistest"
	"github.com/redisha-sim/redisha-sim/proxy/tcpcheck"
)

const password = "password1234"

// testLogger writes the proxy's log to the test's log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// start builds and starts a proxy that is closed when the test ends.
func start(t *testing.T, cfg *config.Config) *Proxy {
	t.Helper()
	p, err := New(cfg, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("start proxy: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// tcpFrontend returns a frontend on a free loopback port routing to be.
func tcpFrontend(name, be string) *config.Frontend {
	return &config.Frontend{
		Name: name, Binds: []config.Bind{{Addr: "127.0.0.1:0"}}, DefaultBackend: be,
		Timeouts: config.Timeouts{Client: 10 * time.Second},
	}
}

// seedMasterRules and seedReplicaRules are the seed's check sequences,
// read from the seed configuration itself.
func seedRules(t *testing.T) (master, replica []tcpcheck.Rule) {
	t.Helper()
	cfg, _, err := config.ParseFile("../scenarios/haproxy-seed.cfg")
	if err != nil {
		t.Fatalf("load seed: %v", err)
	}
	return cfg.Backend("back_redis_master1").CheckRules, cfg.Backend("back_redis_slave1").CheckRules
}

// servers returns checked servers for the given Redis processes.
func servers(nodes []*redistest.Server, names []string, mod func(*config.Server)) []*config.Server {
	var out []*config.Server
	for i, n := range nodes {
		s := &config.Server{Name: names[i], Addr: n.Addr, Check: true}
		if mod != nil {
			mod(s)
		}
		out = append(out, s)
	}
	return out
}

// trio starts a password-protected master and two replicas.
func trio(t *testing.T) []*redistest.Server {
	t.Helper()
	redistest.Require(t)
	var nodes []*redistest.Server
	for i := 0; i < 3; i++ {
		n, err := redistest.Start(t.Context(), redistest.Options{Password: password})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.Close)
		nodes = append(nodes, n)
	}
	for _, r := range nodes[1:] {
		if err := r.ReplicaOf(t.Context(), nodes[0]); err != nil {
			t.Fatal(err)
		}
	}
	return nodes
}

// redisConn is a minimal RESP client on one connection, so tests control
// exactly which session a command goes through.
type redisConn struct {
	c  net.Conn
	rd *bufio.Reader
}

func dialRedis(t *testing.T, addr string) *redisConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	rc := &redisConn{c: c, rd: bufio.NewReader(c)}
	if got, err := rc.do("AUTH", password); err != nil || got != "OK" {
		t.Fatalf("AUTH through %s: got %q, %v", addr, got, err)
	}
	return rc
}

// do sends a command and returns the reply as text: simple strings and
// errors as their line, bulk strings as their content.
func (r *redisConn) do(args ...string) (string, error) {
	r.c.SetDeadline(time.Now().Add(3 * time.Second))
	var b strings.Builder
	b.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
	}
	if _, err := r.c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	line, err := r.rd.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	switch line[0] {
	case '+', '-', ':':
		return line[1:], nil
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r.rd, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return line, nil
}

// servedPort returns the tcp_port a Redis reached through addr reports.
func servedPort(t *testing.T, addr string) string {
	t.Helper()
	rc := dialRedis(t, addr)
	defer rc.c.Close()
	return tcpPort(t, rc, addr)
}

// tcpPort returns the tcp_port of the Redis at the other end of rc.
func tcpPort(t *testing.T, rc *redisConn, addr string) string {
	t.Helper()
	info, err := rc.do("INFO", "server")
	if err != nil {
		t.Fatalf("INFO through %s: %v", addr, err)
	}
	for _, l := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(l, "tcp_port:"); ok {
			return v
		}
	}
	t.Fatalf("no tcp_port in INFO server: %q", info)
	return ""
}

func portOf(n *redistest.Server) string { return strconv.Itoa(n.Port) }

// waitEvent waits for an event matching pred.
func waitEvent(t *testing.T, sub *Subscription, timeout time.Duration, pred func(Event) bool) Event {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case e, ok := <-sub.C:
			if !ok {
				t.Fatal("event subscription closed")
			}
			if pred(e) {
				return e
			}
		case <-deadline:
			t.Fatalf("no matching event within %v", timeout)
		}
	}
}

func isServer(typ EventType, backend, server string) func(Event) bool {
	return func(e Event) bool { return e.Type == typ && e.Backend == backend && e.Server == server }
}

// at converts an event's time to a wall-clock instant.
func at(p *Proxy, e Event) time.Time { return p.Start().Add(e.T) }

// goroutines waits for the number of goroutines to drop to at most n and
// returns the last count.
func settleGoroutines(n int, within time.Duration) int {
	deadline := time.Now().Add(within)
	for {
		g := runtime.NumGoroutine()
		if g <= n || time.Now().After(deadline) {
			return g
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// openFDsAfterGC counts descriptors once the garbage collector has closed
// the pipes that splice keeps pooled (internal/poll caches them in a
// sync.Pool and closes them from a finalizer): without it, a count taken
// after TCP-to-TCP copies sees pipes that are not leaks.
func openFDsAfterGC(t *testing.T) int {
	t.Helper()
	for range 3 {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	return openFDs(t)
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// openSockets counts the process's socket descriptors.
func openSockets(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	n := 0
	for _, e := range ents {
		if l, _ := os.Readlink("/proc/self/fd/" + e.Name()); strings.HasPrefix(l, "socket:") {
			n++
		}
	}
	return n
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newTextLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

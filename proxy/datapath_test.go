package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy/config"
)

// tcpServer runs handle for every connection on a loopback listener.
func tcpServer(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); handle(c) }()
		}
	}()
	return ln.Addr().String()
}

// refusedAddr is a loopback address nothing listens on.
func refusedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func echo(c net.Conn) { defer c.Close(); io.Copy(c, c) }

// plainProxy proxies one frontend to servers at addrs, without checks.
func plainProxy(t *testing.T, addrs []string, mod func(*config.Frontend, *config.Backend)) *Proxy {
	t.Helper()
	return start(t, plainConfig(addrs, mod))
}

// plainConfig is plainProxy's configuration: frontend fe to backend be
// with servers s1, s2... at addrs, changed by mod when given.
func plainConfig(addrs []string, mod func(*config.Frontend, *config.Backend)) *config.Config {
	be := &config.Backend{Name: "be", Timeouts: config.Timeouts{Connect: time.Second, Server: 10 * time.Second}}
	for i, a := range addrs {
		be.Servers = append(be.Servers, &config.Server{Name: "s" + string(rune('1'+i)), Addr: a})
	}
	fe := tcpFrontend("fe", "be")
	if mod != nil {
		mod(fe, be)
	}
	return &config.Config{Frontends: []*config.Frontend{fe}, Backends: []*config.Backend{be}}
}

func dial(t *testing.T, p *Proxy) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", p.Frontend("fe").Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// closedWithin reads until the proxy closes c and returns how long it took.
func closedWithin(t *testing.T, c net.Conn, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	c.SetReadDeadline(start.Add(limit))
	buf := make([]byte, 512)
	for {
		_, err := c.Read(buf)
		if err != nil {
			if errors.Is(err, io.EOF) || strings.Contains(err.Error(), "reset") {
				return time.Since(start)
			}
			t.Fatalf("connection not closed within %v: %v", limit, err)
		}
	}
}

func sessionClose(t *testing.T, sub *Subscription) Event {
	t.Helper()
	return waitEvent(t, sub, 5*time.Second, func(e Event) bool { return e.Type == EventSessionClose })
}

func TestHalfCloseReachesTheServerAndRepliesStillFlow(t *testing.T) {
	// The server answers only after the client has finished sending.
	addr := tcpServer(t, func(c net.Conn) {
		defer c.Close()
		data, _ := io.ReadAll(c)
		c.Write(bytes.ToUpper(data))
	})
	p := plainProxy(t, []string{addr}, nil)
	c := dial(t, p)
	c.Write([]byte("hello "))
	c.Write([]byte("world"))
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "HELLO WORLD" {
		t.Fatalf("got %q, %v; want HELLO WORLD then EOF", got, err)
	}
}

func TestSilentSessionTimesOutOnTheShorterSide(t *testing.T) {
	for _, tc := range []struct {
		client, server time.Duration
		term           string
	}{
		{200 * time.Millisecond, 10 * time.Second, termClientTimeout},
		{10 * time.Second, 200 * time.Millisecond, termServerTimeout},
	} {
		p := plainProxy(t, []string{tcpServer(t, echo)}, func(f *config.Frontend, b *config.Backend) {
			f.Timeouts.Client, b.Timeouts.Server = tc.client, tc.server
		})
		sub := p.Events().Subscribe(64, 0)
		c := dial(t, p)
		limit := min(tc.client, tc.server)
		if d := closedWithin(t, c, 3*time.Second); d < limit-5*time.Millisecond || d > limit+idleWindow(limit)+150*time.Millisecond {
			t.Errorf("client %v server %v: closed after %v, want about %v", tc.client, tc.server, d, limit)
		}
		if e := sessionClose(t, sub); e.Termination != tc.term {
			t.Errorf("termination %q, want %q", e.Termination, tc.term)
		}
		sub.Close()
	}
}

func TestTrafficEitherWayKeepsTheSessionAlive(t *testing.T) {
	// As in HAProxy 2.6: a silent client that receives data outlives
	// "timeout client", and a silent server that receives data outlives
	// "timeout server".
	talker := tcpServer(t, func(c net.Conn) {
		defer c.Close()
		for i := 0; i < 20; i++ {
			if _, err := c.Write([]byte("x")); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	p := plainProxy(t, []string{talker}, func(f *config.Frontend, b *config.Backend) { f.Timeouts.Client = 200 * time.Millisecond })
	c := dial(t, p)
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	got, _ := io.ReadAll(c)
	if len(got) != 20 {
		t.Fatalf("silent client got %d bytes, want all 20 over 1s with timeout client 200ms", len(got))
	}

	silent := tcpServer(t, func(c net.Conn) { defer c.Close(); io.Copy(io.Discard, c) })
	p2 := plainProxy(t, []string{silent}, func(f *config.Frontend, b *config.Backend) { b.Timeouts.Server = 200 * time.Millisecond })
	c2 := dial(t, p2)
	for i := 0; i < 20; i++ {
		if _, err := c2.Write([]byte("y")); err != nil {
			t.Fatalf("write %d to a silent server: %v (timeout server fired despite traffic)", i, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestTunnelTimeoutReplacesClientAndServer(t *testing.T) {
	p := plainProxy(t, []string{tcpServer(t, echo)}, func(f *config.Frontend, b *config.Backend) {
		f.Timeouts.Client, b.Timeouts.Server, b.Timeouts.Tunnel = 100*time.Millisecond, 100*time.Millisecond, 500*time.Millisecond
	})
	c := dial(t, p)
	if d := closedWithin(t, c, 3*time.Second); d < 495*time.Millisecond || d > 800*time.Millisecond {
		t.Fatalf("closed after %v, want about the tunnel timeout 500ms", d)
	}
}

func TestClientFinTimeoutBoundsAHalfClosedSession(t *testing.T) {
	// The server never answers nor closes; after the client's FIN, the
	// session lasts client-fin, not the long server timeout.
	silent := tcpServer(t, func(c net.Conn) { defer c.Close(); io.Copy(io.Discard, c); time.Sleep(5 * time.Second) })
	p := plainProxy(t, []string{silent}, func(f *config.Frontend, b *config.Backend) {
		f.Timeouts.ClientFin = 200 * time.Millisecond
	})
	c := dial(t, p)
	c.Write([]byte("bye"))
	c.CloseWrite()
	if d := closedWithin(t, c, 3*time.Second); d > 600*time.Millisecond {
		t.Fatalf("closed after %v, want about client-fin 200ms", d)
	}
}

func TestMaxConnQueuesUntilASlotFrees(t *testing.T) {
	addr := tcpServer(t, echo)
	p := plainProxy(t, []string{addr}, func(f *config.Frontend, b *config.Backend) {
		b.Servers[0].MaxConn = 1
		b.Timeouts.Queue = 2 * time.Second
	})
	first := dial(t, p)
	first.Write([]byte("a"))
	io.ReadFull(first, make([]byte, 1))
	second := dial(t, p)
	second.Write([]byte("b"))
	second.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := second.Read(make([]byte, 1)); err == nil {
		t.Fatal("second session was served while the server was at maxconn 1")
	}
	if got := p.Backend("be").State().Queued; got != 1 {
		t.Fatalf("queued %d, want 1", got)
	}
	first.Close()
	second.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.ReadFull(second, make([]byte, 1)); err != nil {
		t.Fatalf("second session not served after the first closed: %v", err)
	}
}

func TestQueueTimeoutClosesTheWaitingClient(t *testing.T) {
	p := plainProxy(t, []string{tcpServer(t, echo)}, func(f *config.Frontend, b *config.Backend) {
		b.Servers[0].MaxConn = 1
		b.Timeouts.Queue = 200 * time.Millisecond
	})
	sub := p.Events().Subscribe(64, 0)
	defer sub.Close()
	first := dial(t, p)
	first.Write([]byte("a"))
	io.ReadFull(first, make([]byte, 1))
	second := dial(t, p)
	if d := closedWithin(t, second, 3*time.Second); d < 190*time.Millisecond || d > 500*time.Millisecond {
		t.Fatalf("queued client closed after %v, want about 200ms", d)
	}
	if e := sessionClose(t, sub); e.Termination != termQueueTimeout || e.Server != "<NOSRV>" {
		t.Fatalf("got termination %q on %q, want %q on <NOSRV>", e.Termination, e.Server, termQueueTimeout)
	}
}

func TestRefusedServerIsRetriedAfterTheTurnAround(t *testing.T) {
	p := plainProxy(t, []string{refusedAddr(t)}, func(f *config.Frontend, b *config.Backend) {
		b.Retries = 2
		b.Timeouts.Connect = 100 * time.Millisecond
	})
	sub := p.Events().Subscribe(64, 0)
	defer sub.Close()
	c := dial(t, p)
	// Three attempts separated by min(timeout connect, 1s) = 100ms.
	if d := closedWithin(t, c, 3*time.Second); d < 195*time.Millisecond || d > 450*time.Millisecond {
		t.Fatalf("closed after %v, want about 2 retries x 100ms", d)
	}
	if e := sessionClose(t, sub); e.Termination != termNoServer {
		t.Fatalf("termination %q, want %q", e.Termination, termNoServer)
	}
	st := p.Backend("be").Servers()[0]
	if st.ConnErrors != 3 || st.Retries != 2 {
		t.Fatalf("econ %d wretr %d, want 3 and 2", st.ConnErrors, st.Retries)
	}
}

func TestRedispatchMovesToAnotherServerAtOnce(t *testing.T) {
	alive := tcpServer(t, echo)
	p := plainProxy(t, []string{refusedAddr(t), alive}, func(f *config.Frontend, b *config.Backend) {
		b.Redispatch = true
		b.Timeouts.Connect = time.Second
	})
	// Round-robin sends the first session to the dead server: with
	// redispatch and two active servers it must move at once, not after
	// the 1s turn-around.
	start := time.Now()
	c := dial(t, p)
	c.Write([]byte("z"))
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		t.Fatalf("not served: %v", err)
	}
	if d := time.Since(start); d > 300*time.Millisecond {
		t.Fatalf("served after %v, want an immediate redispatch", d)
	}
	if st := p.Backend("be").Servers()[0]; st.Redispatch != 1 {
		t.Fatalf("wredis %d on the dead server, want 1", st.Redispatch)
	}
}

func TestNoUsableServerClosesTheClientAtOnce(t *testing.T) {
	p := plainProxy(t, []string{tcpServer(t, echo)}, nil)
	if err := p.Backend("be").SetAdmin("s1", AdminMaint, ViaAPI); err != nil {
		t.Fatal(err)
	}
	sub := p.Events().Subscribe(64, p.Events().Last())
	defer sub.Close()
	c := dial(t, p)
	if d := closedWithin(t, c, time.Second); d > 100*time.Millisecond {
		t.Fatalf("closed after %v, want at once", d)
	}
	if e := sessionClose(t, sub); e.Termination != termNoServer || e.Server != "<NOSRV>" {
		t.Fatalf("got %q on %q, want %q on <NOSRV>", e.Termination, e.Server, termNoServer)
	}
}

func TestMaintenanceShutsDownSessionsWhenAsked(t *testing.T) {
	p := plainProxy(t, []string{tcpServer(t, echo)}, func(f *config.Frontend, b *config.Backend) {
		b.Servers[0].ShutdownSessions = true
	})
	c := dial(t, p)
	c.Write([]byte("a"))
	io.ReadFull(c, make([]byte, 1))
	if err := p.Backend("be").SetAdmin("s1", AdminMaint, ViaAPI); err != nil {
		t.Fatal(err)
	}
	if d := closedWithin(t, c, time.Second); d > 100*time.Millisecond {
		t.Fatalf("closed after %v, want at once", d)
	}
}

func TestCloseLeavesNoGoroutinesOrDescriptors(t *testing.T) {
	addr := tcpServer(t, echo)
	time.Sleep(20 * time.Millisecond)
	baseG, baseFD, baseSockets := settleGoroutines(0, 0), openFDs(t), openSockets(t)
	p, err := New(&config.Config{
		Frontends: []*config.Frontend{tcpFrontend("fe", "be")},
		Backends: []*config.Backend{{Name: "be", Timeouts: config.Timeouts{Connect: time.Second, Server: 10 * time.Second},
			Servers: []*config.Server{{Name: "s1", Addr: addr, Check: true, Inter: 50 * time.Millisecond}}}},
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	feAddr := p.Frontend("fe").Addr().String()
	var open []net.Conn
	for i := 0; i < 40; i++ {
		c, err := net.Dial("tcp", feAddr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("ping"))
		io.ReadFull(c, make([]byte, 4))
		if i%2 == 0 {
			c.Close()
		} else {
			open = append(open, c) // still open when the proxy closes
		}
	}
	time.Sleep(120 * time.Millisecond)
	p.Close()
	for _, c := range open {
		c.Close()
	}
	if g := settleGoroutines(baseG, 3*time.Second); g > baseG {
		t.Errorf("goroutines: %d after Close, %d before", g, baseG)
	}
	// Sockets must be gone at once. Splice pipes stay in the Go runtime's
	// pipe pool until the garbage collector finalizes them.
	if sk := openSockets(t); sk > baseSockets {
		t.Errorf("sockets: %d after Close, %d before", sk, baseSockets)
	}
	deadline := time.Now().Add(2 * time.Second)
	for openFDs(t) > baseFD && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if fd := openFDs(t); fd > baseFD {
		t.Errorf("descriptors: %d after Close and GC, %d before", fd, baseFD)
	}
}

func TestShutdownWaitsForSessionsThenCutsThem(t *testing.T) {
	p := plainProxy(t, []string{tcpServer(t, echo)}, nil)
	c := dial(t, p)
	c.Write([]byte("a"))
	io.ReadFull(c, make([]byte, 1))
	go func() { time.Sleep(150 * time.Millisecond); c.Close() }()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	start := time.Now()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v, want nil once the session ended", err)
	}
	if d := time.Since(start); d < 140*time.Millisecond {
		t.Fatalf("Shutdown returned after %v, before the session ended", d)
	}
	if _, err := net.DialTimeout("tcp", p.Frontend("fe").Addr().String(), 200*time.Millisecond); err == nil {
		t.Fatal("the frontend still accepts after Shutdown")
	}

	p2 := plainProxy(t, []string{tcpServer(t, echo)}, nil)
	c2 := dial(t, p2)
	c2.Write([]byte("a"))
	io.ReadFull(c2, make([]byte, 1))
	ctx2, cancel2 := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel2()
	if err := p2.Shutdown(ctx2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown with a lingering session: %v, want deadline exceeded", err)
	}
	if d := closedWithin(t, c2, time.Second); d > 200*time.Millisecond {
		t.Fatalf("lingering session closed %v after Shutdown, want at once", d)
	}
}

func TestFirstChecksAreStaggeredAndFollowCompletion(t *testing.T) {
	// A server that answers the check 100ms after it is sent: with inter
	// 300ms, checks complete every 400ms (interval counted from completion).
	slow := tcpServer(t, func(c net.Conn) {
		defer c.Close()
		buf := make([]byte, 16)
		c.Read(buf)
		time.Sleep(100 * time.Millisecond)
		c.Write([]byte("+PONG\r\n"))
		io.Copy(io.Discard, c)
	})
	fast := tcpServer(t, func(c net.Conn) { c.Close() })
	be := &config.Backend{Name: "be", CheckKind: config.CheckRedis, Timeouts: config.Timeouts{Connect: time.Second, Server: time.Second}}
	plain := &config.Backend{Name: "plain", Timeouts: config.Timeouts{Connect: time.Second, Server: time.Second}}
	for i := 0; i < 3; i++ {
		plain.Servers = append(plain.Servers, &config.Server{Name: "p" + string(rune('1'+i)), Addr: fast, Check: true, Inter: 2 * time.Second})
	}
	be.Servers = []*config.Server{{Name: "slow", Addr: slow, Check: true, Inter: 300 * time.Millisecond}}
	p := start(t, &config.Config{Frontends: []*config.Frontend{tcpFrontend("fe", "be")}, Backends: []*config.Backend{plain, be}})
	sub := p.Events().Subscribe(256, 0)
	defer sub.Close()
	var plainStarts []time.Duration
	var slowEnds []time.Duration
	for len(plainStarts) < 3 || len(slowEnds) < 3 {
		e := waitEvent(t, sub, 5*time.Second, func(e Event) bool { return e.Type == EventCheck })
		if e.Backend == "plain" && len(plainStarts) < 3 {
			plainStarts = append(plainStarts, e.T-e.Check.Duration)
		}
		if e.Backend == "be" {
			slowEnds = append(slowEnds, e.T)
		}
	}
	// Four checks over the smallest interval of at least 1s (2s): the plain
	// servers (positions 0-2) start at 0, 500 and 1000ms.
	for i, st := range plainStarts {
		want := time.Duration(i) * 500 * time.Millisecond
		if st < want-10*time.Millisecond || st > want+60*time.Millisecond {
			t.Errorf("plain check %d started at %v, want %v", i, st, want)
		}
	}
	for i := 1; i < len(slowEnds); i++ {
		if gap := slowEnds[i] - slowEnds[i-1]; gap < 390*time.Millisecond || gap > 470*time.Millisecond {
			t.Errorf("slow checks completed %v apart, want inter 300ms + 100ms duration", gap)
		}
	}
}

func TestStartHazardIsLogged(t *testing.T) {
	var buf syncBuffer
	be := &config.Backend{Name: "be", Timeouts: config.Timeouts{Connect: time.Second, Server: time.Second}}
	for _, n := range []string{"a", "b"} {
		be.Servers = append(be.Servers, &config.Server{Name: n, Addr: refusedAddr(t), Check: true})
	}
	p, err := New(&config.Config{Frontends: []*config.Frontend{tcpFrontend("fe", "be")}, Backends: []*config.Backend{be}},
		Options{Logger: newTextLogger(&buf)})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if !strings.Contains(buf.String(), "start UP before their first check") {
		t.Fatalf("log does not warn about servers starting UP:\n%s", buf.String())
	}
}

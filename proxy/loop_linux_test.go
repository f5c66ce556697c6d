package proxy

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/redisha-sim/redisha-sim/proxy/config"
)

// loopProxy is plainProxy on the loop data path, whatever the default or
// the environment says.
func loopProxy(t *testing.T, addrs []string, mod func(*config.Frontend, *config.Backend)) *Proxy {
	t.Helper()
	p, err := New(plainConfig(addrs, mod), Options{Logger: testLogger(t), DataPath: DataPathLoop})
	if err != nil {
		t.Fatalf("start proxy: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	if p.evloops == nil {
		t.Fatal("the proxy has no event loops on the loop data path")
	}
	return p
}

// loopSessions returns the live sessions' loops, nil for a session not
// (yet) on a loop.
func loopSessions(p *Proxy) []*evloop {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*evloop
	for s := range p.live {
		s.mu.Lock()
		var lp *evloop
		if s.ls != nil {
			lp = s.ls.lp
		}
		s.mu.Unlock()
		out = append(out, lp)
	}
	return out
}

// waitOnLoops waits until n sessions are live, every one of them on a loop.
func waitOnLoops(t *testing.T, p *Proxy, n int) []*evloop {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		lps := loopSessions(p)
		on := 0
		for _, lp := range lps {
			if lp != nil {
				on++
			}
		}
		if on == n && len(lps) == n {
			return lps
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions live, %d on a loop; want %d on a loop", len(lps), on, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// randomBytes returns n reproducible random bytes.
func randomBytes(n int) []byte {
	rnd := rand.New(rand.NewPCG(3, 4))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rnd.Uint32())
	}
	return b
}

// A reply larger than every socket buffer on the way, to a client that
// reads nothing for a while: the loop's write to the client hits EAGAIN,
// it stops reading the server (the server's write blocks), and once the
// client reads, every byte arrives in order and is counted.
func TestLoopBackPressureKeepsEveryByteOfALargeReplyInOrder(t *testing.T) {
	const size = 32 << 20
	reply := randomBytes(size)
	written := make(chan error, 1)
	addr := tcpServer(t, func(c net.Conn) {
		defer c.Close()
		if _, err := io.ReadFull(c, make([]byte, 4)); err != nil {
			written <- err
			return
		}
		_, err := c.Write(reply)
		written <- err
	})
	p := loopProxy(t, []string{addr}, nil)
	sub := p.Events().Subscribe(64, 0)
	defer sub.Close()
	c := dial(t, p)
	waitOnLoops(t, p, 1)
	if _, err := c.Write([]byte("GET\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-written:
		t.Fatalf("the server wrote %d bytes to a client that reads nothing (err %v), want its write blocked", size, err)
	case <-time.After(500 * time.Millisecond):
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	got := make([]byte, 0, size)
	buf := make([]byte, 4096)
	for len(got) < size {
		// A slow reader: small reads, a pause now and then.
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("read: %v after %d bytes", err, len(got))
		}
		if len(got)%(1<<20) < n {
			time.Sleep(time.Millisecond)
		}
	}
	if err := <-written; err != nil {
		t.Fatalf("server write: %v", err)
	}
	if !bytes.Equal(got, reply) {
		i := 0
		for i < size && got[i] == reply[i] {
			i++
		}
		t.Fatalf("the reply differs from byte %d on, want the %d bytes sent, in order", i, size)
	}
	if n, err := c.Read(buf); !errors.Is(err, io.EOF) {
		t.Fatalf("after the reply: read %d bytes, %v; want EOF (the server closed)", n, err)
	}
	c.Close()
	e := sessionClose(t, sub)
	if e.BytesIn != 4 || e.BytesOut != size {
		t.Errorf("bytes in %d, out %d; want 4 and %d", e.BytesIn, e.BytesOut, size)
	}
	if be := p.Backend("be").State(); be.BytesOut != size {
		t.Errorf("backend bytes out %d, want %d", be.BytesOut, size)
	}
	if f := p.Frontend("fe"); f.bytesOut.Load() != size {
		t.Errorf("frontend bytes out %d, want %d", f.bytesOut.Load(), size)
	}
}

// shutdown-sessions while the loop holds bytes it could not write: the
// session ends at once as KD, both sockets close, the held buffer goes
// back, and no descriptor stays open.
func TestLoopKillWhileAWriteIsPendingClosesBothSides(t *testing.T) {
	serverErr := make(chan error, 1)
	addr := tcpServer(t, func(c net.Conn) {
		defer c.Close()
		chunk := randomBytes(1 << 20)
		for {
			if _, err := c.Write(chunk); err != nil {
				serverErr <- err
				return
			}
		}
	})
	p := loopProxy(t, []string{addr}, nil)
	baseFD := openFDs(t)
	sub := p.Events().Subscribe(64, 0)
	defer sub.Close()
	c := dial(t, p)
	waitOnLoops(t, p, 1)
	// The client reads nothing: the server's stream fills the client's
	// socket, and the loop holds a pending write.
	time.Sleep(300 * time.Millisecond)
	n, err := p.Backend("be").ShutdownSessions("s1")
	if err != nil || n != 1 {
		t.Fatalf("shutdown sessions: %d, %v; want 1, nil", n, err)
	}
	e := sessionClose(t, sub)
	if e.Termination != termKilled {
		t.Errorf("termination %q, want %q", e.Termination, termKilled)
	}
	if e.BytesOut == 0 {
		t.Errorf("bytes out 0, want the bytes that reached the client before the kill")
	}
	select {
	case <-serverErr:
	case <-time.After(5 * time.Second):
		t.Fatal("the server still writes 5 s after the kill, want its connection closed")
	}
	// The client gets what reached its socket, then the end.
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.Copy(io.Discard, c)
	if err != nil && !isReset(err) {
		t.Fatalf("client read after the kill: %v after %d bytes, want EOF or a reset", err, got)
	}
	if got > e.BytesOut {
		t.Errorf("the client read %d bytes, more than the %d counted", got, e.BytesOut)
	}
	c.Close()
	deadline := time.Now().Add(2 * time.Second)
	for openFDs(t) > baseFD && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if fd := openFDs(t); fd > baseFD {
		t.Errorf("descriptors: %d after the kill, %d before the session", fd, baseFD)
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && bytes.Contains([]byte(op.Err.Error()), []byte("reset"))
}

// Many sessions on the loops (GOMAXPROCS of them): all spread, every one
// echoes its own bytes, and an idle session costs no goroutine.
func TestLoopCarriesManySessionsOnFewLoopsWithoutAGoroutineEach(t *testing.T) {
	p := loopProxy(t, []string{tcpServer(t, echo)}, nil)
	const n = 200
	baseG := settleGoroutines(0, 300*time.Millisecond)
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = dial(t, p)
	}
	lps := waitOnLoops(t, p, n)
	per := map[*evloop]int{}
	for _, lp := range lps {
		per[lp]++
	}
	if len(per) != len(p.evloops.loops) {
		t.Errorf("sessions on %d loops, want all %d", len(per), len(p.evloops.loops))
	}
	for _, k := range per {
		if k < n/len(p.evloops.loops)/2 {
			t.Errorf("a loop carries %d of %d sessions, want them spread evenly", k, n)
		}
	}
	// The echo server runs a goroutine per connection; the proxy none per
	// session.
	if g := settleGoroutines(baseG+n+10, 2*time.Second); g > baseG+n+10 {
		t.Errorf("goroutines: %d with %d idle sessions, %d before; want at most one each (the echo server's) and 10 more", g, n, baseG)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := randomBytes(1000 + i*97)
			c.SetDeadline(time.Now().Add(20 * time.Second))
			for range 5 {
				if _, err := c.Write(msg); err != nil {
					errs <- err
					return
				}
				got := make([]byte, len(msg))
				if _, err := io.ReadFull(c, got); err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(got, msg) {
					errs <- errors.New("echo differs from what was sent")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("session: %v", err)
	}
}

// The environment chooses the data path when the options do not; a value
// it does not know is an error.
func TestDataPathComesFromTheOptionsThenTheEnvironment(t *testing.T) {
	t.Setenv(DataPathEnv, DataPathGoroutine)
	if got, err := resolveDataPath(""); err != nil || got != DataPathGoroutine {
		t.Errorf("from the environment: got %q, %v; want %q", got, err, DataPathGoroutine)
	}
	if got, err := resolveDataPath(DataPathLoop); err != nil || got != DataPathLoop {
		t.Errorf("from the options: got %q, %v; want %q", got, err, DataPathLoop)
	}
	t.Setenv(DataPathEnv, "")
	if got, err := resolveDataPath(""); err != nil || got != defaultDataPath {
		t.Errorf("default: got %q, %v; want %q", got, err, defaultDataPath)
	}
	t.Setenv(DataPathEnv, "splice")
	if _, err := resolveDataPath(""); err == nil {
		t.Error("REDISHA_PROXY_DATAPATH=splice: got no error, want one")
	}
	if _, err := New(&config.Config{}, Options{DataPath: "threads"}); err == nil {
		t.Error("Options.DataPath threads: New returned no error, want one")
	}
}

// Once handed over, a session's sockets are watched by its loop's epoll
// instance alone: the runtime's poller (another epoll instance in
// /proc/self/fd) no longer holds them, under their old descriptor numbers
// or any other, so readiness wakes one thread only.
func TestLoopOwnsTheSessionDescriptorsAlone(t *testing.T) {
	p := loopProxy(t, []string{tcpServer(t, echo)}, nil)
	c := dial(t, p)
	waitOnLoops(t, p, 1)
	var ls *loopSession
	p.mu.Lock()
	for s := range p.live {
		s.mu.Lock()
		ls = s.ls
		s.mu.Unlock()
	}
	p.mu.Unlock()
	// A round trip first: the session works on the descriptors named.
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	watched := epollTargets(t)
	for i := range ls.end {
		// Only fd: the rest of the end is the loop's.
		fd := ls.end[i].fd
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			t.Fatal(err)
		}
		var by []int
		for epfd, inodes := range watched {
			if inodes[st.Ino] {
				by = append(by, epfd)
			}
		}
		if len(by) != 1 || by[0] != ls.lp.epfd {
			t.Errorf("the socket of descriptor %d is watched by epoll instances %v, want only the loop's %d", fd, by, ls.lp.epfd)
		}
	}
}

// epollTargets maps each epoll descriptor of the process to the inodes of
// the files it watches (the "tfd:" lines of its fdinfo, whose ino is in
// hexadecimal).
func epollTargets(t *testing.T) map[int]map[uint64]bool {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	out := map[int]map[uint64]bool{}
	for _, ent := range ents {
		fd, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		if link, err := os.Readlink("/proc/self/fd/" + ent.Name()); err != nil || link != "anon_inode:[eventpoll]" {
			continue
		}
		info, err := os.ReadFile("/proc/self/fdinfo/" + ent.Name())
		if err != nil {
			continue
		}
		out[fd] = map[uint64]bool{}
		for _, line := range strings.Split(string(info), "\n") {
			if !strings.HasPrefix(line, "tfd:") {
				continue
			}
			_, rest, ok := strings.Cut(line, " ino:")
			if !ok {
				t.Fatalf("fdinfo line without ino: %q", line)
			}
			ino, err := strconv.ParseUint(strings.Fields(rest)[0], 16, 64)
			if err != nil {
				t.Fatalf("fdinfo line %q: %v", line, err)
			}
			out[fd][ino] = true
		}
	}
	if len(out) < 2 {
		t.Fatalf("%d epoll instances in /proc/self/fd, want the runtime's and the loops'", len(out))
	}
	return out
}

// A client that stops reading while the server streams: once the client's
// socket is full, nothing moves, the loop holds a pending write, and the
// idle timeout (timeout client, the shorter) ends the session as cD.
func TestLoopIdleTimeoutFiresWhileAWriteIsPending(t *testing.T) {
	addr := tcpServer(t, func(c net.Conn) {
		defer c.Close()
		chunk := randomBytes(1 << 20)
		for {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	})
	p := loopProxy(t, []string{addr}, func(fe *config.Frontend, _ *config.Backend) {
		fe.Timeouts.Client = 300 * time.Millisecond
	})
	sub := p.Events().Subscribe(64, 0)
	defer sub.Close()
	start := time.Now()
	dial(t, p)
	e := sessionClose(t, sub)
	if e.Termination != termClientTimeout {
		t.Errorf("termination %q, want %q", e.Termination, termClientTimeout)
	}
	if e.BytesOut == 0 {
		t.Error("bytes out 0, want what filled the client's socket before it stalled")
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 3*time.Second {
		t.Errorf("the session ended after %v, want 300 ms after the last byte moved", d)
	}
}

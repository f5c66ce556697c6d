package proxy

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Termination codes, HAProxy's two-letter session state at close: who ended
// it, then in which phase (C connect, Q queue, D data).
const (
	termNormal         = "--"
	termClientAbort    = "CD"
	termServerAbort    = "SD"
	termClientTimeout  = "cD"
	termServerTimeout  = "sD"
	termNoServer       = "SC" // no server, or every connection attempt failed
	termConnectTimeout = "sC"
	termQueueTimeout   = "sQ"
	termServerDown     = "DD" // on-marked-down shutdown-sessions
	termBackupKilled   = "UD" // on-marked-up shutdown-backup-sessions
	termKilled         = "KD" // killed by an operator
	termProxyStop      = "PD" // the proxy is shutting down
)

// session is one client connection and, once routed, its server connection.
type session struct {
	id         uint64
	fe         *Frontend
	be         *Backend
	srv        *Server // set by Backend.attach
	client     net.Conn
	clientAddr net.Addr
	start      time.Time

	mu     sync.Mutex
	server net.Conn
	// term is the first termination cause recorded.
	term   string
	killed bool

	bytesIn  atomic.Int64 // client to server
	bytesOut atomic.Int64 // server to client
}

// kill ends the session from outside its goroutines (shutdown-sessions, an
// operator, the proxy stopping): it closes both connections.
func (s *session) kill(term string) {
	s.mu.Lock()
	if !s.killed {
		s.killed = true
		if s.term == "" {
			s.term = term
		}
	}
	server := s.server
	s.mu.Unlock()
	s.client.Close()
	if server != nil {
		server.Close()
	}
}

// setServer records the established server connection; it reports false
// when the session was killed meanwhile (the caller closes conn).
func (s *session) setServer(conn net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.killed {
		return false
	}
	s.server = conn
	return true
}

func (s *session) isKilled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.killed
}

// finish records why the session ended, keeping the first cause.
func (s *session) finish(term string) {
	s.mu.Lock()
	if s.term == "" {
		s.term = term
	}
	s.mu.Unlock()
}

func (s *session) termination() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.term == "" {
		return termNormal
	}
	return s.term
}

// idleWindow is how often a copy loop wakes to account bytes and check the
// idle timeout; an idle timeout fires between T and T+idleWindow(T).
func idleWindow(t time.Duration) time.Duration {
	if t <= 0 {
		return time.Second
	}
	return min(max(t/8, 10*time.Millisecond), time.Second)
}

// idleClock is a session's inactivity timer. HAProxy 2.6 counts traffic in
// either direction as activity on both sides (observed: a silent client
// receiving data every 200 ms outlives "timeout client 1s", and so does a
// silent server receiving data), so one clock serves both directions and
// the session ends after limit without any byte flowing.
type idleClock struct {
	last  atomic.Int64 // unix nanoseconds of the last byte moved
	limit time.Duration
	// term is the termination when it fires: the side whose timeout is the
	// shorter.
	term string
}

func newIdleClock(client, server time.Duration) *idleClock {
	c := &idleClock{limit: client, term: termClientTimeout}
	if server > 0 && (client == 0 || server < client) {
		c.limit, c.term = server, termServerTimeout
	}
	c.touch()
	return c
}

func (c *idleClock) touch() { c.last.Store(time.Now().UnixNano()) }

// deadline is when the session times out if nothing moves; zero without a
// limit.
func (c *idleClock) deadline() time.Time {
	if c.limit <= 0 {
		return time.Time{}
	}
	return time.Unix(0, c.last.Load()).Add(c.limit)
}

// direction is one half of a session's data path.
type direction struct {
	s        *session
	dst, src net.Conn
	idle     *idleClock
	// abortTerm is the termination when src fails.
	abortTerm string
	// count is where transferred bytes are added.
	count *atomic.Int64
	// totals also receive the bytes (the server's, backend's and frontend's
	// counters).
	totals []*atomic.Int64
	// limit, when set (unix nanoseconds), is a hard end for this direction:
	// the other side half-closed and its fin timeout runs.
	limit atomic.Int64
}

// setLimit bounds the direction to end within t from now, waking it if it
// is parked.
func (d *direction) setLimit(t time.Duration) {
	at := time.Now().Add(t)
	d.limit.Store(at.UnixNano())
	d.src.SetReadDeadline(at)
}

// deadline is the earlier of the idle deadline and the fin limit.
func (d *direction) deadline() time.Time {
	dl := d.idle.deadline()
	if l := d.limit.Load(); l != 0 && (dl.IsZero() || l < dl.UnixNano()) {
		dl = time.Unix(0, l)
	}
	return dl
}

// pipe copies src to dst until src ends, then propagates the half-close to
// dst. It keeps the kernel's zero-copy path: io.Copy between two TCP
// connections splices, and a splice holds a pipe (two descriptors) for as
// long as it runs. So the copy starts only once src has data, and runs for
// at most an idle window at a time, which also lets the loop account bytes
// and notice idleness: an idle session holds no pipe. It reports whether
// the direction ended cleanly (EOF); on false, the session must be torn
// down.
func (d *direction) pipe() bool {
	window := idleWindow(d.idle.limit)
	for {
		if !d.awaitData() {
			return false
		}
		d.src.SetReadDeadline(time.Now().Add(window))
		n, err := io.Copy(d.dst, d.src)
		if n > 0 {
			d.idle.touch()
			d.count.Add(n)
			for _, t := range d.totals {
				t.Add(n)
			}
		}
		if err == nil {
			closeWrite(d.dst)
			return true
		}
		if !isTimeout(err) {
			d.s.finish(d.errTerm(err))
			return false
		}
	}
}

// awaitData parks until src has data or EOF to read, without a buffer or a
// pipe, or ends the session when its idle deadline passes first; traffic
// the other way may move the deadline meanwhile, so it looks again before
// giving up. It reports whether there is something to copy.
func (d *direction) awaitData() bool {
	for {
		dl := d.deadline()
		if !dl.IsZero() && !time.Now().Before(dl) {
			d.s.finish(d.idle.term)
			return false
		}
		d.src.SetReadDeadline(dl)
		if dl2 := d.deadline(); !dl2.Equal(dl) {
			d.src.SetReadDeadline(dl2)
		}
		err := waitReadable(d.src)
		if err == nil {
			return true
		}
		if !isTimeout(err) {
			d.s.finish(d.errTerm(err))
			return false
		}
	}
}

// errTerm classifies a copy error: a write failure is the destination's
// side aborting, anything else the source's.
func (d *direction) errTerm(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "write" {
		if d.abortTerm == termClientAbort {
			return termServerAbort
		}
		return termClientAbort
	}
	if errors.Is(err, net.ErrClosed) {
		return termProxyStop
	}
	return d.abortTerm
}

func isTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// closeWrite sends a FIN, or closes the connection if it cannot half-close.
func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		if cw.CloseWrite() == nil {
			return
		}
	}
	c.Close()
}

// waitReadable blocks until c has data or EOF to read, or its read deadline
// passes, without consuming anything and without holding buffers or pipes
// while idle.
func waitReadable(c net.Conn) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	return rc.Read(func(fd uintptr) bool { return peekReady(fd) })
}

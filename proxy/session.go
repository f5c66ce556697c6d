package proxy

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
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
	// ls is set once the session is handed to an event loop, which then
	// owns both connections' descriptors (loop_linux.go).
	ls *loopSession
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
	server, ls := s.server, s.ls
	s.mu.Unlock()
	if ls != nil {
		ls.kill()
		return
	}
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
	totals [3]*atomic.Int64
	// limit, when set (unix nanoseconds), is a hard end for this direction:
	// the other side half-closed and its fin timeout runs.
	limit atomic.Int64
	// rawTransfer is transfer's state where it reads raw descriptors
	// (Unix; empty elsewhere).
	rawTransfer
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

// The data path moves bytes through user space with read and write, as
// HAProxy does, in buffers taken from a pool only while data is in flight.
// Measured against HAProxy 2.6 (strace -c -f on both during the same
// redis-benchmark run), io.Copy's splice through a pipe cost 6 splice calls
// per request (in, out, and one that finds nothing, each way), each dearer
// than a read or write of a few bytes, plus a pipe held while data flows;
// HAProxy makes 4 (recvfrom and sendto each way). For Redis's small
// messages the zero-copy path saves no copy worth its calls.
//
// An epoll event-loop library (panjf2000/gnet, cloudwego/netpoll) was
// weighed and not taken: both are maintained, but both own the sockets and
// their own pollers, so accepting, dialling, health checks and the stats
// would move off net.Conn; neither exposes a half-close of a connection
// (shutdown(SHUT_WR)) that the proxy must propagate; and Go's runtime
// poller is already an epoll loop that syscall.RawConn lets us drive
// directly, which is what transfer does. On Linux the default data path
// is now the proxy's own epoll loops (loop_linux.go), written on
// golang.org/x/sys/unix for the same reasons; this goroutine path remains
// for other systems and as DataPathGoroutine.

// bufSize is the size of a data path buffer: HAProxy's default
// tune.bufsize, which holds most Redis requests and replies whole.
const bufSize = 16 << 10

// maxReadsPerWake bounds the reads made for one readiness event; after it
// the direction re-arms its deadline and comes back for the rest.
const maxReadsPerWake = 64

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// pipe copies src to dst until src ends, then propagates the half-close to
// dst. Between readiness events a direction holds no buffer (see
// transfer). While data flows it re-arms its deadline at least every idle
// window, as the copy loop before it did; once a window passes without
// data it parks until the idle deadline. It reports whether the
// direction ended cleanly (EOF); on false, the session must be torn down.
func (d *direction) pipe() bool {
	window := idleWindow(d.idle.limit)
	active := false
	for {
		if !d.arm(active, window) {
			return false
		}
		moved, eof, err := d.transfer()
		if eof {
			closeWrite(d.dst)
			return true
		}
		if err != nil && !isTimeout(err) {
			d.s.finish(d.errTerm(err))
			return false
		}
		active = moved
	}
}

// arm sets src's read deadline for the next transfer: the idle deadline
// (or the fin limit), no further than window ahead while active. It ends
// the session and reports false when the deadline has passed. Traffic the
// other way and setLimit move the deadline meanwhile: it looks again after
// setting it.
func (d *direction) arm(active bool, window time.Duration) bool {
	at := func(dl time.Time) time.Time {
		if !active {
			return dl
		}
		if w := time.Now().Add(window); dl.IsZero() || w.Before(dl) {
			return w
		}
		return dl
	}
	dl := d.deadline()
	if !dl.IsZero() && !time.Now().Before(dl) {
		d.s.finish(d.idle.term)
		return false
	}
	d.src.SetReadDeadline(at(dl))
	if dl2 := d.deadline(); !dl2.Equal(dl) {
		d.src.SetReadDeadline(at(dl2))
	}
	return true
}

// moved accounts n bytes that reached dst.
func (d *direction) moved(n int) {
	d.idle.touch()
	d.count.Add(int64(n))
	for _, t := range d.totals {
		t.Add(int64(n))
	}
}

// transferPlain is transfer for connections without a raw descriptor: it
// holds a buffer while it waits in Read.
func (d *direction) transferPlain() (moved, eof bool, err error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for range maxReadsPerWake {
		n, rerr := d.src.Read(buf)
		if n > 0 {
			if _, werr := d.dst.Write(buf[:n]); werr != nil {
				return moved, false, werr
			}
			d.moved(n)
			moved = true
		}
		if errors.Is(rerr, io.EOF) {
			return moved, true, nil
		}
		if rerr != nil {
			return moved, false, rerr
		}
	}
	return moved, false, nil
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

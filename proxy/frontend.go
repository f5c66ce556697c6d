package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy/config"
)

// Frontend accepts client connections at run time.
type Frontend struct {
	Name      string
	cfg       *config.Frontend
	p         *Proxy
	backend   *Backend
	listeners []net.Listener
	// slots caps concurrent sessions (frontend maxconn).
	slots chan struct{}

	cur, max atomic.Int64
	total    atomic.Uint64
	denied   atomic.Uint64
	bytesIn  atomic.Int64
	bytesOut atomic.Int64
}

// Addrs returns the addresses the frontend listens on.
func (f *Frontend) Addrs() []net.Addr {
	out := make([]net.Addr, len(f.listeners))
	for i, ln := range f.listeners {
		out[i] = ln.Addr()
	}
	return out
}

// Addr returns the frontend's first listening address.
func (f *Frontend) Addr() net.Addr { return f.listeners[0].Addr() }

// Backend is the backend the frontend routes to.
func (f *Frontend) Backend() *Backend { return f.backend }

// acquire takes a slot from the process and the frontend limits, blocking
// (and so leaving connections in the kernel's backlog, as HAProxy does) while
// they are full. It reports false when the proxy stops.
func (p *Proxy) acquire(f *Frontend) bool {
	for _, ch := range []chan struct{}{p.slots, f.slots} {
		if ch == nil {
			continue
		}
		select {
		case ch <- struct{}{}:
		case <-p.done:
			return false
		}
	}
	return true
}

func (p *Proxy) release(f *Frontend) {
	if f.slots != nil {
		<-f.slots
	}
	if p.slots != nil {
		<-p.slots
	}
}

func (p *Proxy) acceptLoop(ctx context.Context, f *Frontend, ln net.Listener) {
	defer p.loops.Done()
	var backoff time.Duration
	for {
		if !p.acquire(f) {
			return
		}
		c, err := ln.Accept()
		if err != nil {
			p.release(f)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors (EMFILE, ENFILE) or similar: back off.
			backoff = acceptBackoff(backoff)
			p.log.Warn("accept failed", "frontend", f.Name, "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-p.done:
				return
			}
			continue
		}
		backoff = 0
		s := &session{id: p.nextID.Add(1), fe: f, be: f.backend, client: c, clientAddr: c.RemoteAddr(), start: time.Now()}
		if !p.track(s) {
			c.Close()
			p.release(f)
			return
		}
		go p.serve(ctx, s)
	}
}

// acceptBackoff is the wait after a failed accept, given the previous one:
// 5 ms, doubling up to 1 s, as net/http waits. HAProxy, when accept fails
// for lack of descriptors, logs "reached system FD limit", stops polling
// the listener and enables it again after a short delay or as soon as one
// of its connections closes; retrying after a bounded wait keeps the same
// promise: the listener survives and accepts again once descriptors are
// free, without spinning on the error.
func acceptBackoff(prev time.Duration) time.Duration {
	return min(max(2*prev, 5*time.Millisecond), time.Second)
}

// serve routes a session to a server and starts copying data; the session
// ends in end, called by the last direction to finish. serve itself
// returns once the copy has started, so that the stack the dial grew does
// not stay parked for the session's life: an idle session holds only its
// two directions' small stacks.
func (p *Proxy) serve(ctx context.Context, s *session) {
	f, b := s.fe, s.be
	n := f.cur.Add(1)
	for {
		m := f.max.Load()
		if n <= m || f.max.CompareAndSwap(m, n) {
			break
		}
	}
	f.total.Add(1)
	if f.cfg.TCPKeepAlive {
		setKeepAlive(s.client)
	}

	server, err := p.connect(ctx, s)
	if err != nil {
		f.denied.Add(1)
		s.client.Close()
		p.end(s, false)
		return
	}
	b.mu.Lock()
	srv := s.srv
	b.mu.Unlock()
	p.events.Publish(Event{Type: EventSessionOpen, Frontend: f.Name, Backend: b.Name, Server: srv.Name, Session: s.id, Client: s.clientAddr.String()})
	p.pipe(s, server, srv)
}

// end publishes the end of a session and releases what it held; routed
// says it had a server.
func (p *Proxy) end(s *session, routed bool) {
	if routed {
		s.be.detach(s)
	}
	p.closed(s)
	s.fe.cur.Add(-1)
	p.release(s.fe)
	p.untrack(s)
}

// connect assigns a server and connects to it, retrying failed attempts
// HAProxy's way (back_handle_st_cer): up to "retries" more attempts; with
// "option redispatch", a retry moves to another server when the server is
// down, when the redispatch interval says so (by default on the last retry),
// or at once when the algorithm is not a hash and several servers are
// active; otherwise it retries the same server, waiting min(timeout connect,
// 1s) after a refused connection.
func (p *Proxy) connect(ctx context.Context, s *session) (net.Conn, error) {
	b := s.be
	srv, err := b.assign(ctx, s, nil)
	if err != nil {
		switch {
		case errors.Is(err, ErrQueueTimeout):
			s.finish(termQueueTimeout)
		case errors.Is(err, context.Canceled):
			s.finish(termProxyStop)
		default:
			s.finish(termNoServer)
		}
		return nil, err
	}
	retries := b.cfg.EffectiveRetries()
	to := b.cfg.Timeouts.Connect
	for retry := 1; ; retry++ {
		conn, timedOut, err := p.dial(ctx, srv.Addr, to)
		if err == nil {
			if b.cfg.TCPKeepAlive {
				setKeepAlive(conn)
			}
			if !s.setServer(conn) {
				conn.Close()
				b.detach(s)
				return nil, errSessionKilled
			}
			return conn, nil
		}
		b.mu.Lock()
		srv.connErrors++
		b.mu.Unlock()
		if ctx.Err() != nil || s.isKilled() {
			s.finish(termProxyStop)
			b.detach(s)
			return nil, errSessionKilled
		}
		if retry > retries {
			s.finish(map[bool]string{true: termConnectTimeout, false: termNoServer}[timedOut])
			p.log.Debug("connection to server failed", "backend", b.Name, "server", srv.Name, "attempts", retry, "err", err)
			b.detach(s)
			return nil, fmt.Errorf("connect %s/%s: %w", b.Name, srv.Name, err)
		}
		b.mu.Lock()
		srv.retries++
		redispatch := b.shouldRedispatchLocked(srv, retry, retries)
		b.mu.Unlock()
		if redispatch {
			b.detach(s)
			next, err := b.assign(ctx, s, srv)
			if errors.Is(err, ErrNoServer) {
				next, err = b.assign(ctx, s, nil)
			}
			if err != nil {
				s.finish(termNoServer)
				return nil, err
			}
			if next != srv {
				b.mu.Lock()
				srv.redispatch++
				b.mu.Unlock()
			}
			srv = next
			continue
		}
		if !timedOut {
			// HAProxy's turn-around: do not hammer a server that refuses.
			select {
			case <-time.After(min(time.Second, max(to, time.Millisecond))):
			case <-p.done:
				s.finish(termProxyStop)
				b.detach(s)
				return nil, errSessionKilled
			}
		}
	}
}

// dial opens a server connection bounded by timeout connect (none if zero).
func (p *Proxy) dial(ctx context.Context, addr string, to time.Duration) (conn net.Conn, timedOut bool, err error) {
	cancel := context.CancelFunc(func() {})
	if to > 0 {
		ctx, cancel = context.WithTimeout(ctx, to)
	}
	defer cancel()
	conn, err = p.dialer.DialContext(ctx, "tcp", addr)
	return conn, ctx.Err() == context.DeadlineExceeded, err
}

// shouldRedispatchLocked decides whether retry number n (1-based) of
// retries moves to another server (stream_choose_redispatch).
func (b *Backend) shouldRedispatchLocked(srv *Server, n, retries int) bool {
	if !b.cfg.Redispatch {
		return false
	}
	if !srv.usable() {
		return true
	}
	after := b.cfg.RedispatchAfter
	if after == 0 {
		after = -1
	}
	if after > 0 && n%after == 0 {
		return true
	}
	if d := retries + 1 + after; after < 0 && d > 0 && n%d == 0 {
		return true
	}
	return b.cfg.Balance != config.BalanceSource && b.countUsable(false) > 1
}

var errSessionKilled = errors.New("session killed")

// link is a routed session's data path: its two directions and what they
// share, in one allocation.
type link struct {
	req, resp direction
	once      sync.Once
	running   atomic.Int32
}

// pipe hands the session to an event loop (the loop data path), or
// copies both ways, one goroutine per direction, until both
// directions end or one fails; the last to finish closes both connections
// and ends the session.
func (p *Proxy) pipe(s *session, server net.Conn, srv *Server) {
	if p.evloops != nil && p.pipeLoop(s, server, srv) {
		return
	}
	f, b := s.fe, s.be
	t := sessionTimeouts(f, b)
	idle := newIdleClock(t.clientIdle, t.serverIdle)
	l := &link{
		req: direction{s: s, dst: server, src: s.client, idle: idle, abortTerm: termClientAbort,
			count: &s.bytesIn, totals: [3]*atomic.Int64{&srv.bytesIn, &b.bytesIn, &f.bytesIn}},
		resp: direction{s: s, dst: s.client, src: server, idle: idle, abortTerm: termServerAbort,
			count: &s.bytesOut, totals: [3]*atomic.Int64{&srv.bytesOut, &b.bytesOut, &f.bytesOut}},
	}
	l.running.Store(2)
	// When the client half-closes, client-fin bounds the rest; when the
	// server does, server-fin.
	go p.runDirection(l, &l.req, &l.resp, t.clientFin)
	go p.runDirection(l, &l.resp, &l.req, t.serverFin)
}

// timeouts are a routed session's data-path timeouts.
type timeouts struct {
	clientIdle, serverIdle time.Duration
	clientFin, serverFin   time.Duration
}

// sessionTimeouts reads them from the configuration: timeout tunnel, when
// set, replaces client and server.
func sessionTimeouts(f *Frontend, b *Backend) timeouts {
	to := b.cfg.Timeouts
	t := timeouts{clientIdle: f.cfg.Timeouts.Client, serverIdle: to.Server, clientFin: f.cfg.Timeouts.ClientFin, serverFin: to.ServerFin}
	if to.Tunnel > 0 {
		t.clientIdle, t.serverIdle = to.Tunnel, to.Tunnel
	}
	return t
}

// runDirection copies one direction d; when it ends cleanly, fin (if set) bounds
// the other direction, and on failure both connections close. The last
// direction to finish ends the session.
func (p *Proxy) runDirection(l *link, d, other *direction, fin time.Duration) {
	if !d.pipe() {
		l.abort()
	} else if fin > 0 {
		other.setLimit(fin)
	}
	if l.running.Add(-1) == 0 {
		l.abort()
		p.end(l.req.s, true)
	}
}

// abort closes both connections, once.
func (l *link) abort() {
	l.once.Do(func() {
		l.req.src.Close()
		l.req.dst.Close()
	})
}

// closed publishes the end of a session.
func (p *Proxy) closed(s *session) {
	ev := Event{
		Type: EventSessionClose, Frontend: s.fe.Name, Backend: s.be.Name, Session: s.id,
		Client: s.clientAddr.String(), BytesIn: s.bytesIn.Load(), BytesOut: s.bytesOut.Load(),
		Duration: time.Since(s.start), Termination: s.termination(),
	}
	if s.srv != nil {
		ev.Server = s.srv.Name
	} else {
		ev.Server = "<NOSRV>"
	}
	p.events.Publish(ev)
}

func setKeepAlive(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetKeepAlive(true)
	}
}

package link

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/fault"
)

// A Relay forwards the TCP connections an instance (a Redis node, a
// Sentinel) accepts to the instance's real port, and applies the link
// faults to them: it is how the docker backend faults links without the
// kernel's netem, on any kernel. It runs in the instance's container, in
// front of the instance (which listens on loopback only), and classifies
// each connection by its source address: the nodes' and Sentinels' fixed
// addresses are the peer classes nodes and sentinels, anything else is
// clients.
//
// A connection between two instances passes through exactly one relay:
// the acceptor's. So a fault on target X for peers P in direction D acts
// (Place) on X's relay for the connections from P, and on the relay of
// each member Y of P for the connections from X, with the direction
// mirrored (what X hears, in, is what Y's relay sends on those, out).
// Those on Y are kept apart from Y's own faults, per peer address (Rules
// keyed by X's addresses), and a connection passes both: its relay's own
// rules for its class, then those of its source.
//
// Toxiproxy (github.com/Shopify/toxiproxy/v2) was considered: its toxics
// act per proxy and direction, not per source address, so one listener
// could not tell a replica from a Sentinel or a client; and its timeout
// toxic drops the data it holds (and closes after a timeout), where a
// blackhole here must deliver the held bytes in order once healed, as TCP
// would after a partition. The rules are this package's Rules instead,
// the same code as the memory backend's links.
type Relay struct {
	opts    RelayOptions
	ln      net.Listener
	ctl     net.Listener
	classOf map[netip.Addr]Class
	log     *slog.Logger

	own Rules

	mu    sync.Mutex
	peers map[netip.Addr]*Rules
	conns map[*relayConn]struct{}
	rnd   *rand.Rand

	done     chan struct{}
	doneOnce sync.Once
	wg       sync.WaitGroup
}

// RelayOptions configure a Relay.
type RelayOptions struct {
	// Listen is the address the relay accepts on (e.g. ":6379").
	Listen string
	// Upstream is the instance's real address (e.g. "127.0.0.1:6380").
	Upstream string
	// Control is the address of the control endpoint (HTTP, Handler);
	// empty: none.
	Control string
	// Nodes and Sentinels are the addresses of the peer classes nodes
	// and sentinels.
	Nodes, Sentinels []netip.Addr
	// DialTimeout bounds the dial to Upstream; default 2s.
	DialTimeout time.Duration
	// MaxConns bounds the connections relayed at once; default 4096.
	MaxConns int
	// Log receives debug messages; nil discards them.
	Log *slog.Logger
}

// relayConn is one relayed connection.
type relayConn struct {
	src       netip.Addr
	class     Class
	u         Draw
	down, up  net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

func (c *relayConn) close(reset bool) {
	c.closeOnce.Do(func() {
		if reset {
			if tc, ok := c.down.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
		}
		close(c.done)
		c.down.Close()
		if c.up != nil {
			c.up.Close()
		}
	})
}

// NewRelay listens on opts.Listen and opts.Control.
func NewRelay(opts RelayOptions) (*Relay, error) {
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 2 * time.Second
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 4096
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	r := &Relay{opts: opts, log: opts.Log, classOf: map[netip.Addr]Class{}, peers: map[netip.Addr]*Rules{},
		conns: map[*relayConn]struct{}{}, done: make(chan struct{}),
		rnd: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x5eed))}
	for _, a := range opts.Nodes {
		r.classOf[a.Unmap()] = Nodes
	}
	for _, a := range opts.Sentinels {
		r.classOf[a.Unmap()] = Sentinels
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", opts.Listen, err)
	}
	r.ln = ln
	if opts.Control != "" {
		if r.ctl, err = net.Listen("tcp", opts.Control); err != nil {
			ln.Close()
			return nil, fmt.Errorf("listen %s: %w", opts.Control, err)
		}
	}
	return r, nil
}

// Addr is the address the relay accepts on.
func (r *Relay) Addr() net.Addr { return r.ln.Addr() }

// ControlAddr is the control endpoint's address (nil without one).
func (r *Relay) ControlAddr() net.Addr {
	if r.ctl == nil {
		return nil
	}
	return r.ctl.Addr()
}

// Serve relays until ctx ends or Close, and serves the control endpoint.
func (r *Relay) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { r.Close() })
	defer stop()
	if r.ctl != nil {
		srv := newControlServer(r)
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			srv.Serve(r.ctl)
		}()
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			<-r.done
			srv.Close()
		}()
	}
	var sem = make(chan struct{}, r.opts.MaxConns)
	for {
		c, err := r.ln.Accept()
		if err != nil {
			select {
			case <-r.done:
				r.wg.Wait()
				return nil
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			r.Close()
			r.wg.Wait()
			return fmt.Errorf("accept: %w", err)
		}
		select {
		case sem <- struct{}{}:
		default:
			c.Close() // over MaxConns
			continue
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			defer func() { <-sem }()
			r.handle(c)
		}()
	}
}

// Close stops accepting and closes every relayed connection.
func (r *Relay) Close() error {
	r.doneOnce.Do(func() {
		close(r.done)
		r.ln.Close()
		if r.ctl != nil {
			r.ctl.Close()
		}
		r.mu.Lock()
		conns := make([]*relayConn, 0, len(r.conns))
		for c := range r.conns {
			conns = append(conns, c)
		}
		r.mu.Unlock()
		for _, c := range conns {
			c.close(false)
		}
	})
	return nil
}

// classify is the peer class of a source address.
func (r *Relay) classify(a netip.Addr) Class {
	if c, ok := r.classOf[a.Unmap()]; ok {
		return c
	}
	return Clients
}

// peerRules are the rules on connections from a, nil when none were set.
func (r *Relay) peerRules(a netip.Addr) *Rules {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.peers[a.Unmap()]
}

// layers are the rules a connection passes: the relay's own, then its
// source's.
func (r *Relay) layers(src netip.Addr) []*Rules {
	if p := r.peerRules(src); p != nil {
		return []*Rules{&r.own, p}
	}
	return []*Rules{&r.own}
}

func (r *Relay) handle(down net.Conn) {
	src := netip.Addr{}
	if ta, ok := down.RemoteAddr().(*net.TCPAddr); ok {
		src = ta.AddrPort().Addr().Unmap()
	}
	c := &relayConn{src: src, class: r.classify(src), down: down, done: make(chan struct{})}
	for _, l := range r.layers(src) {
		if l.Resetting(c.class) {
			c.close(true)
			return
		}
	}
	r.mu.Lock()
	c.u = Draw{r.rnd.Float64(), r.rnd.Float64()}
	r.conns[c] = struct{}{}
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.conns, c)
		r.mu.Unlock()
		c.close(false)
	}()
	up, err := net.DialTimeout("tcp", r.opts.Upstream, r.opts.DialTimeout)
	if err != nil {
		r.log.Debug("relay: dial upstream", "err", err)
		c.close(true) // as the instance's own port would: refused
		return
	}
	c.up = up
	select {
	case <-c.done: // reset while dialling
		up.Close()
		return
	default:
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.pipe(c, In, down, up) }()
	go func() { defer wg.Done(); r.pipe(c, Out, up, down) }()
	wg.Wait()
}

// chunk is bytes read on one direction, due to be written at due.
type chunk struct {
	b   []byte
	due time.Time
}

// pipe copies src to dst in direction d under the connection's rules:
// each chunk read waits while the direction is held or paced (Pass), then
// leaves its delay late, in order. The reader stops reading while held,
// so the held bytes wait in the kernel's buffers (the sender's writes
// block as on a dead link) and come out in order once healed.
func (r *Relay) pipe(c *relayConn, d Dir, src, dst net.Conn) {
	q := make(chan chunk, 64)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for ch := range q {
			if w := time.Until(ch.due); w > 0 {
				t := time.NewTimer(w)
				select {
				case <-t.C:
				case <-c.done:
					t.Stop()
					return
				}
			}
			if _, err := dst.Write(ch.b); err != nil {
				c.close(false)
				return
			}
		}
		// src ended: pass the half-close on.
		if tc, ok := dst.(interface{ CloseWrite() error }); ok {
			tc.CloseWrite()
		} else {
			c.close(false)
		}
	}()
	var last time.Time
	for {
		buf := make([]byte, 32*1024)
		n, err := src.Read(buf)
		if n > 0 {
			layers := r.layers(c.src)
			ok := true
			var delay time.Duration
			for _, l := range layers {
				if !l.Pass(c.done, c.class, d, c.u, n) {
					ok = false
					break
				}
				delay += l.Delay(c.class, d, r.uniform)
			}
			if !ok {
				break
			}
			due := time.Now().Add(delay)
			if due.Before(last) {
				due = last // in order
			}
			last = due
			select {
			case q <- chunk{buf[:n], due}:
			case <-c.done:
				err = net.ErrClosed
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				c.close(false)
			}
			break
		}
	}
	close(q)
	select {
	case <-writerDone:
	case <-c.done:
	}
}

func (r *Relay) uniform(max time.Duration) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return time.Duration(r.rnd.Int64N(int64(max) + 1))
}

// Apply applies a fault: on the relay's own rules (no peers), or on the
// rules of the connections from each of peers (a fault on another
// instance, mirrored by Place). A reset closes the matching connections
// with an RST at once.
func (r *Relay) Apply(f fault.LinkFault, peers []netip.Addr) error {
	if len(peers) == 0 {
		classes, err := r.own.Apply(f)
		if err != nil {
			return err
		}
		if f.Action == fault.Reset {
			r.resetWhere(func(c *relayConn) bool { return containsClass(classes, c.class) })
		}
		return nil
	}
	for _, p := range peers {
		p = p.Unmap()
		r.mu.Lock()
		rs := r.peers[p]
		if rs == nil {
			rs = &Rules{}
			r.peers[p] = rs
		}
		r.mu.Unlock()
		classes, err := rs.Apply(f)
		if err != nil {
			return err
		}
		if f.Action == fault.Reset {
			r.resetWhere(func(c *relayConn) bool { return c.src == p && containsClass(classes, c.class) })
		}
	}
	return nil
}

func containsClass(cs []Class, c Class) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}

func (r *Relay) resetWhere(match func(*relayConn) bool) {
	r.mu.Lock()
	var out []*relayConn
	for c := range r.conns {
		if match(c) {
			out = append(out, c)
		}
	}
	r.mu.Unlock()
	for _, c := range out {
		c.close(true)
	}
}

package memory

import (
	"fmt"
	"net"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/fault"
)

// A node's links, as the link faults (blackhole, reset, loss, bandwidth,
// delay) see them, are of three peer classes, each in two directions:
//
//   - clients: the TCP connections accepted on the node's port (clients,
//     the proxy and its checks, the harness's pollers);
//   - nodes: the replication link to its master or to each replica (the
//     stream and the full sync go master to replica, the acknowledgements
//     back);
//   - sentinels: the Sentinels' command and pub/sub links to it.
//
// "in" is what the node hears on them, "out" what it sends. Every fault
// acts on the connection as TCP would show it: held bytes (a blackhole, a
// lost connection) are delivered, in order, once the fault is healed; a
// reset closes the connections at once and resets new ones as they open.

// peerClass indexes a node's peer classes.
type peerClass int

const (
	classClients peerClass = iota
	classNodes
	classSentinels
	numClasses
)

// dir indexes the two directions of a link as the node sees it.
type dir int

const (
	dirIn dir = iota
	dirOut
)

var (
	classOf = map[string]peerClass{fault.PeersClients: classClients, fault.PeersNodes: classNodes, fault.PeersSentinels: classSentinels}
	dirOf   = map[string]dir{fault.In: dirIn, fault.Out: dirOut}
)

// linkRule is the faults on one peer class in one direction.
type linkRule struct {
	blackhole bool
	// reset is set on both directions of a class.
	reset bool
	// loss is the fraction of connections that hang in this direction:
	// those whose draw (connDraw) is below it.
	loss float64
	// rate paces what passes, in bytes per second (0: unlimited); next is
	// when the bytes already admitted have passed.
	rate float64
	next time.Time
	// delay and jitter: each message leaves delay plus a uniform extra in
	// [0, jitter] late.
	delay, jitter time.Duration
}

// linkRules are a node's link faults, guarded by the node's lock.
type linkRules struct {
	r [numClasses][2]linkRule
	// changed is closed and replaced at every change, waking what waits
	// on a held link.
	changed chan struct{}
}

// connDraw is one connection's draw for action loss, per direction: the
// connection hangs in a direction while the loss there exceeds it. A
// connection keeps its draw, so a loss set later takes the same fraction
// of the connections already open.
type connDraw [2]float64

func (nw *network) draw() connDraw {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	return connDraw{nw.rnd.Float64(), nw.rnd.Float64()}
}

// applyLinkFault changes the node's link rules and then does what the
// change does at once: a reset closes the connections of its classes.
func (n *Node) applyLinkFault(f fault.LinkFault) error {
	var classes []peerClass
	for _, c := range f.Classes() {
		pc, ok := classOf[c]
		if !ok {
			return fmt.Errorf("%s %s: unknown peer class %q", f.Action, n.name, c)
		}
		classes = append(classes, pc)
	}
	var dirs []dir
	for _, d := range f.Dirs() {
		dd, ok := dirOf[d]
		if !ok {
			return fmt.Errorf("%s %s: unknown direction %q", f.Action, n.name, d)
		}
		dirs = append(dirs, dd)
	}
	n.mu.Lock()
	if n.lf.changed == nil {
		n.lf.changed = make(chan struct{})
	}
	for _, c := range classes {
		for _, d := range dirs {
			r := &n.lf.r[c][d]
			switch f.Action {
			case fault.Blackhole:
				r.blackhole = true
			case fault.Reset:
				r.reset = true
			case fault.Loss:
				r.loss = f.Loss
			case fault.Bandwidth:
				r.rate, r.next = f.Rate, time.Time{}
			case fault.Delay:
				r.delay, r.jitter = f.Delay, f.Jitter
			case fault.Undelay:
				r.delay, r.jitter = 0, 0
			case fault.Heal:
				*r = linkRule{}
			default:
				n.mu.Unlock()
				return fmt.Errorf("%s %s: not a link fault", f.Action, n.name)
			}
		}
	}
	close(n.lf.changed)
	n.lf.changed = make(chan struct{})
	n.mu.Unlock()
	n.log.Debug("link fault", "action", f.Action, "peers", f.Classes(), "direction", f.Dirs())
	if f.Action == fault.Reset {
		for _, c := range classes {
			n.resetClass(c)
		}
	}
	return nil
}

// resetClass closes the node's connections with a peer class, as a reset
// (RST) does.
func (n *Node) resetClass(c peerClass) {
	switch c {
	case classClients:
		n.mu.Lock()
		conns := make([]net.Conn, 0, len(n.conns))
		for c := range n.conns {
			conns = append(conns, c)
		}
		n.mu.Unlock()
		for _, c := range conns {
			resetConn(c)
		}
	case classSentinels:
		n.mu.Lock()
		links := n.takeLinksLocked()
		n.mu.Unlock()
		for _, l := range links {
			l.closedByPeer()
		}
	case classNodes:
		n.mu.Lock()
		for r, rl := range n.repl.replicas {
			rl.close()
			delete(n.repl.replicas, r)
		}
		master := ""
		if n.repl.role == roleReplica {
			master = n.repl.masterAddr
		}
		n.mu.Unlock()
		if m := n.net.node(master); m != nil {
			m.mu.Lock()
			if rl := m.repl.replicas[n]; rl != nil {
				rl.close()
				delete(m.repl.replicas, n)
			}
			m.mu.Unlock()
		}
	}
}

// resetConn closes c with an RST.
func resetConn(c net.Conn) {
	if tc, ok := c.(*trackedConn); ok {
		c = tc.Conn
		defer tc.Close()
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// resetting reports whether connections with class are reset.
func (n *Node) resetting(c peerClass) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.lf.r[c][dirIn].reset || n.lf.r[c][dirOut].reset
}

// linkDelay draws how late a message on class in direction d is: the
// delay plus a uniform share of the jitter.
func (n *Node) linkDelay(c peerClass, d dir) time.Duration {
	n.mu.Lock()
	r := n.lf.r[c][d]
	n.mu.Unlock()
	if r.jitter > 0 {
		r.delay += n.net.uniform(r.jitter)
	}
	return r.delay
}

// heldLocked reports whether a connection with draw u on class is held
// in direction d: blackholed, or lost.
func (n *Node) heldLocked(c peerClass, d dir, u connDraw) bool {
	r := n.lf.r[c][d]
	return r.blackhole || u[d] < r.loss
}

// held reports whether the connection is held now.
func (n *Node) held(c peerClass, d dir, u connDraw) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.heldLocked(c, d, u)
}

// pass waits until size bytes may pass on a connection (draw u) with
// class in direction d: while the direction is held, then as long as its
// bandwidth takes for them. It reports false when done closes first.
func (n *Node) pass(done <-chan struct{}, c peerClass, d dir, u connDraw, size int) bool {
	for {
		n.mu.Lock()
		held := n.heldLocked(c, d, u)
		changed := n.lf.changed
		var wait time.Duration
		if !held {
			wait = n.lf.r[c][d].reserve(time.Now(), size)
		}
		n.mu.Unlock()
		if !held {
			if wait <= 0 {
				return true
			}
			t := time.NewTimer(wait)
			defer t.Stop()
			select {
			case <-t.C:
				return true
			case <-done:
				return false
			}
		}
		if changed == nil {
			// No fault was ever applied, so nothing can be held.
			return true
		}
		select {
		case <-changed:
		case <-done:
			return false
		}
	}
}

// reserve admits size bytes at the rule's rate and returns how long until
// they have passed; zero without a rate.
func (r *linkRule) reserve(now time.Time, size int) time.Duration {
	if r.rate <= 0 {
		return 0
	}
	start := r.next
	if start.Before(now) {
		start = now
	}
	r.next = start.Add(time.Duration(float64(size) / r.rate * float64(time.Second)))
	return r.next.Sub(now)
}

// clientHooks are the node's link faults on one client connection
// (linkHooks).
type clientHooks struct {
	n    *Node
	done <-chan struct{}
	u    connDraw
}

func (h clientHooks) in(size int) bool {
	if !h.n.pass(h.done, classClients, dirIn, h.u, size) {
		return false
	}
	if d := h.n.linkDelay(classClients, dirIn); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-h.done:
			return false
		}
	}
	return true
}

func (h clientHooks) outDelay() time.Duration { return h.n.linkDelay(classClients, dirOut) }

func (h clientHooks) out(size int) bool { return h.n.pass(h.done, classClients, dirOut, h.u, size) }

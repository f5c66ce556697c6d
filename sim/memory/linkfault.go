package memory

import (
	"fmt"
	"net"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/fault"
	simlink "github.com/redisha-sim/redisha-sim/sim/link"
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

// The rules themselves, and what they do to the bytes, are sim/link's,
// shared with the containers' relay; these names keep the backend's code
// short.
type (
	peerClass = simlink.Class
	dir       = simlink.Dir
	connDraw  = simlink.Draw
)

const (
	classClients   = simlink.Clients
	classNodes     = simlink.Nodes
	classSentinels = simlink.Sentinels
	dirIn          = simlink.In
	dirOut         = simlink.Out
)

func (nw *network) draw() connDraw {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	return connDraw{nw.rnd.Float64(), nw.rnd.Float64()}
}

// applyLinkFault changes the node's link rules and then does what the
// change does at once: a reset closes the connections of its classes.
func (n *Node) applyLinkFault(f fault.LinkFault) error {
	classes, err := n.lf.Apply(f)
	if err != nil {
		return fmt.Errorf("%s %s: %w", f.Action, n.name, err)
	}
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
func (n *Node) resetting(c peerClass) bool { return n.lf.Resetting(c) }

// linkDelay draws how late a message on class in direction d is: the
// delay plus a uniform share of the jitter.
func (n *Node) linkDelay(c peerClass, d dir) time.Duration { return n.lf.Delay(c, d, n.net.uniform) }

// held reports whether the connection is held now.
func (n *Node) held(c peerClass, d dir, u connDraw) bool { return n.lf.Held(c, d, u) }

// pass waits until size bytes may pass on a connection (draw u) with
// class in direction d: while the direction is held, then as long as its
// bandwidth takes for them. It reports false when done closes first.
func (n *Node) pass(done <-chan struct{}, c peerClass, d dir, u connDraw, size int) bool {
	return n.lf.Pass(done, c, d, u, size)
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

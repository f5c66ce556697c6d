package memory

import (
	"math/rand/v2"
	"sync"
	"time"
)

// network connects the in-process Sentinels to the nodes and to each other
// with the failure modes of TCP on loopback: a stopped node refuses
// connections, a paused one accepts them but answers nothing until it
// resumes, a disconnected one drops everything. A disconnected Sentinel
// likewise hears nothing from the nodes and the other Sentinels and
// reaches none of them, while its RESP front (the harness's side, as the
// clients network on docker) keeps answering. Messages take a small
// random latency, plus what the node's link faults do to its Sentinels'
// links (linkfault.go: delay, blackhole, loss, bandwidth per direction; a
// reset closes them); each connection delivers in order.
type network struct {
	mu        sync.Mutex
	nodes     map[string]*Node
	sentinels map[string]*Sentinel
	// former are the addresses nodes left when rescheduled: nothing
	// listens there, but the harness still names the node by them.
	former map[string]*Node
	rnd    *rand.Rand
	// clock, when set (by a test, before anything runs), is the time the
	// nodes report in INFO's seconds fields (a Sentinel with a test clock
	// reads them).
	clock func() time.Time
}

// now is the nodes' clock for what INFO reports.
func (nw *network) now() time.Time {
	if nw.clock != nil {
		return nw.clock()
	}
	return time.Now()
}

func newNetwork(seed uint64) *network {
	return &network{nodes: map[string]*Node{}, sentinels: map[string]*Sentinel{}, former: map[string]*Node{}, rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// latency is one loopback hop: 50-250µs.
func (nw *network) latency() time.Duration {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	return time.Duration(50+nw.rnd.IntN(200)) * time.Microsecond
}

// uniform draws a duration in [0, max].
func (nw *network) uniform(max time.Duration) time.Duration {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	return time.Duration(nw.rnd.Int64N(int64(max) + 1))
}

func (nw *network) node(addr string) *Node {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	return nw.nodes[addr]
}

// move gives a stopped node a new address: connections to the old one
// are refused from now on.
func (nw *network) move(n *Node, addr string) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	old := n.Addr()
	delete(nw.nodes, old)
	nw.former[old] = n
	delete(nw.former, addr)
	nw.nodes[addr] = n
	n.addr.Store(&addr)
}

// nodeNamed finds a node by an address it has or had.
func (nw *network) nodeNamed(addr string) *Node {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	if n := nw.nodes[addr]; n != nil {
		return n
	}
	return nw.former[addr]
}

// formerAddrs are the addresses n had before its reschedules.
func (nw *network) formerAddrs(n *Node) []string {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	var out []string
	for a, m := range nw.former {
		if m == n {
			out = append(out, a)
		}
	}
	return out
}

func (nw *network) sentinel(addr string) *Sentinel {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	return nw.sentinels[addr]
}

// cut reports whether the link crosses a disconnect: its owner, or the
// node or Sentinel at its other end, is cut off. What crosses one is lost.
func (l *link) cut() bool {
	if l.owner.isCut() {
		return true
	}
	if l.node != nil {
		_, cut := l.node.stateOf()
		return cut
	}
	return l.peer != nil && l.peer.isCut()
}

// cutBetween reports whether two nodes cannot reach each other.
func (nw *network) cutBetween(a, b *Node) bool {
	_, ca := a.stateOf()
	_, cb := b.stateOf()
	return ca || cb
}

// nodeChanged is called when a node's state or role changes; Sentinels
// learn it through their own polling, so nothing is pushed. It exists as
// the one place to observe such changes in tests.
func (nw *network) nodeChanged(*Node) {}

// request is a command sent on a link.
type request struct {
	cmd  string
	args []string
}

// reply is an answer; err holds an error reply.
type reply struct {
	val  any
	err  string
	from *link
}

// link is one connection from a Sentinel: its "cmd" or "pubsub"
// connection to a node, or its connection to another Sentinel.
type link struct {
	owner *Sentinel
	kind  string // "cmd" or "pubsub"
	addr  string
	node  *Node
	peer  *Sentinel

	// u is the link's draw for action loss; done closes with the link,
	// ending what waits on a held direction.
	u    connDraw
	done chan struct{}

	mu         sync.Mutex
	closed     bool
	subscribed bool
	// requests carries what the owner sends, in order; replies what comes
	// back to it, in order.
	requests inorder
	replies  outbox
}

func (l *link) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// close is the owner closing its side.
func (l *link) close() {
	l.mu.Lock()
	was := l.closed
	l.closed = true
	l.mu.Unlock()
	if was {
		return
	}
	close(l.done)
	if l.node != nil {
		l.node.mu.Lock()
		delete(l.node.links, l)
		l.node.mu.Unlock()
	}
	if l.peer != nil {
		l.peer.mu.Lock()
		delete(l.peer.inbound, l)
		l.peer.mu.Unlock()
	}
}

// closedByPeer is the other end closing the connection: the owner hears
// of it as hiredis's disconnect callback. A disconnected owner does not
// (the FIN or RST is lost): it hears of it when it is reconnected
// (Sentinel.setCut).
func (l *link) closedByPeer() {
	l.mu.Lock()
	was := l.closed
	l.closed = true
	l.mu.Unlock()
	if was {
		return
	}
	close(l.done)
	if l.owner.isCut() {
		return
	}
	lat := l.owner.nw.latency()
	time.AfterFunc(lat, func() { l.owner.post(func() { l.owner.linkClosed(l) }) })
}

// connect opens a link from owner to addr. Like a non-blocking connect, it
// always returns a link; a refused connection is reported shortly after
// through the owner's disconnect handling.
func (nw *network) connect(owner *Sentinel, addr, kind string) *link {
	l := &link{owner: owner, kind: kind, addr: addr, u: nw.draw(), done: make(chan struct{})}
	if n := nw.node(addr); n != nil {
		l.node = n
		n.mu.Lock()
		// A node that resets its Sentinels' connections (action reset)
		// refuses a new one as a stopped node does.
		up := n.state != nodeStopped && !n.lf.Rule(classSentinels, dirIn).Reset
		if up {
			n.links[l] = struct{}{}
		}
		n.mu.Unlock()
		if !up {
			l.closedByPeer()
		}
		return l
	}
	if s := nw.sentinel(addr); s != nil && s.running() {
		l.peer = s
		s.mu.Lock()
		s.inbound[l] = struct{}{}
		s.mu.Unlock()
		return l
	}
	l.closedByPeer()
	return l
}

// send delivers req on l; done runs in the owner's loop with the answer,
// unless the answer never comes (node stopped, link closed, either end
// disconnected when the request arrives or when the answer does).
func (l *link) send(req request, done func(reply)) {
	if l.isClosed() {
		return
	}
	nw := l.owner.nw
	there, back := nw.latency(), nw.latency()
	answer := func(r reply) {
		r.from = l
		n := l.node
		if n != nil {
			back += n.linkDelay(classSentinels, dirOut)
		}
		l.replies.push(time.Now().Add(back), func() {
			// A held direction (blackhole, loss) holds this reply and
			// those behind it; a bandwidth paces them.
			if n != nil && !n.pass(l.done, classSentinels, dirOut, l.u, replySize(r)) {
				return
			}
			if !l.isClosed() && !l.cut() {
				l.owner.post(func() { done(r) })
			}
		})
	}
	// Requests arrive in the order sent, as on a TCP connection: a Sentinel
	// asking for votes for several masters in a row (epochs 1, 2, 3) is
	// answered in that order, and a paused node holds them all.
	switch {
	case l.node != nil:
		n := l.node
		there += n.linkDelay(classSentinels, dirIn)
		l.requests.push(time.Now().Add(there), func() {
			if !n.pass(l.done, classSentinels, dirIn, l.u, requestSize(req)) {
				return
			}
			if !n.waitIfPaused() || l.isClosed() {
				return
			}
			if l.cut() {
				return // lost in the partition
			}
			answer(n.sentinelRequest(l, req))
		})
	case l.peer != nil:
		p := l.peer
		l.requests.push(time.Now().Add(there), func() {
			if l.cut() {
				return // lost in the partition
			}
			p.post(func() { answer(p.peerRequest(req)) })
		})
	}
}

// sentinelRequest answers a Sentinel's command on a node.
func (n *Node) sentinelRequest(l *link, req request) reply {
	switch req.cmd {
	case "PING":
		return reply{val: "PONG"}
	case "INFO":
		return reply{val: n.info(nil)}
	case "SUBSCRIBE":
		l.mu.Lock()
		l.subscribed = true
		l.mu.Unlock()
		return reply{val: "subscribe"}
	case "PUBLISH":
		n.relayHello(req.args[1])
		return reply{val: int64(1)}
	case "SLAVEOF":
		// Sentinel's transaction: MULTI, SLAVEOF, CONFIG REWRITE, CLIENT
		// KILL TYPE normal, CLIENT KILL TYPE pubsub, EXEC. The kill spares
		// the calling connection only.
		if len(req.args) == 0 {
			n.becomeMaster()
		} else if !n.follows(req.args[0]) {
			n.becomeReplicaOf(req.args[0])
		}
		n.killClients(l)
		return reply{val: "OK"}
	}
	return reply{err: "ERR unknown command"}
}

// relayHello delivers a hello to every Sentinel subscribed on this node.
func (n *Node) relayHello(msg string) {
	n.mu.Lock()
	var subs []*link
	for l := range n.links {
		l.mu.Lock()
		if l.kind == "pubsub" && l.subscribed && !l.closed {
			subs = append(subs, l)
		}
		l.mu.Unlock()
	}
	n.mu.Unlock()
	for _, l := range subs {
		lat := n.net.latency() + n.linkDelay(classSentinels, dirOut)
		l.replies.push(time.Now().Add(lat), func() {
			if !n.pass(l.done, classSentinels, dirOut, l.u, len(msg)+40) {
				return
			}
			if !l.isClosed() && !l.cut() {
				l.owner.post(func() { l.owner.onHello(msg, l) })
			}
		})
	}
}

// requestSize is about what a request takes on the wire, for a bandwidth.
func requestSize(req request) int { return int(respSize(append([]string{req.cmd}, req.args...))) }

// replySize is about what a reply takes on the wire, for a bandwidth.
func replySize(r reply) int {
	if s, ok := r.val.(string); ok {
		return len(s) + 16
	}
	return len(r.err) + 16
}

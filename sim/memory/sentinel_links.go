package memory

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/redisha-sim/redisha-sim/sim/sentinel"
)

// coreDriver is the Sentinel as the core's sentinel.Driver: the
// connections, requests and events the core asks for (kept off the
// Sentinel's exported methods).
type coreDriver Sentinel

// instanceLinks are the connections behind one instance's sentinel.Link.
type instanceLinks struct{ cc, pc *link }

// sharedConn is a command connection to another Sentinel, shared by that
// Sentinel's instances under every master, as sentinel.c shares an
// instanceLink among the instances with the same run id
// (sentinelTryConnectionSharing): its requests about several masters, the
// vote requests of concurrent failovers among them, travel in order on
// one connection. Each instance keeps its own sentinel.Link state, and
// the core closing the connection for one instance (it gave up on that
// instance's link) leaves it open for the others, where sentinel.c, whose
// link state is shared too, would drop it for all.
type sharedConn struct {
	c    *link
	refs int
}

// peerKey identifies another Sentinel for connection sharing.
func peerKey(ri *sentinel.Instance) string { return ri.Addr + "/" + ri.RunID }

func (s *Sentinel) linksOf(ri *sentinel.Instance) *instanceLinks {
	ls := s.links[ri]
	if ls == nil {
		ls = &instanceLinks{}
		s.links[ri] = ls
	}
	return ls
}

// Connect opens a connection (the core's Driver): like a non-blocking
// connect it always succeeds at first; a refusal comes back as linkClosed.
func (d *coreDriver) Connect(ri *sentinel.Instance, kind sentinel.LinkKind) bool {
	s := (*Sentinel)(d)
	ls := s.linksOf(ri)
	if kind == sentinel.CmdLink && ri.Is(sentinel.FlagSentinel) {
		key := peerKey(ri)
		if sc := s.peers[key]; sc != nil && !sc.c.isClosed() {
			sc.refs++
			ls.cc = sc.c
			return true
		}
		ls.cc = s.nw.connect(s, ri.Addr, "cmd")
		s.peers[key] = &sharedConn{c: ls.cc, refs: 1}
		return true
	}
	if kind == sentinel.CmdLink {
		ls.cc = s.nw.connect(s, ri.Addr, "cmd")
		return true
	}
	ls.pc = s.nw.connect(s, ri.Addr, "pubsub")
	ls.pc.send(request{cmd: "SUBSCRIBE", args: []string{"__sentinel__:hello"}}, func(reply) {})
	return true
}

// Close closes a connection the core gave up on.
func (d *coreDriver) Close(ri *sentinel.Instance, kind sentinel.LinkKind) {
	s := (*Sentinel)(d)
	ls := s.links[ri]
	if ls == nil {
		return
	}
	c := &ls.cc
	if kind == sentinel.PubSubLink {
		c = &ls.pc
	}
	if *c != nil && kind == sentinel.CmdLink && ri.Is(sentinel.FlagSentinel) {
		// A shared connection closes with its last user.
		key := peerKey(ri)
		if sc := s.peers[key]; sc != nil && sc.c == *c {
			if sc.refs--; sc.refs > 0 {
				*c = nil
			} else {
				delete(s.peers, key)
			}
		}
	}
	if *c != nil {
		(*c).close()
		*c = nil
	}
	if ls.cc == nil && ls.pc == nil {
		delete(s.links, ri)
	}
}

func (s *Sentinel) closeAllLinks() {
	for ri, ls := range s.links {
		for _, c := range []*link{ls.cc, ls.pc} {
			if c != nil {
				c.close()
			}
		}
		delete(s.links, ri)
	}
	clear(s.peers)
}

// linkClosed is the disconnect callback of a connection; a shared one
// disconnects every instance using it.
func (s *Sentinel) linkClosed(c *link) {
	for key, sc := range s.peers {
		if sc.c == c {
			delete(s.peers, key)
		}
	}
	for ri, ls := range s.links {
		switch c {
		case ls.cc:
			ls.cc = nil
			s.core.LinkClosed(ri, sentinel.CmdLink)
		case ls.pc:
			ls.pc = nil
			s.core.LinkClosed(ri, sentinel.PubSubLink)
		}
	}
}

// sendCmd sends req on ri's command connection; done runs with the reply
// unless the connection was replaced or closed meanwhile.
func (s *Sentinel) sendCmd(ri *sentinel.Instance, req request, done func(reply)) {
	ls := s.links[ri]
	if ls == nil || ls.cc == nil {
		return
	}
	c := ls.cc
	c.send(req, func(r reply) {
		if ls.cc == c {
			done(r)
		}
	})
}

// Ping sends PING; a +PONG, -LOADING or -MASTERDOWN makes the instance
// available.
func (d *coreDriver) Ping(ri *sentinel.Instance) {
	s := (*Sentinel)(d)
	s.sendCmd(ri, request{cmd: "PING"}, func(r reply) {
		ok := r.err == "" || strings.HasPrefix(r.err, "LOADING") || strings.HasPrefix(r.err, "MASTERDOWN")
		s.core.PingReply(ri, s.now(), ok)
	})
}

// SlaveOf sends Sentinel's SLAVEOF transaction (NO ONE when addr is "").
func (d *coreDriver) SlaveOf(ri *sentinel.Instance, addr string) {
	s := (*Sentinel)(d)
	var args []string
	if addr != "" {
		args = []string{addr}
	}
	s.sendCmd(ri, request{cmd: "SLAVEOF", args: args}, func(reply) { s.core.Replied(ri) })
}

// Hello publishes this Sentinel's hello on ri: "ip,port,runid,epoch,
// master name,master ip,master port,config epoch".
func (d *coreDriver) Hello(ri *sentinel.Instance, h sentinel.Hello) {
	s := (*Sentinel)(d)
	host, port, _ := net.SplitHostPort(h.Addr)
	mh, mp, _ := net.SplitHostPort(h.MasterAddr)
	payload := fmt.Sprintf("%s,%s,%s,%d,%s,%s,%s,%d", host, port, h.RunID, h.CurrentEpoch, h.MasterName, mh, mp, h.ConfigEpoch)
	s.sendCmd(ri, request{cmd: "PUBLISH", args: []string{"__sentinel__:hello", payload}}, func(r reply) {
		s.core.HelloPublished(ri, s.now(), r.err == "")
	})
}

// parseHello reads a hello message.
func parseHello(msg string) (sentinel.Hello, bool) {
	tok := strings.Split(msg, ",")
	if len(tok) != 8 {
		return sentinel.Hello{}, false
	}
	epoch, err1 := strconv.ParseUint(tok[3], 10, 64)
	config, err2 := strconv.ParseUint(tok[7], 10, 64)
	if err1 != nil || err2 != nil {
		return sentinel.Hello{}, false
	}
	return sentinel.Hello{Addr: net.JoinHostPort(tok[0], tok[1]), RunID: tok[2], CurrentEpoch: epoch, MasterName: tok[4],
		MasterAddr: net.JoinHostPort(tok[5], tok[6]), ConfigEpoch: config}, true
}

// onHello handles a hello received on a node's hello channel.
func (s *Sentinel) onHello(msg string, from *link) {
	var via *sentinel.Instance
	for ri, ls := range s.links {
		if ls.pc == from {
			via = ri
		}
	}
	if h, ok := parseHello(msg); ok {
		s.core.HelloReceived(s.now(), h, via)
	}
}

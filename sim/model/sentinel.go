package model

import (
	"time"

	core "github.com/redisha-sim/redisha-sim/sim/sentinel"
)

// Node and Sentinel addresses: names the core compares; the node ones
// sort in node order, as the core keeps replicas sorted by address.
var nodeAddrs, sentinelIDs [16]string

func init() {
	const digits = "0123456789abcdef"
	for i := range nodeAddrs {
		nodeAddrs[i] = "10.0.0.1" + string(digits[i/10]) + string(digits[i%10]) + ":6379"
		sentinelIDs[i] = "sentinel-" + string(digits[i])
	}
}

type switchEvent struct {
	at   time.Duration
	node int
}

// sentinel is one Sentinel watching the master: the Sentinel core
// (package sentinel) driven in virtual time, with the world's nodes and
// the other Sentinels as what it talks to. Requests and replies take an
// RTT each way; a node that hangs answers when it resumes.
type sentinel struct {
	w    *world
	id   int
	core *core.Sentinel
	m    *core.Master
	// masterNode is the node this Sentinel names master.
	masterNode int

	switches []switchEvent
	// tickF is tick as a func value, made once.
	tickF func()
	// tickEvery, when set, replaces sentinel.c's random 10-19 Hz.
	tickEvery time.Duration
	// listReplicas: a master's INFO lists its replicas (the steady state
	// has every replica known already, so trials skip it).
	listReplicas bool
	// onEvent, when set, sees every event.
	onEvent func(core.Event)
}

func newSentinel(w *world, id int) *sentinel {
	s := &sentinel{w: w, id: id}
	s.core = core.New(sentinelIDs[id], sentinelIDs[id], s, w.rng)
	return s
}

// start sets the steady state before the run: links up with random
// phases, every Sentinel known, and begins ticking. It runs once all
// Sentinels exist.
func (s *sentinel) start() {
	w := s.w
	s.monitor()
	steady := func(ri *core.Instance) {
		l := &ri.Link
		l.CC, l.PC, l.Disconnected = true, !ri.Is(core.FlagSentinel), false
		l.CCConnTime, l.PCConnTime, l.PCLastActivity = -time.Minute, -time.Minute, 0
		l.ActPingTime = core.Never
		l.LastPongTime = -w.uniform(core.PingPeriod)
		l.LastPingTime, l.LastAvailTime = l.LastPongTime, l.LastPongTime
		if !ri.Is(core.FlagSentinel) {
			ri.InfoRefresh = -w.uniform(core.InfoPeriod)
		}
		ri.LastPubTime = -w.uniform(core.PublishPeriod)
		ri.RoleReportedTime = -time.Minute
	}
	steady(&s.m.Instance)
	for _, n := range w.nodes[1:] {
		sl := s.core.AddSlave(s.m, 0, nodeAddrs[n.id])
		steady(sl)
		sl.SlaveMasterAddr, sl.SlaveMasterLinkUp, sl.SlaveConfChangeTime = nodeAddrs[0], true, -time.Minute
	}
	for _, o := range w.sentinels {
		if o != s {
			steady(s.core.AddSentinel(s.m, 0, sentinelIDs[o.id], sentinelIDs[o.id]))
		}
	}
	w.q.at(w.uniform(100*time.Millisecond), s.tickF)
}

func (s *sentinel) tick() {
	s.core.Tick(s.w.q.now)
	d := s.tickEvery
	if d == 0 {
		d = core.NextTick(s.w.rng)
	}
	s.w.q.after(d, s.tickF)
}

// monitor starts monitoring the master, node 0, knowing nothing else.
func (s *sentinel) monitor() {
	p := s.w.p
	s.m = s.core.Monitor(s.w.q.now, core.MasterConfig{Name: "mymaster", Addr: nodeAddrs[0], Quorum: p.Quorum, DownAfter: p.DownAfter,
		FailoverTimeout: p.FailoverTimeout, ParallelSyncs: max(1, p.ParallelSyncs)})
	s.tickF = s.tick
}

// nodeOf is the node at addr, -1 for none.
func nodeOf(addr string) int {
	for i, a := range nodeAddrs {
		if a == addr {
			return i
		}
	}
	return -1
}

// instOf is this Sentinel's instance for node n, nil when it has none.
func (s *sentinel) instOf(n int) *core.Instance {
	a := nodeAddrs[n]
	if s.m.Addr == a {
		return &s.m.Instance
	}
	for _, sl := range s.m.Slaves {
		if sl.Addr == a {
			return sl
		}
	}
	return nil
}

func (s *sentinel) peer(runID string) *sentinel {
	for _, o := range s.w.sentinels {
		if sentinelIDs[o.id] == runID {
			return o
		}
	}
	return nil
}

// linkReset is the node closing the Sentinel's connections.
func (s *sentinel) linkReset(n *node) {
	if ri := s.instOf(n.id); ri != nil {
		s.core.LinkClosed(ri, core.CmdLink)
		s.core.LinkClosed(ri, core.PubSubLink)
	}
}

// conn is a request's connection: a reply is read only if the
// connection is still open (the core's link generation).
type conn struct {
	ri  *core.Instance
	gen uint32
}

func connOf(ri *core.Instance) conn { return conn{ri, ri.Link.Gen} }

func (c conn) open() bool { return c.ri.Link.Gen == c.gen && c.ri.Link.CC }

// Connect: a dead node's refused connection fails at once; anything else
// connects (a hanging node's connection just never answers).
func (s *sentinel) Connect(ri *core.Instance, kind core.LinkKind) bool {
	if ri.Is(core.FlagSentinel) {
		return true
	}
	return s.w.nodes[nodeOf(ri.Addr)].forSentinel(s.w) != reachRefused
}

// Close: the model keeps no connection objects; the core's link
// generation discards replies on a closed one.
func (s *sentinel) Close(*core.Instance, core.LinkKind) {}

func (s *sentinel) Ping(ri *core.Instance) {
	w := s.w
	c := connOf(ri)
	answered := func() {
		if c.open() {
			s.core.PingReply(ri, w.q.now, true)
		}
	}
	if ri.Is(core.FlagSentinel) {
		w.q.after(2*w.p.RTT, answered)
		return
	}
	s.later(w.nodes[nodeOf(ri.Addr)], 2*w.p.RTT, answered)
}

// later runs f after the round trip d if the node answers, or when it
// resumes if it hangs frozen or cut off (what was asked meanwhile is
// answered then, in order); a refused or dead node never answers.
func (s *sentinel) later(n *node, d time.Duration, f func()) {
	w := s.w
	switch n.forSentinel(w) {
	case reachOK:
		w.q.after(d, f)
	case reachHang:
		if n.paused || n.cut {
			n.onResume = append(n.onResume, f)
		}
	}
}

// Info answers INFO from the node's state.
func (s *sentinel) Info(ri *core.Instance) {
	w := s.w
	n := w.nodes[nodeOf(ri.Addr)]
	c := connOf(ri)
	s.later(n, 2*w.p.RTT, func() {
		if !c.open() || n.forSentinel(w) != reachOK {
			return
		}
		info := s.infoOf(n)
		s.core.InfoReply(ri, w.q.now, &info)
	})
}

// infoOf is what the node's INFO says.
func (s *sentinel) infoOf(n *node) core.Info {
	w := s.w
	info := core.Info{RunID: n.runID, Role: core.FlagSlave, SlavePriority: core.DefaultSlavePriority}
	if n.master {
		info.Role = core.FlagMaster
		if s.listReplicas {
			for _, r := range w.nodes {
				if !r.master && r.replicaOf == n.id && r.forSentinel(w) == reachOK {
					info.Slaves = append(info.Slaves, nodeAddrs[r.id])
				}
			}
		}
		return info
	}
	if n.replicaOf >= 0 {
		info.MasterAddr = nodeAddrs[n.replicaOf]
	}
	info.MasterLinkUp = n.linkUp(w)
	info.MasterLinkDownTime = n.masterLinkDownTime(w)
	return info
}

// Hello: on a node, the other Sentinels subscribed there read it; to a
// Sentinel, it reads it.
func (s *sentinel) Hello(ri *core.Instance, h core.Hello) {
	w := s.w
	if ri.Is(core.FlagSentinel) {
		o, c := s.peer(ri.RunID), connOf(ri)
		w.q.after(2*w.p.RTT, func() {
			if !c.open() {
				return
			}
			o.core.HelloReceived(w.q.now, h, nil)
			s.core.HelloPublished(ri, w.q.now, true)
		})
		return
	}
	n := w.nodes[nodeOf(ri.Addr)]
	c := connOf(ri)
	s.later(n, 3*w.p.RTT, func() {
		if !c.open() {
			return
		}
		s.core.HelloPublished(ri, w.q.now, true)
		for _, o := range w.sentinels {
			if o == s {
				continue
			}
			if via := o.instOf(n.id); via != nil && via.Link.PC {
				o.core.HelloReceived(w.q.now, h, via)
			}
		}
	})
}

// AskMasterDown: the other Sentinel answers (and votes) after an RTT; the
// answer is back an RTT later.
func (s *sentinel) AskMasterDown(si *core.Instance, m *core.Master, epoch uint64, runID string) {
	w := s.w
	o, addr, c := s.peer(si.RunID), m.Addr, connOf(si)
	w.q.after(w.p.RTT, func() {
		if !c.open() {
			return
		}
		r, _ := o.core.IsMasterDownByAddr(w.q.now, addr, epoch, runID)
		w.q.after(w.p.RTT, func() {
			if c.open() {
				s.core.MasterDownReply(si, w.q.now, r)
			}
		})
	})
}

// SlaveOf promotes the node, or points it at another, after an RTT.
func (s *sentinel) SlaveOf(ri *core.Instance, addr string) {
	w := s.w
	n := w.nodes[nodeOf(ri.Addr)]
	if addr == "" {
		if w.promoted < 0 {
			w.promoted = n.id
		}
		w.t.Failovers++
	}
	c := connOf(ri)
	w.q.after(w.p.RTT, func() {
		if !c.open() {
			return
		}
		if addr == "" {
			w.promote(n)
		} else {
			w.replicate(n, w.nodes[nodeOf(addr)])
		}
		s.core.Replied(ri)
	})
}

// Event records the phases the trial measures.
func (s *sentinel) Event(e core.Event) {
	w := s.w
	now := w.q.now
	if s.onEvent != nil {
		s.onEvent(e)
	}
	switch e.Type {
	case core.EventSDown:
		if e.Inst == &s.m.Instance && s.masterNode == 0 && w.t.SDown == 0 && now >= w.fault {
			w.t.SDown = now - w.fault
		}
	case core.EventODown:
		if s.masterNode == 0 && w.t.ODown == 0 && now >= w.fault {
			w.t.ODown = now - w.fault
		}
	case core.EventSwitchMaster:
		s.masterNode = nodeOf(e.To)
		w.sentinelSwitched(s, s.masterNode)
	}
}

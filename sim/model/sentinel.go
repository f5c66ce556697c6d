package model

import (
	"time"

	core "github.com/redisha-sim/redisha-sim/sim/sentinel"
)

// Node and Sentinel addresses: names the core compares. Node i of group
// g is 10.0.<g>.1<i>:6379 (nodeAddr), so a group's nodes sort in node
// order, as the core keeps replicas sorted by address, and the first
// group's addresses are those of the single group before groups existed.
var (
	nodeAddrsByGroup [MaxGroups][16]string
	sentinelIDs      [16]string
)

func init() {
	const digits = "0123456789abcdef"
	for g := range nodeAddrsByGroup {
		for i := range nodeAddrsByGroup[g] {
			nodeAddrsByGroup[g][i] = "10.0." + string(digits[g]) + ".1" + string(digits[i/10]) + string(digits[i%10]) + ":6379"
		}
	}
	for i := range sentinelIDs {
		sentinelIDs[i] = "sentinel-" + string(digits[i])
	}
}

type switchEvent struct {
	at   time.Duration
	node int
}

// watch is a Sentinel's view of one group's master.
type watch struct {
	g *group
	m *core.Master
	// masterNode is the node this Sentinel names master of the group.
	masterNode int
	switches   []switchEvent
}

// sentinel is one Sentinel watching every group's master: the Sentinel
// core (package sentinel) driven in virtual time, with the world's nodes
// and the other Sentinels as what it talks to. Requests and replies take
// an RTT each way; a node that hangs answers when it resumes.
type sentinel struct {
	w    *world
	id   int
	core *core.Sentinel
	// watches are its masters, one per group, in group order.
	watches []watch
	// dead: the process is gone (a host fault); its address hangs from
	// hangsAt (DeadHangs), refusing before.
	dead    bool
	hangsAt time.Duration
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
	for _, wt := range s.watches {
		steady(&wt.m.Instance)
		master := nodeAddr(wt.g.initial())
		for _, n := range wt.g.nodes[1:] {
			sl := s.core.AddSlave(wt.m, 0, nodeAddr(n))
			steady(sl)
			sl.SlaveMasterAddr, sl.SlaveMasterLinkUp, sl.SlaveConfChangeTime = master, true, -time.Minute
		}
		for _, o := range w.sentinels {
			if o != s {
				steady(s.core.AddSentinel(wt.m, 0, sentinelIDs[o.id], sentinelIDs[o.id]))
			}
		}
	}
	w.q.at(w.uniform(100*time.Millisecond), s.tickF)
}

func (s *sentinel) tick() {
	if s.dead {
		return
	}
	s.core.Tick(s.w.q.now)
	d := s.tickEvery
	if d == 0 {
		d = core.NextTick(s.w.rng)
	}
	s.w.q.after(d, s.tickF)
}

// monitor starts monitoring every group's master, its node 0, knowing
// nothing else.
func (s *sentinel) monitor() {
	p := s.w.p
	s.watches = make([]watch, len(s.w.groups))
	for i, g := range s.w.groups {
		m := s.core.Monitor(s.w.q.now, core.MasterConfig{Name: g.name, Addr: nodeAddr(g.initial()), Quorum: p.Quorum, DownAfter: p.DownAfter,
			FailoverTimeout: p.FailoverTimeout, ParallelSyncs: max(1, p.ParallelSyncs)})
		s.watches[i] = watch{g: g, m: m, masterNode: g.initial().id}
	}
	s.tickF = s.tick
}

// watchOf is the watch of the core's master m.
func (s *sentinel) watchOf(m *core.Master) *watch {
	for i := range s.watches {
		if s.watches[i].m == m {
			return &s.watches[i]
		}
	}
	return nil
}

// nodeAddr is the node's address.
func nodeAddr(n *node) string {
	return nodeAddrsByGroup[n.g.id][n.id-n.g.initial().id]
}

// nodeOf is the node at addr in the world, -1 for none.
func (w *world) nodeOf(addr string) int {
	for g, gr := range w.groups {
		base := gr.initial().id
		for i := range gr.nodes {
			if nodeAddrsByGroup[g][i] == addr {
				return base + i
			}
		}
	}
	return -1
}

// node is the node at addr.
func (w *world) node(addr string) *node { return w.nodes[w.nodeOf(addr)] }

// instOf is this Sentinel's instance for node n, nil when it has none.
func (s *sentinel) instOf(n *node) *core.Instance {
	a := nodeAddr(n)
	m := s.watches[n.g.id].m
	if m.Addr == a {
		return &m.Instance
	}
	for _, sl := range m.Slaves {
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

// peerDead reports whether ri is a Sentinel whose process is gone.
func (s *sentinel) peerDead(ri *core.Instance) bool {
	return ri.Is(core.FlagSentinel) && s.peer(ri.RunID).dead
}

// linkReset is the node closing the Sentinel's connections.
func (s *sentinel) linkReset(n *node) {
	if ri := s.instOf(n); ri != nil {
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
		o := s.peer(ri.RunID)
		return !o.dead || s.w.p.DeadHangs && s.w.q.now >= o.hangsAt
	}
	return s.w.node(ri.Addr).forSentinel(s.w) != reachRefused
}

// Close: the model keeps no connection objects; the core's link
// generation discards replies on a closed one.
func (s *sentinel) Close(*core.Instance, core.LinkKind) {}

func (s *sentinel) Ping(ri *core.Instance) {
	w := s.w
	c := connOf(ri)
	answered := func() {
		if c.open() && !s.peerDead(ri) {
			s.core.PingReply(ri, w.q.now, true)
		}
	}
	if ri.Is(core.FlagSentinel) {
		if !s.peerDead(ri) {
			w.q.after(2*w.p.RTT, answered)
		}
		return
	}
	s.later(w.node(ri.Addr), 2*w.p.RTT, answered)
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
	n := w.node(ri.Addr)
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
			for _, r := range n.g.nodes {
				if !r.master && r.replicaOf == n.id && r.forSentinel(w) == reachOK {
					info.Slaves = append(info.Slaves, nodeAddr(r))
				}
			}
		}
		return info
	}
	if n.replicaOf >= 0 {
		info.MasterAddr = nodeAddr(w.nodes[n.replicaOf])
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
			if !c.open() || o.dead {
				return
			}
			o.core.HelloReceived(w.q.now, h, nil)
			s.core.HelloPublished(ri, w.q.now, true)
		})
		return
	}
	n := w.node(ri.Addr)
	c := connOf(ri)
	s.later(n, 3*w.p.RTT, func() {
		if !c.open() {
			return
		}
		s.core.HelloPublished(ri, w.q.now, true)
		for _, o := range w.sentinels {
			if o == s || o.dead {
				continue
			}
			if via := o.instOf(n); via != nil && via.Link.PC {
				o.core.HelloReceived(w.q.now, h, via)
			}
		}
	})
}

// AskMasterDown: the other Sentinel answers (and votes) after an RTT; the
// answer is back an RTT later. A dead Sentinel never answers.
func (s *sentinel) AskMasterDown(si *core.Instance, m *core.Master, epoch uint64, runID string) {
	w := s.w
	o, addr, c := s.peer(si.RunID), m.Addr, connOf(si)
	g := s.watchOf(m).g
	w.q.after(w.p.RTT, func() {
		if !c.open() || o.dead {
			return
		}
		before := o.core.CurrentEpoch
		r, _ := o.core.IsMasterDownByAddr(w.q.now, addr, epoch, runID)
		if runID != "*" {
			g.noteVote(epoch, before, runID, r)
		}
		w.q.after(w.p.RTT, func() {
			if !c.open() {
				return
			}
			if runID != "*" && r.Leader == runID && r.LeaderEpoch == epoch && epoch < s.core.CurrentEpoch &&
				m.FailoverState == core.FailoverWaitStart {
				g.noteStale()
			}
			s.core.MasterDownReply(si, w.q.now, r)
		})
	})
}

// noteVote records, while the group has no elected leader, a vote
// request for reqEpoch refused because the voter's current epoch was
// already above it, or answered with another leader in that epoch.
func (g *group) noteVote(reqEpoch, voterEpoch uint64, runID string, r core.MasterDownReply) {
	el := &g.t.Elections
	if el.NLeaders > 0 {
		return
	}
	granted := r.Leader == runID && r.LeaderEpoch == reqEpoch
	switch {
	case granted:
	case reqEpoch < voterEpoch:
		el.Refused++
	case r.LeaderEpoch == reqEpoch:
		el.Split++
	}
}

// noteStale records, while the group has no elected leader, a vote that
// came back for an epoch the asker's current epoch had already left: it
// does not count (sentinelGetLeader counts the votes of the current epoch).
func (g *group) noteStale() {
	if el := &g.t.Elections; el.NLeaders == 0 {
		el.Stale++
	}
}

// SlaveOf promotes the node, or points it at another, after an RTT.
func (s *sentinel) SlaveOf(ri *core.Instance, addr string) {
	w := s.w
	n := w.node(ri.Addr)
	if addr == "" {
		if n.g.promoted < 0 {
			n.g.promoted = n.id
		}
		n.g.t.Failovers++
	}
	c := connOf(ri)
	w.q.after(w.p.RTT, func() {
		if !c.open() {
			return
		}
		if addr == "" {
			w.promote(n)
		} else {
			w.replicate(n, w.node(addr))
		}
		s.core.Replied(ri)
	})
}

// Event records the phases and the elections the trial measures.
func (s *sentinel) Event(e core.Event) {
	w := s.w
	now := w.q.now
	if s.onEvent != nil {
		s.onEvent(e)
	}
	if e.Master == nil {
		return
	}
	wt := s.watchOf(e.Master)
	g := wt.g
	t := &g.t
	el := &t.Elections
	switch e.Type {
	case core.EventSDown:
		if e.Inst == &wt.m.Instance && wt.masterNode == g.initial().id && t.SDown == 0 && now >= w.fault {
			t.SDown = now - w.fault
		}
	case core.EventODown:
		if wt.masterNode == g.initial().id && t.ODown == 0 && now >= w.fault {
			t.ODown = now - w.fault
		}
	case core.EventSwitchMaster:
		wt.masterNode = w.nodeOf(e.To)
		w.sentinelSwitched(s, g, wt.masterNode)
	case core.EventTryFailover:
		if el.NLeaders == 0 {
			if el.Tries == 0 {
				el.FirstTry = now - w.fault
			}
			el.Tries++
			if el.NotElected > 0 {
				el.Retried = true
			}
		}
	case core.EventAbortNotElected:
		if el.NLeaders == 0 {
			el.NotElected++
		}
	case core.EventElectedLeader:
		if el.NLeaders < len(el.Leaders) {
			el.Leaders[el.NLeaders] = Election{Sentinel: s.id, Epoch: e.Master.FailoverEpoch, At: now - w.fault}
		}
		el.NLeaders++
	}
}

// killSentinel is the Sentinel's process dying: its connections close,
// and so do the other Sentinels' links to it.
func (w *world) killSentinel(s *sentinel) {
	if s.dead {
		return
	}
	s.dead, s.hangsAt = true, w.q.now+w.p.RefuseWindow
	s.core.Instances(func(ri *core.Instance) {
		s.core.LinkClosed(ri, core.CmdLink)
		s.core.LinkClosed(ri, core.PubSubLink)
	})
	id := sentinelIDs[s.id]
	for _, o := range w.sentinels {
		if o == s {
			continue
		}
		for _, wt := range o.watches {
			for _, si := range wt.m.Sentinels {
				if si.RunID == id {
					o.core.LinkClosed(si, core.CmdLink)
				}
			}
		}
	}
}

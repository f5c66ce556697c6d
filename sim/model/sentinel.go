package model

import (
	"time"
)

// Failover states (sentinel.c SENTINEL_FAILOVER_STATE_*).
const (
	foNone = iota
	foWaitStart
	foSelectSlave
	foSendSlaveofNoOne
	foWaitPromotion
	foReconfSlaves
	foUpdateConfig
)

// never is a time long before the run.
const never = -time.Hour

type switchEvent struct {
	at   time.Duration
	node int
}

// inst is a Sentinel's view of one Redis node (sentinelRedisInstance) and
// its link.
type inst struct {
	node *node
	// The command link.
	connected                               bool
	lastReconn, actPing, lastPing, lastPong time.Duration
	lastAvail                               time.Duration
	// INFO.
	infoRefresh      time.Duration
	roleMaster       bool // the role the node last reported
	roleReportedTime time.Duration
	replicaOf        int
	linkUp           bool
	// Flags.
	sdown                                bool
	sdownSince, odownSince               time.Duration
	promoted                             bool
	reconfSent, reconfInprog, reconfDone bool
	reconfSentTime                       time.Duration
	lastPub                              time.Duration
}

func newInst(n *node, now time.Duration, roleMaster bool) *inst {
	return &inst{node: n, actPing: now, lastAvail: now, lastPong: now, lastReconn: never, lastPing: never,
		infoRefresh: never, roleMaster: roleMaster, roleReportedTime: now, sdownSince: never, odownSince: never, lastPub: never, replicaOf: -1}
}

// peer is a Sentinel's view of another Sentinel.
type peer struct {
	s           *sentinel
	masterDown  bool
	lastReply   time.Duration
	leader      int
	leaderEpoch uint64
}

// sentinel is one Sentinel watching the master.
type sentinel struct {
	w  *world
	id int

	masterNode   int
	master       *inst
	slaves       []*inst
	peers        []*peer
	currentEpoch uint64
	configEpoch  uint64
	odown        bool
	// Its vote for the master's failover leader.
	leader      int
	leaderEpoch uint64
	// Failover.
	inProgress     bool
	state          int
	failoverEpoch  uint64
	failoverStart  time.Duration
	failoverChange time.Duration
	promoted       *inst

	switches []switchEvent
}

func newSentinel(w *world, id int) *sentinel {
	s := &sentinel{w: w, id: id, leader: -1, failoverStart: never}
	return s
}

// start sets the steady state before the run: links up with random
// phases, and begins ticking. It runs once all Sentinels exist.
func (s *sentinel) start() {
	w := s.w
	mk := func(n *node) *inst {
		in := newInst(n, 0, n.master)
		in.connected = true
		in.actPing = 0
		in.lastPong = -w.uniform(sentinelPingPeriod)
		in.lastPing, in.lastAvail = in.lastPong, in.lastPong
		in.infoRefresh = -w.uniform(sentinelInfoPeriod)
		in.lastPub = -w.uniform(sentinelPublishPeriod)
		in.roleReportedTime = -time.Minute
		in.replicaOf = 0
		in.linkUp = true
		in.actPing = noPing
		return in
	}
	s.master = mk(w.nodes[0])
	s.master.replicaOf = -1
	for _, n := range w.nodes[1:] {
		s.slaves = append(s.slaves, mk(n))
	}
	for _, o := range w.sentinels {
		if o != s {
			s.peers = append(s.peers, &peer{s: o, leader: -1, lastReply: never})
		}
	}
	w.q.at(w.uniform(100*time.Millisecond), s.tick)
}

// noPing marks act_ping_time as unset (0 in sentinel.c).
const noPing = time.Duration(-1 << 62)

func (s *sentinel) all() []*inst { return append([]*inst{s.master}, s.slaves...) }

func (s *sentinel) tick() {
	w := s.w
	now := w.q.now
	s.handle(s.master, now, true)
	for _, sl := range append([]*inst(nil), s.slaves...) {
		s.handle(sl, now, false)
	}
	if s.state == foUpdateConfig {
		s.switchToPromoted()
	}
	hz := sentinelHz + w.rng.IntN(sentinelHz)
	w.q.after(time.Duration(1000/hz)*time.Millisecond, s.tick)
}

func (s *sentinel) handle(in *inst, now time.Duration, isMaster bool) {
	s.reconnect(in, now)
	s.periodic(in, now, isMaster)
	s.checkSDown(in, now)
	if isMaster {
		s.checkODown(now)
		if s.startFailoverIfNeeded(now) {
			s.ask(now, true)
		}
		s.stateMachine(now)
		s.ask(now, false)
	}
}

// reconnect is sentinelReconnectInstance: one attempt per ping period; the
// PING queued on the non-blocking connect sets act_ping_time.
func (s *sentinel) reconnect(in *inst, now time.Duration) {
	if in.connected || now-in.lastReconn < sentinelPingPeriod {
		return
	}
	in.lastReconn = now
	switch in.node.forSentinel(s.w) {
	case reachRefused:
		s.ping(in, now) // queued, then the connection is refused
	default:
		in.connected = true
		s.ping(in, now)
	}
}

// linkReset is the node closing the Sentinel's connections.
func (s *sentinel) linkReset(n *node) {
	for _, in := range s.all() {
		if in.node == n {
			in.connected = false
		}
	}
}

func (s *sentinel) ping(in *inst, now time.Duration) {
	w := s.w
	in.lastPing = now
	if in.actPing == noPing {
		in.actPing = now
	}
	answered := func() {
		t := w.q.now
		in.lastPong, in.lastAvail, in.actPing = t, t, noPing
	}
	switch in.node.forSentinel(w) {
	case reachOK:
		w.q.after(2*w.p.RTT, answered)
	case reachHang:
		if in.node.paused || in.node.cut {
			// Answered when the node resumes, if the link is still up.
			in.node.onResume = append(in.node.onResume, func() {
				if in.connected {
					answered()
				}
			})
		}
	}
}

// periodic is sentinelSendPeriodicCommands.
func (s *sentinel) periodic(in *inst, now time.Duration, isMaster bool) {
	if !in.connected {
		return
	}
	w := s.w
	period := sentinelInfoPeriod
	if !isMaster && (s.odown || s.inProgress) {
		period = sentinelFastInfo
	}
	if now-in.infoRefresh > period && in.node.forSentinel(w) == reachOK {
		in.infoRefresh = now // refreshed on the reply, RTTs later
		w.q.after(2*w.p.RTT, func() { s.refreshInfo(in) })
	}
	if now-in.lastPong > sentinelPingPeriod && now-in.lastPing > sentinelPingPeriod/2 {
		s.ping(in, now)
	}
	if now-in.lastPub > sentinelPublishPeriod && in.node.forSentinel(w) == reachOK {
		in.lastPub = now
		s.hello()
	}
}

// hello publishes the Sentinel's configuration; the others read it from
// the node's hello channel.
func (s *sentinel) hello() {
	w := s.w
	masterNode, epoch, config := s.currentMaster(), s.currentEpoch, s.configEpoch
	w.q.after(3*w.p.RTT, func() {
		for _, o := range w.sentinels {
			if o != s {
				o.processHello(masterNode, epoch, config)
			}
		}
	})
}

// currentMaster is sentinelGetCurrentMasterAddress.
func (s *sentinel) currentMaster() int {
	if s.inProgress && s.promoted != nil && s.state >= foReconfSlaves {
		return s.promoted.node.id
	}
	return s.masterNode
}

func (s *sentinel) processHello(masterNode int, epoch, config uint64) {
	if epoch > s.currentEpoch {
		s.currentEpoch = epoch
	}
	if config > s.configEpoch {
		s.configEpoch = config
		if masterNode != s.masterNode {
			s.resetTo(masterNode)
		}
	}
}

// checkSDown is sentinelCheckSubjectivelyDown.
func (s *sentinel) checkSDown(in *inst, now time.Duration) {
	var elapsed time.Duration
	switch {
	case in.actPing != noPing:
		elapsed = now - in.actPing
	case !in.connected:
		elapsed = now - in.lastAvail
	}
	if elapsed > s.w.p.DownAfter {
		if !in.sdown {
			in.sdown, in.sdownSince = true, now
			if in == s.master && s.masterNode == 0 && s.w.t.SDown == 0 && now >= s.w.fault {
				s.w.t.SDown = now - s.w.fault
			}
		}
	} else {
		in.sdown = false
	}
}

// checkODown is sentinelCheckObjectivelyDown.
func (s *sentinel) checkODown(now time.Duration) {
	odown := false
	if s.master.sdown {
		n := 1
		for _, p := range s.peers {
			if p.masterDown {
				n++
			}
		}
		odown = n >= s.w.p.Quorum
	}
	if odown && !s.odown {
		s.odown = true
		s.master.odownSince = now
		if s.masterNode == 0 && s.w.t.ODown == 0 && now >= s.w.fault {
			s.w.t.ODown = now - s.w.fault
		}
	} else if !odown {
		s.odown = false
	}
}

// ask is sentinelAskMasterStateToOtherSentinels; the answers come back
// after a round trip.
func (s *sentinel) ask(now time.Duration, forced bool) {
	w := s.w
	for _, p := range s.peers {
		if now-p.lastReply > 5*sentinelAskPeriod {
			p.masterDown, p.leader = false, -1
		}
		if !s.master.sdown {
			continue
		}
		if !forced && now-p.lastReply < sentinelAskPeriod {
			continue
		}
		runid := -1
		if s.state > foNone {
			runid = s.id
		}
		p, masterNode, epoch := p, s.masterNode, s.currentEpoch
		w.q.after(w.p.RTT, func() {
			down, leader, leaderEpoch := p.s.isMasterDown(masterNode, epoch, runid)
			w.q.after(w.p.RTT, func() {
				p.lastReply = w.q.now
				p.masterDown = down
				if leader >= 0 {
					p.leader, p.leaderEpoch = leader, leaderEpoch
				}
			})
		})
	}
}

// isMasterDown answers SENTINEL is-master-down-by-addr.
func (s *sentinel) isMasterDown(masterNode int, epoch uint64, runid int) (bool, int, uint64) {
	found := s.masterNode == masterNode
	down := found && s.master.sdown
	if found && runid >= 0 {
		l, e := s.vote(epoch, runid)
		return down, l, e
	}
	return down, -1, 0
}

// vote is sentinelVoteLeader: one vote per epoch.
func (s *sentinel) vote(reqEpoch uint64, runid int) (int, uint64) {
	if reqEpoch > s.currentEpoch {
		s.currentEpoch = reqEpoch
	}
	if s.leaderEpoch < reqEpoch && s.currentEpoch <= reqEpoch {
		s.leader, s.leaderEpoch = runid, s.currentEpoch
		if runid != s.id {
			s.failoverStart = s.w.q.now + s.desync()
		}
	}
	return s.leader, s.leaderEpoch
}

func (s *sentinel) desync() time.Duration {
	return time.Duration(s.w.rng.IntN(sentinelMaxDesync)) * time.Millisecond
}

func (s *sentinel) startFailoverIfNeeded(now time.Duration) bool {
	if !s.odown || s.inProgress || now-s.failoverStart < 2*s.w.p.FailoverTimeout {
		return false
	}
	s.state, s.inProgress = foWaitStart, true
	s.currentEpoch++
	s.failoverEpoch = s.currentEpoch
	s.failoverStart = now + s.desync()
	s.failoverChange = now
	return true
}

// getLeader is sentinelGetLeader.
func (s *sentinel) getLeader(epoch uint64) int {
	counts := map[int]int{}
	order := []int{}
	for _, p := range s.peers {
		if p.leader >= 0 && p.leaderEpoch == s.currentEpoch {
			if counts[p.leader] == 0 {
				order = append(order, p.leader)
			}
			counts[p.leader]++
		}
	}
	winner, most := -1, 0
	for _, id := range order {
		if counts[id] > most {
			winner, most = id, counts[id]
		}
	}
	candidate := s.id
	if winner >= 0 {
		candidate = winner
	}
	my, myEpoch := s.vote(epoch, candidate)
	if my >= 0 && myEpoch == epoch {
		counts[my]++
		if counts[my] > most {
			winner, most = my, counts[my]
		}
	}
	voters := len(s.peers) + 1
	if winner >= 0 && (most < voters/2+1 || most < s.w.p.Quorum) {
		winner = -1
	}
	return winner
}

func (s *sentinel) abort(now time.Duration) {
	if s.state > foWaitPromotion {
		return
	}
	s.inProgress, s.state, s.failoverChange = false, foNone, now
	if s.promoted != nil {
		s.promoted.promoted = false
		s.promoted = nil
	}
}

// stateMachine is sentinelFailoverStateMachine: one step per tick.
func (s *sentinel) stateMachine(now time.Duration) {
	if !s.inProgress {
		return
	}
	w := s.w
	ft := w.p.FailoverTimeout
	switch s.state {
	case foWaitStart:
		if s.getLeader(s.failoverEpoch) != s.id {
			if now-s.failoverStart > min(sentinelElection, ft) {
				s.abort(now)
			}
			return
		}
		s.state, s.failoverChange = foSelectSlave, now
	case foSelectSlave:
		var best *inst
		for _, sl := range s.slaves {
			if sl.sdown || !sl.connected || now-sl.infoRefresh > 5*sentinelPingPeriod {
				continue
			}
			// Equal priority and offset: the run id decides, which is
			// random from run to run: the first candidate seen is as good.
			if best == nil {
				best = sl
			}
		}
		if best == nil {
			s.abort(now)
			return
		}
		best.promoted = true
		s.promoted = best
		s.state, s.failoverChange = foSendSlaveofNoOne, now
	case foSendSlaveofNoOne:
		if !s.promoted.connected {
			if now-s.failoverChange > ft {
				s.abort(now)
			}
			return
		}
		n := s.promoted.node
		if w.promoted < 0 {
			w.promoted = n.id
		}
		w.t.Failovers++
		w.q.after(w.p.RTT, func() { w.promote(n) })
		s.state, s.failoverChange = foWaitPromotion, now
	case foWaitPromotion:
		if now-s.failoverChange > ft {
			s.abort(now)
		}
	case foReconfSlaves:
		s.reconfNext(now)
	}
}

// reconfNext is sentinelFailoverReconfNextSlave and DetectEnd.
func (s *sentinel) reconfNext(now time.Duration) {
	w := s.w
	inProgress := 0
	for _, sl := range s.slaves {
		if sl.reconfSent || sl.reconfInprog {
			inProgress++
		}
	}
	for _, sl := range s.slaves {
		if inProgress >= max(1, w.p.ParallelSyncs) {
			break
		}
		if sl.promoted || sl.reconfDone {
			continue
		}
		if sl.reconfSent && now-sl.reconfSentTime > sentinelReconfTimeout {
			sl.reconfSent, sl.reconfDone = false, true
		}
		if sl.reconfSent || sl.reconfInprog || !sl.connected {
			continue
		}
		n, to := sl.node, s.promoted.node
		w.q.after(w.p.RTT, func() { w.replicate(n, to) })
		sl.reconfSent, sl.reconfSentTime = true, now
		inProgress++
	}
	// Detect the end.
	if s.promoted.sdown {
		return
	}
	left := 0
	for _, sl := range s.slaves {
		if sl.promoted || sl.reconfDone || sl.sdown {
			continue
		}
		left++
	}
	if now-s.failoverChange > w.p.FailoverTimeout {
		left = 0
	}
	if left == 0 {
		s.state, s.failoverChange = foUpdateConfig, now
	}
}

// switchToPromoted is sentinelFailoverSwitchToPromotedSlave.
func (s *sentinel) switchToPromoted() {
	to := s.masterNode
	if s.promoted != nil {
		to = s.promoted.node.id
	}
	s.resetTo(to)
}

// resetTo is sentinelResetMasterAndChangeAddress: the master is now node
// to, every other node a replica of it, with fresh links.
func (s *sentinel) resetTo(to int) {
	w := s.w
	now := w.q.now
	s.masterNode = to
	// sentinelResetMaster keeps the link's last_reconn_time: the first
	// connection to the new master waits for the rate limit that ran
	// against the old one, while act_ping_time starts now. With a short
	// down-after the clock can run out first: a cascading failover.
	lastReconn := s.master.lastReconn
	s.master = newInst(w.nodes[to], now, true)
	s.master.lastReconn = lastReconn
	s.slaves = nil
	for _, n := range w.nodes {
		if n.id != to {
			s.slaves = append(s.slaves, newInst(n, now, false))
		}
	}
	s.odown, s.inProgress, s.state, s.promoted = false, false, foNone, nil
	s.failoverStart = never
	s.w.sentinelSwitched(s, to)
}

// refreshInfo is sentinelRefreshInstanceInfo, on the INFO reply.
func (s *sentinel) refreshInfo(in *inst) {
	w := s.w
	now := w.q.now
	n := in.node
	if n.forSentinel(w) != reachOK {
		return
	}
	in.infoRefresh = now
	role := n.master
	if role != in.roleMaster {
		in.roleMaster, in.roleReportedTime = role, now
	}
	isSlave := in != s.master
	if isSlave && role {
		if in.promoted && s.inProgress && s.state == foWaitPromotion {
			s.configEpoch = s.failoverEpoch
			s.state, s.failoverChange = foReconfSlaves, now
			// Hellos go out on the next tick.
			for _, x := range s.all() {
				x.lastPub = never
			}
			return
		}
		const wait = 4 * sentinelPublishPeriod
		if !in.promoted && s.masterLooksSane(now) && noDownFor(in, wait, now) && now-in.roleReportedTime > wait {
			w.q.after(w.p.RTT, func() { w.replicate(n, w.nodes[s.masterNode]) })
		}
		return
	}
	if isSlave && !role && (in.reconfSent || in.reconfInprog) && s.promoted != nil {
		follows := n.replicaOf == s.promoted.node.id
		if in.reconfSent && follows {
			in.reconfSent, in.reconfInprog = false, true
		}
		if in.reconfInprog && n.linkUp(w) {
			in.reconfInprog, in.reconfDone = false, true
		}
	}
}

func (s *sentinel) masterLooksSane(now time.Duration) bool {
	m := s.master
	return m.roleMaster && !m.sdown && !s.odown && now-m.infoRefresh < 2*sentinelInfoPeriod
}

func noDownFor(in *inst, d, now time.Duration) bool {
	recent := max(in.sdownSince, in.odownSince)
	return recent == never || now-recent > d
}

package memory

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// Sentinel timing, as sentinel.c's defaults (Redis 7.0).
const (
	pingPeriod             = 1000 * time.Millisecond
	infoPeriod             = 10000 * time.Millisecond
	publishPeriod          = 2000 * time.Millisecond
	askPeriod              = 1000 * time.Millisecond
	maxDesync              = 1000 // ms
	electionTimeout        = 10000 * time.Millisecond
	tiltTrigger            = 2000 * time.Millisecond
	tiltPeriod             = 30000 * time.Millisecond
	slaveReconfTimeout     = 10000 * time.Millisecond
	minLinkReconnectPeriod = 15000 * time.Millisecond
)

// Instance flags (SRI_*).
const (
	fMaster = 1 << iota
	fSlave
	fSentinel
	fSDown
	fODown
	fMasterDown
	fFailoverInProgress
	fPromoted
	fReconfSent
	fReconfInprog
	fReconfDone
)

// Failover states.
const (
	foNone = iota
	foWaitStart
	foSelectSlave
	foSendSlaveofNoOne
	foWaitPromotion
	foReconfSlaves
	foUpdateConfig
)

var failoverStateNames = [...]string{"none", "wait_start", "select_slave", "send_slaveof_noone", "wait_promotion", "reconf_slaves", "update_config"}

// instanceLink is a Sentinel's connection state to one instance
// (sentinel.c's instanceLink).
type instanceLink struct {
	cc, pc         *link
	disconnected   bool
	pending        int
	ccConnTime     time.Time
	pcConnTime     time.Time
	pcLastActivity time.Time
	actPingTime    time.Time
	lastPingTime   time.Time
	lastPongTime   time.Time
	lastAvailTime  time.Time
	lastReconnTime time.Time
}

// instance is a master, a replica or another Sentinel as this Sentinel
// sees it (sentinelRedisInstance).
type instance struct {
	flags     int
	name      string // master name, "ip:port" of a replica, runid of a Sentinel
	addr      string
	runid     string
	link      *instanceLink
	downAfter time.Duration
	master    *instance

	sDownSince, oDownSince time.Time
	lastPubTime            time.Time
	lastHelloTime          time.Time
	lastMasterDownReply    time.Time
	infoRefresh            time.Time
	roleReported           int // fMaster or fSlave
	roleReportedTime       time.Time
	slaveConfChangeTime    time.Time
	masterLinkDownTime     time.Duration
	slaveMasterHost        string
	slaveMasterPort        int
	slaveMasterLinkUp      bool
	slavePriority          int
	slaveReplOffset        int64
	slaveReconfSentTime    time.Time
	leader                 string
	leaderEpoch            uint64

	// Master only.
	slaves          []*instance
	sentinels       []*instance
	quorum          int
	parallelSyncs   int
	failoverTimeout time.Duration
	configEpoch     uint64
	failoverEpoch   uint64
	failoverState   int
	failoverChange  time.Time
	failoverStart   time.Time
	promoted        *instance
	delayLogged     time.Time
}

func (ri *instance) is(f int) bool { return ri.flags&f != 0 }

func (ri *instance) typ() string {
	switch {
	case ri.is(fMaster):
		return "master"
	case ri.is(fSlave):
		return "slave"
	}
	return "sentinel"
}

// sentinelConfig is what "sentinel monitor" and its settings give.
type sentinelConfig struct {
	masterName      string
	masterAddr      string
	quorum          int
	downAfter       time.Duration
	failoverTimeout time.Duration
	parallelSyncs   int
}

// Sentinel is an in-memory Redis Sentinel: a RESP server answering the
// SENTINEL commands and publishing Sentinel's events, driven by sentinel.c's
// algorithm and timing over the in-process network.
type Sentinel struct {
	name string
	addr string
	myid string
	cfg  sentinelConfig
	nw   *network
	log  *slog.Logger
	rnd  *mrand.Rand

	// The loop's mailbox and lifecycle.
	mu      sync.Mutex
	queue   []func()
	wake    chan struct{}
	state   nodeState
	resumed chan struct{}
	quit    chan struct{}
	done    chan struct{}

	// Algorithm state, touched by the loop goroutine only.
	master       *instance
	currentEpoch uint64
	tilt         bool
	tiltStart    time.Time
	prevTick     time.Time

	// RESP front.
	m     *miniredis.Miniredis
	ln    net.Listener
	conns map[net.Conn]struct{}
}

func newSentinel(name, addr string, cfg sentinelConfig, nw *network, seed uint64, log *slog.Logger) *Sentinel {
	id := make([]byte, 20)
	rand.Read(id)
	return &Sentinel{
		name: name, addr: addr, myid: hex.EncodeToString(id), cfg: cfg, nw: nw,
		log: log.With("sentinel", name), rnd: mrand.New(mrand.NewPCG(seed, seed+1)),
		wake: make(chan struct{}, 1), conns: map[net.Conn]struct{}{},
	}
}

func (s *Sentinel) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state != nodeStopped
}

// post runs f in the Sentinel's loop.
func (s *Sentinel) post(f func()) {
	s.mu.Lock()
	if s.state == nodeStopped {
		s.mu.Unlock()
		return
	}
	s.queue = append(s.queue, f)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// call runs f in the loop and waits for it; it reports false when the
// Sentinel stopped first.
func (s *Sentinel) call(f func()) bool {
	done := make(chan struct{})
	s.post(func() { f(); close(done) })
	s.mu.Lock()
	quit := s.quit
	s.mu.Unlock()
	select {
	case <-done:
		return true
	case <-quit:
		return false
	}
}

// newMasterInstance builds the monitored master, as loading the config
// does.
func (s *Sentinel) newMasterInstance() *instance {
	now := time.Now()
	return &instance{
		flags: fMaster, name: s.cfg.masterName, addr: s.cfg.masterAddr, downAfter: s.cfg.downAfter,
		link: newInstanceLink(now), quorum: s.cfg.quorum, parallelSyncs: s.cfg.parallelSyncs,
		failoverTimeout: s.cfg.failoverTimeout, roleReported: fMaster, roleReportedTime: now, slavePriority: 100,
	}
}

func newInstanceLink(now time.Time) *instanceLink {
	return &instanceLink{disconnected: true, actPingTime: now, lastAvailTime: now, lastPongTime: now}
}

// start runs the Sentinel: its RESP server and its timer loop.
func (s *Sentinel) start() error {
	s.mu.Lock()
	if s.state != nodeStopped {
		s.mu.Unlock()
		return fmt.Errorf("start %s: already %s", s.name, s.state)
	}
	s.mu.Unlock()
	if err := s.startServer(); err != nil {
		return err
	}
	s.mu.Lock()
	s.state = nodeRunning
	s.quit, s.done = make(chan struct{}), make(chan struct{})
	if s.master == nil {
		s.master = s.newMasterInstance()
	} else {
		// A restarted Sentinel keeps what its config file kept: the
		// master, its replicas and the other Sentinels, with fresh links.
		s.resetLinks()
	}
	s.prevTick = time.Now()
	s.mu.Unlock()
	go s.loop(s.quit, s.done)
	return nil
}

func (s *Sentinel) resetLinks() {
	now := time.Now()
	for _, ri := range s.all() {
		ri.link = newInstanceLink(now)
		ri.flags &^= fSDown | fODown | fMasterDown
	}
	s.master.flags &^= fFailoverInProgress
	s.master.failoverState = foNone
}

// all returns the master, its replicas and its Sentinels.
func (s *Sentinel) all() []*instance {
	out := []*instance{s.master}
	out = append(out, s.master.slaves...)
	return append(out, s.master.sentinels...)
}

// stop kills the Sentinel: its server closes, its links close.
func (s *Sentinel) stop() {
	s.mu.Lock()
	if s.state == nodeStopped {
		s.mu.Unlock()
		return
	}
	if s.state == nodePaused {
		close(s.resumed)
	}
	s.state = nodeStopped
	quit, done := s.quit, s.done
	s.queue = nil
	s.mu.Unlock()
	close(quit)
	<-done
	for _, ri := range s.all() {
		closeLink(ri.link)
	}
	s.stopServer()
}

func (s *Sentinel) pause() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != nodeRunning {
		return fmt.Errorf("pause %s: it is %s", s.name, s.state)
	}
	s.state = nodePaused
	s.resumed = make(chan struct{})
	return nil
}

func (s *Sentinel) unpause() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != nodePaused {
		return fmt.Errorf("unpause %s: it is %s", s.name, s.state)
	}
	s.state = nodeRunning
	close(s.resumed)
	return nil
}

// loop runs timer ticks at sentinel.c's randomised 10-19 Hz and the
// mailbox in between.
func (s *Sentinel) loop(quit, done chan struct{}) {
	defer close(done)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-quit:
			return
		case <-s.wake:
		case <-timer.C:
			s.waitResumed(quit)
			s.runQueue()
			s.tick()
			hz := 10 + s.rnd.IntN(10)
			timer.Reset(time.Duration(1000/hz) * time.Millisecond)
			continue
		}
		s.waitResumed(quit)
		s.runQueue()
	}
}

// waitResumed blocks while the Sentinel is paused (a frozen process).
func (s *Sentinel) waitResumed(quit chan struct{}) {
	s.mu.Lock()
	st, ch := s.state, s.resumed
	s.mu.Unlock()
	if st == nodePaused {
		select {
		case <-ch:
		case <-quit:
		}
	}
}

func (s *Sentinel) runQueue() {
	for {
		s.mu.Lock()
		q := s.queue
		s.queue = nil
		s.mu.Unlock()
		if len(q) == 0 {
			return
		}
		for _, f := range q {
			f()
		}
	}
}

// event publishes a Sentinel event on the channel of its name, with
// sentinelEvent's payload: "<type> <name> <ip> <port>[ @ <master> <ip>
// <port>]" followed by the rest, when ri is given.
func (s *Sentinel) event(typ string, ri *instance, format string, args ...any) {
	var msg string
	if ri != nil {
		host, port, _ := net.SplitHostPort(ri.addr)
		msg = fmt.Sprintf("%s %s %s %s", ri.typ(), ri.name, host, port)
		if ri.master != nil {
			mh, mp, _ := net.SplitHostPort(ri.master.addr)
			msg += fmt.Sprintf(" @ %s %s %s", ri.master.name, mh, mp)
		}
		if format != "" {
			msg += " " + fmt.Sprintf(format, args...)
		}
	} else {
		msg = fmt.Sprintf(format, args...)
	}
	s.log.Debug(typ+" "+msg, "event", typ)
	if m := s.m; m != nil {
		m.Publish(typ, msg)
	}
}

func (s *Sentinel) tick() {
	now := time.Now()
	// TILT: the timer stalled (a paused process) or the clock jumped.
	if d := now.Sub(s.prevTick); d < 0 || d > tiltTrigger {
		s.tilt, s.tiltStart = true, now
		s.event("+tilt", nil, "#tilt mode entered")
	}
	s.prevTick = now
	m := s.master
	s.handleInstance(m, now)
	for _, sl := range append([]*instance(nil), m.slaves...) {
		s.handleInstance(sl, now)
	}
	for _, se := range append([]*instance(nil), m.sentinels...) {
		s.handleInstance(se, now)
	}
	if m.failoverState == foUpdateConfig {
		s.switchToPromoted(m)
	}
}

// handleInstance is sentinelHandleRedisInstance.
func (s *Sentinel) handleInstance(ri *instance, now time.Time) {
	s.reconnect(ri, now)
	s.sendPeriodic(ri, now)
	if s.tilt {
		if now.Sub(s.tiltStart) < tiltPeriod {
			return
		}
		s.tilt = false
		s.event("-tilt", nil, "#tilt mode exited")
	}
	s.checkSDown(ri, now)
	if ri.is(fMaster) {
		s.checkODown(ri)
		if s.startFailoverIfNeeded(ri, now) {
			s.askMasterState(ri, true, now)
		}
		s.failoverStateMachine(ri, now)
		s.askMasterState(ri, false, now)
	}
}

// reconnect is sentinelReconnectInstance: at most one attempt per ping
// period; the PING queued on a non-blocking connect sets act_ping_time.
func (s *Sentinel) reconnect(ri *instance, now time.Time) {
	l := ri.link
	if !l.disconnected || now.Sub(l.lastReconnTime) < pingPeriod {
		return
	}
	l.lastReconnTime = now
	if l.cc == nil {
		l.cc = s.nw.connect(s, ri.addr, "cmd")
		l.pending = 0
		l.ccConnTime = now
		s.sendPing(ri, now)
	}
	if !ri.is(fSentinel) && l.pc == nil {
		l.pc = s.nw.connect(s, ri.addr, "pubsub")
		l.pcConnTime, l.pcLastActivity = now, now
		l.pc.send(request{cmd: "SUBSCRIBE", args: []string{"__sentinel__:hello"}}, func(reply) {})
	}
	if l.cc != nil && (l.pc != nil || ri.is(fSentinel)) {
		l.disconnected = false
	}
}

// linkClosed is the disconnect callback of a connection.
func (s *Sentinel) linkClosed(c *link) {
	for _, ri := range s.all() {
		l := ri.link
		switch c {
		case l.cc:
			l.cc = nil
			l.pending = 0
			l.disconnected = true
		case l.pc:
			l.pc = nil
			l.disconnected = true
		}
	}
}

func closeLink(l *instanceLink) {
	if l.cc != nil {
		l.cc.close()
		l.cc = nil
	}
	if l.pc != nil {
		l.pc.close()
		l.pc = nil
	}
	l.disconnected = true
	l.pending = 0
}

func (s *Sentinel) sendPing(ri *instance, now time.Time) {
	l := ri.link
	if l.cc == nil {
		return
	}
	c := l.cc
	l.pending++
	l.lastPingTime = now
	if l.actPingTime.IsZero() {
		l.actPingTime = now
	}
	c.send(request{cmd: "PING"}, func(r reply) {
		if ri.link.cc != c {
			return
		}
		l.pending--
		t := time.Now()
		l.lastPongTime = t
		if r.err == "" || strings.HasPrefix(r.err, "LOADING") || strings.HasPrefix(r.err, "MASTERDOWN") {
			l.lastAvailTime = t
			l.actPingTime = time.Time{}
		}
	})
}

// sendPeriodic is sentinelSendPeriodicCommands.
func (s *Sentinel) sendPeriodic(ri *instance, now time.Time) {
	l := ri.link
	if l.disconnected {
		return
	}
	info := infoPeriod
	if ri.is(fSlave) && (ri.master.is(fODown|fFailoverInProgress) || ri.masterLinkDownTime != 0) {
		info = time.Second
	}
	ping := min(ri.downAfter, pingPeriod)
	if l.pending >= 100 {
		return
	}
	if !ri.is(fSentinel) && (ri.infoRefresh.IsZero() || now.Sub(ri.infoRefresh) > info) && l.cc != nil {
		c := l.cc
		l.pending++
		c.send(request{cmd: "INFO"}, func(r reply) {
			if ri.link.cc != c {
				return
			}
			l.pending--
			if text, ok := r.val.(string); ok {
				s.refreshInfo(ri, text)
			}
		})
	}
	if now.Sub(l.lastPongTime) > ping && now.Sub(l.lastPingTime) > ping/2 {
		s.sendPing(ri, now)
	}
	if now.Sub(ri.lastPubTime) > publishPeriod {
		s.sendHello(ri)
	}
}

// currentMasterAddr is sentinelGetCurrentMasterAddress: the promoted
// replica's address once the failover reached reconf-slaves.
func currentMasterAddr(m *instance) string {
	if m.is(fFailoverInProgress) && m.promoted != nil && m.failoverState >= foReconfSlaves {
		return m.promoted.addr
	}
	return m.addr
}

// sendHello publishes this Sentinel's hello on ri.
func (s *Sentinel) sendHello(ri *instance) {
	l := ri.link
	if l.disconnected || l.cc == nil {
		return
	}
	m := ri
	if !ri.is(fMaster) {
		m = ri.master
	}
	host, port, _ := net.SplitHostPort(s.addr)
	mh, mp, _ := net.SplitHostPort(currentMasterAddr(m))
	payload := fmt.Sprintf("%s,%s,%s,%d,%s,%s,%s,%d", host, port, s.myid, s.currentEpoch, m.name, mh, mp, m.configEpoch)
	c := l.cc
	l.pending++
	c.send(request{cmd: "PUBLISH", args: []string{"__sentinel__:hello", payload}}, func(r reply) {
		if ri.link.cc != c {
			return
		}
		l.pending--
		if r.err == "" {
			ri.lastPubTime = time.Now()
		}
	})
}

// onHello handles a hello received on a node's hello channel.
func (s *Sentinel) onHello(msg string, from *link) {
	for _, ri := range s.all() {
		if ri.link.pc == from {
			ri.link.pcLastActivity = time.Now()
		}
	}
	s.processHello(msg)
}

// processHello is sentinelProcessHelloMessage.
func (s *Sentinel) processHello(msg string) {
	tok := strings.Split(msg, ",")
	if len(tok) != 8 || tok[2] == s.myid {
		return
	}
	m := s.master
	if tok[4] != m.name {
		return
	}
	addr := net.JoinHostPort(tok[0], tok[1])
	now := time.Now()
	var si *instance
	for _, x := range m.sentinels {
		if x.addr == addr && x.runid == tok[2] {
			si = x
		}
	}
	if si == nil {
		// Forget Sentinels at the same address or with the same id: they
		// restarted or moved.
		kept := m.sentinels[:0]
		for _, x := range m.sentinels {
			if x.addr == addr || x.runid == tok[2] {
				closeLink(x.link)
				continue
			}
			kept = append(kept, x)
		}
		m.sentinels = kept
		si = &instance{flags: fSentinel, name: tok[2], runid: tok[2], addr: addr, downAfter: m.downAfter, master: m, link: newInstanceLink(now)}
		m.sentinels = append(m.sentinels, si)
		s.event("+sentinel", si, "")
	}
	if e, _ := strconv.ParseUint(tok[3], 10, 64); e > s.currentEpoch {
		s.currentEpoch = e
		s.event("+new-epoch", nil, "%d", e)
	}
	if ce, _ := strconv.ParseUint(tok[7], 10, 64); m.configEpoch < ce {
		m.configEpoch = ce
		newAddr := net.JoinHostPort(tok[5], tok[6])
		if newAddr != m.addr {
			s.event("+config-update-from", si, "")
			oh, op, _ := net.SplitHostPort(m.addr)
			s.event("+switch-master", nil, "%s %s %s %s %s", m.name, oh, op, tok[5], tok[6])
			s.resetMasterAndChangeAddress(m, newAddr)
		}
	}
	si.lastHelloTime = now
}

// peerRequest answers another Sentinel.
func (s *Sentinel) peerRequest(req request) reply {
	switch req.cmd {
	case "PING":
		return reply{val: "PONG"}
	case "PUBLISH":
		s.processHello(req.args[1])
		return reply{val: int64(1)}
	case "IS-MASTER-DOWN-BY-ADDR":
		return s.isMasterDownByAddr(req.args)
	}
	return reply{err: "ERR unknown command"}
}

// checkSDown is sentinelCheckSubjectivelyDown.
func (s *Sentinel) checkSDown(ri *instance, now time.Time) {
	l := ri.link
	var elapsed time.Duration
	switch {
	case !l.actPingTime.IsZero():
		elapsed = now.Sub(l.actPingTime)
	case l.disconnected:
		elapsed = now.Sub(l.lastAvailTime)
	}
	// Close a cmd link that looks stuck, and an idle pubsub link.
	if l.cc != nil && now.Sub(l.ccConnTime) > minLinkReconnectPeriod && !l.actPingTime.IsZero() &&
		now.Sub(l.actPingTime) > ri.downAfter/2 && now.Sub(l.lastPongTime) > ri.downAfter/2 {
		l.cc.close()
		l.cc, l.pending, l.disconnected = nil, 0, true
	}
	if l.pc != nil && now.Sub(l.pcConnTime) > minLinkReconnectPeriod && now.Sub(l.pcLastActivity) > 3*publishPeriod {
		l.pc.close()
		l.pc, l.disconnected = nil, true
	}
	if elapsed > ri.downAfter || (ri.is(fMaster) && ri.roleReported == fSlave && now.Sub(ri.roleReportedTime) > ri.downAfter+2*infoPeriod) {
		if !ri.is(fSDown) {
			s.event("+sdown", ri, "")
			ri.sDownSince = now
			ri.flags |= fSDown
		}
	} else if ri.is(fSDown) {
		ri.flags &^= fSDown
		s.event("-sdown", ri, "")
	}
}

// checkODown is sentinelCheckObjectivelyDown.
func (s *Sentinel) checkODown(m *instance) {
	quorum, odown := 0, false
	if m.is(fSDown) {
		quorum = 1
		for _, si := range m.sentinels {
			if si.is(fMasterDown) {
				quorum++
			}
		}
		odown = quorum >= m.quorum
	}
	if odown {
		if !m.is(fODown) {
			s.event("+odown", m, "#quorum %d/%d", quorum, m.quorum)
			m.flags |= fODown
			m.oDownSince = time.Now()
		}
	} else if m.is(fODown) {
		s.event("-odown", m, "")
		m.flags &^= fODown
	}
}

// askMasterState is sentinelAskMasterStateToOtherSentinels.
func (s *Sentinel) askMasterState(m *instance, forced bool, now time.Time) {
	host, port, _ := net.SplitHostPort(m.addr)
	for _, si := range m.sentinels {
		elapsed := now.Sub(si.lastMasterDownReply)
		if elapsed > 5*askPeriod {
			si.flags &^= fMasterDown
			si.leader = ""
		}
		if !m.is(fSDown) || si.link.disconnected || si.link.cc == nil {
			continue
		}
		if !forced && elapsed < askPeriod {
			continue
		}
		runid := "*"
		if m.failoverState > foNone {
			runid = s.myid
		}
		si, c := si, si.link.cc
		si.link.pending++
		c.send(request{cmd: "IS-MASTER-DOWN-BY-ADDR", args: []string{host, port, strconv.FormatUint(s.currentEpoch, 10), runid}}, func(r reply) {
			if si.link.cc != c {
				return
			}
			si.link.pending--
			res, ok := r.val.([]any)
			if !ok || len(res) != 3 {
				return
			}
			si.lastMasterDownReply = time.Now()
			if down, _ := res[0].(int64); down == 1 {
				si.flags |= fMasterDown
			} else {
				si.flags &^= fMasterDown
			}
			if leader, _ := res[1].(string); leader != "*" {
				epoch, _ := res[2].(int64)
				si.leader, si.leaderEpoch = leader, uint64(epoch)
			}
		})
	}
}

// isMasterDownByAddr answers SENTINEL is-master-down-by-addr.
func (s *Sentinel) isMasterDownByAddr(args []string) reply {
	if len(args) != 4 {
		return reply{err: "ERR wrong number of arguments for 'sentinel|is-master-down-by-addr' command"}
	}
	epoch, err := strconv.ParseUint(args[2], 10, 64)
	if err != nil {
		return reply{err: "ERR value is not an integer or out of range"}
	}
	addr := net.JoinHostPort(args[0], args[1])
	m := s.master
	found := m.addr == addr
	down := int64(0)
	if !s.tilt && found && m.is(fSDown) && m.is(fMaster) {
		down = 1
	}
	leader, leaderEpoch := "*", int64(0)
	if found && args[3] != "*" {
		l, e := s.voteLeader(m, epoch, args[3])
		if l != "" {
			leader, leaderEpoch = l, int64(e)
		}
	}
	return reply{val: []any{down, leader, leaderEpoch}}
}

// voteLeader is sentinelVoteLeader: one vote per epoch.
func (s *Sentinel) voteLeader(m *instance, reqEpoch uint64, reqRunID string) (string, uint64) {
	if reqEpoch > s.currentEpoch {
		s.currentEpoch = reqEpoch
		s.event("+new-epoch", nil, "%d", s.currentEpoch)
	}
	if m.leaderEpoch < reqEpoch && s.currentEpoch <= reqEpoch {
		m.leader, m.leaderEpoch = reqRunID, s.currentEpoch
		s.event("+vote-for-leader", nil, "%s %d", m.leader, m.leaderEpoch)
		if m.leader != s.myid {
			m.failoverStart = time.Now().Add(time.Duration(s.rnd.IntN(maxDesync)) * time.Millisecond)
		}
	}
	return m.leader, m.leaderEpoch
}

// getLeader is sentinelGetLeader: the runid a majority of voters (and at
// least the quorum) voted for in epoch, counting this Sentinel's vote.
func (s *Sentinel) getLeader(m *instance, epoch uint64) string {
	counters := map[string]int{}
	var order []string
	voters := len(m.sentinels) + 1
	for _, si := range m.sentinels {
		if si.leader != "" && si.leaderEpoch == s.currentEpoch {
			if counters[si.leader] == 0 {
				order = append(order, si.leader)
			}
			counters[si.leader]++
		}
	}
	winner, maxVotes := "", 0
	for _, id := range order {
		if counters[id] > maxVotes {
			winner, maxVotes = id, counters[id]
		}
	}
	candidate := s.myid
	if winner != "" {
		candidate = winner
	}
	myvote, myEpoch := s.voteLeader(m, epoch, candidate)
	if myvote != "" && myEpoch == epoch {
		counters[myvote]++
		if counters[myvote] > maxVotes {
			winner, maxVotes = myvote, counters[myvote]
		}
	}
	if winner != "" && (maxVotes < voters/2+1 || maxVotes < m.quorum) {
		winner = ""
	}
	return winner
}

// refreshInfo is sentinelRefreshInstanceInfo.
func (s *Sentinel) refreshInfo(ri *instance, info string) {
	now := time.Now()
	role := 0
	ri.masterLinkDownTime = 0
	for _, line := range strings.Split(info, "\r\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch {
		case k == "run_id":
			if ri.runid != "" && ri.runid != v {
				s.event("+reboot", ri, "")
			}
			ri.runid = v
		case ri.is(fMaster) && strings.HasPrefix(k, "slave") && strings.Contains(v, "ip="):
			var ip, port string
			for _, f := range strings.Split(v, ",") {
				if x, ok := strings.CutPrefix(f, "ip="); ok {
					ip = x
				}
				if x, ok := strings.CutPrefix(f, "port="); ok {
					port = x
				}
			}
			if ip != "" && port != "" {
				s.addSlave(ri, net.JoinHostPort(ip, port))
			}
		case k == "master_link_down_since_seconds":
			n, _ := strconv.Atoi(v)
			ri.masterLinkDownTime = time.Duration(n) * time.Second
		case k == "role":
			if v == "master" {
				role = fMaster
			} else if v == "slave" {
				role = fSlave
			}
		case role == fSlave && k == "master_host":
			if ri.slaveMasterHost != v {
				ri.slaveMasterHost = v
				ri.slaveConfChangeTime = now
			}
		case role == fSlave && k == "master_port":
			p, _ := strconv.Atoi(v)
			if ri.slaveMasterPort != p {
				ri.slaveMasterPort = p
				ri.slaveConfChangeTime = now
			}
		case role == fSlave && k == "master_link_status":
			ri.slaveMasterLinkUp = v == "up"
		case role == fSlave && k == "slave_priority":
			ri.slavePriority, _ = strconv.Atoi(v)
		case role == fSlave && k == "slave_repl_offset":
			ri.slaveReplOffset, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	ri.infoRefresh = now
	if role != 0 && role != ri.roleReported {
		ri.roleReportedTime = now
		ri.roleReported = role
		if role == fSlave {
			ri.slaveConfChangeTime = now
		}
		word := map[int]string{fMaster: "master", fSlave: "slave"}[role]
		sign := "-"
		if ri.is(fMaster) && role == fMaster || ri.is(fSlave) && role == fSlave {
			sign = "+"
		}
		s.event(sign+"role-change", ri, "new reported role is %s", word)
	}
	if s.tilt {
		return
	}
	m := ri.master
	if ri.is(fSlave) && role == fMaster {
		if ri.is(fPromoted) && m.is(fFailoverInProgress) && m.failoverState == foWaitPromotion {
			m.configEpoch = m.failoverEpoch
			m.failoverState, m.failoverChange = foReconfSlaves, now
			s.event("+promoted-slave", ri, "")
			s.event("+failover-state-reconf-slaves", m, "")
			// Hellos go out on the next tick.
			for _, x := range s.all() {
				x.lastPubTime = x.lastPubTime.Add(-(publishPeriod + time.Millisecond))
			}
		} else {
			wait := 4 * publishPeriod
			if !ri.is(fPromoted) && masterLooksSane(m, now) && noDownFor(ri, wait, now) && now.Sub(ri.roleReportedTime) > wait {
				if s.sendSlaveOf(ri, m.addr) {
					s.event("+convert-to-slave", ri, "")
				}
			}
		}
	}
	if ri.is(fSlave) && role == fSlave && net.JoinHostPort(ri.slaveMasterHost, strconv.Itoa(ri.slaveMasterPort)) != m.addr {
		wait := m.failoverTimeout
		if masterLooksSane(m, now) && noDownFor(ri, wait, now) && now.Sub(ri.slaveConfChangeTime) > wait {
			if s.sendSlaveOf(ri, m.addr) {
				s.event("+fix-slave-config", ri, "")
			}
		}
	}
	if ri.is(fSlave) && role == fSlave && ri.is(fReconfSent|fReconfInprog) && m.promoted != nil {
		followsPromoted := net.JoinHostPort(ri.slaveMasterHost, strconv.Itoa(ri.slaveMasterPort)) == m.promoted.addr
		if ri.is(fReconfSent) && followsPromoted {
			ri.flags = ri.flags&^fReconfSent | fReconfInprog
			s.event("+slave-reconf-inprog", ri, "")
		}
		if ri.is(fReconfInprog) && ri.slaveMasterLinkUp {
			ri.flags = ri.flags&^fReconfInprog | fReconfDone
			s.event("+slave-reconf-done", ri, "")
		}
	}
}

func masterLooksSane(m *instance, now time.Time) bool {
	return m.is(fMaster) && m.roleReported == fMaster && !m.is(fSDown|fODown) && now.Sub(m.infoRefresh) < 2*infoPeriod
}

func noDownFor(ri *instance, d time.Duration, now time.Time) bool {
	recent := ri.sDownSince
	if ri.oDownSince.After(recent) {
		recent = ri.oDownSince
	}
	return recent.IsZero() || now.Sub(recent) > d
}

// addSlave adds a replica learnt from the master's INFO.
func (s *Sentinel) addSlave(m *instance, addr string) {
	for _, sl := range m.slaves {
		if sl.addr == addr {
			return
		}
	}
	now := time.Now()
	sl := &instance{flags: fSlave, name: addr, addr: addr, downAfter: m.downAfter, master: m, link: newInstanceLink(now),
		roleReported: fSlave, roleReportedTime: now, slavePriority: 100}
	m.slaves = append(m.slaves, sl)
	sort.Slice(m.slaves, func(i, j int) bool { return m.slaves[i].addr < m.slaves[j].addr })
	s.event("+slave", sl, "")
}

// sendSlaveOf sends Sentinel's SLAVEOF transaction (to addr, or NO ONE
// when addr is empty); it reports whether it could be sent.
func (s *Sentinel) sendSlaveOf(ri *instance, addr string) bool {
	if ri.link.disconnected || ri.link.cc == nil {
		return false
	}
	var args []string
	if addr != "" {
		args = []string{addr}
	}
	c := ri.link.cc
	ri.link.pending++
	c.send(request{cmd: "SLAVEOF", args: args}, func(reply) {
		if ri.link.cc == c {
			ri.link.pending--
		}
	})
	return true
}

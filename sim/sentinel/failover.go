package sentinel

import (
	"errors"
	"slices"
	"strings"
	"time"
)

// startFailoverIfNeeded is sentinelStartFailoverIfNeeded and
// sentinelStartFailover: a new epoch, and a randomised start time.
func (s *Sentinel) startFailoverIfNeeded(m *Master, now time.Duration) bool {
	if !m.Is(FlagODown) || m.Is(FlagFailoverInProgress) {
		return false
	}
	if now-m.FailoverStartTime < 2*m.FailoverTimeout {
		if m.delayLogged != m.FailoverStartTime {
			m.delayLogged = m.FailoverStartTime
			s.emit(Event{Type: EventFailoverDelayed, Inst: &m.Instance, Master: m, Delay: m.FailoverStartTime + 2*m.FailoverTimeout})
		}
		return false
	}
	s.startFailover(m, now)
	return true
}

// startFailover is sentinelStartFailover: a new epoch, and a randomised
// start time.
func (s *Sentinel) startFailover(m *Master, now time.Duration) {
	m.FailoverState = FailoverWaitStart
	m.Flags |= FlagFailoverInProgress
	s.CurrentEpoch++
	m.FailoverEpoch = s.CurrentEpoch
	s.emit(Event{Type: EventNewEpoch, Epoch: s.CurrentEpoch, Master: m})
	s.emit(Event{Type: EventTryFailover, Inst: &m.Instance, Master: m})
	m.FailoverStartTime = now + s.desync()
	m.FailoverStateChangeTime = now
}

// The refusals of SENTINEL FAILOVER, as sentinel.c words them (the
// error reply without its leading "-").
var (
	ErrFailoverInProgress = errors.New("INPROG Failover already in progress")
	ErrNoGoodSlave        = errors.New("NOGOODSLAVE No suitable replica to promote")
)

// ForceFailover is sentinelCommand's "failover" (SENTINEL FAILOVER
// <master-name>): with no failover of m in progress and a replica fit to
// be promoted (SelectSlave), this Sentinel starts a failover (a new epoch,
// +new-epoch, +try-failover) flagged forced, which leads at its next
// tick without an election or ODOWN; the master may well be up. It
// refuses with ErrFailoverInProgress or ErrNoGoodSlave.
func (s *Sentinel) ForceFailover(m *Master, now time.Duration) error {
	if m.Is(FlagFailoverInProgress) {
		return ErrFailoverInProgress
	}
	if s.SelectSlave(m, now) == nil {
		return ErrNoGoodSlave
	}
	s.startFailover(m, now)
	m.Flags |= FlagForceFailover
	return nil
}

// failoverStateMachine is sentinelFailoverStateMachine: at most one step
// per tick, except the steps INFO replies drive.
func (s *Sentinel) failoverStateMachine(m *Master, now time.Duration) {
	if !m.Is(FlagFailoverInProgress) {
		return
	}
	switch m.FailoverState {
	case FailoverWaitStart:
		s.failoverWaitStart(m, now)
	case FailoverSelectSlave:
		s.failoverSelectSlave(m, now)
	case FailoverSendSlaveofNoOne:
		s.failoverSendSlaveOfNoOne(m, now)
	case FailoverWaitPromotion:
		// The promotion is seen in the promoted replica's INFO.
		if now-m.FailoverStateChangeTime > m.FailoverTimeout {
			s.emit(Event{Type: EventAbortSlaveTimeout, Inst: &m.Instance, Master: m})
			s.abortFailover(m, now)
		}
	case FailoverReconfSlaves:
		s.reconfNextSlave(m, now)
	}
}

func (s *Sentinel) setState(m *Master, st FailoverState, now time.Duration) {
	m.FailoverState, m.FailoverStateChangeTime = st, now
}

// failoverWaitStart is sentinelFailoverWaitStart: it waits only for the
// election, bounded by min(election timeout, failover-timeout) past the
// randomised start time.
func (s *Sentinel) failoverWaitStart(m *Master, now time.Duration) {
	if leader := s.getLeader(m, m.FailoverEpoch, now); leader != s.MyID && !m.Is(FlagForceFailover) {
		if now-m.FailoverStartTime > min(ElectionTimeout, m.FailoverTimeout) {
			s.emit(Event{Type: EventAbortNotElected, Inst: &m.Instance, Master: m})
			s.abortFailover(m, now)
		}
		return
	}
	s.emit(Event{Type: EventElectedLeader, Inst: &m.Instance, Master: m})
	s.setState(m, FailoverSelectSlave, now)
	s.emit(Event{Type: EventFailoverSelectSlave, Inst: &m.Instance, Master: m})
}

// failoverSelectSlave is sentinelFailoverSelectSlave.
func (s *Sentinel) failoverSelectSlave(m *Master, now time.Duration) {
	sl := s.SelectSlave(m, now)
	if sl == nil {
		s.emit(Event{Type: EventAbortNoGoodSlave, Inst: &m.Instance, Master: m})
		s.abortFailover(m, now)
		return
	}
	s.emit(Event{Type: EventSelectedSlave, Inst: sl, Master: m})
	sl.Flags |= FlagPromoted
	m.Promoted = sl
	s.setState(m, FailoverSendSlaveofNoOne, now)
	s.emit(Event{Type: EventFailoverSendSlaveofNo1, Inst: sl, Master: m})
}

// failoverSendSlaveOfNoOne is sentinelFailoverSendSlaveOfNoOne.
func (s *Sentinel) failoverSendSlaveOfNoOne(m *Master, now time.Duration) {
	if m.Promoted.Link.Disconnected {
		if now-m.FailoverStateChangeTime > m.FailoverTimeout {
			s.emit(Event{Type: EventAbortSlaveTimeout, Inst: &m.Instance, Master: m})
			s.abortFailover(m, now)
		}
		return
	}
	if !s.slaveOf(m.Promoted, "") {
		return
	}
	s.emit(Event{Type: EventFailoverWaitPromotion, Inst: m.Promoted, Master: m})
	s.setState(m, FailoverWaitPromotion, now)
}

// abortFailover is sentinelAbortFailover.
func (s *Sentinel) abortFailover(m *Master, now time.Duration) {
	if m.FailoverState > FailoverWaitPromotion {
		return
	}
	m.Flags &^= FlagFailoverInProgress | FlagForceFailover
	s.setState(m, FailoverNone, now)
	if m.Promoted != nil {
		m.Promoted.Flags &^= FlagPromoted
		m.Promoted = nil
	}
}

// SelectSlave is sentinelSelectSlave: of the replicas fit to be promoted,
// the best by priority, then replication offset, then run id (a replica
// with no run id last).
func (s *Sentinel) SelectSlave(m *Master, now time.Duration) *Instance {
	maxDown := 10 * m.DownAfter
	if m.Is(FlagSDown) {
		maxDown += now - m.SDownSince
	}
	validity := 3 * InfoPeriod
	if m.Is(FlagSDown) {
		validity = 5 * PingPeriod
	}
	var best *Instance
	for _, sl := range m.Slaves {
		switch {
		case sl.Is(FlagSDown | FlagODown), sl.Link.Disconnected,
			now-sl.Link.LastAvailTime > 5*PingPeriod,
			sl.SlavePriority == 0,
			now-sl.InfoRefresh > validity,
			sl.MasterLinkDownTime > maxDown:
			continue
		}
		if best == nil || compareSlaves(sl, best) < 0 {
			best = sl
		}
	}
	return best
}

// compareSlaves is compareSlavesForPromotion: negative when a is the
// better candidate.
func compareSlaves(a, b *Instance) int {
	if a.SlavePriority != b.SlavePriority {
		return a.SlavePriority - b.SlavePriority
	}
	if a.SlaveReplOffset != b.SlaveReplOffset {
		if a.SlaveReplOffset > b.SlaveReplOffset {
			return -1
		}
		return 1
	}
	switch {
	case a.RunID == "" && b.RunID == "":
		return 0
	case a.RunID == "":
		return 1
	case b.RunID == "":
		return -1
	}
	return strings.Compare(strings.ToLower(a.RunID), strings.ToLower(b.RunID))
}

// reconfNextSlave is sentinelFailoverReconfNextSlave: point the other
// replicas at the promoted one, parallel-syncs at a time.
func (s *Sentinel) reconfNextSlave(m *Master, now time.Duration) {
	inProgress := 0
	for _, sl := range m.Slaves {
		if sl.Is(FlagReconfSent | FlagReconfInprog) {
			inProgress++
		}
	}
	for _, sl := range m.Slaves {
		if inProgress >= m.ParallelSyncs {
			break
		}
		if sl.Is(FlagPromoted | FlagReconfDone) {
			continue
		}
		if sl.Is(FlagReconfSent) && now-sl.SlaveReconfSentTime > SlaveReconfTimeout {
			s.emit(Event{Type: EventSlaveReconfSentTimeout, Inst: sl, Master: m})
			sl.Flags = sl.Flags&^FlagReconfSent | FlagReconfDone
		}
		if sl.Is(FlagReconfSent|FlagReconfInprog) || sl.Link.Disconnected {
			continue
		}
		if s.slaveOf(sl, m.Promoted.Addr) {
			sl.Flags |= FlagReconfSent
			sl.SlaveReconfSentTime = now
			s.emit(Event{Type: EventSlaveReconfSent, Inst: sl, Master: m})
			inProgress++
		}
	}
	s.detectEnd(m, now)
}

// detectEnd is sentinelFailoverDetectEnd.
func (s *Sentinel) detectEnd(m *Master, now time.Duration) {
	if m.Promoted == nil || m.Promoted.Is(FlagSDown) {
		return
	}
	notReconfigured := 0
	for _, sl := range m.Slaves {
		if sl.Is(FlagPromoted|FlagReconfDone) || sl.Is(FlagSDown) {
			continue
		}
		notReconfigured++
	}
	timeout := false
	if now-m.FailoverStateChangeTime > m.FailoverTimeout {
		notReconfigured, timeout = 0, true
		s.emit(Event{Type: EventFailoverEndForTimeout, Inst: &m.Instance, Master: m})
	}
	if notReconfigured == 0 {
		s.emit(Event{Type: EventFailoverEnd, Inst: &m.Instance, Master: m})
		s.setState(m, FailoverUpdateConfig, now)
	}
	if timeout {
		for _, sl := range m.Slaves {
			if sl.Is(FlagPromoted|FlagReconfDone|FlagReconfSent) || sl.Link.Disconnected {
				continue
			}
			if s.slaveOf(sl, m.Promoted.Addr) {
				s.emit(Event{Type: EventSlaveReconfSentBe, Inst: sl, Master: m})
				sl.Flags |= FlagReconfSent
			}
		}
	}
}

// switchToPromoted is sentinelFailoverSwitchToPromotedSlave.
func (s *Sentinel) switchToPromoted(m *Master, now time.Duration) {
	to := m.Addr
	if m.Promoted != nil {
		to = m.Promoted.Addr
	}
	s.emit(Event{Type: EventSwitchMaster, Master: m, From: m.Addr, To: to})
	s.resetMasterAndChangeAddress(m, to, now)
}

// resetMasterAndChangeAddress is sentinelResetMasterAndChangeAddress: the
// master moves to addr; its replicas are the old replicas but the new
// master, plus the old master's address.
func (s *Sentinel) resetMasterAndChangeAddress(m *Master, addr string, now time.Duration) {
	slaves := make([]string, 0, len(m.Slaves)+1)
	for _, sl := range m.Slaves {
		if sl.Addr != addr {
			slaves = append(slaves, sl.Addr)
		}
	}
	if m.Addr != addr {
		slaves = append(slaves, m.Addr)
	}
	s.resetMaster(m, now)
	m.Addr = addr
	for _, a := range slaves {
		s.AddSlave(m, now, a)
	}
}

// resetMaster is sentinelResetMaster with SENTINEL_RESET_NO_SENTINELS: it
// keeps the Sentinels and their "master down" flags, and the link's
// last_reconn_time (so the reconnect to the new address waits for the rate
// limit running against the old one).
func (s *Sentinel) resetMaster(m *Master, now time.Duration) {
	for _, sl := range m.Slaves {
		s.closeLinks(sl)
	}
	clear(m.Slaves)
	m.Slaves = m.Slaves[:0]
	s.closeLinks(&m.Instance)
	m.Flags &= FlagMaster
	m.Leader = ""
	m.FailoverState, m.FailoverStateChangeTime, m.FailoverStartTime = FailoverNone, Never, Never
	m.Promoted = nil
	m.RunID = ""
	m.SlaveMasterAddr = ""
	l := &m.Link
	l.ActPingTime, l.LastPingTime, l.LastAvailTime, l.LastPongTime = now, Never, now, now
	m.RoleReported, m.RoleReportedTime = FlagMaster, now
	m.InfoRefresh = Never
}

// AddSlave adds a replica at addr to m, as the master's INFO listing it
// does (+slave); a replica already known is returned as is.
func (s *Sentinel) AddSlave(m *Master, now time.Duration, addr string) *Instance {
	for _, sl := range m.Slaves {
		if sl.Addr == addr {
			return sl
		}
	}
	sl := new(Instance)
	*sl = newInstance(FlagSlave, addr, addr, m.DownAfter, m, now)
	i, _ := slices.BinarySearchFunc(m.Slaves, addr, func(x *Instance, a string) int { return strings.Compare(x.Addr, a) })
	m.Slaves = slices.Insert(m.Slaves, i, sl)
	s.emit(Event{Type: EventSlave, Inst: sl, Master: m})
	return sl
}

// slaveOf sends Sentinel's SLAVEOF transaction (to addr, or NO ONE when
// addr is ""); it reports whether it could be sent.
func (s *Sentinel) slaveOf(ri *Instance, addr string) bool {
	if ri.Link.Disconnected || !ri.Link.CC {
		return false
	}
	ri.Link.Pending++
	s.d.SlaveOf(ri, addr)
	return true
}

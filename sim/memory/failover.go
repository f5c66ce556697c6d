package memory

import (
	"net"
	"sort"
	"strings"
	"time"
)

// startFailoverIfNeeded is sentinelStartFailoverIfNeeded and
// sentinelStartFailover.
func (s *Sentinel) startFailoverIfNeeded(m *instance, now time.Time) bool {
	if !m.is(fODown) || m.is(fFailoverInProgress) {
		return false
	}
	if now.Sub(m.failoverStart) < 2*m.failoverTimeout {
		if !m.delayLogged.Equal(m.failoverStart) {
			m.delayLogged = m.failoverStart
			s.log.Debug("next failover delay", "not_before", m.failoverStart.Add(2*m.failoverTimeout))
		}
		return false
	}
	m.failoverState = foWaitStart
	m.flags |= fFailoverInProgress
	s.currentEpoch++
	m.failoverEpoch = s.currentEpoch
	s.event("+new-epoch", nil, "%d", s.currentEpoch)
	s.event("+try-failover", m, "")
	m.failoverStart = now.Add(time.Duration(s.rnd.IntN(maxDesync)) * time.Millisecond)
	m.failoverChange = now
	return true
}

// failoverStateMachine is sentinelFailoverStateMachine: at most one step
// per tick, except the steps INFO replies drive.
func (s *Sentinel) failoverStateMachine(m *instance, now time.Time) {
	if !m.is(fFailoverInProgress) {
		return
	}
	switch m.failoverState {
	case foWaitStart:
		if leader := s.getLeader(m, m.failoverEpoch); leader != s.myid {
			// WAIT_START waits only for the election, bounded by
			// min(election timeout, failover-timeout) past the
			// randomised start time.
			if now.Sub(m.failoverStart) > min(electionTimeout, m.failoverTimeout) {
				s.event("-failover-abort-not-elected", m, "")
				s.abortFailover(m)
			}
			return
		}
		s.event("+elected-leader", m, "")
		m.failoverState, m.failoverChange = foSelectSlave, now
		s.event("+failover-state-select-slave", m, "")
	case foSelectSlave:
		sl := s.selectSlave(m, now)
		if sl == nil {
			s.event("-failover-abort-no-good-slave", m, "")
			s.abortFailover(m)
			return
		}
		s.event("+selected-slave", sl, "")
		sl.flags |= fPromoted
		m.promoted = sl
		m.failoverState, m.failoverChange = foSendSlaveofNoOne, now
		s.event("+failover-state-send-slaveof-noone", sl, "")
	case foSendSlaveofNoOne:
		if m.promoted.link.disconnected {
			if now.Sub(m.failoverChange) > m.failoverTimeout {
				s.event("-failover-abort-slave-timeout", m, "")
				s.abortFailover(m)
			}
			return
		}
		if !s.sendSlaveOf(m.promoted, "") {
			return
		}
		s.event("+failover-state-wait-promotion", m.promoted, "")
		m.failoverState, m.failoverChange = foWaitPromotion, now
	case foWaitPromotion:
		// The promotion is seen in the promoted replica's INFO.
		if now.Sub(m.failoverChange) > m.failoverTimeout {
			s.event("-failover-abort-slave-timeout", m, "")
			s.abortFailover(m)
		}
	case foReconfSlaves:
		s.reconfNextSlave(m, now)
	}
}

func (s *Sentinel) abortFailover(m *instance) {
	if m.failoverState > foWaitPromotion {
		return
	}
	m.flags &^= fFailoverInProgress
	m.failoverState, m.failoverChange = foNone, time.Now()
	if m.promoted != nil {
		m.promoted.flags &^= fPromoted
		m.promoted = nil
	}
}

// selectSlave is sentinelSelectSlave: the best replica by priority, then
// replication offset, then run id.
func (s *Sentinel) selectSlave(m *instance, now time.Time) *instance {
	maxDown := 10 * m.downAfter
	if m.is(fSDown) {
		maxDown += now.Sub(m.sDownSince)
	}
	validity := 3 * infoPeriod
	if m.is(fSDown) {
		validity = 5 * pingPeriod
	}
	var cands []*instance
	for _, sl := range m.slaves {
		switch {
		case sl.is(fSDown | fODown), sl.link.disconnected,
			now.Sub(sl.link.lastAvailTime) > 5*pingPeriod,
			sl.slavePriority == 0,
			now.Sub(sl.infoRefresh) > validity,
			sl.masterLinkDownTime > maxDown:
			continue
		}
		cands = append(cands, sl)
	}
	if len(cands) == 0 {
		return nil
	}
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if a.slavePriority != b.slavePriority {
			return a.slavePriority < b.slavePriority
		}
		if a.slaveReplOffset != b.slaveReplOffset {
			return a.slaveReplOffset > b.slaveReplOffset
		}
		if (a.runid == "") != (b.runid == "") {
			return b.runid == ""
		}
		return strings.ToLower(a.runid) < strings.ToLower(b.runid)
	})
	return cands[0]
}

// reconfNextSlave is sentinelFailoverReconfNextSlave: point the other
// replicas at the promoted one, parallel-syncs at a time.
func (s *Sentinel) reconfNextSlave(m *instance, now time.Time) {
	inProgress := 0
	for _, sl := range m.slaves {
		if sl.is(fReconfSent | fReconfInprog) {
			inProgress++
		}
	}
	for _, sl := range m.slaves {
		if inProgress >= m.parallelSyncs {
			break
		}
		if sl.is(fPromoted | fReconfDone) {
			continue
		}
		if sl.is(fReconfSent) && now.Sub(sl.slaveReconfSentTime) > slaveReconfTimeout {
			s.event("-slave-reconf-sent-timeout", sl, "")
			sl.flags = sl.flags&^fReconfSent | fReconfDone
		}
		if sl.is(fReconfSent|fReconfInprog) || sl.link.disconnected {
			continue
		}
		if s.sendSlaveOf(sl, m.promoted.addr) {
			sl.flags |= fReconfSent
			sl.slaveReconfSentTime = now
			s.event("+slave-reconf-sent", sl, "")
			inProgress++
		}
	}
	s.detectEnd(m, now)
}

// detectEnd is sentinelFailoverDetectEnd.
func (s *Sentinel) detectEnd(m *instance, now time.Time) {
	if m.promoted == nil || m.promoted.is(fSDown) {
		return
	}
	notReconfigured := 0
	for _, sl := range m.slaves {
		if sl.is(fPromoted|fReconfDone) || sl.is(fSDown) {
			continue
		}
		notReconfigured++
	}
	timeout := false
	if now.Sub(m.failoverChange) > m.failoverTimeout {
		notReconfigured, timeout = 0, true
		s.event("+failover-end-for-timeout", m, "")
	}
	if notReconfigured == 0 {
		s.event("+failover-end", m, "")
		m.failoverState, m.failoverChange = foUpdateConfig, now
	}
	if timeout {
		for _, sl := range m.slaves {
			if sl.is(fPromoted|fReconfDone|fReconfSent) || sl.link.disconnected {
				continue
			}
			if s.sendSlaveOf(sl, m.promoted.addr) {
				s.event("+slave-reconf-sent-be", sl, "")
				sl.flags |= fReconfSent
			}
		}
	}
}

// switchToPromoted is sentinelFailoverSwitchToPromotedSlave.
func (s *Sentinel) switchToPromoted(m *instance) {
	ref := m
	if m.promoted != nil {
		ref = m.promoted
	}
	oh, op, _ := net.SplitHostPort(m.addr)
	nh, np, _ := net.SplitHostPort(ref.addr)
	s.event("+switch-master", nil, "%s %s %s %s %s", m.name, oh, op, nh, np)
	s.resetMasterAndChangeAddress(m, ref.addr)
}

// resetMasterAndChangeAddress is sentinelResetMasterAndChangeAddress: the
// master instance moves to addr; the replicas become the old replicas but
// the new master, plus the old master's address.
func (s *Sentinel) resetMasterAndChangeAddress(m *instance, addr string) {
	var slaves []string
	for _, sl := range m.slaves {
		if sl.addr != addr {
			slaves = append(slaves, sl.addr)
		}
	}
	if m.addr != addr {
		slaves = append(slaves, m.addr)
	}
	s.resetMaster(m)
	m.addr = addr
	for _, a := range slaves {
		s.addSlave(m, a)
	}
}

// resetMaster is sentinelResetMaster with SENTINEL_RESET_NO_SENTINELS: it
// keeps the Sentinels and their "master down" flags, and the link's
// last_reconn_time (so the reconnect to the new address waits for the rate
// limit running against the old one).
func (s *Sentinel) resetMaster(m *instance) {
	for _, sl := range m.slaves {
		closeLink(sl.link)
	}
	m.slaves = nil
	closeLink(m.link)
	now := time.Now()
	m.flags &= fMaster
	m.leader = ""
	m.failoverState, m.failoverChange, m.failoverStart = foNone, time.Time{}, time.Time{}
	m.promoted = nil
	m.runid = ""
	m.slaveMasterHost = ""
	l := m.link
	l.actPingTime, l.lastPingTime, l.lastAvailTime, l.lastPongTime = now, time.Time{}, now, now
	m.roleReported, m.roleReportedTime = fMaster, now
	m.infoRefresh = time.Time{}
}

package sentinel

import "time"

// InfoReply is sentinelRefreshInstanceInfo: what an instance's INFO says
// of its run id, role, replicas and master, and what Sentinel does about
// it: follow a promotion, convert a returned master into a replica, fix a
// replica following the wrong master, track the reconfiguration of the
// other replicas.
func (s *Sentinel) InfoReply(ri *Instance, now time.Duration, info *Info) {
	if ri.Link.Pending > 0 {
		ri.Link.Pending--
	}
	m := ri.Master
	if ri.Is(FlagMaster) {
		m = s.masterOf(ri)
	}
	if info.RunID != "" {
		if ri.RunID != "" && ri.RunID != info.RunID {
			s.emit(Event{Type: EventReboot, Inst: ri, Master: m})
		}
		ri.RunID = info.RunID
	}
	if ri.Is(FlagMaster) {
		for _, addr := range info.Slaves {
			s.AddSlave(m, now, addr)
		}
	}
	ri.MasterLinkDownTime = info.MasterLinkDownTime
	if info.Role == FlagSlave {
		if ri.SlaveMasterAddr != info.MasterAddr {
			ri.SlaveMasterAddr = info.MasterAddr
			ri.SlaveConfChangeTime = now
		}
		ri.SlaveMasterLinkUp = info.MasterLinkUp
		ri.SlavePriority = info.SlavePriority
		ri.SlaveReplOffset = info.SlaveReplOffset
	}
	ri.InfoRefresh = now
	role := info.Role
	if role != 0 && role != ri.RoleReported {
		ri.RoleReportedTime = now
		ri.RoleReported = role
		if role == FlagSlave {
			ri.SlaveConfChangeTime = now
		}
		typ := EventRoleChangeWrong
		if ri.Is(FlagMaster) && role == FlagMaster || ri.Is(FlagSlave) && role == FlagSlave {
			typ = EventRoleChange
		}
		s.emit(Event{Type: typ, Inst: ri, Master: m, Role: role})
	}
	if s.Tilt || m == nil {
		return
	}
	if ri.Is(FlagSlave) && role == FlagMaster {
		s.slaveSaysMaster(ri, m, now)
	}
	if ri.Is(FlagSlave) && role == FlagSlave && ri.SlaveMasterAddr != m.Addr {
		// A replica following the wrong master.
		wait := m.FailoverTimeout
		if masterLooksSane(m, now) && noDownFor(ri, wait, now) && now-ri.SlaveConfChangeTime > wait {
			if s.slaveOf(ri, m.Addr) {
				s.emit(Event{Type: EventFixSlaveConfig, Inst: ri, Master: m})
			}
		}
	}
	if ri.Is(FlagSlave) && role == FlagSlave && ri.Is(FlagReconfSent|FlagReconfInprog) && m.Promoted != nil {
		// The reconfiguration of the other replicas.
		if ri.Is(FlagReconfSent) && ri.SlaveMasterAddr == m.Promoted.Addr {
			ri.Flags = ri.Flags&^FlagReconfSent | FlagReconfInprog
			s.emit(Event{Type: EventSlaveReconfInprog, Inst: ri, Master: m})
		}
		if ri.Is(FlagReconfInprog) && ri.SlaveMasterLinkUp {
			ri.Flags = ri.Flags&^FlagReconfInprog | FlagReconfDone
			s.emit(Event{Type: EventSlaveReconfDone, Inst: ri, Master: m})
		}
	}
}

// slaveSaysMaster handles a replica reporting role:master: the promotion
// this Sentinel waits for, or a returned old master to convert.
func (s *Sentinel) slaveSaysMaster(ri *Instance, m *Master, now time.Duration) {
	if ri.Is(FlagPromoted) && m.Is(FlagFailoverInProgress) && m.FailoverState == FailoverWaitPromotion {
		m.ConfigEpoch = m.FailoverEpoch
		s.setState(m, FailoverReconfSlaves, now)
		s.emit(Event{Type: EventPromotedSlave, Inst: ri, Master: m})
		s.emit(Event{Type: EventFailoverReconfSlaves, Inst: &m.Instance, Master: m})
		// Hellos go out on the next tick.
		forceHello(m)
		return
	}
	wait := 4 * PublishPeriod
	if !ri.Is(FlagPromoted) && masterLooksSane(m, now) && noDownFor(ri, wait, now) && now-ri.RoleReportedTime > wait {
		if s.slaveOf(ri, m.Addr) {
			s.emit(Event{Type: EventConvertToSlave, Inst: ri, Master: m})
		}
	}
}

// forceHello is sentinelForceHelloUpdateForMaster: the master's hellos go
// out on the next tick.
func forceHello(m *Master) {
	const back = PublishPeriod + time.Millisecond
	m.LastPubTime -= back
	for _, sl := range m.Slaves {
		sl.LastPubTime -= back
	}
	for _, si := range m.Sentinels {
		si.LastPubTime -= back
	}
}

// masterOf finds the Master whose instance ri is.
func (s *Sentinel) masterOf(ri *Instance) *Master {
	for _, m := range s.Masters {
		if &m.Instance == ri {
			return m
		}
	}
	return nil
}

// masterLooksSane is sentinelMasterLooksSane.
func masterLooksSane(m *Master, now time.Duration) bool {
	return m.Is(FlagMaster) && m.RoleReported == FlagMaster && !m.Is(FlagSDown|FlagODown) && now-m.InfoRefresh < 2*InfoPeriod
}

// noDownFor is sentinelRedisInstanceNoDownFor.
func noDownFor(ri *Instance, d, now time.Duration) bool {
	recent := max(ri.SDownSince, ri.ODownSince)
	return recent == Never || now-recent > d
}

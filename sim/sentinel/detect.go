package sentinel

import "time"

// checkSDown is sentinelCheckSubjectivelyDown, with its closing of a
// command connection that looks stuck and of an idle pub/sub connection.
func (s *Sentinel) checkSDown(ri *Instance, m *Master, now time.Duration) {
	l := &ri.Link
	var elapsed time.Duration
	switch {
	case l.ActPingTime != Never:
		elapsed = now - l.ActPingTime
	case l.Disconnected:
		elapsed = now - l.LastAvailTime
	}
	if l.CC && now-l.CCConnTime > MinLinkReconnectPeriod && l.ActPingTime != Never &&
		now-l.ActPingTime > ri.DownAfter/2 && now-l.LastPongTime > ri.DownAfter/2 {
		s.closeLink(ri, CmdLink)
	}
	if l.PC && now-l.PCConnTime > MinLinkReconnectPeriod && now-l.PCLastActivity > 3*PublishPeriod {
		s.closeLink(ri, PubSubLink)
	}
	if elapsed > ri.DownAfter || (ri.Is(FlagMaster) && ri.RoleReported == FlagSlave && now-ri.RoleReportedTime > ri.DownAfter+2*InfoPeriod) {
		if !ri.Is(FlagSDown) {
			ri.SDownSince = now
			ri.Flags |= FlagSDown
			s.emit(Event{Type: EventSDown, Inst: ri, Master: m})
		}
	} else if ri.Is(FlagSDown) {
		ri.Flags &^= FlagSDown
		s.emit(Event{Type: EventSDownExit, Inst: ri, Master: m})
	}
}

// checkODown is sentinelCheckObjectivelyDown.
func (s *Sentinel) checkODown(m *Master, now time.Duration) {
	quorum, odown := 0, false
	if m.Is(FlagSDown) {
		quorum = 1
		for _, si := range m.Sentinels {
			if si.Is(FlagMasterDown) {
				quorum++
			}
		}
		odown = quorum >= m.Quorum
	}
	if odown {
		if !m.Is(FlagODown) {
			m.Flags |= FlagODown
			m.ODownSince = now
			s.emit(Event{Type: EventODown, Inst: &m.Instance, Master: m, Count: quorum, Quorum: m.Quorum})
		}
	} else if m.Is(FlagODown) {
		m.Flags &^= FlagODown
		s.emit(Event{Type: EventODownExit, Inst: &m.Instance, Master: m})
	}
}

package sentinel

import "time"

// reconnect is sentinelReconnectInstance: at most one attempt per ping
// period; the PING queued on a non-blocking connect sets act_ping_time,
// even when the connection is refused at once.
func (s *Sentinel) reconnect(ri *Instance, now time.Duration) {
	l := &ri.Link
	if !l.Disconnected || now-l.LastReconnTime < PingPeriod {
		return
	}
	l.LastReconnTime = now
	if !l.CC {
		l.Pending = 0
		l.CCConnTime = now
		l.Gen++
		l.CC = s.d.Connect(ri, CmdLink)
		s.sendPing(ri, now)
	}
	if !ri.Is(FlagSentinel) && !l.PC {
		l.PCConnTime, l.PCLastActivity = now, now
		l.PC = s.d.Connect(ri, PubSubLink)
	}
	if l.CC && (l.PC || ri.Is(FlagSentinel)) {
		l.Disconnected = false
	}
}

// LinkClosed is a connection to ri closing (refused, reset by the peer):
// hiredis's disconnect callback.
func (s *Sentinel) LinkClosed(ri *Instance, kind LinkKind) {
	l := &ri.Link
	switch kind {
	case CmdLink:
		if !l.CC {
			return
		}
		l.CC, l.Pending = false, 0
		l.Gen++
	case PubSubLink:
		if !l.PC {
			return
		}
		l.PC = false
	}
	l.Disconnected = true
}

// closeLink is instanceLinkCloseConnection on one connection.
func (s *Sentinel) closeLink(ri *Instance, kind LinkKind) {
	l := &ri.Link
	if kind == CmdLink && l.CC || kind == PubSubLink && l.PC {
		s.d.Close(ri, kind)
	}
	s.LinkClosed(ri, kind)
	l.Disconnected = true
}

// closeLinks closes both connections of an instance being forgotten or
// reset.
func (s *Sentinel) closeLinks(ri *Instance) {
	s.closeLink(ri, CmdLink)
	s.closeLink(ri, PubSubLink)
	ri.Link.Pending = 0
}

// sendPing is sentinelSendPing; act_ping_time is set when no PING is
// waiting for its answer.
func (s *Sentinel) sendPing(ri *Instance, now time.Duration) {
	l := &ri.Link
	l.LastPingTime = now
	if l.ActPingTime == Never {
		l.ActPingTime = now
	}
	if !l.CC {
		return
	}
	l.Pending++
	s.d.Ping(ri)
}

// PingReply is sentinelPingReplyCallback: ok is a +PONG, -LOADING or
// -MASTERDOWN answer (the instance is available).
func (s *Sentinel) PingReply(ri *Instance, now time.Duration, ok bool) {
	l := &ri.Link
	if l.Pending > 0 {
		l.Pending--
	}
	l.LastPongTime = now
	if ok {
		l.LastAvailTime = now
		l.ActPingTime = Never
	}
}

// Replied is the answer to a command whose content does not matter (the
// SLAVEOF transaction).
func (s *Sentinel) Replied(ri *Instance) {
	if ri.Link.Pending > 0 {
		ri.Link.Pending--
	}
}

// sendPeriodic is sentinelSendPeriodicCommands.
func (s *Sentinel) sendPeriodic(ri *Instance, m *Master, now time.Duration) {
	l := &ri.Link
	if l.Disconnected {
		return
	}
	info := InfoPeriod
	if ri.Is(FlagSlave) && (m.Is(FlagODown|FlagFailoverInProgress) || ri.MasterLinkDownTime != 0) {
		info = FastInfoPeriod
	}
	ping := min(ri.DownAfter, PingPeriod)
	if l.Pending >= MaxPendingCommands {
		return
	}
	if !ri.Is(FlagSentinel) && (ri.InfoRefresh == Never || now-ri.InfoRefresh > info) && l.CC {
		l.Pending++
		s.d.Info(ri)
	}
	if now-l.LastPongTime > ping && now-l.LastPingTime > ping/2 {
		s.sendPing(ri, now)
	}
	if now-ri.LastPubTime > PublishPeriod {
		s.sendHello(ri, m)
	}
}

// sendHello is sentinelSendHello: this Sentinel's address, run id and
// epoch, with its view of the master.
func (s *Sentinel) sendHello(ri *Instance, m *Master) {
	l := &ri.Link
	if l.Disconnected || !l.CC {
		return
	}
	l.Pending++
	s.d.Hello(ri, Hello{Addr: s.Addr, RunID: s.MyID, CurrentEpoch: s.CurrentEpoch,
		MasterName: m.Name, MasterAddr: m.CurrentAddr(), ConfigEpoch: m.ConfigEpoch})
}

// HelloPublished is the answer to a hello's PUBLISH: ok when accepted.
func (s *Sentinel) HelloPublished(ri *Instance, now time.Duration, ok bool) {
	if ri.Link.Pending > 0 {
		ri.Link.Pending--
	}
	if ok {
		ri.LastPubTime = now
	}
}

// HelloReceived is sentinelProcessHelloMessage, for a hello received on
// via's hello channel (nil when another Sentinel published it to this one
// directly).
func (s *Sentinel) HelloReceived(now time.Duration, h Hello, via *Instance) {
	if via != nil && via.Link.PC {
		via.Link.PCLastActivity = now
	}
	if h.RunID == s.MyID {
		return
	}
	m := s.MasterByName(h.MasterName)
	if m == nil {
		return
	}
	var si *Instance
	for _, x := range m.Sentinels {
		if x.Addr == h.Addr && x.RunID == h.RunID {
			si = x
		}
	}
	if si == nil {
		// Forget Sentinels at the same address or with the same id: they
		// restarted or moved.
		kept := m.Sentinels[:0]
		for _, x := range m.Sentinels {
			if x.Addr == h.Addr || x.RunID == h.RunID {
				s.closeLinks(x)
				continue
			}
			kept = append(kept, x)
		}
		clear(m.Sentinels[len(kept):])
		m.Sentinels = kept
		si = s.AddSentinel(m, now, h.RunID, h.Addr)
	}
	if h.CurrentEpoch > s.CurrentEpoch {
		s.CurrentEpoch = h.CurrentEpoch
		s.emit(Event{Type: EventNewEpoch, Epoch: s.CurrentEpoch, Master: m})
	}
	if m.ConfigEpoch < h.ConfigEpoch {
		m.ConfigEpoch = h.ConfigEpoch
		if h.MasterAddr != m.Addr {
			s.emit(Event{Type: EventConfigUpdateFrom, Inst: si, Master: m})
			s.emit(Event{Type: EventSwitchMaster, Master: m, From: m.Addr, To: h.MasterAddr})
			s.resetMasterAndChangeAddress(m, h.MasterAddr, now)
		}
	}
	si.LastHelloTime = now
}

// AddSentinel adds another Sentinel watching m, as a first hello from it
// does (+sentinel).
func (s *Sentinel) AddSentinel(m *Master, now time.Duration, runID, addr string) *Instance {
	si := new(Instance)
	*si = newInstance(FlagSentinel, runID, addr, m.DownAfter, m, now)
	si.RunID = runID
	m.Sentinels = append(m.Sentinels, si)
	s.emit(Event{Type: EventSentinel, Inst: si, Master: m})
	return si
}

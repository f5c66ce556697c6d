package sentinel

import "time"

// askMasterState is sentinelAskMasterStateToOtherSentinels: while the
// master is subjectively down, ask the other Sentinels whether they agree,
// and, once this Sentinel started a failover, for their vote.
func (s *Sentinel) askMasterState(m *Master, forced bool, now time.Duration) {
	for _, si := range m.Sentinels {
		elapsed := now - si.LastMasterDownReply
		if elapsed > 5*AskPeriod {
			si.Flags &^= FlagMasterDown
			si.Leader = ""
		}
		if !m.Is(FlagSDown) || si.Link.Disconnected || !si.Link.CC {
			continue
		}
		if !forced && elapsed < AskPeriod {
			continue
		}
		runID := "*"
		if m.FailoverState > FailoverNone {
			runID = s.MyID
		}
		si.Link.Pending++
		s.d.AskMasterDown(si, m, s.CurrentEpoch, runID)
	}
}

// MasterDownReply is sentinelReceiveIsMasterDownReply.
func (s *Sentinel) MasterDownReply(si *Instance, now time.Duration, r MasterDownReply) {
	if si.Link.Pending > 0 {
		si.Link.Pending--
	}
	si.LastMasterDownReply = now
	if r.Down {
		si.Flags |= FlagMasterDown
	} else {
		si.Flags &^= FlagMasterDown
	}
	if r.Leader != "" {
		si.Leader, si.LeaderEpoch = r.Leader, r.LeaderEpoch
	}
}

// IsMasterDownByAddr answers another Sentinel's SENTINEL
// is-master-down-by-addr about the master at addr: whether this Sentinel
// sees it down, and, when runID is not "*", its vote for the failover
// leader of reqEpoch. found is false when no master is monitored there.
func (s *Sentinel) IsMasterDownByAddr(now time.Duration, addr string, reqEpoch uint64, runID string) (r MasterDownReply, found bool) {
	m := s.MasterByAddr(addr)
	if m == nil {
		return r, false
	}
	r.Down = !s.Tilt && m.Is(FlagSDown) && m.Is(FlagMaster)
	if runID != "*" {
		r.Leader, r.LeaderEpoch = s.voteLeader(m, reqEpoch, runID, now)
	}
	return r, true
}

// voteLeader is sentinelVoteLeader: one vote per epoch, none below the
// current epoch; voting for another Sentinel pushes back this Sentinel's
// own failover of the master.
func (s *Sentinel) voteLeader(m *Master, reqEpoch uint64, reqRunID string, now time.Duration) (string, uint64) {
	if reqEpoch > s.CurrentEpoch {
		s.CurrentEpoch = reqEpoch
		s.emit(Event{Type: EventNewEpoch, Epoch: s.CurrentEpoch, Master: m})
	}
	if m.LeaderEpoch < reqEpoch && s.CurrentEpoch <= reqEpoch {
		m.Leader, m.LeaderEpoch = reqRunID, s.CurrentEpoch
		s.emit(Event{Type: EventVoteForLeader, Master: m, Leader: m.Leader, Epoch: m.LeaderEpoch})
		if m.Leader != s.MyID {
			m.FailoverStartTime = now + s.desync()
		}
	}
	return m.Leader, m.LeaderEpoch
}

func (s *Sentinel) desync() time.Duration {
	return time.Duration(s.rnd.IntN(MaxDesync)) * time.Millisecond
}

// getLeader is sentinelGetLeader: the run id a majority of the voters (and
// at least the quorum) voted for in epoch, counting this Sentinel's vote,
// which goes to the most voted Sentinel, or to itself.
func (s *Sentinel) getLeader(m *Master, epoch uint64, now time.Duration) string {
	// The candidates in the order first seen; a handful of Sentinels, so
	// a slice beats a map.
	var buf [8]struct {
		id    string
		votes int
	}
	counts := buf[:0]
	add := func(id string) int {
		for i := range counts {
			if counts[i].id == id {
				counts[i].votes++
				return counts[i].votes
			}
		}
		counts = append(counts, struct {
			id    string
			votes int
		}{id, 1})
		return 1
	}
	for _, si := range m.Sentinels {
		if si.Leader != "" && si.LeaderEpoch == s.CurrentEpoch {
			add(si.Leader)
		}
	}
	winner, maxVotes := "", 0
	for _, c := range counts {
		if c.votes > maxVotes {
			winner, maxVotes = c.id, c.votes
		}
	}
	candidate := s.MyID
	if winner != "" {
		candidate = winner
	}
	myVote, myEpoch := s.voteLeader(m, epoch, candidate, now)
	if myVote != "" && myEpoch == epoch {
		if n := add(myVote); n > maxVotes {
			winner, maxVotes = myVote, n
		}
	}
	voters := len(m.Sentinels) + 1
	if winner != "" && (maxVotes < voters/2+1 || maxVotes < m.Quorum) {
		winner = ""
	}
	return winner
}

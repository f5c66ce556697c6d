package sentinel

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// fakeDriver connects everything and records what the core asks for.
type fakeDriver struct {
	events  []Event
	slaveOf []string
	asked   []string
}

func (d *fakeDriver) Connect(*Instance, LinkKind) bool { return true }
func (d *fakeDriver) Close(*Instance, LinkKind)        {}
func (d *fakeDriver) Ping(*Instance)                   {}
func (d *fakeDriver) Info(*Instance)                   {}
func (d *fakeDriver) Hello(*Instance, Hello)           {}
func (d *fakeDriver) AskMasterDown(si *Instance, m *Master, epoch uint64, runID string) {
	d.asked = append(d.asked, si.RunID+" "+m.Name+" "+runID)
}
func (d *fakeDriver) SlaveOf(ri *Instance, addr string) {
	d.slaveOf = append(d.slaveOf, ri.Addr+">"+addr)
}
func (d *fakeDriver) Event(e Event) { d.events = append(d.events, e) }

func (d *fakeDriver) types() []EventType {
	var out []EventType
	for _, e := range d.events {
		out = append(out, e.Type)
	}
	return out
}

func newTestSentinel(t *testing.T) (*Sentinel, *fakeDriver) {
	t.Helper()
	d := &fakeDriver{}
	return New("me", "10.0.0.1:26379", d, rand.New(rand.NewPCG(1, 2))), d
}

func config(name, addr string, quorum int) MasterConfig {
	return MasterConfig{Name: name, Addr: addr, Quorum: quorum, DownAfter: time.Second, FailoverTimeout: 3 * time.Second, ParallelSyncs: 1}
}

func TestVotesShareOneEpochAcrossMastersAndOneVotePerEpochPerMaster(t *testing.T) {
	s, _ := newTestSentinel(t)
	a := s.Monitor(0, config("a", "10.0.1.1:6379", 2))
	b := s.Monitor(0, config("b", "10.0.2.1:6379", 2))
	r, found := s.IsMasterDownByAddr(0, a.Addr, 5, "x")
	if !found || r.Leader != "x" || r.LeaderEpoch != 5 {
		t.Fatalf("vote for a in epoch 5: got %+v found %v, want x in epoch 5", r, found)
	}
	if s.CurrentEpoch != 5 {
		t.Errorf("current epoch: got %d, want 5", s.CurrentEpoch)
	}
	// Epoch 3 is below the current epoch, which master b shares.
	if r, _ := s.IsMasterDownByAddr(0, b.Addr, 3, "y"); r.Leader != "" {
		t.Errorf("vote for b in epoch 3 below the current 5: got %+v, want no vote", r)
	}
	// Epoch 5 for b: b has no vote in it yet.
	if r, _ := s.IsMasterDownByAddr(0, b.Addr, 5, "y"); r.Leader != "y" || r.LeaderEpoch != 5 {
		t.Errorf("vote for b in epoch 5: got %+v, want y in epoch 5", r)
	}
	// A second candidate in the same epoch gets a's existing vote back.
	if r, _ := s.IsMasterDownByAddr(0, a.Addr, 5, "z"); r.Leader != "x" {
		t.Errorf("second request for a in epoch 5: got %+v, want the vote already given to x", r)
	}
	if _, found := s.IsMasterDownByAddr(0, "10.0.9.9:6379", 6, "x"); found {
		t.Error("a master nobody monitors: got found, want not found")
	}
}

// sdownNoReplies runs ticks from..to every 100 ms with no PING answered.
func tickEvery100ms(s *Sentinel, from, to time.Duration) {
	for now := from; now <= to; now += 100 * time.Millisecond {
		s.Tick(now)
	}
}

func TestVotingForAnotherSentinelPushesBackThisSentinelsFailover(t *testing.T) {
	s, d := newTestSentinel(t)
	m := s.Monitor(0, config("a", "10.0.1.1:6379", 1))
	// The vote at 500 ms sets failover_start_time to 500 ms + desync
	// (< 1 s); with failover-timeout 3 s the next failover of this
	// Sentinel waits until 2 × 3 s past it.
	s.Tick(0)
	s.IsMasterDownByAddr(500*time.Millisecond, m.Addr, 1, "other")
	if st := m.FailoverStartTime; st < 500*time.Millisecond || st >= 1500*time.Millisecond {
		t.Fatalf("failover start time after the vote: got %v, want 500ms plus a desync under 1s", st)
	}
	notBefore := m.FailoverStartTime + 2*m.FailoverTimeout
	tickEvery100ms(s, 100*time.Millisecond, notBefore-100*time.Millisecond)
	if !m.Is(FlagODown) {
		t.Fatal("the master never answered: got no odown, want odown (quorum 1)")
	}
	if slices.Contains(d.types(), EventTryFailover) {
		t.Fatalf("got +try-failover before %v, want none until 2 × failover-timeout past the vote", notBefore)
	}
	tickEvery100ms(s, notBefore, notBefore+200*time.Millisecond)
	if !slices.Contains(d.types(), EventTryFailover) || s.CurrentEpoch != 2 || m.FailoverEpoch != 2 {
		t.Errorf("after %v: events %v, epoch %d, failover epoch %d; want +try-failover in epoch 2", notBefore, d.types(), s.CurrentEpoch, m.FailoverEpoch)
	}
}

func TestFailoversOfTwoMastersTakeSuccessiveEpochs(t *testing.T) {
	s, _ := newTestSentinel(t)
	a := s.Monitor(0, config("a", "10.0.1.1:6379", 1))
	b := s.Monitor(0, config("b", "10.0.2.1:6379", 1))
	tickEvery100ms(s, 0, 1500*time.Millisecond)
	if a.FailoverEpoch == 0 || b.FailoverEpoch == 0 || a.FailoverEpoch == b.FailoverEpoch || s.CurrentEpoch != 2 {
		t.Errorf("failover epochs a %d, b %d, current %d; want 1 and 2 from the one current epoch", a.FailoverEpoch, b.FailoverEpoch, s.CurrentEpoch)
	}
}

func TestTheLeaderNeedsAMajorityOfVotersAndTheQuorum(t *testing.T) {
	for _, c := range []struct {
		name   string
		quorum int
		votes  []string // the other Sentinels' votes in epoch 1
		want   string
	}{
		{name: "two of three for me", quorum: 2, votes: []string{"me", ""}, want: "me"},
		{name: "alone of three", quorum: 2, votes: []string{"", ""}, want: ""},
		{name: "majority but below quorum 3", quorum: 3, votes: []string{"me", ""}, want: ""},
		{name: "the others' favourite gets my vote", quorum: 2, votes: []string{"x", "x"}, want: "x"},
		{name: "my vote makes a majority", quorum: 2, votes: []string{"x", "y"}, want: "x"},
		{name: "split of five", quorum: 2, votes: []string{"x", "y", "", ""}, want: ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, _ := newTestSentinel(t)
			m := s.Monitor(0, config("a", "10.0.1.1:6379", c.quorum))
			for i, v := range c.votes {
				si := s.AddSentinel(m, 0, string(rune('p'+i)), "10.0.0.9:2637"+string(rune('0'+i)))
				if v != "" {
					si.Leader, si.LeaderEpoch = v, 1
				}
			}
			s.CurrentEpoch = 1
			if got := s.getLeader(m, 1, 0); got != c.want {
				t.Errorf("got leader %q, want %q", got, c.want)
			}
		})
	}
}

func TestSelectSlavePrefersPriorityThenOffsetThenRunID(t *testing.T) {
	s, _ := newTestSentinel(t)
	m := s.Monitor(0, config("a", "10.0.1.1:6379", 1))
	now := 10 * time.Second
	add := func(addr string, prio int, off int64, runID string) *Instance {
		sl := s.AddSlave(m, 0, addr)
		sl.Link.Disconnected, sl.Link.CC, sl.Link.PC = false, true, true
		sl.Link.LastAvailTime, sl.InfoRefresh = now, now
		sl.SlavePriority, sl.SlaveReplOffset, sl.RunID = prio, off, runID
		return sl
	}
	add("10.0.1.2:6379", 0, 900, "a")   // priority 0: never
	add("10.0.1.3:6379", 100, 500, "b") // lower offset
	c := add("10.0.1.4:6379", 100, 700, "d")
	add("10.0.1.5:6379", 100, 700, "") // no run id: last among equals
	if got := s.SelectSlave(m, now); got != c {
		t.Fatalf("got %v, want %s (priority 100, offset 700, run id d)", got.Addr, c.Addr)
	}
	e := add("10.0.1.6:6379", 100, 700, "C") // run ids compare case-insensitively
	if got := s.SelectSlave(m, now); got != e {
		t.Errorf("got %v, want %s (run id C before d)", got.Addr, e.Addr)
	}
	f := add("10.0.1.7:6379", 50, 1, "z")
	if got := s.SelectSlave(m, now); got != f {
		t.Errorf("got %v, want %s (priority 50 first)", got.Addr, f.Addr)
	}
	f.InfoRefresh = now - 31*time.Second
	if got := s.SelectSlave(m, now); got == f {
		t.Errorf("got %s whose INFO is 31 s old, want it skipped", f.Addr)
	}
}

func TestMasterIsSubjectivelyDownOnceDownAfterPassesWithoutAReply(t *testing.T) {
	s, d := newTestSentinel(t)
	m := s.Monitor(0, config("a", "10.0.1.1:6379", 2))
	s.Tick(0) // connects; the PING queued on connect sets act_ping_time
	s.PingReply(&m.Instance, 10*time.Millisecond, true)
	s.Tick(1100 * time.Millisecond) // pings again (last pong > 1 s ago)
	s.Tick(2100 * time.Millisecond)
	if m.Is(FlagSDown) {
		t.Fatalf("sdown at 2.1s with the PING of 1.1s unanswered for 1s: got sdown, want not yet")
	}
	s.Tick(2200 * time.Millisecond)
	if !m.Is(FlagSDown) || m.SDownSince != 2200*time.Millisecond {
		t.Errorf("got sdown %v since %v, want sdown since 2.2s (1.1s + down-after 1s, checked per tick)", m.Is(FlagSDown), m.SDownSince)
	}
	if m.Is(FlagODown) {
		t.Error("got odown with quorum 2 and no other Sentinel, want none")
	}
	if !slices.Contains(d.types(), EventSDown) {
		t.Errorf("events %v: want +sdown", d.types())
	}
}

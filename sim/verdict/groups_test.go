package verdict

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

// threeGroupRuns are the recorded runs the synthetic three-group run is
// made of, one per group, and how late each group's run starts in it.
var threeGroupRuns = []struct {
	run   string
	shift time.Duration
}{
	{"master-kill", 0},
	{"master-stop-start", 2 * time.Second},
	{"partition", 0},
}

// ThreeGroupsFile is the synthetic run, written by
//
//	go test ./sim/verdict -run TestThreeGroups -update
//
// and read by the report tests (sim/report, sim/htmlreport).
const threeGroupsFile = "testdata/three-groups.json.gz"

// qualify renames a recorded one-group run as group g of a run with several
// (node names "g.redis1"), its times shifted by shift and its end at end,
// tagged as the engine tags a multi-group run: ops, proxy, role and fault
// events by their node's group, Sentinel events by the master in their
// payload, and the cluster-wide ones (+new-epoch, +vote-for-leader, notes)
// not at all. +switch-master, whose payload names the master without
// "master " or "@", is left untagged: GroupTimeline keeps it only in the
// group of its node.
func qualify(tl *timeline.Timeline, g string, shift, end time.Duration) *timeline.Timeline {
	q := func(n string) string {
		if n == "" {
			return ""
		}
		return g + "." + n
	}
	out := *tl
	out.End = end
	out.InitialMaster = q(tl.InitialMaster)
	out.Nodes = nil
	for _, n := range tl.Nodes {
		out.Nodes = append(out.Nodes, q(n))
	}
	if tl.ReadBack != nil {
		rb := *tl.ReadBack
		rb.Master = q(rb.Master)
		rb.At += shift
		out.ReadBack = &rb
	}
	out.Ops = nil
	for _, op := range tl.Ops {
		op.Node = q(op.Node)
		op.Start += shift
		op.End += shift
		op.Group = g
		out.Ops = append(out.Ops, op)
	}
	out.Events = nil
	for _, e := range tl.Events {
		e.T += shift
		e.Node, e.Master = q(e.Node), q(e.Master)
		switch e.Kind {
		case timeline.KindFault:
			e.Target = q(e.Target)
			e.Group = g
		case timeline.KindSentinel:
			if strings.Contains(e.Detail, "@ ") || strings.HasPrefix(e.Detail, "master ") {
				e.Group = g
			}
		case timeline.KindProxy, timeline.KindRole:
			e.Group = g
		}
		out.Events = append(out.Events, e)
	}
	out.CheckLoad = nil
	for _, l := range tl.CheckLoad {
		l.Node = q(l.Node)
		l.From += shift
		l.To += shift
		out.CheckLoad = append(out.CheckLoad, l)
	}
	return &out
}

// threeGroups builds the synthetic run from the recorded ones, and returns
// with it each group's run as one group (qualified and shifted the same).
func threeGroups(t *testing.T) (*timeline.Timeline, []*timeline.Timeline) {
	t.Helper()
	var recs []*timeline.Timeline
	var end time.Duration
	for _, r := range threeGroupRuns {
		tl := loadRecordedRun(t, "testdata/runs/"+r.run+".json.gz").Timeline
		recs = append(recs, tl)
		end = max(end, tl.End+r.shift)
	}
	all := &timeline.Timeline{
		Scenario: "three-groups", Backend: recs[0].Backend, Proxy: recs[0].Proxy,
		Start: recs[0].Start, End: end, Params: recs[0].Params,
	}
	var singles []*timeline.Timeline
	for i, r := range threeGroupRuns {
		g := fmt.Sprintf("group%d", i+1)
		one := qualify(recs[i], g, r.shift, end)
		singles = append(singles, one)
		all.Nodes = append(all.Nodes, one.Nodes...)
		all.Groups = append(all.Groups, timeline.Group{
			Name: g, MasterName: g, Nodes: one.Nodes, InitialMaster: one.InitialMaster, ReadBack: one.ReadBack,
		})
		all.Ops = append(all.Ops, one.Ops...)
		all.Events = append(all.Events, one.Events...)
		all.CheckLoad = append(all.CheckLoad, one.CheckLoad...)
	}
	all.Sort()
	for _, one := range singles {
		one.Sort()
	}
	return all, singles
}

// loadThreeGroups reads the synthetic run as written by -update.
func loadThreeGroups(t *testing.T) []byte {
	t.Helper()
	f, err := os.Open(threeGroupsFile)
	if err != nil {
		t.Fatalf("%v (run go test ./sim/verdict -run TestThreeGroups -update)", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(io.LimitReader(zr, 64<<20))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestThreeGroupsAreJudgedEachAsItsOwnRunAndInTotal(t *testing.T) {
	all, singles := threeGroups(t)
	b, err := json.Marshal(all)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		if err := os.WriteFile(threeGroupsFile, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	} else if got := loadThreeGroups(t); !bytes.Equal(got, b) {
		t.Errorf("%s is not what the recorded runs make (run with -update)", threeGroupsFile)
	}

	r := Judge(all, nil)
	if len(r.Groups) != 3 {
		t.Fatalf("groups: got %d, want 3", len(r.Groups))
	}
	var want []*Report
	for i, one := range singles {
		w := Judge(one, nil)
		want = append(want, w)
		g := r.Groups[i]
		if g.Name != all.Groups[i].Name {
			t.Errorf("group %d: got name %q, want %q", i, g.Name, all.Groups[i].Name)
		}
		gotJSON, _ := json.MarshalIndent(g.Report, "", "  ")
		wantJSON, _ := json.MarshalIndent(w, "", "  ")
		if !bytes.Equal(gotJSON, wantJSON) {
			t.Errorf("%s (%s): its report differs from the one-group report of its run:\n%s",
				g.Name, threeGroupRuns[i].run, diffLines(string(wantJSON), string(gotJSON)))
		}
	}
	// The renaming and the shift change no duration and no count: the
	// group reports are those of the recorded runs.
	for i, rr := range threeGroupRuns {
		orig := Judge(loadRecordedRun(t, "testdata/runs/"+rr.run+".json.gz").Timeline, nil)
		g := r.Groups[i].Report
		if g.WriteInterruption.Duration != orig.WriteInterruption.Duration || g.Lost.Lost != orig.Lost.Lost ||
			g.Failovers != orig.Failovers || g.TwoMaster.Total != orig.TwoMaster.Total || g.Writes != orig.Writes {
			t.Errorf("%s: got interruption %v, lost %d, failovers %d, two-master %v, writes %+v; the recorded run has %v, %d, %d, %v, %+v",
				rr.run, g.WriteInterruption.Duration, g.Lost.Lost, g.Failovers, g.TwoMaster.Total, g.Writes,
				orig.WriteInterruption.Duration, orig.Lost.Lost, orig.Failovers, orig.TwoMaster.Total, orig.Writes)
		}
		if g.Fault == nil || orig.Fault == nil || g.Fault.T != orig.Fault.T+rr.shift {
			t.Errorf("%s: got fault %+v, want the recorded run's %+v shifted by %v", rr.run, g.Fault, orig.Fault, rr.shift)
		}
	}

	// The total.
	worst, longest := 0, 0
	var lost, acked, failovers, writes, stale int
	for i, w := range want {
		if worseInterruption(w.WriteInterruption, want[worst].WriteInterruption) {
			worst = i
		}
		if w.TwoMaster.Total > want[longest].TwoMaster.Total {
			longest = i
		}
		lost += w.Lost.Lost
		acked += w.Lost.Acked
		failovers += w.Failovers
		writes += w.Writes.Total
		stale += w.Stale.Count
	}
	if r.Worst != all.Groups[worst].Name || r.WriteInterruption != want[worst].WriteInterruption {
		t.Errorf("worst group: got %s %+v, want %s %+v", r.Worst, r.WriteInterruption, all.Groups[worst].Name, want[worst].WriteInterruption)
	}
	if r.Fault == nil || *r.Fault != *want[worst].Fault || len(r.Phases) != len(want[worst].Phases) || r.Phases[1] != want[worst].Phases[1] {
		t.Errorf("worst group's fault and phases: got %+v %+v, want %+v %+v", r.Fault, r.Phases, want[worst].Fault, want[worst].Phases)
	}
	if !r.Lost.Checked || r.Lost.Lost != lost || r.Lost.Acked != acked {
		t.Errorf("lost writes: got %+v, want %d of %d", r.Lost, lost, acked)
	}
	if r.Failovers != failovers || r.Writes.Total != writes || r.Stale.Count != stale {
		t.Errorf("totals: got %d failovers, %d writes, %d stale reads; want %d, %d, %d", r.Failovers, r.Writes.Total, r.Stale.Count, failovers, writes, stale)
	}
	// Both the returned master of master-stop-start (group2) and the
	// isolated one of partition (group3) take writes for seconds; the
	// isolated one longer.
	if r.TwoMasterGroup != "group3" || longest != 2 || r.TwoMaster.Total != want[2].TwoMaster.Total || want[1].TwoMaster.Total < 5*time.Second {
		t.Errorf("two-master window: got %v in %q, want group3's %v (group2's %v)", r.TwoMaster.Total, r.TwoMasterGroup, want[2].TwoMaster.Total, want[1].TwoMaster.Total)
	}
	if failovers < 3 {
		t.Errorf("failovers: got %d in all, want at least one per group", failovers)
	}

	// Metrics: the total's, and one group's by its name.
	if v, why := r.Metric("write_interruption"); why != "" || v != want[worst].WriteInterruption.Duration.Seconds() {
		t.Errorf("write_interruption: got %v %q, want the worst group's %v", v, why, want[worst].WriteInterruption.Duration.Seconds())
	}
	if v, why := r.Metric("lost_writes"); why != "" || v != float64(lost) {
		t.Errorf("lost_writes: got %v %q, want %d", v, why, lost)
	}
	for i, w := range want {
		name := all.Groups[i].Name + ".lost_writes"
		if v, why := r.Metric(name); why != "" || v != float64(w.Lost.Lost) {
			t.Errorf("%s: got %v %q, want %d", name, v, why, w.Lost.Lost)
		}
	}
	if _, why := r.Metric("group9.lost_writes"); why == "" {
		t.Errorf("group9.lost_writes: got a value, want unknown (no such group)")
	}
}

func TestGroupTimelineDropsOtherGroupsUntaggedEventsAndKeepsClusterWideOnes(t *testing.T) {
	tl := &timeline.Timeline{
		Groups: []timeline.Group{{Name: "group1", Nodes: []string{"group1.redis1"}}, {Name: "group2", Nodes: []string{"group2.redis1"}}},
		Events: []timeline.Event{
			{T: 1, Kind: timeline.KindFault, Name: "kill", Target: "host:h1"},
			{T: 2, Kind: timeline.KindSentinel, Name: "+vote-for-leader", Detail: "abc 1"},
			{T: 3, Kind: timeline.KindSentinel, Name: "+switch-master", Node: "group2.redis1"},
			{T: 4, Kind: timeline.KindRole, Node: "group2.redis1", Group: "group2"},
			{T: 5, Kind: timeline.KindRole, Node: "group1.redis1", Group: "group1"},
			{T: 6, Kind: timeline.KindFault, Name: "kill", Target: "sentinel1", Node: "sentinel1"},
		},
		Ops: []timeline.Op{{Kind: timeline.OpWrite, Group: "group2"}, {Kind: timeline.OpWrite, Group: "group1"}},
	}
	g1 := GroupTimeline(tl, tl.Groups[0])
	var got []time.Duration
	for _, e := range g1.Events {
		got = append(got, e.T)
	}
	if fmt.Sprint(got) != "[1ns 2ns 5ns 6ns]" || len(g1.Ops) != 1 || g1.Ops[0].Group != "group1" || len(g1.Groups) != 0 {
		t.Errorf("group1's timeline: got events at %v, ops %+v, groups %v; want events at [1ns 2ns 5ns 6ns], group1's op, no groups", got, g1.Ops, g1.Groups)
	}
}

func TestHostFaultTakesAwayEveryMemberOfTheHost(t *testing.T) {
	tl := &timeline.Timeline{
		Hosts: []timeline.Host{{Name: "h1", Members: []string{"group1.redis1", "group2.redis1", "sentinel1"}}},
		Events: []timeline.Event{
			{T: ms(1000), Kind: timeline.KindFault, Name: "kill", Target: "host:h1"},
			{T: ms(5000), Kind: timeline.KindFault, Name: "start", Target: "host:h1"},
		},
	}
	w := faultWindows(tl)
	for _, n := range []string{"group1.redis1", "group2.redis1", "sentinel1"} {
		if len(w[n]) != 1 || w[n][0].from != ms(1000) || w[n][0].to != ms(5000) {
			t.Errorf("%s: got fault windows %v, want 1s-5s", n, w[n])
		}
	}
	if len(w["host:h1"]) != 0 {
		t.Errorf("host:h1: got windows %v, want the host's members instead", w["host:h1"])
	}
}

func TestSplitVoteDelaysAFailoverUntilALaterEpoch(t *testing.T) {
	// A host fault took sentinel1 with it: sentinel2 and sentinel3 both try
	// group2's failover in epoch 2 and vote for themselves, neither gets a
	// majority of three, both give up after the failover timeout (3 s);
	// sentinel3 wins group1's failover in epoch 3 meanwhile and group2's
	// in epoch 4, 2 × failover-timeout after its first try.
	sen := func(at int, src, name, group, detail string) timeline.Event {
		return timeline.Event{T: ms(at), Kind: timeline.KindSentinel, Source: src, Name: name, Group: group, Detail: detail}
	}
	m2, m1 := "master group2 10.0.0.2 6379", "master group1 10.0.0.1 6379"
	tl := &timeline.Timeline{
		End: ms(30000),
		Groups: []timeline.Group{
			{Name: "group1", MasterName: "group1", Nodes: []string{"group1.redis1"}},
			{Name: "group2", MasterName: "group2", Nodes: []string{"group2.redis1"}},
		},
		Events: []timeline.Event{
			{T: ms(5000), Kind: timeline.KindFault, Name: "kill", Target: "host:h1"},
			sen(10000, "sentinel2", "+new-epoch", "", "2"),
			sen(10000, "sentinel2", "+try-failover", "group2", m2),
			sen(10000, "sentinel2", "+vote-for-leader", "", "2222 2"),
			sen(10001, "sentinel3", "+new-epoch", "", "2"),
			sen(10001, "sentinel3", "+try-failover", "group2", m2),
			sen(10001, "sentinel3", "+vote-for-leader", "", "3333 2"),
			sen(10500, "sentinel3", "+new-epoch", "", "3"),
			sen(10500, "sentinel3", "+try-failover", "group1", m1),
			sen(10500, "sentinel3", "+vote-for-leader", "", "3333 3"),
			sen(10502, "sentinel2", "+new-epoch", "", "3"),
			sen(10502, "sentinel2", "+vote-for-leader", "", "3333 3"),
			sen(10600, "sentinel3", "+elected-leader", "group1", m1),
			sen(13000, "sentinel2", "-failover-abort-not-elected", "group2", m2),
			sen(13001, "sentinel3", "-failover-abort-not-elected", "group2", m2),
			sen(16001, "sentinel3", "+new-epoch", "", "4"),
			sen(16001, "sentinel3", "+try-failover", "group2", m2),
			sen(16001, "sentinel3", "+vote-for-leader", "", "3333 4"),
			sen(16003, "sentinel2", "+new-epoch", "", "4"),
			sen(16003, "sentinel2", "+vote-for-leader", "", "3333 4"),
			sen(16100, "sentinel3", "+elected-leader", "group2", m2),
		},
	}
	r := Judge(tl, nil)
	if len(r.ElectionDelays) != 1 {
		t.Fatalf("election delays: got %+v, want one, group2's", r.ElectionDelays)
	}
	want := "group2: failover delayed 6.001s: elections in epoch 2 by sentinel2 (sentinel3 voted for itself, aborted), " +
		"epoch 2 by sentinel3 (sentinel2 voted for itself, aborted) not won, won in epoch 4 by sentinel3"
	if got := r.ElectionDelays[0].String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	g1, _ := r.group("group1")
	g2, _ := r.group("group2")
	if len(g1.ElectionDelays) != 0 || len(g2.ElectionDelays) != 1 {
		t.Errorf("per group: got group1 %+v, group2 %+v; want group2's delay alone", g1.ElectionDelays, g2.ElectionDelays)
	}
	d := g2.ElectionDelays[0]
	if !d.Won || d.Lost != ms(6001) || len(d.Attempts) != 3 || d.Attempts[2].Epoch != 4 || len(d.Attempts[2].Votes) != 2 {
		t.Errorf("group2's delay: got %+v, want won in epoch 4 with two votes, 6.001s after the first try", d)
	}
}

func TestARivalTriedAtTheSameTimeDelaysNothing(t *testing.T) {
	sen := func(at int, src, name, detail string) timeline.Event {
		return timeline.Event{T: ms(at), Kind: timeline.KindSentinel, Source: src, Name: name, Detail: detail}
	}
	m := "master mymaster 10.0.0.1 6379"
	tl := &timeline.Timeline{End: ms(30000), Events: []timeline.Event{
		sen(10000, "sentinel1", "+new-epoch", "1"),
		sen(10000, "sentinel1", "+try-failover", m),
		sen(10000, "sentinel1", "+vote-for-leader", "1111 1"),
		sen(10002, "sentinel2", "+new-epoch", "1"),
		sen(10002, "sentinel2", "+vote-for-leader", "1111 1"),
		sen(10003, "sentinel3", "+new-epoch", "2"),
		sen(10003, "sentinel3", "+try-failover", m),
		sen(10003, "sentinel3", "+vote-for-leader", "3333 2"),
		sen(10100, "sentinel1", "+elected-leader", m),
		sen(13003, "sentinel3", "-failover-abort-not-elected", m),
	}}
	if d := Judge(tl, nil).ElectionDelays; len(d) != 0 {
		t.Errorf("got %+v, want no delay: the first election was won", d)
	}
}

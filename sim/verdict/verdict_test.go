package verdict

import (
	"fmt"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// writes adds one write every 10ms from..to (ms) with result res on node.
func writes(tl *timeline.Timeline, from, to int, res, node string) {
	for t := from; t < to; t += 10 {
		tl.Ops = append(tl.Ops, timeline.Op{Kind: timeline.OpWrite, Key: fmt.Sprintf("k%d", t), Start: ms(t), End: ms(t + 2), Result: res, Node: node})
	}
}

func base() *timeline.Timeline {
	return &timeline.Timeline{End: ms(10000), InitialMaster: "redis1", Params: timeline.Params{Sentinels: 3}}
}

func killAt(tl *timeline.Timeline, at int) {
	tl.Events = append(tl.Events, timeline.Event{T: ms(at), Kind: timeline.KindFault, Name: "kill", Target: "redis1"})
}

func TestNoFailureMeansNoInterruption(t *testing.T) {
	tl := base()
	writes(tl, 0, 10000, timeline.ResultOK, "redis1")
	killAt(tl, 5000)
	tl.Sort()
	r := Judge(tl, nil)
	if r.WriteInterruption.Interrupted || r.WriteInterruption.Duration != 0 {
		t.Fatalf("got %+v, want no interruption", r.WriteInterruption)
	}
	if v, _ := r.Metric("write_interruption"); v != 0 {
		t.Fatalf("metric %v", v)
	}
}

func TestInterruptionRunsFromLastOKToFirstOK(t *testing.T) {
	tl := base()
	writes(tl, 0, 5000, timeline.ResultOK, "redis1")
	killAt(tl, 5000)
	writes(tl, 5000, 8000, timeline.ResultFail, "")
	writes(tl, 8000, 10000, timeline.ResultOK, "redis2")
	tl.Sort()
	it := Judge(tl, nil).WriteInterruption
	// Last ok ends at 4992ms, first ok after ends at 8002ms.
	if !it.Interrupted || !it.Recovered || it.LastOK != ms(4992) || it.FirstOK != ms(8002) || it.Duration != ms(3010) || it.Failed != 300 {
		t.Fatalf("got %+v", it)
	}
}

func TestInterruptionNeverRecovered(t *testing.T) {
	tl := base()
	writes(tl, 0, 5000, timeline.ResultOK, "redis1")
	killAt(tl, 5000)
	writes(tl, 5000, 10000, timeline.ResultInfo, "")
	tl.Sort()
	it := Judge(tl, nil).WriteInterruption
	if !it.Interrupted || it.Recovered || it.FirstOK != ms(10000) || it.Duration != ms(10000-4992) {
		t.Fatalf("got %+v", it)
	}
}

func TestSingleIsolatedFailure(t *testing.T) {
	tl := base()
	writes(tl, 0, 5000, timeline.ResultOK, "redis1")
	killAt(tl, 5000)
	writes(tl, 5000, 5010, timeline.ResultFail, "")
	writes(tl, 5010, 10000, timeline.ResultOK, "redis1")
	tl.Sort()
	it := Judge(tl, nil).WriteInterruption
	if !it.Interrupted || it.Duration != ms(20) || it.Failed != 1 {
		t.Fatalf("got %+v, want 20ms around one failure", it)
	}
	if g := Judge(tl, nil).LongestWriteGap; g.Duration() != ms(20) {
		t.Fatalf("longest gap %v", g.Duration())
	}
}

func sentinelEvent(tl *timeline.Timeline, at int, src, name, node, detail string) {
	tl.Events = append(tl.Events, timeline.Event{T: ms(at), Kind: timeline.KindSentinel, Source: src, Name: name, Node: node, Detail: detail})
}

func TestPhasesFollowTheFailover(t *testing.T) {
	tl := base()
	writes(tl, 0, 5000, timeline.ResultOK, "redis1")
	killAt(tl, 5000)
	writes(tl, 5000, 12000, timeline.ResultFail, "")
	writes(tl, 12000, 15000, timeline.ResultOK, "redis2")
	tl.End = ms(15000)
	sentinelEvent(tl, 10050, "sentinel1", "+sdown", "redis1", "master mymaster 10.0.0.1 6379")
	sentinelEvent(tl, 10150, "sentinel2", "+odown", "redis1", "master mymaster 10.0.0.1 6379 #quorum 2/2")
	sentinelEvent(tl, 10900, "sentinel2", "+promoted-slave", "redis2", "slave 10.0.0.2:6379 10.0.0.2 6379 @ mymaster 10.0.0.1 6379")
	for i, at := range []int{10950, 10952, 11900} {
		sentinelEvent(tl, at, fmt.Sprintf("sentinel%d", i+1), "+switch-master", "redis2", "mymaster 10.0.0.1 6379 10.0.0.2 6379")
	}
	tl.Events = append(tl.Events, timeline.Event{T: ms(11950), Kind: timeline.KindProxy, Name: "server-up", Port: timeline.PortMaster, Node: "redis2"})
	tl.Sort()
	r := Judge(tl, nil)
	want := []struct {
		name  string
		at    int
		since int
	}{{"fault", 5000, 0}, {"+sdown", 10050, 5050}, {"+odown", 10150, 100}, {"promotion", 10900, 750},
		{"+switch-master", 10950, 50}, {"proxy UP", 11950, 1000}, {"first ok write", 12002, 52}}
	if len(r.Phases) != len(want) {
		t.Fatalf("got %d phases", len(r.Phases))
	}
	for i, w := range want {
		p := r.Phases[i]
		if p.Name != w.name || !p.Found || p.At != ms(w.at) || p.Since != ms(w.since) {
			t.Errorf("phase %d: got %s at %v (+%v), want %s at %dms (+%dms)", i, p.Name, p.At, p.Since, w.name, w.at, w.since)
		}
	}
	if r.ProxyShare != ms(12002-10950) || r.Failovers != 1 {
		t.Errorf("proxy share %v, failovers %d", r.ProxyShare, r.Failovers)
	}
}

func TestLostWritesClassification(t *testing.T) {
	tl := base()
	add := func(key, res, final, node string) {
		tl.Ops = append(tl.Ops, timeline.Op{Kind: timeline.OpWrite, Key: key, Result: res, Final: final, Node: node})
	}
	add("a", timeline.ResultOK, "present", "redis1")
	add("b", timeline.ResultOK, "absent", "redis1")
	add("c", timeline.ResultOK, "absent", "redis3")
	add("d", timeline.ResultFail, "present", "")
	add("e", timeline.ResultFail, "absent", "")
	add("f", timeline.ResultInfo, "present", "")
	add("g", timeline.ResultInfo, "absent", "")
	tl.ReadBack = &timeline.ReadBack{Master: "redis2", Settled: true}
	lw := Judge(tl, nil).Lost
	if !lw.Checked || lw.Acked != 3 || lw.Lost != 2 || lw.Unexpected != 1 || lw.IndeterminatePresent != 1 || lw.IndeterminateAbsent != 1 ||
		lw.LostOn["redis1"] != 1 || lw.LostOn["redis3"] != 1 {
		t.Fatalf("got %+v", lw)
	}
	tl.ReadBack = &timeline.ReadBack{Err: "no master agreed"}
	r := Judge(tl, []scenario.Expectation{{Metric: "lost_writes", Op: "==", Value: 0}})
	if r.Lost.Checked || r.Passed() || r.Expectations[0].Unknown == "" {
		t.Fatalf("without read-back the expectation must fail as unknown: %+v", r.Expectations)
	}
}

func TestTwoMasterWindowFromWritesToADemotedNode(t *testing.T) {
	tl := base()
	writes(tl, 0, 5000, timeline.ResultOK, "redis1")
	killAt(tl, 5000)
	for i := 1; i <= 3; i++ {
		sentinelEvent(tl, 6000, fmt.Sprintf("sentinel%d", i), "+switch-master", "redis2", "mymaster a 1 b 2")
	}
	writes(tl, 6100, 7000, timeline.ResultOK, "redis2")
	// The old master comes back saying role:master and takes writes for 2s.
	writes(tl, 7000, 9000, timeline.ResultOK, "redis1")
	writes(tl, 9000, 10000, timeline.ResultOK, "redis2")
	tl.Events = append(tl.Events,
		timeline.Event{T: ms(6050), Kind: timeline.KindRole, Node: "redis2", Role: timeline.RoleMaster},
		timeline.Event{T: ms(6900), Kind: timeline.KindRole, Node: "redis1", Role: timeline.RoleMaster},
		timeline.Event{T: ms(9000), Kind: timeline.KindRole, Node: "redis1", Role: timeline.RoleReplica},
	)
	tl.Sort()
	tm := Judge(tl, nil).TwoMaster
	if tm.WrongWrites != 200 {
		t.Fatalf("wrong writes %d, want 200", tm.WrongWrites)
	}
	// Writes to redis1 from 7000 to 8992; both said role:master from 6900
	// to 9000.
	if tm.Total != ms(1992) || tm.RoleOverlap != ms(2100) {
		t.Fatalf("total %v, want 1.992s; role overlap %v, want 2.1s (%+v)", tm.Total, tm.RoleOverlap, tm.Windows)
	}
	if v, _ := Judge(tl, nil).Metric("two_master_window"); v != 1.992 {
		t.Fatalf("metric %v", v)
	}
	if v, _ := Judge(tl, nil).Metric("role_overlap"); v != 2.1 {
		t.Fatalf("role_overlap metric %v", v)
	}
}

func TestNoSwitchMeansTheInitialMasterIsRight(t *testing.T) {
	tl := base()
	writes(tl, 0, 10000, timeline.ResultOK, "redis1")
	tl.Sort()
	if tm := Judge(tl, nil).TwoMaster; tm.Total != 0 || tm.WrongWrites != 0 {
		t.Fatalf("got %+v", tm)
	}
}

func TestCascadingFailoverCountsTwice(t *testing.T) {
	tl := base()
	for i := 1; i <= 3; i++ {
		sentinelEvent(tl, 5000+i, fmt.Sprintf("sentinel%d", i), "+switch-master", "redis2", "")
		sentinelEvent(tl, 7000+i, fmt.Sprintf("sentinel%d", i), "+switch-master", "redis3", "")
	}
	tl.Sort()
	if n := Judge(tl, nil).Failovers; n != 2 {
		t.Fatalf("failovers %d, want 2", n)
	}
}

func TestStaleReads(t *testing.T) {
	tl := base()
	tl.Ops = append(tl.Ops,
		timeline.Op{Kind: timeline.OpWrite, Key: "a", Start: ms(0), End: ms(5), Result: timeline.ResultOK, Final: "present"},
		// A lost key read back as missing is a lost write, not a stale read.
		timeline.Op{Kind: timeline.OpWrite, Key: "lost", Start: ms(0), End: ms(5), Result: timeline.ResultOK, Final: "absent"},
		timeline.Op{Kind: timeline.OpRead, Key: "lost", Start: ms(100), End: ms(101), Result: timeline.ResultOK},
		timeline.Op{Kind: timeline.OpRead, Key: "a", Start: ms(100), End: ms(101), Result: timeline.ResultOK, Found: false},
		timeline.Op{Kind: timeline.OpRead, Key: "a", Start: ms(200), End: ms(201), Result: timeline.ResultOK, Found: true},
		timeline.Op{Kind: timeline.OpRead, Key: "a", Start: ms(3), End: ms(4), Result: timeline.ResultOK, Found: false},
	)
	tl.Sort()
	s := Judge(tl, nil).Stale
	if s.Count != 1 || s.Worst != ms(95) {
		t.Fatalf("got %+v", s)
	}
}

func TestExpectationsDecide(t *testing.T) {
	tl := base()
	writes(tl, 0, 5000, timeline.ResultOK, "redis1")
	killAt(tl, 5000)
	writes(tl, 5000, 6000, timeline.ResultFail, "")
	writes(tl, 6000, 10000, timeline.ResultOK, "redis2")
	tl.Sort()
	ok, _ := scenario.ParseExpectation("write_interruption <= 2s")
	bad, _ := scenario.ParseExpectation("write_interruption < 500ms")
	r := Judge(tl, []scenario.Expectation{ok, bad})
	if !r.Expectations[0].Held || r.Expectations[1].Held || r.Passed() {
		t.Fatalf("got %+v", r.Expectations)
	}
}

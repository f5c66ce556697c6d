package verdict

import (
	"fmt"
	"testing"

	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

// wlWrites adds one write of workload w every 10ms from..to (ms).
func wlWrites(tl *timeline.Timeline, w string, from, to int, res, node, err string) {
	for t := from; t < to; t += 10 {
		tl.Ops = append(tl.Ops, timeline.Op{Kind: timeline.OpWrite, Key: fmt.Sprintf("%s:k%d", w, t), Start: ms(t), End: ms(t + 2),
			Result: res, Node: node, Err: err, Workload: w})
	}
}

// switchAllTo records the three Sentinels' +switch-master to node at.
func switchAllTo(tl *timeline.Timeline, at int, node string) {
	for i := 1; i <= 3; i++ {
		tl.Events = append(tl.Events, timeline.Event{T: ms(at + i), Kind: timeline.KindSentinel, Source: fmt.Sprintf("sentinel%d", i), Name: "+switch-master", Node: node})
	}
}

// Two workloads through one failover: each is judged on its own
// operations, the total takes the worst interruption, and a client that
// kept writing to the old master after the switch is measured.
func TestEachWorkloadIsJudgedOnItsOwnAndTheTotalTakesTheWorst(t *testing.T) {
	tl := base()
	tl.Workloads = []timeline.Workload{{Name: "fast", Client: "proxy"}, {Name: "stale", Client: "command"}}
	killAt(tl, 2000)
	switchAllTo(tl, 4000, "redis2")
	wlWrites(tl, "fast", 0, 2000, timeline.ResultOK, "redis1", "")
	wlWrites(tl, "fast", 2000, 4100, timeline.ResultFail, "", "dial tcp: connect: connection refused")
	wlWrites(tl, "fast", 4100, 10000, timeline.ResultOK, "redis2", "")
	wlWrites(tl, "stale", 0, 2000, timeline.ResultOK, "redis1", "")
	wlWrites(tl, "stale", 2000, 6000, timeline.ResultInfo, "redis1", "no answer within the timeout")
	wlWrites(tl, "stale", 6000, 6500, timeline.ResultFail, "redis3", "READONLY You can't write against a read only replica.")
	wlWrites(tl, "stale", 6500, 10000, timeline.ResultOK, "redis2", "")
	tl.Ops[len(tl.Ops)-1].Late = nil
	for i := range tl.Ops {
		if tl.Ops[i].Workload == "stale" && tl.Ops[i].Result == timeline.ResultInfo && tl.Ops[i].Start < ms(2100) {
			tl.Ops[i].Late = &timeline.Late{At: tl.Ops[i].End + ms(1500), Result: timeline.ResultOK}
		}
	}
	tl.Sort()
	r := Judge(tl, nil)
	if len(r.Workloads) != 2 {
		t.Fatalf("got %d workload reports, want 2", len(r.Workloads))
	}
	fast, stale := r.Workloads[0], r.Workloads[1]
	if d := fast.Report.WriteInterruption.Duration; d < ms(2090) || d > ms(2120) {
		t.Errorf("fast: got write interruption %v, want about 2.1s", d)
	}
	if d := stale.Report.WriteInterruption.Duration; d < ms(4490) || d > ms(4520) {
		t.Errorf("stale: got write interruption %v, want about 4.5s", d)
	}
	if r.WorstWorkload != "stale" || r.WriteInterruption != stale.Report.WriteInterruption {
		t.Errorf("got worst %q %+v, want stale's", r.WorstWorkload, r.WriteInterruption)
	}
	if r.Writes.Total != len(tl.Ops) {
		t.Errorf("got %d writes in the total, want every one (%d)", r.Writes.Total, len(tl.Ops))
	}
	if got := fast.Errors; got[ErrRefused] != 210 || len(got) != 1 {
		t.Errorf("fast: got errors %v, want refused 210", got)
	}
	if got := stale.Errors; got[ErrTimeout] != 400 || got[ErrReadonly] != 50 || len(got) != 2 {
		t.Errorf("stale: got errors %v, want timeout 400, READONLY 50", got)
	}
	// The switch is at 4.002s (the second Sentinel's, a majority); stale
	// wrote to redis1 from 4.010s to 5.990s: 199 writes, the last ending
	// 1.99s after the switch.
	if om := stale.OldMaster; om.Ops != 199 || om.For != ms(5992)-ms(4002) {
		t.Errorf("stale: got old master %+v, want 199 writes for 1.99s", om)
	}
	if om := fast.OldMaster; om.Ops != 0 {
		t.Errorf("fast: got old master %+v, want none", om)
	}
	if l := stale.Late; l.Count != 10 || l.OK != 10 || l.Max != ms(1500) {
		t.Errorf("stale: got late %+v, want 10 ok, 1.5s late", l)
	}
}

// An expectation with a workload's prefix tests that workload's own
// figures, not the worst's.
func TestAnExpectationOnAWorkloadTestsThatWorkload(t *testing.T) {
	tl := base()
	tl.Workloads = []timeline.Workload{{Name: "fast", Client: "proxy"}, {Name: "slow", Client: "command"}}
	killAt(tl, 2000)
	switchAllTo(tl, 4000, "redis2")
	wlWrites(tl, "fast", 0, 2000, timeline.ResultOK, "redis1", "")
	wlWrites(tl, "fast", 2000, 3000, timeline.ResultFail, "", "connection refused")
	wlWrites(tl, "fast", 3000, 10000, timeline.ResultOK, "redis2", "")
	wlWrites(tl, "slow", 0, 2000, timeline.ResultOK, "redis1", "")
	wlWrites(tl, "slow", 2000, 6000, timeline.ResultFail, "", "connection refused")
	wlWrites(tl, "slow", 6000, 10000, timeline.ResultOK, "redis2", "")
	tl.Sort()
	var exps []scenario.Expectation
	for _, raw := range []string{"fast.write_interruption <= 2s", "slow.write_interruption <= 2s", "write_interruption <= 2s", "nope.lost_writes == 0"} {
		e, err := scenario.ParseExpectation(raw)
		if err != nil {
			t.Fatal(err)
		}
		exps = append(exps, e)
	}
	r := Judge(tl, exps)
	for i, want := range []bool{true, false, false, false} {
		if got := r.Expectations[i]; got.Held != want {
			t.Errorf("%s: got held %v (measured %v, %s), want %v", got.Raw, got.Held, got.Measured, got.Unknown, want)
		}
	}
	if got := r.Expectations[1].Measured; got < 3.9 || got > 4.1 {
		t.Errorf("slow.write_interruption: got %vs, want about 4s (slow's own)", got)
	}
	if got := r.Expectations[3].Unknown; got != `no group or workload "nope" in the run` {
		t.Errorf("nope.lost_writes: got unknown %q, want no such group or workload", got)
	}
}

func TestOneWorkloadRunsHaveNoWorkloadReports(t *testing.T) {
	tl := base()
	writes(tl, 0, 1000, timeline.ResultOK, "redis1")
	if r := Judge(tl, nil); len(r.Workloads) != 0 || r.WorstWorkload != "" {
		t.Errorf("got %+v, want no workload reports", r.Workloads)
	}
}

func TestErrorKinds(t *testing.T) {
	for err, want := range map[string]string{
		"READONLY You can't write against a read only replica.":        ErrReadonly,
		"LOADING Redis is loading the dataset in memory":               ErrLoading,
		"MASTERDOWN Link with MASTER is down":                          ErrMasterDown,
		"NOAUTH Authentication required.":                              ErrNoAuth,
		"dial tcp 127.0.0.1:1: connect: connection refused":            ErrRefused,
		"Error 111 connecting to 127.0.0.1:37083. Connection refused.": ErrRefused,
		"read tcp: i/o timeout":                                        ErrTimeout,
		"Timeout reading from socket":                                  ErrTimeout,
		"context deadline exceeded":                                    ErrTimeout,
		"no answer within the timeout":                                 ErrTimeout,
		"read: connection reset by peer":                               ErrOther,
		"No master found for 'mymaster'":                               ErrOther,
	} {
		if got := ErrorKind(timeline.Op{Err: err}); got != want {
			t.Errorf("%q: got %s, want %s", err, got, want)
		}
	}
}

package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/verdict"
)

// A run with several workloads is compared with the model through its
// first workload (the one the model describes), not the worst, and the
// output says so.
func TestTheModelComparisonOfSeveralWorkloadsIsTheFirstWorkloads(t *testing.T) {
	s, err := scenario.Parse("s.yaml", []byte("workloads:\n  - {name: quick}\n  - {name: slow, client: go-redis-sentinel}\n"+
		"faults: [{at: 10s, action: kill, target: master}]\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	run := mkWorkloadsRun(5 * time.Second)
	r := verdict.Judge(run.Timeline, nil)
	if r.WorstWorkload != "slow" {
		t.Fatalf("got worst workload %q, want slow", r.WorstWorkload)
	}
	var out bytes.Buffer
	cs := reportModel(&out, s, run.Timeline, r)
	if !strings.Contains(out.String(), "The model describes the first workload, quick (proxy): its figures are compared, not the worst workload's (slow).") {
		t.Errorf("got\n%s\nwant it to say the first workload is compared", out.String())
	}
	quick := r.Workloads[0].Report.WriteInterruption.Duration
	if len(cs) == 0 || cs[0].Measured != quick || quick == r.WriteInterruption.Duration {
		t.Errorf("got comparisons %+v, want the write interruption of quick (%v), not the worst (%v)", cs, quick, r.WriteInterruption.Duration)
	}
}

// One workload: the comparison is the run's, with no such line.
func TestTheModelComparisonOfOneWorkloadSaysNothingOfWorkloads(t *testing.T) {
	s, err := scenario.Parse("s.yaml", []byte("faults: [{at: 10s, action: kill, target: master}]\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	run := mkRun("memory", 3*time.Second)
	r := verdict.Judge(run.Timeline, nil)
	var out bytes.Buffer
	cs := reportModel(&out, s, run.Timeline, r)
	if strings.Contains(out.String(), "workload") || len(cs) == 0 || cs[0].Measured != r.WriteInterruption.Duration {
		t.Errorf("got\n%s\n%+v, want the run's comparison and no word of workloads", out.String(), cs)
	}
}

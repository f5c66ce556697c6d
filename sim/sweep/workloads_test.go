package sweep_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/sim"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/sweep"
	"github.com/redisha-sim/redisha-sim/sim/verdict"
)

const twoWorkloads = "workloads:\n  - {name: app, client: proxy}\n  - {name: gr, client: go-redis-sentinel}\n" +
	"faults: [{at: 5s, action: kill, target: master}]\n"

// workloadsResult is result with a workload per interruption, named app
// and gr, and the total taking the worst.
func workloadsResult(app, gr time.Duration, grLost int) *sim.Result {
	total := result(max(app, gr), grLost)
	a, g := result(app, 0).Report, result(gr, grLost).Report
	total.Report.Workloads = []verdict.WorkloadReport{{Name: "app", Client: "proxy", Report: a}, {Name: "gr", Client: "go-redis-sentinel", Report: g}}
	return total
}

// A sweep of a scenario with two workloads records each workload's
// figures as "<workload>.<metric>" and summarises them per point.
func TestSweepOfTwoWorkloadsSummarisesEachWorkload(t *testing.T) {
	run := func(_ context.Context, s *scenario.Scenario, _ time.Duration) (*sim.Result, error) {
		da := s.Sentinel.DownAfter.D
		return workloadsResult(da, da+time.Second, 2), nil
	}
	load := func(sets []string) (*scenario.Scenario, error) {
		return scenario.Parse("s.yaml", []byte(twoWorkloads), sets)
	}
	res, err := sweep.Sweep(t.Context(), sweep.Options{Sets: []string{"sentinel.down_after=2s,3s"}, Repeat: 2, Parallel: 1, Load: load, Run: run})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"app", "gr"}
	for i, p := range res.Points {
		if !slices.Equal(p.Workloads, want) || p.Groups != nil {
			t.Errorf("point %d: got workloads %q groups %q, want %q and no groups", i, p.Workloads, p.Groups, want)
		}
	}
	for _, r := range res.Runs {
		if !slices.Equal(r.Workloads, want) {
			t.Errorf("run %d/%d: got workloads %q, want %q", r.Point, r.Repeat, r.Workloads, want)
		}
	}
	three := res.Points[1]
	for name, median := range map[string]float64{"app.write_interruption": 3, "gr.write_interruption": 4, "write_interruption": 4, "gr.lost_writes": 2, "app.lost_writes": 0} {
		if got := three.Stats[name]; got.N != 2 || got.Median != median {
			t.Errorf("%s at 3s: got %+v, want 2 runs, median %v", name, got, median)
		}
	}
	if got, want := slices.Sorted(maps.Keys(three.Stats)), slices.Sorted(slices.Values(three.StatNames())); !slices.Equal(got, want) || len(got) != len(sweep.Metrics)+1+2*len(sweep.WorkloadMetrics) {
		t.Errorf("stats: got %q, want the metrics and %d per workload", got, len(sweep.WorkloadMetrics))
	}
}

// With one workload a sweep records no workload figures.
func TestSweepOfOneWorkloadRecordsNoWorkloadFigures(t *testing.T) {
	run := func(context.Context, *scenario.Scenario, time.Duration) (*sim.Result, error) {
		return result(2*time.Second, 1), nil
	}
	load := func(sets []string) (*scenario.Scenario, error) {
		return scenario.Parse("s.yaml", []byte("workloads: [{name: app}]\nfaults: [{at: 5s, action: kill, target: master}]\n"), sets)
	}
	res, err := sweep.Sweep(t.Context(), sweep.Options{Repeat: 1, Load: load, Run: run})
	if err != nil {
		t.Fatal(err)
	}
	if p := res.Points[0]; p.Workloads != nil || len(p.Stats) != len(sweep.Metrics)+1 {
		t.Errorf("got workloads %q and %d stats, want none and %d", p.Workloads, len(p.Stats), len(sweep.Metrics)+1)
	}
}

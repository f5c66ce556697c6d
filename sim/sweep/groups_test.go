package sweep_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/sim"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/sweep"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
	"github.com/redisha-sim/redisha-sim/sim/verdict"
)

const threeSets = "../../scenarios/three-sets-host-kill.yaml"

// groupFigures are one group's figures in a fake run.
type groupFigures struct {
	interruption time.Duration
	recovered    bool
	switched     bool
	lost         int
}

// groupsResult is a finished run with a group per figures, named group1,
// group2, ..., and the total as verdict.Judge makes it: the worst group's
// interruption (one that did not recover first), switch and proxy share,
// lost writes and failovers summed.
func groupsResult(figs ...groupFigures) *sim.Result {
	total := &verdict.Report{Fault: &timeline.Event{}, FalseDown: verdict.FalseDown{Checked: true}, Lost: verdict.LostWrites{Checked: true}}
	worst := -1
	for i, f := range figs {
		g := &verdict.Report{
			Fault:             &timeline.Event{},
			WriteInterruption: verdict.Interruption{Interrupted: true, Recovered: f.recovered, Duration: f.interruption},
			Lost:              verdict.LostWrites{Checked: true, Lost: f.lost},
			TwoMaster:         verdict.TwoMaster{Total: time.Duration(i+1) * 100 * time.Millisecond},
			Failovers:         1,
			FalseDown:         verdict.FalseDown{Checked: true},
		}
		if f.switched {
			g.Phases = []verdict.Phase{{Name: "+switch-master", Found: true}}
			g.ProxyShare = f.interruption / 4
		}
		total.Groups = append(total.Groups, verdict.GroupReport{Name: fmt.Sprintf("group%d", i+1), MasterName: fmt.Sprintf("group%d", i+1), Report: g})
		total.Lost.Lost += f.lost
		total.Failovers += g.Failovers
		if total.TwoMaster.Total < g.TwoMaster.Total {
			total.TwoMaster = g.TwoMaster
		}
		if worst < 0 || worse(f, figs[worst]) {
			worst = i
		}
	}
	wg := total.Groups[worst].Report
	total.Worst, total.WriteInterruption, total.Phases, total.ProxyShare = total.Groups[worst].Name, wg.WriteInterruption, wg.Phases, wg.ProxyShare
	return &sim.Result{Timeline: &timeline.Timeline{}, Report: total}
}

// worse reports whether a cut writes off longer than b: one that did not
// recover is worse than any that did.
func worse(a, b groupFigures) bool {
	if a.recovered != b.recovered {
		return !a.recovered
	}
	return a.interruption > b.interruption
}

// A sweep of a scenario with three groups records each group's figures
// as "<group>.<metric>" and summarises them per point next to the total
// (the worst group's interruption, the counts summed); a group that did
// not recover, or had no switch, leaves its figure out, with why.
func TestSweepOfThreeGroupsSummarisesEachGroup(t *testing.T) {
	var mu sync.Mutex
	calls := map[time.Duration]int{}
	run := func(_ context.Context, s *scenario.Scenario, _ time.Duration) (*sim.Result, error) {
		mu.Lock()
		defer mu.Unlock()
		da := s.Sentinel.DownAfter.D
		calls[da]++
		n := time.Duration(calls[da])
		// group1: n x down-after; group2: n x down-after + 1s, no switch;
		// group3: n x 1s, not recovered in the third run at 3s.
		return groupsResult(
			groupFigures{interruption: n * da, recovered: true, switched: true, lost: 1},
			groupFigures{interruption: n*da + time.Second, recovered: true, lost: 2},
			groupFigures{interruption: n * time.Second, recovered: !(da == 3*time.Second && n == 3), switched: true, lost: 3},
		), nil
	}
	load := func(sets []string) (*scenario.Scenario, error) { return scenario.Load(threeSets, sets) }
	res, err := sweep.Sweep(t.Context(), sweep.Options{Sets: []string{"sentinel.down_after=2s,3s"}, Repeat: 3, Parallel: 2, Load: load, Run: run})
	if err != nil {
		t.Fatal(err)
	}
	groups := []string{"group1", "group2", "group3"}
	for i, p := range res.Points {
		if !slices.Equal(p.Groups, groups) {
			t.Errorf("point %d: got groups %q, want %q", i, p.Groups, groups)
		}
	}
	for _, r := range res.Runs {
		if !slices.Equal(r.Groups, groups) {
			t.Errorf("run %d/%d: got groups %q, want %q", r.Point, r.Repeat, r.Groups, groups)
		}
	}
	two, three := res.Points[0], res.Points[1]
	check := func(p sweep.PointResult, name string, want sweep.Summary) {
		t.Helper()
		got := p.Stats[name]
		if got.N != want.N || got.Median != want.Median || got.Max != want.Max {
			t.Errorf("%s at %s: got %+v, want n %d, median %v, max %v", name, p.Sets[0], got, want.N, want.Median, want.Max)
		}
	}
	check(two, "group1.write_interruption", sweep.Summary{N: 3, Median: 4, Max: 6})
	check(two, "group2.write_interruption", sweep.Summary{N: 3, Median: 5, Max: 7})
	check(two, "group3.write_interruption", sweep.Summary{N: 3, Median: 2, Max: 3})
	check(two, "write_interruption", sweep.Summary{N: 3, Median: 5, Max: 7})
	check(two, "group1.proxy_share", sweep.Summary{N: 3, Median: 1, Max: 1.5})
	check(two, "group2.proxy_share", sweep.Summary{})
	check(two, "group3.lost_writes", sweep.Summary{N: 3, Median: 3, Max: 3})
	check(two, "lost_writes", sweep.Summary{N: 3, Median: 6, Max: 6})
	check(two, "group2.two_master_window", sweep.Summary{N: 3, Median: 0.2, Max: 0.2})
	check(two, "group1.failovers", sweep.Summary{N: 3, Median: 1, Max: 1})
	check(two, "failovers", sweep.Summary{N: 3, Median: 3, Max: 3})
	// At 3s group3's third run never recovered: the worst group, so the
	// total's interruption is unknown too.
	check(three, "group3.write_interruption", sweep.Summary{N: 2, Median: 1.5, Max: 2})
	check(three, "write_interruption", sweep.Summary{N: 2, Median: 5.5, Max: 7})
	check(three, "group2.write_interruption", sweep.Summary{N: 3, Median: 7, Max: 10})
	// The runs go two at a time: which repeat was the third call is not
	// known, so look for the one run that did not recover.
	var unrecovered []sweep.Run
	for _, r := range res.Runs {
		if !r.Recovered {
			unrecovered = append(unrecovered, r)
		}
	}
	if len(unrecovered) != 1 || unrecovered[0].Point != 1 || unrecovered[0].Unknown["group3.write_interruption"] != "writes never recovered" ||
		unrecovered[0].Unknown["write_interruption"] != "writes never recovered" {
		t.Errorf("got unrecovered runs %+v, want one, at 3s, with group3's and the total's interruption unknown", unrecovered)
	}
	if got := res.Runs[0].Unknown["group2.proxy_share"]; got != "no +switch-master" {
		t.Errorf("group2's proxy share: got unknown %q, want no +switch-master", got)
	}
	if got, want := slices.Sorted(maps.Keys(two.Stats)), slices.Sorted(slices.Values(two.StatNames())); !slices.Equal(got, want) || len(got) != len(sweep.Metrics)+2+3*len(sweep.GroupMetrics) {
		t.Errorf("stats: got %q, want the metrics, failovers and five per group", got)
	}
}

// With one group a sweep records no group figures: its stats are
// Metrics alone, as before sweeps knew of groups.
func TestSweepOfOneGroupRecordsNoGroupFigures(t *testing.T) {
	run := func(context.Context, *scenario.Scenario, time.Duration) (*sim.Result, error) {
		return result(2*time.Second, 1), nil
	}
	res, err := sweep.Sweep(t.Context(), sweep.Options{Sets: []string{"proxy.inter=1s,2s"}, Repeat: 1, Load: load, Run: run})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Points {
		if p.Groups != nil || len(p.Stats) != len(sweep.Metrics)+1 {
			t.Errorf("%s: got groups %q and %d stats, want none and %d", p.Sets, p.Groups, len(p.Stats), len(sweep.Metrics)+1)
		}
	}
	for _, r := range res.Runs {
		if r.Groups != nil || len(r.Metrics)+len(r.Unknown) != len(sweep.Metrics)+1 {
			t.Errorf("run %d: got groups %q, metrics %v, unknown %v; want no groups, only Metrics", r.Point, r.Groups, r.Metrics, r.Unknown)
		}
	}
}

// The model's band comes per group and for the worst group, the one the
// total is compared with.
func TestSweepOfThreeGroupsPutsEachGroupsModelBand(t *testing.T) {
	run := func(context.Context, *scenario.Scenario, time.Duration) (*sim.Result, error) {
		f := groupFigures{interruption: 8 * time.Second, recovered: true, switched: true}
		return groupsResult(f, f, f), nil
	}
	load := func(sets []string) (*scenario.Scenario, error) { return scenario.Load(threeSets, sets) }
	res, err := sweep.Sweep(t.Context(), sweep.Options{Repeat: 1, Trials: 50, Load: load, Run: run})
	if err != nil {
		t.Fatal(err)
	}
	p := res.Points[0]
	if p.Model == nil || p.Prediction == nil {
		t.Fatalf("got no model (%s), want one", p.NoModel)
	}
	for _, k := range []string{"group1.write_interruption", "group3.switch_master", "worst.write_interruption", "write_interruption"} {
		if p.Model.Metrics[k].N == 0 {
			t.Errorf("model %s: got %+v, want a distribution", k, p.Model.Metrics[k])
		}
	}
	worst, _ := sweep.WorstInterruption(p.Prediction)
	for i := range 3 {
		g, _, ok := sweep.GroupInterruption(p.Prediction, i)
		if !ok || g.P50 > worst.P50 {
			t.Errorf("group %d: got %v (ok %v), want a band whose median is at most the worst group's %v", i+1, g.P50, ok, worst.P50)
		}
	}
	if _, _, ok := sweep.GroupInterruption(p.Prediction, 3); ok {
		t.Error("a fourth group: got a band, want none")
	}
}

package sweep_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/sim"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/sweep"
)

// tuneOptions tunes master-kill with few model trials, so the tests stay
// quick.
func tuneOptions(budget time.Duration, repeat int, run sweep.RunFunc) sweep.TuneOptions {
	return sweep.TuneOptions{Budget: budget, Sets: []string{"sentinel.down_after=2s"}, Repeat: repeat, Parallel: 2,
		Trials: 20, FinalTrials: 50, Load: load, Run: run,
		Inters: []time.Duration{250 * time.Millisecond, time.Second, 2 * time.Second, 5 * time.Second}, Rises: []int{2}, Falls: []int{2, 3}}
}

func TestScreenRanksCandidatesByCheckLoadAndKeepsThoseWithinBudget(t *testing.T) {
	screened := 0
	opt := tuneOptions(5*time.Second, 0, nil)
	opt.Screening = func(n int) { screened = n }
	tu, err := sweep.Screen(opt)
	if err != nil {
		t.Fatal(err)
	}
	// 4 inters, fastinter equal or half, 1 rise, 2 falls.
	if screened != 16 || len(tu.Candidates) != 16 {
		t.Errorf("got %d screened and %d candidates, want 16", screened, len(tu.Candidates))
	}
	if tu.Base.Sentinel.DownAfter.D != 2*time.Second {
		t.Errorf("base: got down-after %v, want the caller's 2s", tu.Base.Sentinel.DownAfter.D)
	}
	for i, c := range tu.Candidates {
		if i > 0 && c.Load < tu.Candidates[i-1].Load {
			t.Errorf("candidate %d (%s): load %v below the previous one's %v, want them by load", i, c, c.Load, tu.Candidates[i-1].Load)
		}
		if c.Scenario.Proxy.Inter.D != c.Inter || c.Scenario.Proxy.Fall != c.Fall || c.Scenario.Sentinel.DownAfter.D != 2*time.Second {
			t.Errorf("%s: got a scenario with inter %v, fall %d, down-after %v; want the candidate's settings after the caller's",
				c, c.Scenario.Proxy.Inter.D, c.Scenario.Proxy.Fall, c.Scenario.Sentinel.DownAfter.D)
		}
		if feasible := c.P95() <= opt.Budget && c.Risk == ""; feasible != slices.Contains(tu.Feasible, c) {
			t.Errorf("%s: p95 %v, risk %q: got feasible %v, want %v", c, c.P95(), c.Risk, !feasible, feasible)
		}
	}
	if len(tu.Feasible) == 0 || len(tu.Feasible) == len(tu.Candidates) {
		t.Errorf("got %d of %d candidates feasible, want some but not all", len(tu.Feasible), len(tu.Candidates))
	}
	closest := tu.Closest()
	for i := 1; i < len(closest); i++ {
		if closest[i].P95() < closest[i-1].P95() {
			t.Fatalf("closest: %s before %s, want them by p95", closest[i-1], closest[i])
		}
	}
}

func TestScreenSaysWhenSentinelAloneExceedsTheBudget(t *testing.T) {
	opt := tuneOptions(3*time.Second, 0, nil)
	opt.Sets = nil // down-after 5s
	tu, err := sweep.Screen(opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(tu.Feasible) != 0 {
		t.Fatalf("got %d feasible candidates, want none", len(tu.Feasible))
	}
	if msg := tu.Infeasible(); !strings.HasPrefix(msg, "No check setting meets 3s") || !strings.Contains(msg, "Sentinel alone needs") ||
		!strings.Contains(msg, "down-after 5s") {
		t.Errorf("got %q, want it to say Sentinel's down-after 5s alone takes longer", msg)
	}
}

func TestScreenRefusesTooFewTrials(t *testing.T) {
	opt := tuneOptions(3*time.Second, 0, nil)
	opt.Trials = 19
	if _, err := sweep.Screen(opt); !errors.Is(err, sweep.ErrBadInput) || !strings.Contains(err.Error(), "--trials 19") {
		t.Errorf("got %v, want a bad-input error naming --trials", err)
	}
}

func TestChooseWithoutRunsTakesTheCheapestFeasible(t *testing.T) {
	tu, err := sweep.Screen(tuneOptions(5*time.Second, 0, nil))
	if err != nil {
		t.Fatal(err)
	}
	c, err := tu.Choose(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if c != tu.Feasible[0] || c.Prediction.Trials != 50 || len(c.Runs) != 0 {
		t.Errorf("got %v with %d trials and %d runs, want %s with the finalists' 50 trials and no runs", c, c.Prediction.Trials, len(c.Runs), tu.Feasible[0])
	}
}

// Without measured runs too, a finalist whose final prediction misses the
// budget is passed over (the screening's few trials can put a p95 just
// under it): the recommendation always meets the budget it is for.
func TestChooseWithoutRunsPassesOverAFinalistWhoseFinalPredictionMissesTheBudget(t *testing.T) {
	tu, err := sweep.Screen(tuneOptions(5*time.Second, 0, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(tu.Feasible) < 2 {
		t.Fatalf("got %d feasible candidates, want at least 2", len(tu.Feasible))
	}
	// Make the cheapest finalist's final prediction miss the budget: with
	// down-after 10 s Sentinel alone takes longer than 5 s.
	first := tu.Feasible[0]
	first.Params.DownAfter = 10 * time.Second
	c, err := tu.Choose(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if c == nil || c == first {
		t.Fatalf("got %v, want a candidate other than %s", c, first)
	}
	if c.P95() > 5*time.Second {
		t.Errorf("got %s with p95 %v, want one within the 5s budget", c, c.P95())
	}
}

// The first candidate measured over the budget is rejected and the next
// one measured; the recommendation is the one that held.
func TestChooseRejectsACandidateMeasuredOverTheBudget(t *testing.T) {
	var (
		mu  sync.Mutex
		bad *scenario.Scenario
	)
	run := func(_ context.Context, s *scenario.Scenario, jitter time.Duration) (*sim.Result, error) {
		mu.Lock()
		defer mu.Unlock()
		if jitter != 2*time.Second {
			t.Errorf("jitter: got %v, want 2s", jitter)
		}
		if s == bad {
			return result(20*time.Second, 0), nil
		}
		return result(time.Second, 0), nil
	}
	opt := tuneOptions(5*time.Second, 3, run)
	var measured, rejected []*sweep.Candidate
	opt.Measuring = func(c *sweep.Candidate) {
		mu.Lock()
		defer mu.Unlock()
		if bad == nil {
			bad = c.Scenario
		}
		measured = append(measured, c)
	}
	opt.Rejected = func(c *sweep.Candidate) { rejected = append(rejected, c) }
	tu, err := sweep.Screen(opt)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tu.Choose(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(measured) != 2 || len(rejected) != 1 || rejected[0] != measured[0] || c != measured[1] {
		t.Fatalf("got %d measured, %d rejected, chosen %v; want the first measured rejected and the second chosen", len(measured), len(rejected), c)
	}
	if got := rejected[0].Measured; got.N != 3 || got.P95 != 20 {
		t.Errorf("rejected: got %+v, want 3 runs at 20s", got)
	}
	if got := c.Measured; got.N != 3 || got.Median != 1 || got.P95 != 1 || len(c.Runs) != 3 || c.FalseDown != 0 {
		t.Errorf("chosen: got %+v over %d runs, %v false DOWN marks; want 3 runs at 1s, none", got, len(c.Runs), c.FalseDown)
	}
	rec := tu.Recommendation(c)
	for _, want := range []string{"Recommended: " + c.String(), "Measured (3 runs on memory): write interruption median 1.00s, p95 1.00s",
		"    backend back_redis_master1\n", "default-server inter " + sweep.HAProxyDuration(c.Inter)} {
		if !strings.Contains(rec, want) {
			t.Errorf("recommendation: got\n%s\nwant it to contain %q", rec, want)
		}
	}
}

func TestChooseStopsAtAFailedRun(t *testing.T) {
	run := func(context.Context, *scenario.Scenario, time.Duration) (*sim.Result, error) {
		return nil, errors.New("boom")
	}
	tu, err := sweep.Screen(tuneOptions(5*time.Second, 2, run))
	if err != nil {
		t.Fatal(err)
	}
	c, err := tu.Choose(t.Context())
	if c != nil || err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("got %v and %v, want no candidate and the run's error", c, err)
	}
}

func TestMasterBackendNameIsTheConfigurationsMasterBackend(t *testing.T) {
	s, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := sweep.MasterBackendName(s); got != "back_redis_master1" {
		t.Errorf("got %q, want back_redis_master1 (scenarios/haproxy-seed.cfg)", got)
	}
}

// With several groups tune judges the model and the runs on the worst
// group, trial by trial and run by run, and says so; the recommendation
// sets every group's master backend.
func TestTuneOfThreeGroupsJudgesTheWorstGroup(t *testing.T) {
	run := func(context.Context, *scenario.Scenario, time.Duration) (*sim.Result, error) {
		return groupsResult(
			groupFigures{interruption: time.Second, recovered: true, switched: true},
			groupFigures{interruption: 3 * time.Second, recovered: true, switched: true},
			groupFigures{interruption: 2 * time.Second, recovered: true, switched: true},
		), nil
	}
	opt := tuneOptions(8*time.Second, 2, run)
	opt.Load = func(sets []string) (*scenario.Scenario, error) { return scenario.Load(threeSets, sets) }
	tu, err := sweep.Screen(opt)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tu.Groups, []string{"group1", "group2", "group3"}) {
		t.Fatalf("got groups %q, want group1..group3", tu.Groups)
	}
	for _, c := range tu.Candidates {
		if len(c.Prediction.Groups) != 3 {
			t.Fatalf("%s: got a prediction of %d groups, want 3", c, len(c.Prediction.Groups))
		}
		d, unrecovered := c.Interruption()
		if d != c.Prediction.Worst.Interruption || unrecovered != c.Prediction.Worst.Unrecovered {
			t.Errorf("%s: got %+v (%d never recovered), want the worst group's %+v (%d)", c, d, unrecovered, c.Prediction.Worst.Interruption, c.Prediction.Worst.Unrecovered)
		}
		if unrecovered == 0 && c.P95() != c.Prediction.Worst.Interruption.P95 {
			t.Errorf("%s: got p95 %v, want the worst group's %v", c, c.P95(), c.Prediction.Worst.Interruption.P95)
		}
	}
	c, err := tu.Choose(t.Context())
	if err != nil || c == nil {
		t.Fatalf("got %v and %v, want a candidate", c, err)
	}
	if c.Measured.N != 2 || c.Measured.Median != 3 {
		t.Errorf("measured: got %+v, want 2 runs at group2's 3s", c.Measured)
	}
	if got := c.GroupMeasured["group1"]; got.N != 2 || got.Median != 1 {
		t.Errorf("group1 measured: got %+v, want 2 runs at 1s", got)
	}
	rec := tu.Recommendation(c)
	for _, want := range []string{"Judged on the worst of the 3 groups (group1, group2, group3)", "worst group's write interruption p5",
		"Model by group: group1 p50", "Measured (2 runs on memory): worst group's write interruption median 3.00s",
		"Measured by group: group1 median 1.00s p95 1.00s; group2 median 3.00s", "every group's master backend",
		"    backend back_redis_master1\n", "    backend back_redis_master3\n"} {
		if !strings.Contains(rec, want) {
			t.Errorf("recommendation: got\n%s\nwant it to contain %q", rec, want)
		}
	}
}

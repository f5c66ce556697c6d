package sweep_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/sim"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/sweep"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
	"github.com/redisha-sim/redisha-sim/sim/verdict"
)

const masterKill = "../../scenarios/master-kill.yaml"

// load loads master-kill with the given settings, as the command's loader
// does.
func load(sets []string) (*scenario.Scenario, error) { return scenario.Load(masterKill, sets) }

// result is a finished run as the engine reports it: a fault, writes
// interrupted for it and recovered, lost writes read back, no false DOWN
// marks.
func result(interruption time.Duration, lost int) *sim.Result {
	return &sim.Result{
		Timeline: &timeline.Timeline{},
		Report: &verdict.Report{
			Fault:             &timeline.Event{},
			WriteInterruption: verdict.Interruption{Interrupted: true, Recovered: true, Duration: interruption},
			Lost:              verdict.LostWrites{Checked: true, Lost: lost},
			FalseDown:         verdict.FalseDown{Checked: true},
		},
	}
}

// noRun fails the test if a run is started.
func noRun(t *testing.T) sweep.RunFunc {
	t.Helper()
	return func(context.Context, *scenario.Scenario, time.Duration) (*sim.Result, error) {
		t.Error("a run started, want none")
		return nil, errors.New("no run expected")
	}
}

func TestParseAxesSplitsSweptFromFixedSettings(t *testing.T) {
	fixed, axes, err := sweep.ParseAxes([]string{"proxy.inter=250ms,500ms", "sentinel.down_after=1s", "proxy.rise=1,2"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(fixed, []string{"sentinel.down_after=1s"}) {
		t.Errorf("fixed: got %q, want [sentinel.down_after=1s]", fixed)
	}
	if len(axes) != 2 || axes[0].Key != "proxy.inter" || axes[1].Key != "proxy.rise" || len(axes[1].Values) != 2 {
		t.Errorf("axes: got %+v, want proxy.inter and proxy.rise with two values each", axes)
	}
	pts := sweep.Grid(axes)
	if len(pts) != 4 || pts[0].Label() != "proxy.inter=250ms proxy.rise=1" || pts[1].Label() != "proxy.inter=250ms proxy.rise=2" ||
		pts[3].Label() != "proxy.inter=500ms proxy.rise=2" {
		t.Errorf("grid: got %d points, first %q, second %q, last %q; want 4, the first axis varying slowest", len(pts), pts[0].Label(), pts[1].Label(), pts[len(pts)-1].Label())
	}
	if !slices.Equal(pts[2].Values, []string{"500ms", "1"}) {
		t.Errorf("values of the third point: got %q, want [500ms 1]", pts[2].Values)
	}
}

func TestGridWithoutAxesIsOnePointWithNoSettings(t *testing.T) {
	pts := sweep.Grid(nil)
	if len(pts) != 1 || len(pts[0].Sets) != 0 || pts[0].Label() != "" {
		t.Errorf("got %+v, want one empty point", pts)
	}
}

func TestParseAxesRejectsMalformedSettings(t *testing.T) {
	for _, bad := range [][]string{{"proxy.inter"}, {"=1s"}, {"proxy.inter=1s,,2s"}, {"proxy.inter=1s,2s", "proxy.inter=3s,4s"}} {
		_, _, err := sweep.ParseAxes(bad)
		if !errors.Is(err, sweep.ErrBadInput) || !strings.HasPrefix(err.Error(), "--set ") {
			t.Errorf("%q: got %v, want a bad-input error naming the --set", bad, err)
		}
	}
}

// The p95 interpolates between the closest ranks (sim/stats), as the
// model's band does: over five runs it lies between the two largest.
func TestSummariseTakesMedianAndInterpolatedP95(t *testing.T) {
	s := sweep.Summarise([]float64{5, 1, 3, 2, 4})
	if s.N != 5 || s.Median != 3 || math.Abs(s.P95-4.8) > 1e-9 || s.Max != 5 {
		t.Errorf("got %+v, want n 5, median 3, p95 4.8, max 5", s)
	}
	if s := sweep.Summarise([]float64{1, 2}); s.Median != 1.5 {
		t.Errorf("even count: got median %v, want 1.5", s.Median)
	}
	if s := sweep.Summarise(nil); s != (sweep.Summary{}) {
		t.Errorf("no values: got %+v, want the zero summary", s)
	}
}

func TestHAProxyDurationWritesHAProxyDurations(t *testing.T) {
	for in, want := range map[time.Duration]string{time.Second: "1s", 250 * time.Millisecond: "250ms", 1500 * time.Millisecond: "1500ms"} {
		if got := sweep.HAProxyDuration(in); got != want {
			t.Errorf("%v: got %s, want %s", in, got, want)
		}
	}
}

// A bad value anywhere in the grid fails the sweep before any run.
func TestSweepValidatesEveryPointBeforeRunning(t *testing.T) {
	_, err := sweep.Sweep(t.Context(), sweep.Options{Sets: []string{"proxy.inter=1s,bogus"}, Repeat: 1, Load: load, Run: noRun(t)})
	var errs scenario.Errors
	if !errors.As(err, &errs) {
		t.Errorf("got %v, want the scenario's errors", err)
	}
}

func TestSweepRefusesBadSettingsBeforeLoading(t *testing.T) {
	for _, c := range []struct {
		name string
		opt  sweep.Options
		flag string
	}{
		{"no repeat", sweep.Options{Repeat: 0}, "--repeat"},
		{"negative jitter", sweep.Options{Repeat: 1, Jitter: -time.Second}, "--start-jitter"},
		{"parallel container runs", sweep.Options{Repeat: 1, Parallel: 2, Sets: []string{"backend=docker"}}, "--parallel"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.opt.Load, c.opt.Run = load, noRun(t)
			_, err := sweep.Sweep(t.Context(), c.opt)
			if !errors.Is(err, sweep.ErrBadInput) || !strings.Contains(err.Error(), c.flag) {
				t.Errorf("got %v, want a bad-input error naming %s", err, c.flag)
			}
		})
	}
}

// Every point runs Repeat times, one at a time or in parallel; the runs
// come back in order and each point's figures are summarised from its
// own runs, failed runs counted apart.
func TestSweepRunsEveryPointAndSummarisesItsRuns(t *testing.T) {
	for _, parallel := range []int{1, 3} {
		t.Run(fmt.Sprintf("parallel %d", parallel), func(t *testing.T) {
			var mu sync.Mutex
			calls := map[time.Duration]int{}
			run := func(_ context.Context, s *scenario.Scenario, jitter time.Duration) (*sim.Result, error) {
				if jitter != 3*time.Second {
					t.Errorf("jitter: got %v, want 3s", jitter)
				}
				mu.Lock()
				defer mu.Unlock()
				inter := s.Proxy.Inter.D
				calls[inter]++
				n := calls[inter]
				if inter == 2*time.Second && n == 3 {
					return nil, errors.New("boom")
				}
				// Interruption: the point's inter times the repeat's number.
				return result(time.Duration(n)*inter, n), nil
			}
			var started, done int
			res, err := sweep.Sweep(t.Context(), sweep.Options{
				Sets: []string{"proxy.inter=1s,2s", "sentinel.down_after=1s"}, Repeat: 3, Parallel: parallel, Jitter: 3 * time.Second,
				Load: load, Run: run,
				Started: func(total, par int, guess time.Duration) {
					started++
					if total != 6 || par != parallel || guess <= 0 {
						t.Errorf("started: got %d runs, parallel %d, guess %v; want 6, %d, a positive guess", total, par, guess, parallel)
					}
				},
				Done: func(sweep.Run) { done++ },
			})
			if err != nil {
				t.Fatal(err)
			}
			if started != 1 || done != 6 {
				t.Errorf("progress: got %d start(s) and %d run(s) done, want 1 and 6", started, done)
			}
			if res.Scenario != "master-kill" || res.Backend != "memory" || !slices.Equal(res.Axes, []string{"proxy.inter"}) || len(res.Points) != 2 {
				t.Fatalf("got scenario %q backend %q axes %q and %d points, want master-kill, memory, [proxy.inter], 2", res.Scenario, res.Backend, res.Axes, len(res.Points))
			}
			for i, r := range res.Runs {
				if r.Point != i/3 || r.Repeat != i%3 {
					t.Errorf("run %d: got point %d repeat %d, want %d and %d", i, r.Point, r.Repeat, i/3, i%3)
				}
			}
			if s := res.Points[0].Scenario; s.Sentinel.DownAfter.D != time.Second {
				t.Errorf("fixed setting: got down-after %v, want 1s", s.Sentinel.DownAfter.D)
			}
			one, two := res.Points[0], res.Points[1]
			if one.Runs != 3 || one.Failed != 0 || two.Runs != 3 || two.Failed != 1 {
				t.Errorf("got %d runs (%d failed) and %d runs (%d failed), want 3 (0) and 3 (1)", one.Runs, one.Failed, two.Runs, two.Failed)
			}
			if got, want := one.Stats["write_interruption"], (sweep.Summary{N: 3, Median: 2, P95: 2.9, Max: 3}); math.Abs(got.P95-want.P95) > 1e-9 ||
				got.N != want.N || got.Median != want.Median || got.Max != want.Max {
				t.Errorf("inter 1s: got %+v, want %+v", got, want)
			}
			if got := two.Stats["write_interruption"]; got.N != 2 || got.Median != 3 || got.Max != 4 {
				t.Errorf("inter 2s: got %+v, want n 2, median 3s, max 4s (the failed run left out)", got)
			}
			if got := one.Stats["lost_writes"]; got.N != 3 || got.Median != 2 {
				t.Errorf("lost writes: got %+v, want n 3, median 2", got)
			}
			if got := one.Stats["check_rate"]; got.N != 0 {
				t.Errorf("check rate, never measured: got %+v, want n 0", got)
			}
			if one.Prediction != nil || one.Model != nil {
				t.Errorf("got a model with no trials asked")
			}
		})
	}
}

func TestSweepPutsTheModelsBandNextToEachPoint(t *testing.T) {
	run := func(context.Context, *scenario.Scenario, time.Duration) (*sim.Result, error) {
		return result(7*time.Second, 0), nil
	}
	res, err := sweep.Sweep(t.Context(), sweep.Options{Sets: []string{"proxy.inter=500ms,2s"}, Repeat: 1, Trials: 50, Load: load, Run: run})
	if err != nil {
		t.Fatal(err)
	}
	fast, slow := res.Points[0], res.Points[1]
	if fast.Prediction == nil || slow.Prediction == nil || fast.Model == nil || fast.Model.Trials != 50 {
		t.Fatalf("got predictions %v and %v, want both with 50 trials", fast.Prediction, slow.Prediction)
	}
	if got, want := fast.Model.Metrics["write_interruption"].P95, fast.Prediction.Interruption.P95.Seconds(); got != want {
		t.Errorf("model summary p95: got %v, want %v", got, want)
	}
	if fast.Prediction.Interruption.P50 >= slow.Prediction.Interruption.P50 {
		t.Errorf("got p50 %v with inter 500ms and %v with inter 2s, want the faster checks to recover sooner",
			fast.Prediction.Interruption.P50, slow.Prediction.Interruption.P50)
	}
}

// A cancel stops the sweep: the runs still queued see a cancelled
// context (the engine then returns at once) and the sweep returns the
// context's error, not a result.
func TestSweepStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var mu sync.Mutex
	live := 0
	run := func(ctx context.Context, _ *scenario.Scenario, _ time.Duration) (*sim.Result, error) {
		mu.Lock()
		defer mu.Unlock()
		if ctx.Err() == nil {
			live++
		}
		cancel()
		return nil, ctx.Err()
	}
	res, err := sweep.Sweep(ctx, sweep.Options{Sets: []string{"proxy.inter=1s,2s"}, Repeat: 10, Parallel: 1, Load: load, Run: run})
	if !errors.Is(err, context.Canceled) || res != nil {
		t.Errorf("got %v and a result %v, want context.Canceled and none", err, res)
	}
	if live != 1 {
		t.Errorf("got %d runs with a live context, want 1", live)
	}
}

// Package sweep runs a scenario over a grid of settings and recommends
// the proxy's check settings for an interruption budget: the library
// behind the command's sweep and tune. It parses the --set lists into
// axes, loads every point before any run, runs the points' repeats in
// parallel (memory) or one at a time (containers), summarises each
// point's figures with the project's quantile rule (sim/stats) next to
// the timing model's band, and, for tune, screens check settings with the
// model, measures the cheapest that meet the budget and words the
// recommendation. Printing, flags and exit codes stay with the command.
//
// Errors name the settings as the command's flags (--repeat, --set, ...);
// those in the caller's settings wrap ErrBadInput.
package sweep

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/redisha-sim/redisha-sim/sim"
	"github.com/redisha-sim/redisha-sim/sim/model"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/stats"
)

// ErrBadInput marks an error in the caller's settings (a flag, a --set
// list), as opposed to a failed run.
var ErrBadInput = errors.New("bad input")

// badInput wraps err so that errors.Is(err, ErrBadInput) holds, keeping
// err's text.
func badInput(err error) error { return inputError{err} }

type inputError struct{ err error }

func (e inputError) Error() string   { return e.err.Error() }
func (e inputError) Unwrap() []error { return []error{e.err, ErrBadInput} }

// LoadFunc loads the scenario with these overrides (key=value, as --set
// takes them) applied; the caller adds its choice of backend.
type LoadFunc func(sets []string) (*scenario.Scenario, error)

// RunFunc runs a scenario once on its backend, delaying the workload by a
// random time up to jitter.
type RunFunc func(ctx context.Context, s *scenario.Scenario, jitter time.Duration) (*sim.Result, error)

// Axis is one swept field and its values.
type Axis struct {
	Key    string
	Values []string
}

// Point is one combination of the swept values.
type Point struct {
	Sets   []string // key=value, in axis order
	Values []string
}

// Label is the point's settings, separated by spaces.
func (p Point) Label() string { return strings.Join(p.Sets, " ") }

// Metrics are the run figures a sweep reports, by verdict metric name.
// In a run with several groups they are the total's: the worst group's
// durations, the counts summed over the groups (verdict.Report.Groups).
var Metrics = []string{"write_interruption", "proxy_share", "lost_writes", "two_master_window", "check_rate", "check_bytes_rate", "false_down_marks"}

// DetectionMetric is the time from the fault to the proxy marking the
// initial master DOWN on the master port (model.Detection), read from a
// run's timeline: what the check timeouts and intervals decide.
const DetectionMetric = "detection"

// GroupMetrics are the figures a sweep reports for each group of a run
// with several, named "<group>.<metric>" (group2.write_interruption).
var GroupMetrics = []string{"write_interruption", "proxy_share", "lost_writes", "two_master_window", "failovers"}

// WorkloadMetrics are the figures a sweep reports for each workload of a
// run with several, named "<workload>.<metric>" (app.write_interruption):
// the client's own (its share after +switch-master as proxy_share).
var WorkloadMetrics = []string{"write_interruption", "proxy_share", "lost_writes", "two_master_window"}

// ParseAxes splits --set values into fixed settings (key=value) and swept
// axes (key=v1,v2,...).
func ParseAxes(sets []string) (fixed []string, axes []Axis, err error) {
	for _, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return nil, nil, badInput(fmt.Errorf("--set %s: want key=value, or key=v1,v2 to sweep", s))
		}
		vals := strings.Split(v, ",")
		if len(vals) == 1 {
			fixed = append(fixed, s)
			continue
		}
		for _, x := range vals {
			if strings.TrimSpace(x) == "" {
				return nil, nil, badInput(fmt.Errorf("--set %s: empty value in the list", s))
			}
		}
		for _, a := range axes {
			if a.Key == k {
				return nil, nil, badInput(fmt.Errorf("--set %s: %s is swept twice", s, k))
			}
		}
		axes = append(axes, Axis{Key: k, Values: vals})
	}
	return fixed, axes, nil
}

// Grid is the cartesian product of the axes, the first axis varying
// slowest; no axes give one point with no settings.
func Grid(axes []Axis) []Point {
	pts := []Point{{}}
	for _, a := range axes {
		var next []Point
		for _, p := range pts {
			for _, v := range a.Values {
				next = append(next, Point{
					Sets:   append(slices.Clone(p.Sets), a.Key+"="+v),
					Values: append(slices.Clone(p.Values), v),
				})
			}
		}
		pts = next
	}
	return pts
}

// Summary is the median, p95 and max of a metric over a point's runs.
type Summary struct {
	N      int     `json:"n"`
	Median float64 `json:"median"`
	P95    float64 `json:"p95"`
	Max    float64 `json:"max"`
}

// Summarise computes a Summary by the quantile rule of sim/stats; no
// values give the zero Summary.
func Summarise(xs []float64) Summary {
	if len(xs) == 0 {
		return Summary{}
	}
	s := stats.Sorted(xs)
	return Summary{N: len(s), Median: stats.QuantileSorted(s, 0.5), P95: stats.QuantileSorted(s, 0.95), Max: s[len(s)-1]}
}

// PointResult summarises a point.
type PointResult struct {
	Sets   []string `json:"sets"`
	Values []string `json:"values"`
	Runs   int      `json:"runs"`
	Failed int      `json:"failed_runs"`
	Tilted int      `json:"tilted_runs"`
	// Groups name the point's replication groups when its scenario has
	// several (none with one). Stats then also hold each group's
	// GroupMetrics ("<group>.<metric>") and the total's "failovers".
	Groups []string `json:"groups,omitempty"`
	// Workloads name the point's workloads when its scenario has several
	// (none with one). Stats then also hold each workload's
	// WorkloadMetrics ("<workload>.<metric>").
	Workloads []string           `json:"workloads,omitempty"`
	Stats     map[string]Summary `json:"stats"`
	Model     *ModelSummary      `json:"model,omitempty"`
	NoModel   string             `json:"model_error,omitempty"`
	// Prediction is the timing model's, nil without one.
	Prediction *model.Prediction `json:"-"`
	// Scenario is the point's scenario, with its settings applied.
	Scenario *scenario.Scenario `json:"-"`
}

// Result is a finished sweep.
type Result struct {
	Scenario string        `json:"scenario"`
	Backend  string        `json:"backend"`
	Axes     []string      `json:"axes"`
	Repeat   int           `json:"repeat"`
	Points   []PointResult `json:"points"`
	Runs     []Run         `json:"runs"`
	Seconds  float64       `json:"seconds"`
	// RunSeconds is the sum of the runs' lengths.
	RunSeconds float64 `json:"run_seconds"`
	// Swept are the axes with their values, in order.
	Swept []Axis `json:"-"`
}

// Options configure a sweep.
type Options struct {
	// Sets are the --set values: key=value for every run, key=v1,v2,...
	// to sweep.
	Sets []string
	// Repeat is the number of runs per point (at least 1).
	Repeat int
	// Parallel is how many runs go at once; 0 means DefaultParallel of
	// the scenario's backend. Container runs must go one at a time.
	Parallel int
	// Trials is the number of timing-model trials per point; 0 means no
	// model.
	Trials int
	// Jitter is the most each run's workload is delayed, at random.
	Jitter time.Duration
	// Load and Run load and run the scenario; both are required.
	Load LoadFunc
	Run  RunFunc
	// Started, when set, is called once before the first run ends with
	// the number of runs, how many go at once, and a guess of a run's
	// length.
	Started func(total, parallel int, guess time.Duration)
	// Done, when set, is called after each run, from one goroutine.
	Done func(Run)
}

// DefaultParallel is how many runs go at once. A memory run is mostly
// waiting (a sixth of a core here), but it opens some 400 loopback
// connections a second (a connection per operation, and the proxy's to
// the node), each leaving a TIME_WAIT socket for a minute: 8 at once exhausted the
// ephemeral ports here (nodes failing to bind, checks failing to connect,
// seen as false DOWN marks and failed warm-ups); 2 per CPU did not.
// Container runs share fixed addresses: one at a time.
func DefaultParallel(backend string) int {
	if backend != "memory" {
		return 1
	}
	return 2 * runtime.NumCPU()
}

// Sweep loads every point's scenario (all errors before any run), runs
// them, and summarises. A cancelled ctx stops the runs and returns
// ctx.Err().
func Sweep(ctx context.Context, opt Options) (*Result, error) {
	if opt.Repeat < 1 {
		return nil, badInput(fmt.Errorf("--repeat %d: want at least 1", opt.Repeat))
	}
	if opt.Jitter < 0 {
		return nil, badInput(fmt.Errorf("--start-jitter %v: must not be negative", opt.Jitter))
	}
	fixed, axes, err := ParseAxes(opt.Sets)
	if err != nil {
		return nil, err
	}
	pts := Grid(axes)
	res := &Result{Repeat: opt.Repeat, Swept: axes}
	for _, a := range axes {
		res.Axes = append(res.Axes, a.Key)
	}
	// Load and validate every point first: a bad value fails the sweep
	// before anything runs.
	for _, p := range pts {
		s, err := opt.Load(append(slices.Clone(fixed), p.Sets...))
		if err != nil {
			return nil, err
		}
		pr := PointResult{Sets: p.Sets, Values: p.Values, Scenario: s, Stats: map[string]Summary{}}
		if gs := s.ResolvedGroups(); len(gs) > 1 {
			for _, g := range gs {
				pr.Groups = append(pr.Groups, g.Name)
			}
		}
		if ws := s.WorkloadList; len(ws) > 1 {
			for _, w := range ws {
				pr.Workloads = append(pr.Workloads, w.Name)
			}
		}
		res.Points = append(res.Points, pr)
	}
	first := res.Points[0].Scenario
	res.Scenario, res.Backend = first.Name, first.Backend
	parallel := opt.Parallel
	if parallel <= 0 {
		parallel = DefaultParallel(first.Backend)
	}
	if first.Backend != "memory" && parallel > 1 {
		return nil, badInput(fmt.Errorf("--parallel %d: container runs share fixed addresses and go one at a time", parallel))
	}

	// The model, per point.
	if opt.Trials > 0 {
		for i := range res.Points {
			pr := &res.Points[i]
			p, err := model.FromScenario(pr.Scenario)
			if err == nil {
				pr.Prediction, err = model.Predict(p, opt.Trials, 0)
			}
			if err != nil {
				pr.NoModel = err.Error()
				continue
			}
			m := SummariseModel(pr.Prediction, pr.Groups)
			pr.Model = &m
		}
	}

	start := time.Now()
	type job struct{ point, repeat int }
	jobs := make(chan job)
	results := make(chan Run)
	var wg sync.WaitGroup
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				results <- runOnce(ctx, opt.Run, res.Points[j.point].Scenario, opt.Jitter, j.point, j.repeat)
			}
		}()
	}
	go func() {
		defer close(jobs)
		for r := range opt.Repeat {
			for i := range res.Points {
				select {
				case jobs <- job{i, r}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()

	if opt.Started != nil {
		opt.Started(len(res.Points)*opt.Repeat, parallel, first.Duration.D+first.Settle.D/3+5*time.Second)
	}
	for r := range results {
		res.Runs = append(res.Runs, r)
		if opt.Done != nil {
			opt.Done(r)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res.Seconds = time.Since(start).Seconds()
	sort.Slice(res.Runs, func(i, j int) bool {
		a, b := res.Runs[i], res.Runs[j]
		return a.Point < b.Point || a.Point == b.Point && a.Repeat < b.Repeat
	})
	for _, r := range res.Runs {
		res.RunSeconds += r.Seconds
		pr := &res.Points[r.Point]
		pr.Runs++
		if r.Err != "" {
			pr.Failed++
		}
		if r.Tilted {
			pr.Tilted++
		}
	}
	for i := range res.Points {
		pr := &res.Points[i]
		for _, m := range pr.StatNames() {
			pr.Stats[m] = Summarise(MetricValues(res.Runs, i, m))
		}
	}
	return res, nil
}

// StatNames are the names of the point's Stats: Metrics and
// DetectionMetric, with several
// groups "failovers" and each group's GroupMetrics, group by group, and
// with several workloads each workload's WorkloadMetrics.
func (p *PointResult) StatNames() []string {
	names := append(slices.Clone(Metrics), DetectionMetric)
	if len(p.Groups) > 0 {
		names = append(names, "failovers")
	}
	for _, g := range p.Groups {
		for _, m := range GroupMetrics {
			names = append(names, g+"."+m)
		}
	}
	for _, w := range p.Workloads {
		for _, m := range WorkloadMetrics {
			names = append(names, w+"."+m)
		}
	}
	return names
}

// MetricValues are a metric's values over the runs of a point that
// measured it, in the runs' order.
func MetricValues(runs []Run, point int, metric string) []float64 {
	var xs []float64
	for _, r := range runs {
		if v, ok := r.Metrics[metric]; ok && r.Point == point {
			xs = append(xs, v)
		}
	}
	return xs
}

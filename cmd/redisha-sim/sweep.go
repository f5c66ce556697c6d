package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/redisha-sim/redisha-sim/sim"
	"github.com/redisha-sim/redisha-sim/sim/htmlreport"
	"github.com/redisha-sim/redisha-sim/sim/model"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

// sweepFlags are the flags of sweep.
type sweepFlags struct {
	runFlags
	repeat   int
	parallel int
	csvOut   string
	htmlOut  string
	svgOut   string
	trials   int
	jitter   time.Duration
}

// axis is one swept field and its values.
type axis struct {
	key    string
	values []string
}

// point is one combination of the swept values.
type point struct {
	sets   []string // key=value, in axis order
	values []string
}

func (p point) label() string { return strings.Join(p.sets, " ") }

// sweepMetrics are the run figures a sweep reports, by verdict metric name.
var sweepMetrics = []string{"write_interruption", "proxy_share", "lost_writes", "two_master_window", "check_rate", "check_bytes_rate", "false_down_marks"}

// runResult is one run of a point.
type runResult struct {
	Point   int                `json:"point"`
	Repeat  int                `json:"repeat"`
	Err     string             `json:"error,omitempty"`
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// Unknown names metrics the run could not measure, with why.
	Unknown   map[string]string `json:"unknown,omitempty"`
	Recovered bool              `json:"recovered"`
	// Tilted is set when a Sentinel entered TILT: its timer stalled for
	// over 2 s, which on the memory backend means the machine was
	// overloaded; the run's figures are then suspect.
	Tilted  bool    `json:"tilted,omitempty"`
	Seconds float64 `json:"seconds"`
}

// pointResult summarises a point.
type pointResult struct {
	Sets    []string           `json:"sets"`
	Values  []string           `json:"values"`
	Runs    int                `json:"runs"`
	Failed  int                `json:"failed_runs"`
	Tilted  int                `json:"tilted_runs"`
	Stats   map[string]summary `json:"stats"`
	Model   *predictionJSON    `json:"model,omitempty"`
	NoModel string             `json:"model_error,omitempty"`
	pred    *model.Prediction
	s       *scenario.Scenario
}

// summary is the median, p95 and max of a metric over a point's runs.
type summary struct {
	N      int     `json:"n"`
	Median float64 `json:"median"`
	P95    float64 `json:"p95"`
	Max    float64 `json:"max"`
}

func summarise(xs []float64) summary {
	if len(xs) == 0 {
		return summary{}
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	q := func(p float64) float64 {
		// Nearest rank.
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return s[max(0, min(len(s)-1, i))]
	}
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return summary{N: len(s), Median: med, P95: q(0.95), Max: s[len(s)-1]}
}

func newSweepCmd(g *globalFlags) *cobra.Command {
	f := &sweepFlags{}
	cmd := &cobra.Command{
		Use:   "sweep SCENARIO.yaml --set KEY=V1,V2,... [--set ...]",
		Short: "Run a scenario over a grid of settings, repeated, and tabulate the interruption against the timing model",
		Long: `Run a scenario for every combination of the swept values, --repeat times
each, and report per point the median, p95 and max write interruption, the
proxy's share, lost writes, the two-master window, the health-check load
(checks and bytes per second on the busiest node) and false DOWN marks of
healthy nodes, next to the timing model's p5-p50-p95 band.

A --set with commas sweeps that field (proxy.inter=250ms,500ms,1s,2s); one
without sets it for every run. Memory runs go in parallel (--parallel),
container runs one at a time. Each run starts its workload after a random
delay (--start-jitter), so repeats fault the master at different phases of
the checks and of Sentinel's timers.

  redisha-sim sweep scenarios/master-kill.yaml --set proxy.inter=250ms,500ms,1s,2s \
      --set sentinel.down_after=1s,5s --repeat 5 --csv sweep.csv --json sweep.json --html sweep.html`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := quietLogger(cmd, g)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			res, err := sweep(ctx, args[0], f, log, os.Stderr)
			if err != nil {
				return err
			}
			return writeSweep(res, f, os.Stdout)
		},
	}
	addSweepFlags(cmd, f)
	return cmd
}

func addSweepFlags(cmd *cobra.Command, f *sweepFlags) {
	cmd.Flags().StringVar(&f.backend, "backend", "", "memory or docker (default: the scenario's)")
	cmd.Flags().StringArrayVar(&f.sets, "set", nil, "KEY=VALUE or KEY=V1,V2,... to sweep (repeatable)")
	cmd.Flags().IntVar(&f.repeat, "repeat", 5, "runs per point")
	cmd.Flags().IntVar(&f.parallel, "parallel", 0, "runs at once (default: 2 per CPU on the memory backend, 1 on docker)")
	cmd.Flags().StringVar(&f.jsonOut, "json", "", "write every run and point to this JSON file")
	cmd.Flags().StringVar(&f.csvOut, "csv", "", "write one row per point to this CSV file")
	cmd.Flags().StringVar(&f.htmlOut, "html", "", "write a self-contained HTML report with a chart to this file")
	cmd.Flags().StringVar(&f.svgOut, "svg", "", "write the chart alone as an SVG file")
	cmd.Flags().IntVar(&f.trials, "trials", 1000, "timing-model trials per point (0: no model)")
	cmd.Flags().DurationVar(&f.jitter, "start-jitter", 2*time.Second, "random delay before each run's workload, so repeats sample the phases")
}

// defaultParallel is how many runs go at once. A memory run is mostly
// waiting (a sixth of a core here), but it opens some 400 loopback
// connections a second (a connection per operation, and the proxy's to
// the node), each leaving a TIME_WAIT socket for a minute: 8 at once exhausted the
// ephemeral ports here (nodes failing to bind, checks failing to connect,
// seen as false DOWN marks and failed warm-ups); 2 per CPU did not.
// Container runs share fixed addresses: one at a time.
func defaultParallel(backend string) int {
	if backend != "memory" {
		return 1
	}
	return 2 * runtime.NumCPU()
}

// quietLogger is the command's logger: off unless --log-level is given.
func quietLogger(cmd *cobra.Command, g *globalFlags) (*slog.Logger, error) {
	if !cmd.Flags().Changed("log-level") {
		g.logLevel = "off"
	}
	return g.logger()
}

// parseAxes splits the --set flags into fixed settings and swept axes.
func parseAxes(sets []string) (fixed []string, axes []axis, err error) {
	for _, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return nil, nil, fmt.Errorf("--set %s: want key=value, or key=v1,v2 to sweep", s)
		}
		vals := strings.Split(v, ",")
		if len(vals) == 1 {
			fixed = append(fixed, s)
			continue
		}
		for _, x := range vals {
			if strings.TrimSpace(x) == "" {
				return nil, nil, fmt.Errorf("--set %s: empty value in the list", s)
			}
		}
		for _, a := range axes {
			if a.key == k {
				return nil, nil, fmt.Errorf("--set %s: %s is swept twice", s, k)
			}
		}
		axes = append(axes, axis{key: k, values: vals})
	}
	return fixed, axes, nil
}

// grid is the cartesian product of the axes, the first axis varying
// slowest.
func grid(axes []axis) []point {
	pts := []point{{}}
	for _, a := range axes {
		var next []point
		for _, p := range pts {
			for _, v := range a.values {
				next = append(next, point{
					sets:   append(slices.Clone(p.sets), a.key+"="+v),
					values: append(slices.Clone(p.values), v),
				})
			}
		}
		pts = next
	}
	return pts
}

// sweepResult is a finished sweep.
type sweepResult struct {
	Scenario string        `json:"scenario"`
	Backend  string        `json:"backend"`
	Axes     []string      `json:"axes"`
	Repeat   int           `json:"repeat"`
	Points   []pointResult `json:"points"`
	Runs     []runResult   `json:"runs"`
	Seconds  float64       `json:"seconds"`
	// RunSeconds is the sum of the runs' lengths.
	RunSeconds float64 `json:"run_seconds"`
	axes       []axis
}

// sweep loads every point's scenario (all errors before any run), runs
// them, and summarises.
func sweep(ctx context.Context, path string, f *sweepFlags, log *slog.Logger, progressOut io.Writer) (*sweepResult, error) {
	if err := checkRange("repeat", f.repeat, 1, maxRepeat, ""); err != nil {
		return nil, err
	}
	if err := checkRange("parallel", f.parallel, 0, maxParallel, " (0: the default)"); err != nil {
		return nil, err
	}
	if f.trials != 0 {
		if err := checkRange("trials", f.trials, 20, maxTrials, " (0: no model)"); err != nil {
			return nil, err
		}
	}
	if err := checkOutputs("json", f.jsonOut, "csv", f.csvOut, "html", f.htmlOut, "svg", f.svgOut); err != nil {
		return nil, err
	}
	if f.jitter < 0 {
		return nil, exitError{exitBadInput, fmt.Errorf("--start-jitter %v: must not be negative", f.jitter)}
	}
	fixed, axes, err := parseAxes(f.sets)
	if err != nil {
		return nil, exitError{exitBadInput, err}
	}
	if n := gridSize(axes) * f.repeat; n > maxRuns {
		return nil, exitError{exitBadInput, fmt.Errorf("--set and --repeat: the sweep would make %d runs: at most %d", n, maxRuns)}
	}
	pts := grid(axes)
	res := &sweepResult{Repeat: f.repeat, axes: axes}
	for _, a := range axes {
		res.Axes = append(res.Axes, a.key)
	}
	// Load and validate every point first: a bad value fails the sweep
	// before anything runs.
	for _, p := range pts {
		rf := f.runFlags
		rf.sets = append(slices.Clone(fixed), p.sets...)
		s, err := loadScenario([]string{path}, &rf)
		if err != nil {
			return nil, err
		}
		res.Points = append(res.Points, pointResult{Sets: p.sets, Values: p.values, s: s, Stats: map[string]summary{}})
	}
	first := res.Points[0].s
	res.Scenario, res.Backend = first.Name, first.Backend
	parallel := f.parallel
	if parallel <= 0 {
		parallel = defaultParallel(first.Backend)
	}
	if first.Backend != "memory" && parallel > 1 {
		return nil, exitError{exitBadInput, fmt.Errorf("--parallel %d: container runs share fixed addresses and go one at a time", parallel)}
	}

	// The model, per point.
	if f.trials > 0 {
		for i := range res.Points {
			pr := &res.Points[i]
			p, err := model.FromScenario(pr.s)
			if err == nil {
				pr.pred, err = model.Predict(p, f.trials, 0)
			}
			if err != nil {
				pr.NoModel = err.Error()
				continue
			}
			j := predictionToJSON(pr.pred)
			pr.Model = &j
		}
	}

	start := time.Now()
	type job struct{ point, repeat int }
	jobs := make(chan job)
	results := make(chan runResult)
	var wg sync.WaitGroup
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				results <- runOnce(ctx, res.Points[j.point].s, f.jitter, log, j)
			}
		}()
	}
	go func() {
		defer close(jobs)
		for r := range f.repeat {
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

	total := len(res.Points) * f.repeat
	bar := newProgressBar(progressOut, total, parallel, first.Duration.D+first.Settle.D/3+5*time.Second)
	for r := range results {
		res.Runs = append(res.Runs, r)
		bar.done(time.Duration(r.Seconds * float64(time.Second)))
	}
	bar.finish()
	if ctx.Err() != nil {
		return nil, exitError{130, errors.New("interrupted: everything the runs started was stopped")}
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
		for _, m := range sweepMetrics {
			var xs []float64
			for _, r := range res.Runs {
				if v, ok := r.Metrics[m]; ok && r.Point == i {
					xs = append(xs, v)
				}
			}
			pr.Stats[m] = summarise(xs)
		}
	}
	return res, nil
}

// runOnce runs one repeat of a point.
func runOnce(ctx context.Context, s *scenario.Scenario, jitter time.Duration, log *slog.Logger, j struct{ point, repeat int }) runResult {
	r := runResult{Point: j.point, Repeat: j.repeat}
	start := time.Now()
	b, starter, err := backendFor(s)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	res, err := sim.Run(ctx, s, b, sim.Options{Log: log, StartProxy: starter, StartJitter: jitter})
	if err != nil {
		r.Err = err.Error()
		r.Seconds = time.Since(start).Seconds()
		return r
	}
	r.Metrics, r.Unknown = map[string]float64{}, map[string]string{}
	for _, e := range res.Timeline.Events {
		if e.Kind == timeline.KindSentinel && e.Name == "+tilt" {
			r.Tilted = true
		}
	}
	it := res.Report.WriteInterruption
	r.Recovered = !it.Interrupted || it.Recovered
	for _, m := range sweepMetrics {
		v, why := res.Report.Metric(m)
		switch {
		case why != "":
			r.Unknown[m] = why
		case m == "write_interruption" && !r.Recovered:
			r.Unknown[m] = "writes never recovered"
		case m == "proxy_share" && !hasSwitch(res):
			r.Unknown[m] = "no +switch-master"
		default:
			r.Metrics[m] = v
		}
	}
	r.Seconds = time.Since(start).Seconds()
	return r
}

func hasSwitch(res *sim.Result) bool {
	for _, p := range res.Report.Phases {
		if p.Name == "+switch-master" && p.Found {
			return true
		}
	}
	return false
}

// progressBar shows runs done, elapsed time and an estimate of what is
// left, on a terminal.
type progressBar struct {
	out             io.Writer
	tty             bool
	total, n, par   int
	start           time.Time
	guess, runTotal time.Duration
}

func newProgressBar(out io.Writer, total, parallel int, guess time.Duration) *progressBar {
	p := &progressBar{out: out, total: total, par: parallel, start: time.Now(), guess: guess}
	p.tty = newProgressLine(out).tty
	p.draw()
	return p
}

func (p *progressBar) done(took time.Duration) {
	p.n++
	p.runTotal += took
	p.draw()
}

// left estimates the remaining time: the mean run length so far (or the
// scenario's length before any run ends) times the runs left, spread over
// the parallel slots.
func (p *progressBar) left() time.Duration {
	per := p.guess
	if p.n > 0 {
		per = p.runTotal / time.Duration(p.n)
	}
	waves := math.Ceil(float64(p.total-p.n) / float64(p.par))
	return time.Duration(waves) * per
}

func (p *progressBar) draw() {
	const width = 30
	filled := width * p.n / max(1, p.total)
	line := fmt.Sprintf("[%s%s] %d/%d runs  %s elapsed, ~%s left", strings.Repeat("#", filled), strings.Repeat(".", width-filled),
		p.n, p.total, time.Since(p.start).Round(time.Second), p.left().Round(time.Second))
	if p.tty {
		fmt.Fprintf(p.out, "\r\033[K%s", line)
	} else if p.n == 0 || p.n == p.total || p.n%max(1, p.total/10) == 0 {
		fmt.Fprintln(p.out, line)
	}
}

func (p *progressBar) finish() {
	if p.tty {
		fmt.Fprintln(p.out)
	}
}

// writeSweep prints the table and writes the requested files.
func writeSweep(res *sweepResult, f *sweepFlags, out io.Writer) error {
	header, rows := sweepTable(res)
	printTable(out, header, rows)
	fmt.Fprintf(out, "\n%d runs in %s (the runs' lengths add up to %s); %d point(s) x %d repeat(s) on the %s backend.\n",
		len(res.Runs), fmtSecs(res.Seconds), fmtSecs(res.RunSeconds), len(res.Points), res.Repeat, res.Backend)
	failed := 0
	for _, r := range res.Runs {
		if r.Err != "" {
			failed++
			if failed <= 3 {
				fmt.Fprintf(out, "run failed (%s, repeat %d): %s\n", res.Points[r.Point].s.Name+" "+strings.Join(res.Points[r.Point].Sets, " "), r.Repeat+1, r.Err)
			}
		}
	}
	for _, p := range res.Points {
		if p.NoModel != "" {
			fmt.Fprintf(out, "model: %s: %s\n", strings.Join(p.Sets, " "), p.NoModel)
			break
		}
	}
	if f.csvOut != "" {
		if err := writeCSV(f.csvOut, header, rows); err != nil {
			return exitError{exitFailed, err}
		}
	}
	if f.jsonOut != "" {
		b, err := json.MarshalIndent(res, "", " ")
		if err == nil {
			err = os.WriteFile(f.jsonOut, b, 0o644)
		}
		if err != nil {
			return exitError{exitFailed, fmt.Errorf("write %s: %w", f.jsonOut, err)}
		}
	}
	if f.htmlOut != "" {
		if err := writeSweepHTML(f.htmlOut, res, header, rows, nil); err != nil {
			return exitError{exitFailed, err}
		}
	}
	if f.svgOut != "" {
		if err := os.WriteFile(f.svgOut, []byte(htmlreport.SweepSVG(sweepChart(res))), 0o644); err != nil {
			return exitError{exitFailed, fmt.Errorf("write %s: %w", f.svgOut, err)}
		}
	}
	if failed > 0 {
		return exitError{exitFailed, fmt.Errorf("%d of %d runs failed", failed, len(res.Runs))}
	}
	return nil
}

func fmtSecs(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Second).String()
}

// sweepTable is one row per point.
func sweepTable(res *sweepResult) ([]string, [][]string) {
	header := append(slices.Clone(res.Axes),
		"runs", "interruption median", "p95", "max", "model p5-p50-p95", "proxy share median",
		"lost writes median", "lost max", "two-master median", "checks/s/node", "check bytes/s/node", "false DOWN marks")
	var rows [][]string
	for _, p := range res.Points {
		st := p.Stats
		sec := func(s summary, v float64) string {
			if s.N == 0 {
				return "-"
			}
			return fmt.Sprintf("%.2fs", v)
		}
		num := func(s summary, v float64, format string) string {
			if s.N == 0 {
				return "-"
			}
			return fmt.Sprintf(format, v)
		}
		it := st["write_interruption"]
		runs := fmt.Sprintf("%d", p.Runs-p.Failed)
		if p.Failed > 0 {
			runs += fmt.Sprintf(" (%d failed)", p.Failed)
		}
		if it.N < p.Runs-p.Failed {
			runs += fmt.Sprintf(" (%d not recovered)", p.Runs-p.Failed-it.N)
		}
		if p.Tilted > 0 {
			runs += fmt.Sprintf(" (%d in TILT: overloaded?)", p.Tilted)
		}
		band := "-"
		if p.pred != nil && p.pred.Interruption.N > 0 {
			d := p.pred.Interruption
			band = fmt.Sprintf("%.2f-%.2f-%.2fs", d.P5.Seconds(), d.P50.Seconds(), d.P95.Seconds())
			if it.N > 0 && !d.Within(time.Duration(it.Median*float64(time.Second))) {
				band += " (median outside)"
			}
		}
		fd := st["false_down_marks"]
		row := append(slices.Clone(p.Values),
			runs, sec(it, it.Median), sec(it, it.P95), sec(it, it.Max), band,
			sec(st["proxy_share"], st["proxy_share"].Median),
			num(st["lost_writes"], st["lost_writes"].Median, "%.0f"), num(st["lost_writes"], st["lost_writes"].Max, "%.0f"),
			sec(st["two_master_window"], st["two_master_window"].Median),
			num(st["check_rate"], st["check_rate"].Median, "%.2f"), num(st["check_bytes_rate"], st["check_bytes_rate"].Median, "%.0f"),
			num(fd, fd.Max, "%.0f max"))
		rows = append(rows, row)
	}
	return header, rows
}

func printTable(w io.Writer, header []string, rows [][]string) {
	widths := make([]int, len(header))
	for i, h := range header {
		widths[i] = len(h)
	}
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], len(c))
		}
	}
	line := func(cells []string) {
		parts := make([]string, len(cells))
		for i, c := range cells {
			parts[i] = fmt.Sprintf("%-*s", widths[i], c)
		}
		fmt.Fprintln(w, "| "+strings.Join(parts, " | ")+" |")
	}
	line(header)
	sep := make([]string, len(header))
	for i := range sep {
		sep[i] = strings.Repeat("-", widths[i])
	}
	line(sep)
	for _, r := range rows {
		line(r)
	}
}

func writeCSV(path string, header []string, rows [][]string) error {
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	w := csv.NewWriter(fh)
	_ = w.Write(header)
	_ = w.WriteAll(rows)
	if err := w.Error(); err != nil {
		fh.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// durationValue parses a swept value as a duration, if it is one.
func durationValue(v string) (time.Duration, bool) {
	d, err := time.ParseDuration(v)
	return d, err == nil
}

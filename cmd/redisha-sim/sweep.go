package main

import (
	"bytes"
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
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/redisha-sim/redisha-sim/sim"
	"github.com/redisha-sim/redisha-sim/sim/docker"
	"github.com/redisha-sim/redisha-sim/sim/htmlreport"
	"github.com/redisha-sim/redisha-sim/sim/model"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/sweep"
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

func newSweepCmd(g *globalFlags) *cobra.Command {
	f := &sweepFlags{}
	cmd := &cobra.Command{
		Use:   "sweep SCENARIO.yaml --set KEY=V1,V2,... [--set ...]",
		Short: "Run a scenario over a grid of settings, repeated, and tabulate the interruption against the timing model",
		Long: `Run a scenario for every combination of the swept values, --repeat times
each, and report per point the median, p95 and max write interruption, the
proxy's share, lost writes, the two-master window, the health-check load
(checks and bytes per second on the busiest node) and false DOWN marks of
healthy nodes, next to the timing model's p5-p50-p95 band. A scenario with
several replication groups gets, per point, a row for all of them (the
worst group's interruption, proxy share and model band, the longest
two-master window, lost writes and failovers summed) and a row per group,
in a group column, with a failovers column; --json then also carries each
group's figures as "<group>.<metric>" (group2.write_interruption), and the
chart shows the worst group. A scenario with several workloads (clients)
likewise gets a row per workload, in a workload column, after the row for
all of them (the worst workload's interruption); the model's band is on
the first workload's row (the one the model describes), and --json
carries each workload's figures as "<workload>.<metric>".

A --set with commas sweeps that field (proxy.inter=250ms,500ms,1s,2s); one
without sets it for every run. Memory runs go in parallel (--parallel),
container runs one at a time. Each run starts its workload after a random
delay (--start-jitter), so repeats fault the master at different phases of
the checks and of Sentinel's timers. On the docker backend, --docker-mode (as
for run) says where each run's engine runs: in runner mode every run goes
through a runner container of its own; the output is the same.

  redisha-sim sweep scenarios/master-kill.yaml --set proxy.inter=250ms,500ms,1s,2s \
      --set sentinel.down_after=1s,5s --repeat 5 --csv sweep.csv --json sweep.json --html sweep.html`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := quietLogger(cmd, g)
			if err != nil {
				return err
			}
			f.logLevel = g.logLevel
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			res, err := runSweep(ctx, args[0], f, log, os.Stderr)
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
	addDockerModeFlag(cmd, &f.runFlags)
}

// quietLogger is the command's logger: off unless --log-level is given.
func quietLogger(cmd *cobra.Command, g *globalFlags) (*slog.Logger, error) {
	if !cmd.Flags().Changed("log-level") {
		g.logLevel = "off"
	}
	return g.logger()
}

// runSweep runs the sweep with progress on progressOut, mapping its errors
// to exit codes.
func runSweep(ctx context.Context, path string, f *sweepFlags, log *slog.Logger, progressOut io.Writer) (*sweep.Result, error) {
	if err := checkSweepFlags(f); err != nil {
		return nil, err
	}
	load, run := sweepFuncs(ctx, path, &f.runFlags, log, progressOut)
	var bar *progressBar
	res, err := sweep.Sweep(ctx, sweep.Options{
		Sets: f.sets, Repeat: f.repeat, Parallel: f.parallel, Trials: f.trials, Jitter: f.jitter,
		Load: load, Run: run,
		Started: func(total, parallel int, guess time.Duration) {
			bar = newProgressBar(progressOut, total, parallel, guess)
		},
		Done: func(r sweep.Run) { bar.done(time.Duration(r.Seconds * float64(time.Second))) },
	})
	if bar != nil {
		bar.finish()
	}
	switch {
	case err == nil:
		return res, nil
	case ctx.Err() != nil:
		return nil, exitError{130, errors.New("interrupted: everything the runs started was stopped")}
	default:
		return nil, libError(err)
	}
}

// libError gives an error of the sweep library its exit code: bad input,
// or a failure; scenario errors already carry theirs.
func libError(err error) error {
	var ee exitError
	switch {
	case errors.As(err, &ee):
		return err
	case errors.Is(err, sweep.ErrBadInput):
		return exitError{exitBadInput, err}
	default:
		return exitError{exitFailed, err}
	}
}

// sweepFuncs are the load and run functions of a sweep or tune of the
// scenario at path, with the command's --backend and --docker-mode. On the
// docker backend the mode is chosen once, at the first load, as run
// chooses it; in runner mode each run goes through a runner (as run's
// does), given the scenario file and the settings its scenario was loaded
// with, and the loads refuse a scenario that names a file the runner
// would not have. The runner's standard output is discarded and its
// standard error goes to stderr when logging (--log-level): the output is
// the same in both modes.
func sweepFuncs(ctx context.Context, path string, f *runFlags, log *slog.Logger, stderr io.Writer) (sweep.LoadFunc, sweep.RunFunc) {
	var (
		mu     sync.Mutex
		chosen bool
		mode   string
		// setsOf are the settings each scenario was loaded with.
		setsOf = map[*scenario.Scenario][]string{}
	)
	dockerMode := func() (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if !chosen {
			m, why, err := docker.ChooseMode(ctx, f.dockerMode)
			if err != nil {
				return "", exitError{exitBadInput, err}
			}
			log.Info("docker mode", "mode", m, "why", why)
			chosen, mode = true, m
		}
		return mode, nil
	}
	load := func(sets []string) (*scenario.Scenario, error) {
		rf := *f
		rf.sets = sets
		s, err := loadScenario([]string{path}, &rf)
		if err != nil {
			return nil, err
		}
		if s.Backend == "docker" && !s.IsExternal() {
			m, err := dockerMode()
			if err != nil {
				return nil, err
			}
			if m == docker.ModeRunner {
				if err := checkRunnerFiles(s); err != nil {
					return nil, err
				}
			}
		}
		mu.Lock()
		setsOf[s] = slices.Clone(sets)
		mu.Unlock()
		return s, nil
	}
	run := func(ctx context.Context, s *scenario.Scenario, jitter time.Duration) (*sim.Result, error) {
		if s.IsExternal() {
			return nil, errors.New("sweeps and tuning do not run on backend external yet: use run")
		}
		mu.Lock()
		m, sets, ok := mode, setsOf[s], setsOf[s] != nil
		mu.Unlock()
		if s.Backend == "docker" && m == docker.ModeRunner {
			if !ok {
				return nil, errors.New("a scenario the sweep did not load: its settings are unknown")
			}
			rf := *f
			rf.sets, rf.startJitter, rf.args = sets, jitter, []string{path}
			runnerErr := io.Discard
			if !strings.EqualFold(f.logLevel, "off") {
				runnerErr = stderr
			}
			var tail tailWriter
			res, err := runInRunner(ctx, s, &rf, log, io.Discard, io.MultiWriter(&tail, runnerErr))
			if ee := (exitError{}); errors.As(err, &ee) && ee.err == nil {
				err = fmt.Errorf("the run in its runner exited with code %d: %s", ee.code, tail.last())
			}
			return res, err
		}
		b, starter, err := backendFor(s, false)
		if err != nil {
			return nil, err
		}
		res, err := sim.Run(ctx, s, b, sim.Options{Log: log, StartProxy: starter, StartJitter: jitter})
		if err == nil && s.Backend == "docker" {
			res.Timeline.DockerMode = m
		}
		return res, err
	}
	return load, run
}

// tailWriter keeps the last tailMax bytes written to it.
type tailWriter struct {
	mu sync.Mutex
	b  []byte
}

const tailMax = 4096

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > tailMax {
		t.b = append([]byte(nil), t.b[len(t.b)-tailMax:]...)
	}
	return len(p), nil
}

// last is the last line written that is not empty, or "(it said
// nothing)".
func (t *tailWriter) last() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(string(t.b)), "\n")
	if l := strings.TrimSpace(lines[len(lines)-1]); l != "" {
		return l
	}
	return "(it said nothing)"
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
func writeSweep(res *sweep.Result, f *sweepFlags, out io.Writer) error {
	header, rows := sweepTable(res)
	printTable(out, header, rows)
	fmt.Fprintf(out, "\n%d runs in %s (the runs' lengths add up to %s); %d point(s) x %d repeat(s) on the %s backend.\n",
		len(res.Runs), fmtSecs(res.Seconds), fmtSecs(res.RunSeconds), len(res.Points), res.Repeat, res.Backend)
	for _, l := range detectionLines(res) {
		fmt.Fprintln(out, l)
	}
	var notes []string
	if sweepHasGroups(res) {
		notes = append(notes, sweepGroupsNote)
		fmt.Fprintln(out, sweepGroupsNote)
	}
	if sweepHasWorkloads(res) {
		notes = append(notes, sweepWorkloadsNote)
		fmt.Fprintln(out, sweepWorkloadsNote)
	}
	failed := 0
	for _, r := range res.Runs {
		if r.Err != "" {
			failed++
			if failed <= 3 {
				fmt.Fprintf(out, "run failed (%s, repeat %d): %s\n", res.Points[r.Point].Scenario.Name+" "+strings.Join(res.Points[r.Point].Sets, " "), r.Repeat+1, r.Err)
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
			err = writeOutput(f.jsonOut, b)
		}
		if err != nil {
			return exitError{exitFailed, err}
		}
	}
	if f.htmlOut != "" {
		if err := writeSweepHTML(f.htmlOut, res, header, rows, notes); err != nil {
			return exitError{exitFailed, err}
		}
	}
	if f.svgOut != "" {
		if err := writeOutput(f.svgOut, []byte(htmlreport.SweepSVG(sweepChart(res)))); err != nil {
			return exitError{exitFailed, err}
		}
	}
	if failed > 0 {
		return exitError{exitFailed, fmt.Errorf("%d of %d runs failed", failed, len(res.Runs))}
	}
	return nil
}

// sweepGroupsNote explains the rows of a sweep with several groups.
const sweepGroupsNote = "Several replication groups: each point's \"" + summaryTotal + "\" row is the total of its groups (the worst group's" +
	" interruption and proxy share, the longest two-master window, lost writes and failovers summed; the model's band is the" +
	" worst group's, trial by trial), followed by a row per group; the chart shows the worst group."

// sweepWorkloadsNote explains the rows of a sweep with several workloads.
const sweepWorkloadsNote = "Several workloads (clients): each point's \"" + summaryTotal + "\" workload row is the total of its workloads (the worst" +
	" workload's interruption and share after +switch-master, lost writes summed), followed by a row per workload with its own figures" +
	" (proxy share is the client's share after +switch-master); the model describes the first workload, whose row compares with its band;" +
	" the chart shows the worst workload."

func fmtSecs(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Second).String()
}

// sweepTable is one row per point; when a point's scenario has several
// replication groups, a group column, a failovers column and, per point,
// a row for the total (summaryTotal: the worst group's durations, the
// counts summed) followed by one per group; when it has several
// workloads, a workload column and, after those, a row per workload (its
// own figures, the model's band on the first workload's row, the one
// the model describes).
func sweepTable(res *sweep.Result) ([]string, [][]string) {
	groups, workloads := sweepHasGroups(res), sweepHasWorkloads(res)
	header := slices.Clone(res.Axes)
	if workloads {
		header = append(header, "workload")
	}
	if groups {
		header = append(header, "group")
	}
	header = append(header, "runs", "interruption median", "p95", "max", "model p5-p50-p95", "proxy share median",
		"lost writes median", "lost max", "two-master median")
	if groups {
		header = append(header, "failovers median")
	}
	header = append(header, "checks/s/node", "check bytes/s/node", "false DOWN marks")
	// labels are a row's workload and group cells, as the columns exist.
	labels := func(workload, group string) []string {
		var out []string
		if workloads {
			out = append(out, workload)
		}
		if groups {
			out = append(out, group)
		}
		return out
	}
	var rows [][]string
	for _, p := range res.Points {
		st := p.Stats
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
		// With several workloads the total's interruption is the worst
		// workload's, the model's band the first's: the band is shown,
		// not compared.
		cmpWith := it
		if len(p.Workloads) > 0 {
			cmpWith = sweep.Summary{}
		}
		band := "-"
		if p.Prediction != nil {
			d, unrecovered := sweep.WorstInterruption(p.Prediction)
			band = modelBand(d, cmpWith)
			if len(p.Groups) > 0 {
				band = groupBand(d, unrecovered, p.Prediction.Trials, cmpWith)
			}
		}
		fd := st["false_down_marks"]
		group, workload := "-", "-"
		if len(p.Groups) > 0 {
			group = summaryTotal
		}
		if len(p.Workloads) > 0 {
			workload = summaryTotal
		}
		row := sweepRow(p, labels(workload, group), groups, runs, band, "")
		row = append(row, num(st["check_rate"], st["check_rate"].Median, "%.2f"), num(st["check_bytes_rate"], st["check_bytes_rate"].Median, "%.0f"),
			num(fd, fd.Max, "%.0f max"))
		rows = append(rows, row)
		for i, g := range p.Groups {
			git := st[g+".write_interruption"]
			runs := fmt.Sprintf("%d", p.Runs-p.Failed)
			if git.N < p.Runs-p.Failed {
				runs += fmt.Sprintf(" (%d not recovered)", p.Runs-p.Failed-git.N)
			}
			band := "-"
			if p.Prediction != nil {
				if d, unrecovered, ok := sweep.GroupInterruption(p.Prediction, i); ok {
					band = groupBand(d, unrecovered, p.Prediction.Trials, git)
				}
			}
			rows = append(rows, append(sweepRow(p, labels(workload, g), groups, runs, band, g+"."), "-", "-", "-"))
		}
		for i, w := range p.Workloads {
			wit := st[w+".write_interruption"]
			runs := fmt.Sprintf("%d", p.Runs-p.Failed)
			if wit.N < p.Runs-p.Failed {
				runs += fmt.Sprintf(" (%d not recovered)", p.Runs-p.Failed-wit.N)
			}
			band := "-"
			if p.Prediction != nil && i == 0 {
				d, unrecovered := sweep.WorstInterruption(p.Prediction)
				band = modelBand(d, wit)
				if len(p.Groups) > 0 {
					band = groupBand(d, unrecovered, p.Prediction.Trials, wit)
				}
			}
			rows = append(rows, append(sweepRow(p, labels(w, group), groups, runs, band, w+"."), "-", "-", "-"))
		}
	}
	return header, rows
}

// detectionLines say, point by point, how long the proxy took to mark the
// initial master DOWN after the fault (sweep.DetectionMetric) next to the
// model's band; none when no run measured it.
func detectionLines(res *sweep.Result) []string {
	var out []string
	for _, p := range res.Points {
		d := p.Stats[sweep.DetectionMetric]
		if d.N == 0 {
			continue
		}
		if len(out) == 0 {
			out = append(out, "Dead master marked DOWN (fault to the proxy's DOWN mark on the master port):")
		}
		band := ""
		if p.Prediction != nil && p.Prediction.Detection.N > 0 {
			band = "; model " + modelBand(p.Prediction.Detection, d)
		}
		out = append(out, fmt.Sprintf("  %s: median %.2fs, p95 %.2fs, max %.2fs over %d runs%s", strings.Join(p.Sets, " "), d.Median, d.P95, d.Max, d.N, band))
	}
	return out
}

// sweepHasGroups reports whether some point's scenario has several
// replication groups.
func sweepHasGroups(res *sweep.Result) bool {
	return slices.ContainsFunc(res.Points, func(p sweep.PointResult) bool { return len(p.Groups) > 0 })
}

// sweepHasWorkloads reports whether some point's scenario has several
// workloads.
func sweepHasWorkloads(res *sweep.Result) bool {
	return slices.ContainsFunc(res.Points, func(p sweep.PointResult) bool { return len(p.Workloads) > 0 })
}

// sweepRow is a row's cells up to the two-master window (and, with
// groups, failovers): the point's values, the labels (workload and group
// cells), then the point's figures named prefix+metric.
func sweepRow(p sweep.PointResult, labels []string, groups bool, runs, band, prefix string) []string {
	st := func(m string) sweep.Summary { return p.Stats[prefix+m] }
	row := append(slices.Clone(p.Values), labels...)
	it := st("write_interruption")
	row = append(row, runs, sec(it, it.Median), sec(it, it.P95), sec(it, it.Max), band,
		sec(st("proxy_share"), st("proxy_share").Median),
		num(st("lost_writes"), st("lost_writes").Median, "%.0f"), num(st("lost_writes"), st("lost_writes").Max, "%.0f"),
		sec(st("two_master_window"), st("two_master_window").Median))
	if groups {
		row = append(row, num(st("failovers"), st("failovers").Median, "%.0f"))
	}
	return row
}

// modelBand is the model's p5-p50-p95 of d, saying when the measured
// median it lies outside; "-" without trials.
func modelBand(d model.Dist, it sweep.Summary) string {
	if d.N == 0 {
		return "-"
	}
	band := fmt.Sprintf("%.2f-%.2f-%.2fs", d.P5.Seconds(), d.P50.Seconds(), d.P95.Seconds())
	if it.N > 0 && !d.Within(time.Duration(it.Median*float64(time.Second))) {
		band += " (median outside)"
	}
	return band
}

// groupBand is modelBand for the rows of a sweep with several groups,
// saying in how many of the trials the group (or some group, for the
// total) never recovered.
func groupBand(d model.Dist, unrecovered, trials int, it sweep.Summary) string {
	switch {
	case unrecovered == 0:
		return modelBand(d, it)
	case d.N == 0:
		return "never recovers"
	}
	return modelBand(d, it) + fmt.Sprintf(" (%d/%d never recover)", unrecovered, trials)
}

// sec is a duration summary's figure v in seconds, "-" when nothing was
// measured.
func sec(s sweep.Summary, v float64) string {
	if s.N == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fs", v)
}

// num is a summary's figure v in format, "-" when nothing was measured.
func num(s sweep.Summary, v float64, format string) string {
	if s.N == 0 {
		return "-"
	}
	return fmt.Sprintf(format, v)
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
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(header)
	_ = w.WriteAll(rows)
	if err := w.Error(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return writeOutput(path, b.Bytes())
}

// durationValue parses a swept value as a duration, if it is one.
func durationValue(v string) (time.Duration, bool) {
	d, err := time.ParseDuration(v)
	return d, err == nil
}

// checkSweepFlags refuses flags out of their bounds and unwritable output
// paths before anything runs.
func checkSweepFlags(f *sweepFlags) error {
	if err := checkRange("repeat", f.repeat, 1, maxRepeat, ""); err != nil {
		return err
	}
	if err := checkRange("parallel", f.parallel, 0, maxParallel, " (0: the default)"); err != nil {
		return err
	}
	if f.trials != 0 {
		if err := checkRange("trials", f.trials, 20, maxTrials, " (0: no model)"); err != nil {
			return err
		}
	}
	if err := checkOutputs("json", f.jsonOut, "csv", f.csvOut, "html", f.htmlOut, "svg", f.svgOut); err != nil {
		return err
	}
	_, axes, err := sweep.ParseAxes(f.sets)
	if err != nil {
		return libError(err)
	}
	if n := gridSize(axes) * f.repeat; n > maxRuns {
		return exitError{exitBadInput, fmt.Errorf("--set and --repeat: the sweep would make %d runs: at most %d", n, maxRuns)}
	}
	return nil
}

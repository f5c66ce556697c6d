package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/redisha-sim/redisha-sim/sim/model"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/undertest"
)

type tuneFlags struct {
	runFlags
	budget   time.Duration
	repeat   int
	parallel int
	trials   int
	htmlOut  string
}

// candidate is one setting of the check parameters.
type candidate struct {
	inter, fast, down time.Duration
	rise, fall        int
	sets              []string
	s                 *scenario.Scenario
	p                 model.Params
	pred              *model.Prediction
	// load is checks per second on each node (both backends).
	load float64
	// risk says why the setting may mark a healthy but slow node DOWN.
	risk string
	// Measured evidence.
	runs      []runResult
	measured  summary
	falseDown float64
}

func (c *candidate) String() string {
	return fmt.Sprintf("inter %v fastinter %v downinter %v rise %d fall %d", c.inter, c.fast, c.down, c.rise, c.fall)
}

// tuneInters and the other lists span the search.
var (
	tuneInters = []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
		time.Second, 2 * time.Second, 3 * time.Second, 5 * time.Second}
	tuneRises = []int{1, 2}
	tuneFalls = []int{2, 3}
)

func newTuneCmd(g *globalFlags) *cobra.Command {
	f := &tuneFlags{}
	cmd := &cobra.Command{
		Use:   "tune SCENARIO.yaml --budget 3s",
		Short: "Recommend the proxy's check settings that meet an interruption budget with the least check load",
		Long: `Search the master backend's check settings (inter, fastinter, downinter,
rise, fall) with the timing model for those whose p95 write interruption
meets --budget, rank them by the check load they put on each node, drop
those whose check timeout a slow but healthy node would exceed (the
scenario's delay/jitter faults), then run the best one --repeat times on
the scenario's backend as evidence: the recommendation must also meet the
budget measured, with no false DOWN marks, or the next candidate is tried.
Prints the evidence and the setting as HAProxy configuration lines.

When no check setting can meet the budget, says why (Sentinel's
down-after alone takes longer) and what would.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.budget <= 0 {
				return exitError{exitBadInput, fmt.Errorf("--budget is required: the longest write interruption to accept (e.g. 3s)")}
			}
			log, err := quietLogger(cmd, g)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return tune(ctx, args[0], f, log, os.Stdout, os.Stderr)
		},
	}
	cmd.Flags().DurationVar(&f.budget, "budget", 0, "the write interruption to stay within, at the 95th percentile")
	cmd.Flags().StringVar(&f.backend, "backend", "", "memory or docker (default: the scenario's)")
	cmd.Flags().StringArrayVar(&f.sets, "set", nil, "override a scenario field for every run (repeatable)")
	cmd.Flags().IntVar(&f.repeat, "repeat", 5, "measured runs of the recommendation (0: model only)")
	cmd.Flags().IntVar(&f.parallel, "parallel", 0, "runs at once (default: 2 per CPU on the memory backend, 1 on docker)")
	cmd.Flags().IntVar(&f.trials, "trials", 300, "timing-model trials per candidate (the finalists get 2000)")
	cmd.Flags().StringVar(&f.htmlOut, "html", "", "write a self-contained HTML report to this file")
	return cmd
}

func tune(ctx context.Context, path string, f *tuneFlags, log *slog.Logger, out, progress io.Writer) error {
	if f.trials < 20 {
		return exitError{exitBadInput, fmt.Errorf("--trials %d: want at least 20", f.trials)}
	}
	base, err := loadScenario([]string{path}, &f.runFlags)
	if err != nil {
		return err
	}
	if _, err := model.FromScenario(base); err != nil {
		return exitError{exitBadInput, fmt.Errorf("scenario %s: tune needs the timing model, which cannot predict it: %w", base.Name, err)}
	}
	worst := worstDelay(base)

	// Screen every candidate with the model.
	var cands []*candidate
	for _, inter := range tuneInters {
		for _, fast := range []time.Duration{inter, inter / 2} {
			for _, rise := range tuneRises {
				for _, fall := range tuneFalls {
					c := &candidate{inter: inter, fast: fast, down: fast, rise: rise, fall: fall}
					c.sets = []string{"proxy.inter=" + inter.String(), "proxy.fastinter=" + fast.String(), "proxy.downinter=" + fast.String(),
						fmt.Sprintf("proxy.rise=%d", rise), fmt.Sprintf("proxy.fall=%d", fall)}
					if slices.ContainsFunc(cands, func(o *candidate) bool { return o.String() == c.String() }) {
						continue
					}
					cands = append(cands, c)
				}
			}
		}
	}
	fmt.Fprintf(progress, "screening %d check settings with the timing model (%d trials each)...\n", len(cands), f.trials)
	for _, c := range cands {
		rf := f.runFlags
		rf.sets = append(slices.Clone(f.sets), c.sets...)
		s, err := loadScenario([]string{path}, &rf)
		if err != nil {
			return err
		}
		c.s = s
		if c.p, err = model.FromScenario(s); err != nil {
			return exitError{exitBadInput, err}
		}
		if c.pred, err = model.Predict(c.p, f.trials, 1); err != nil {
			return exitError{exitBadInput, err}
		}
		c.load = model.CheckLoad(c.p)
		if rounds := max(1, c.p.CheckReplies); worst > 0 && time.Duration(rounds)*worst >= c.p.ReadTimeout {
			c.risk = fmt.Sprintf("a check of a node slowed by the scenario's faults takes up to %v (%d replies x %v), over its %v timeout",
				time.Duration(rounds)*worst, rounds, worst, c.p.ReadTimeout)
		}
	}
	p95 := func(c *candidate) time.Duration {
		if c.pred.Unrecovered > 0 {
			return time.Duration(1<<62 - 1)
		}
		return c.pred.Interruption.P95
	}
	sort.SliceStable(cands, func(i, j int) bool {
		if cands[i].load != cands[j].load {
			return cands[i].load < cands[j].load
		}
		return p95(cands[i]) < p95(cands[j])
	})
	var feasible []*candidate
	for _, c := range cands {
		if p95(c) <= f.budget && c.risk == "" {
			feasible = append(feasible, c)
		}
	}

	fmt.Fprintf(out, "Tuning the checks of %s on the %s backend for a write interruption within %v (p95)\n", base.Name, base.Backend, f.budget)
	fmt.Fprintf(out, "  Sentinel: down-after %v, quorum %d of %d. Latency faults in the scenario: %s\n\n", base.Sentinel.DownAfter.D,
		base.Sentinel.Quorum, base.Sentinel.Count, latencyText(worst))
	var notes []string
	if len(feasible) == 0 {
		best := slices.MinFunc(cands, func(a, b *candidate) int { return int(p95(a) - p95(b)) })
		msg := fmt.Sprintf("No check setting meets %v: the least the model predicts is a p95 of %v (%s).", f.budget, p95(best).Round(10*time.Millisecond), best)
		if sd := best.pred.SDown; sd.N > 0 && sd.P50 > f.budget/2 {
			msg += fmt.Sprintf(" Sentinel alone needs %v to see the master down (down-after %v) and %v to promote a replica:"+
				" lower sentinel.down_after (e.g. --set sentinel.down_after=1s) and tune again.",
				sd.P50.Round(10*time.Millisecond), base.Sentinel.DownAfter.D, best.pred.Promotion.P50.Round(10*time.Millisecond))
		}
		fmt.Fprintln(out, msg)
		closest := slices.Clone(cands)
		sort.SliceStable(closest, func(i, j int) bool { return p95(closest[i]) < p95(closest[j]) })
		fmt.Fprintln(out, "The settings closest to the budget:")
		candidateTable(out, closest, 8, f.budget)
		notes = append(notes, msg)
		if f.htmlOut != "" {
			if err := writeTuneHTML(f.htmlOut, base, f.budget, cands, nil, notes); err != nil {
				return exitError{exitFailed, err}
			}
		}
		return exitError{exitFailed, fmt.Errorf("no check setting meets the budget of %v", f.budget)}
	}

	// Evidence: measured runs of the cheapest feasible settings, in order,
	// until one holds.
	var chosen *candidate
	for i, c := range feasible {
		if i == 3 || f.repeat == 0 {
			break
		}
		fin, err := model.Predict(c.p, modelTrials, 2)
		if err == nil {
			c.pred = fin
		}
		if p95(c) > f.budget {
			continue
		}
		fmt.Fprintf(progress, "measuring %s: %d runs...\n", c, f.repeat)
		if err := measure(ctx, c, f, log); err != nil {
			return err
		}
		if c.measured.N == f.repeat && time.Duration(c.measured.P95*float64(time.Second)) <= f.budget && c.falseDown == 0 {
			chosen = c
			break
		}
		fmt.Fprintf(out, "Rejected after measuring: %s (measured p95 %.2fs over %d recovered runs, %.0f false DOWN marks)\n",
			c, c.measured.P95, c.measured.N, c.falseDown)
	}
	if f.repeat == 0 {
		chosen = feasible[0]
		fin, err := model.Predict(chosen.p, modelTrials, 2)
		if err == nil {
			chosen.pred = fin
		}
	}
	if chosen == nil {
		fmt.Fprintln(out, "No candidate held when measured; the closest settings are below.")
		candidateTable(out, cands, 8, f.budget)
		return exitError{exitFailed, fmt.Errorf("no check setting met the budget of %v when measured", f.budget)}
	}
	rec := recommendation(chosen, base, f)
	fmt.Fprintln(out, rec)
	fmt.Fprintln(out, "Candidates by check load: the cheapest that meet the budget, then cheaper ones that do not:")
	var shown []*candidate
	shown = append(shown, feasible[:min(5, len(feasible))]...)
	for _, c := range cands {
		if len(shown) == 10 || c.load >= chosen.load {
			break
		}
		if !slices.Contains(feasible, c) {
			shown = append(shown, c)
		}
	}
	candidateTable(out, shown, len(shown), f.budget)
	if f.htmlOut != "" {
		if err := writeTuneHTML(f.htmlOut, base, f.budget, cands, chosen, []string{rec}); err != nil {
			return exitError{exitFailed, err}
		}
	}
	return nil
}

// measure runs a candidate f.repeat times (in parallel on memory).
func measure(ctx context.Context, c *candidate, f *tuneFlags, log *slog.Logger) error {
	parallel := f.parallel
	if parallel <= 0 {
		parallel = defaultParallel(c.s.Backend)
	}
	sem := make(chan struct{}, parallel)
	results := make(chan runResult, f.repeat)
	for i := range f.repeat {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			results <- runOnce(ctx, c.s, 2*time.Second, log, struct{ point, repeat int }{0, i})
		}()
	}
	var its []float64
	for range f.repeat {
		r := <-results
		c.runs = append(c.runs, r)
		if r.Err != "" {
			return exitError{exitFailed, fmt.Errorf("run of %s: %s", c, r.Err)}
		}
		if v, ok := r.Metrics["write_interruption"]; ok {
			its = append(its, v)
		}
		c.falseDown += r.Metrics["false_down_marks"]
	}
	if ctx.Err() != nil {
		return exitError{130, fmt.Errorf("interrupted")}
	}
	c.measured = summarise(its)
	return nil
}

func recommendation(c *candidate, s *scenario.Scenario, f *tuneFlags) string {
	var b strings.Builder
	d := c.pred.Interruption
	fmt.Fprintf(&b, "Recommended: %s\n", c)
	fmt.Fprintf(&b, "  Model (%d trials): write interruption p5 %v, p50 %v, p95 %v, max %v; proxy share p50 %v; dead master marked DOWN p50 %v\n",
		c.pred.Trials, r10(d.P5), r10(d.P50), r10(d.P95), r10(d.Max), r10(c.pred.ProxyShare.P50), r10(c.pred.Detection.P50))
	if len(c.runs) > 0 {
		var load []float64
		for _, r := range c.runs {
			if v, ok := r.Metrics["check_rate"]; ok {
				load = append(load, v)
			}
		}
		fmt.Fprintf(&b, "  Measured (%d runs on %s): write interruption median %.2fs, p95 %.2fs, max %.2fs; false DOWN marks %.0f",
			len(c.runs), s.Backend, c.measured.Median, c.measured.P95, c.measured.Max, c.falseDown)
		if len(load) > 0 {
			fmt.Fprintf(&b, "; checks/s on the busiest node %.2f", summarise(load).Median)
		}
		fmt.Fprintln(&b)
	}
	fmt.Fprintf(&b, "  Check load: %.2f checks/s per node (model), against %.2f with the scenario's own settings\n", c.load, baseLoad(s))
	fmt.Fprintf(&b, "\n  As HAProxy configuration (the master backend's servers; the replica backend can take the same):\n")
	be := masterBackendName(s)
	fmt.Fprintf(&b, "    backend %s\n", be)
	fmt.Fprintf(&b, "      default-server inter %s fastinter %s downinter %s rise %d fall %d\n", hapDur(c.inter), hapDur(c.fast), hapDur(c.down), c.rise, c.fall)
	if n := c.pred.CascadingFailovers; n > 0 {
		fmt.Fprintf(&b, "\n  Warning: in %d of %d trials Sentinel failed over twice (down-after %v is within a ping period of the\n"+
			"  switch: the first PING to the new master can come too late), with a two-master window up to %v.\n"+
			"  A down-after of at least 1.5 s avoids it.\n", n, c.pred.Trials, s.Sentinel.DownAfter.D, r10(c.pred.TwoMaster.Max))
	}
	if c.rise == 1 {
		fmt.Fprintf(&b, "\n  Note: rise 1 puts a node UP on one passing check, an old master back from a restart as well\n"+
			"  (scenarios/master-stop-start.yaml): pair it with Sentinel-aware routing (redis-sentinel), or tune that scenario too.\n")
	}
	return b.String()
}

func r10(d time.Duration) time.Duration { return d.Round(10 * time.Millisecond) }

// hapDur writes a duration as HAProxy reads it (ms or s).
func hapDur(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d/time.Millisecond)
}

func baseLoad(s *scenario.Scenario) float64 {
	p, err := model.FromScenario(s)
	if err != nil {
		return 0
	}
	return model.CheckLoad(p)
}

func masterBackendName(s *scenario.Scenario) string {
	if c, err := undertest.CheckSettings(s); err == nil {
		return c.Backend
	}
	return "redis_master"
}

func candidateTable(w io.Writer, cands []*candidate, n int, budget time.Duration) {
	header, rows := candidateRows(cands, n, budget)
	printTable(w, header, rows)
}

func candidateRows(cands []*candidate, n int, budget time.Duration) ([]string, [][]string) {
	header := []string{"inter", "fastinter", "downinter", "rise", "fall", "checks/s/node", "model p50", "model p95", "meets budget", "measured median", "measured p95"}
	var rows [][]string
	for _, c := range cands[:min(n, len(cands))] {
		meets := "yes"
		switch {
		case c.risk != "":
			meets = "no: " + c.risk
		case c.pred.Unrecovered > 0:
			meets = "no: never recovers in some trials"
		case c.pred.Interruption.P95 > budget:
			meets = "no"
		}
		mm, mp := "-", "-"
		if c.measured.N > 0 {
			mm, mp = fmt.Sprintf("%.2fs", c.measured.Median), fmt.Sprintf("%.2fs", c.measured.P95)
		}
		rows = append(rows, []string{hapDur(c.inter), hapDur(c.fast), hapDur(c.down), fmt.Sprint(c.rise), fmt.Sprint(c.fall),
			fmt.Sprintf("%.2f", c.load), fmt.Sprintf("%.2fs", c.pred.Interruption.P50.Seconds()), fmt.Sprintf("%.2fs", c.pred.Interruption.P95.Seconds()),
			meets, mm, mp})
	}
	return header, rows
}

// worstDelay is the longest a reply of a node slowed by the scenario's
// delay faults can be late.
func worstDelay(s *scenario.Scenario) time.Duration {
	var worst time.Duration
	for _, f := range s.Faults {
		if f.Action == "delay" {
			worst = max(worst, f.Delay.D+f.Jitter.D)
		}
	}
	return worst
}

func latencyText(worst time.Duration) string {
	if worst == 0 {
		return "none (false DOWN marks cannot show; add a delay fault, as in scenarios/replica-jitter.yaml)"
	}
	return fmt.Sprintf("up to %v per reply", worst)
}

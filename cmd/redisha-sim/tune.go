package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/redisha-sim/redisha-sim/sim/sweep"
)

type tuneFlags struct {
	runFlags
	budget   time.Duration
	repeat   int
	parallel int
	trials   int
	htmlOut  string
	timeouts []time.Duration
	// replyDelay and replyJitter judge the false DOWN risk of short
	// check timeouts.
	replyDelay, replyJitter time.Duration
}

func newTuneCmd(g *globalFlags) *cobra.Command {
	f := &tuneFlags{}
	cmd := &cobra.Command{
		Use:   "tune SCENARIO.yaml --budget 3s",
		Short: "Recommend the proxy's check settings that meet an interruption budget with the least check load",
		Long: `Search the master backend's check settings (inter, fastinter, downinter,
rise, fall, and the check timeout where it decides how soon the dead
master is marked DOWN: a master whose address hangs, as a blackholed,
paused or, on containers, killed one; not where a dead node refuses
connections, as on the memory backend) with the timing model for those whose p95 write interruption
meets --budget, rank them by the check load they put on each node, drop
those whose check timeout a slow but healthy node would exceed (the
scenario's delay/jitter faults), then run the best one --repeat times on
the scenario's backend as evidence: the recommendation must also meet the
budget measured, with no false DOWN marks, or the next candidate is tried.
Prints the evidence and the setting as HAProxy configuration lines.

A check timeout sets timeout check (and timeout connect as well where the
dead master's address hangs at the connect: HAProxy bounds a check's
connect by min(inter, timeout connect) once timeout check is set). The
recommendation states the false DOWN risk of its timeout under the
scenario's delay faults, or under --reply-delay/--reply-jitter, or says
the model cannot estimate it.

When no check setting can meet the budget, says why (Sentinel's
down-after alone takes longer) and what would. On the docker backend,
--docker-mode works as for sweep.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("budget") {
				return exitError{exitBadInput, fmt.Errorf("--budget is required: the longest write interruption to accept (e.g. 3s)")}
			}
			if err := checkPositive("budget", f.budget, "the longest write interruption to accept (e.g. 3s)"); err != nil {
				return err
			}
			log, err := quietLogger(cmd, g)
			if err != nil {
				return err
			}
			f.logLevel = g.logLevel
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
	cmd.Flags().DurationSliceVar(&f.timeouts, "timeouts", nil, "check timeouts to search, 0 for none set (default: 0,250ms,500ms,1s,2s where they decide detection, else 0)")
	cmd.Flags().DurationVar(&f.replyDelay, "reply-delay", 0, "how late a healthy node's replies may be, to judge the false DOWN risk of short timeouts")
	cmd.Flags().DurationVar(&f.replyJitter, "reply-jitter", 0, "a random extra, uniform up to this, on top of --reply-delay")
	addDockerModeFlag(cmd, &f.runFlags)
	return cmd
}

func tune(ctx context.Context, path string, f *tuneFlags, log *slog.Logger, out, progress io.Writer) error {
	if err := checkRange("trials", f.trials, 20, maxTrials, ""); err != nil {
		return err
	}
	if err := checkRange("repeat", f.repeat, 0, maxRepeat, ""); err != nil {
		return err
	}
	if err := checkRange("parallel", f.parallel, 0, maxParallel, " (0: the default)"); err != nil {
		return err
	}
	if err := checkOutput("html", f.htmlOut); err != nil {
		return err
	}
	for _, d := range append(slices.Clone(f.timeouts), f.replyDelay, f.replyJitter) {
		if d < 0 {
			return exitError{exitBadInput, fmt.Errorf("--timeouts, --reply-delay, --reply-jitter: %v is negative", d)}
		}
	}
	load, run := sweepFuncs(ctx, path, &f.runFlags, log, progress)
	t, err := sweep.Screen(sweep.TuneOptions{
		Timeouts: f.timeouts, ReplyDelay: f.replyDelay, ReplyJitter: f.replyJitter,
		Budget: f.budget, Sets: f.sets, Repeat: f.repeat, Parallel: f.parallel, Trials: f.trials, FinalTrials: modelTrials,
		Load: load, Run: run,
		Screening: func(n int) {
			fmt.Fprintf(progress, "screening %d check settings with the timing model (%d trials each)...\n", n, f.trials)
		},
		Measuring: func(c *sweep.Candidate) { fmt.Fprintf(progress, "measuring %s: %d runs...\n", c, f.repeat) },
		Rejected: func(c *sweep.Candidate) {
			fmt.Fprintf(out, "Rejected after measuring: %s (measured p95 %.2fs over %d recovered runs, %.0f false DOWN marks)\n",
				c, c.Measured.P95, c.Measured.N, c.FalseDown)
		},
	})
	if err != nil {
		return libError(err)
	}
	base := t.Base
	fmt.Fprintf(out, "Tuning the checks of %s on the %s backend for a write interruption within %v (p95)\n", base.Name, base.Backend, f.budget)
	fmt.Fprintf(out, "  Sentinel: down-after %v, quorum %d of %d. Latency faults in the scenario: %s\n", base.Sentinel.DownAfter.D,
		base.Sentinel.Quorum, base.Sentinel.Count, latencyText(t.Worst))
	if len(t.Groups) > 0 {
		fmt.Fprintf(out, "  %d replication groups (%s): the budget is judged on the worst group, trial by trial in the model and run by run\n"+
			"  when measured; the model's figures below are the worst group's.\n", len(t.Groups), strings.Join(t.Groups, ", "))
	}
	fmt.Fprintln(out)
	if len(t.Feasible) == 0 {
		msg := t.Infeasible()
		fmt.Fprintln(out, msg)
		fmt.Fprintln(out, "The settings closest to the budget:")
		candidateTable(out, t.Closest(), 8, f.budget)
		if f.htmlOut != "" {
			if err := writeTuneHTML(f.htmlOut, base, f.budget, t.Candidates, nil, []string{msg}); err != nil {
				return exitError{exitFailed, err}
			}
		}
		return exitError{exitFailed, fmt.Errorf("no check setting meets the budget of %v", f.budget)}
	}

	chosen, err := t.Choose(ctx)
	switch {
	case err != nil && errors.Is(err, ctx.Err()):
		return exitError{130, fmt.Errorf("interrupted")}
	case err != nil:
		return exitError{exitFailed, err}
	case chosen == nil:
		fmt.Fprintln(out, "No candidate held when measured; the closest settings are below.")
		candidateTable(out, t.Candidates, 8, f.budget)
		return exitError{exitFailed, fmt.Errorf("no check setting met the budget of %v when measured", f.budget)}
	}
	rec := t.Recommendation(chosen)
	fmt.Fprintln(out, rec)
	fmt.Fprintln(out, "Candidates by check load: the cheapest that meet the budget, then cheaper ones that do not:")
	var shown []*sweep.Candidate
	shown = append(shown, t.Feasible[:min(5, len(t.Feasible))]...)
	for _, c := range t.Candidates {
		if len(shown) == 10 || c.Load >= chosen.Load {
			break
		}
		if !slices.Contains(t.Feasible, c) {
			shown = append(shown, c)
		}
	}
	candidateTable(out, shown, len(shown), f.budget)
	if f.htmlOut != "" {
		if err := writeTuneHTML(f.htmlOut, base, f.budget, t.Candidates, chosen, []string{rec}); err != nil {
			return exitError{exitFailed, err}
		}
	}
	return nil
}

func candidateTable(w io.Writer, cands []*sweep.Candidate, n int, budget time.Duration) {
	header, rows := candidateRows(cands, n, budget)
	printTable(w, header, rows)
}

// candidateRows are the candidates' rows; the model's figures are the
// interruption they are judged on (Candidate.Interruption: the worst
// group's with several).
func candidateRows(cands []*sweep.Candidate, n int, budget time.Duration) ([]string, [][]string) {
	header := []string{"inter", "fastinter", "downinter", "rise", "fall", "timeout check", "checks/s/node", "model p50", "model p95", "meets budget", "measured median", "measured p95"}
	var rows [][]string
	for _, c := range cands[:min(n, len(cands))] {
		it, unrecovered := c.Interruption()
		meets := "yes"
		switch {
		case c.Risk != "":
			meets = "no: " + c.Risk
		case unrecovered > 0:
			meets = "no: never recovers in some trials"
		case it.P95 > budget:
			meets = "no"
		}
		mm, mp := "-", "-"
		if c.Measured.N > 0 {
			mm, mp = fmt.Sprintf("%.2fs", c.Measured.Median), fmt.Sprintf("%.2fs", c.Measured.P95)
		}
		to := "-"
		if c.TimeoutCheck > 0 {
			to = sweep.HAProxyDuration(c.TimeoutCheck)
			if c.TimeoutConnect > 0 {
				to += " (connect too)"
			}
		}
		rows = append(rows, []string{sweep.HAProxyDuration(c.Inter), sweep.HAProxyDuration(c.Fast), sweep.HAProxyDuration(c.Down), fmt.Sprint(c.Rise), fmt.Sprint(c.Fall), to,
			fmt.Sprintf("%.2f", c.Load), fmt.Sprintf("%.2fs", it.P50.Seconds()), fmt.Sprintf("%.2fs", it.P95.Seconds()),
			meets, mm, mp})
	}
	return header, rows
}

func latencyText(worst time.Duration) string {
	if worst == 0 {
		return "none (false DOWN marks cannot show; add a delay fault, as in scenarios/replica-jitter.yaml)"
	}
	return fmt.Sprintf("up to %v per reply", worst)
}

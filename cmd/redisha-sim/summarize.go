package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/redisha-sim/redisha-sim/sim/inputfile"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
	"github.com/redisha-sim/redisha-sim/sim/verdict"
)

func newSummarizeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "summarize RUN.json...",
		Short: "Summarize repeated runs (run --json files): medians and ranges per scenario, backend and proxy",
		Long: `Read the --json files of several runs and print, for each scenario, backend
and proxy, the number of runs and the median and range of the write
interruption, of each phase's time from the fault, of the lost writes and
of the two-master window, as a Markdown table. Each run's timeline is
judged again by this version's checkers.

  for i in 1 2 3 4 5; do redisha-sim run -q --json kill-$i.json scenarios/master-kill.yaml; done
  redisha-sim summarize kill-*.json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var runs []savedRun
			for _, path := range args {
				r, err := readRun(path)
				if err != nil {
					return exitError{exitBadInput, err}
				}
				runs = append(runs, r)
			}
			summarize(os.Stdout, runs)
			return nil
		},
	}
}

type savedRun struct {
	Timeline *timeline.Timeline `json:"timeline"`
	Report   *verdict.Report    `json:"report"`
}

func readRun(path string) (savedRun, error) {
	var r savedRun
	b, err := inputfile.Read(path)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("%s: not a run --json file: %w", path, err)
	}
	if r.Timeline == nil || r.Report == nil {
		return r, fmt.Errorf("%s: not a run --json file (no timeline or report)", path)
	}
	return r, nil
}

// summaryPhases are the steps shown, as times from the fault.
var summaryPhases = []string{"+sdown", "+switch-master", "proxy UP"}

func summarize(w io.Writer, runs []savedRun) {
	type key struct{ scenario, backend, proxy string }
	groups := map[key][]savedRun{}
	var order []key
	for _, r := range runs {
		k := key{r.Timeline.Scenario, r.Timeline.Backend, r.Timeline.Proxy}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	head := []string{"scenario", "backend", "proxy", "runs", "write interruption, median [range]"}
	for _, p := range summaryPhases {
		head = append(head, "fault → "+p)
	}
	head = append(head, "lost writes", "two-master window")
	fmt.Fprintln(tw, "| "+strings.Join(head, "\t| ")+"\t|")
	fmt.Fprintln(tw, strings.Repeat("|---\t", len(head))+"|")
	for _, k := range order {
		rs := groups[k]
		var wi, tm []time.Duration
		var lost []int
		phase := map[string][]time.Duration{}
		for _, r := range rs {
			// Judged again from the timeline, so that runs saved by older
			// versions are measured by today's checkers.
			rep := verdict.Judge(r.Timeline, nil)
			if rep.WriteInterruption.Recovered {
				wi = append(wi, rep.WriteInterruption.Duration)
			}
			tm = append(tm, rep.TwoMaster.Total)
			lost = append(lost, rep.Lost.Lost)
			var fault time.Duration
			for _, p := range rep.Phases {
				if p.Name == "fault" {
					fault = p.At
				}
				if p.Found && slices.Contains(summaryPhases, p.Name) {
					phase[p.Name] = append(phase[p.Name], p.At-fault)
				}
			}
		}
		row := []string{k.scenario, k.backend, k.proxy, fmt.Sprint(len(rs)), durStats(wi, len(rs))}
		for _, p := range summaryPhases {
			row = append(row, durStats(phase[p], len(rs)))
		}
		row = append(row, intStats(lost), durStats(tm, len(rs)))
		fmt.Fprintln(tw, "| "+strings.Join(row, "\t| ")+"\t|")
	}
	tw.Flush()
}

// durStats is "median [min-max]" in seconds, noting runs without a value.
func durStats(ds []time.Duration, of int) string {
	if len(ds) == 0 {
		return "-"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	out := fmt.Sprintf("%.2fs [%.2f-%.2f]", med.Seconds(), s[0].Seconds(), s[len(s)-1].Seconds())
	if len(s) < of {
		out += fmt.Sprintf(" (%d of %d runs)", len(s), of)
	}
	return out
}

func intStats(xs []int) string {
	s := slices.Clone(xs)
	slices.Sort(s)
	med := float64(s[len(s)/2])
	if len(s)%2 == 0 {
		med = float64(s[len(s)/2-1]+s[len(s)/2]) / 2
	}
	return fmt.Sprintf("%g [%d-%d]", med, s[0], s[len(s)-1])
}

package main

import (
	"cmp"
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
	"github.com/redisha-sim/redisha-sim/sim/stats"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
	"github.com/redisha-sim/redisha-sim/sim/verdict"
)

func newSummarizeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "summarize RUN.json...",
		Short: "Summarize repeated runs (run --json files): medians and ranges per scenario, backend, proxy and settings",
		Long: `Read the --json files of several runs and print, for each scenario, backend,
proxy and setting that differs between the runs (a --set; shown in a
settings column), the number of runs and the median and range of the write
interruption, of each phase's time from the fault, of the lost writes and
of the two-master window, as a Markdown table. Runs with several
replication groups get a row per group and one for all of them (the worst
group's interruption and phases, the lost writes summed, the longest
two-master window); runs with several workloads (clients) likewise get a
row per workload and one for all of them (the worst workload's
interruption and phases), in a workload column. Each run's timeline is judged again by this version's
checkers.

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

// summaryTotal names the rows of the total of runs with several groups.
const summaryTotal = "all (worst)"

// summaryPhases are the steps shown, as times from the fault.
var summaryPhases = []string{"+sdown", "+switch-master", "proxy UP"}

func summarize(w io.Writer, runs []savedRun) {
	// Runs are grouped by scenario, backend and proxy, and by every
	// setting that differs between them: runs of one file with different
	// --set values are different experiments, and the table shows what
	// tells them apart.
	settings := make([]map[string]string, len(runs))
	for i, r := range runs {
		settings[i] = settingsOf(r.Timeline)
	}
	differ := differingKeys(settings)
	// Runs with several replication groups get a row per group and one
	// for the total (the worst group's interruption and phases, the lost
	// writes summed, the longest two-master window), in a group column.
	// Runs with several workloads likewise get a row for all of them (the
	// worst workload's interruption and phases, the lost writes summed)
	// and one per workload, in a workload column; with several groups
	// too, each of those rows comes with its group rows.
	type key struct{ scenario, backend, proxy, settings, workload, group string }
	groups := map[key][]*verdict.Report{}
	var order []key
	withGroups, withWorkloads := false, false
	for i, r := range runs {
		var kv []string
		for _, k := range differ {
			if v, ok := settings[i][k]; ok {
				kv = append(kv, k+"="+v)
			}
		}
		// Judged again from the timeline, so that runs saved by older
		// versions are measured by today's checkers.
		rep := verdict.Judge(r.Timeline, nil)
		add := func(workload, group string, rep *verdict.Report) {
			k := key{r.Timeline.Scenario, r.Timeline.Backend, r.Timeline.Proxy, strings.Join(kv, " "), workload, group}
			if _, ok := groups[k]; !ok {
				order = append(order, k)
			}
			groups[k] = append(groups[k], rep)
		}
		addGroups := func(workload string, rep *verdict.Report) {
			if len(rep.Groups) == 0 {
				add(workload, "", rep)
				return
			}
			withGroups = true
			add(workload, summaryTotal, rep)
			for _, g := range rep.Groups {
				add(workload, g.Name, g.Report)
			}
		}
		if len(rep.Workloads) == 0 {
			addGroups("", rep)
			continue
		}
		withWorkloads = true
		addGroups(summaryTotal, rep)
		for _, w := range rep.Workloads {
			addGroups(w.Name, w.Report)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	head := []string{"scenario", "backend", "proxy"}
	if len(differ) > 0 {
		head = append(head, "settings")
	}
	if withWorkloads {
		head = append(head, "workload")
	}
	if withGroups {
		head = append(head, "group")
	}
	head = append(head, "runs", "write interruption, median [range]")
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
		for _, rep := range rs {
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
		row := []string{k.scenario, k.backend, k.proxy}
		if len(differ) > 0 {
			row = append(row, cmp.Or(k.settings, "-"))
		}
		if withWorkloads {
			row = append(row, cmp.Or(k.workload, "-"))
		}
		if withGroups {
			row = append(row, cmp.Or(k.group, "-"))
		}
		row = append(row, fmt.Sprint(len(rs)), durStats(wi, len(rs)))
		for _, p := range summaryPhases {
			row = append(row, durStats(phase[p], len(rs)))
		}
		row = append(row, intStats(lost), durStats(tm, len(rs)))
		fmt.Fprintln(tw, "| "+strings.Join(row, "\t| ")+"\t|")
	}
	tw.Flush()
}

// settingsOf is a run's settings: those it recorded, or, for a run saved
// before runs recorded them, its timeline parameters (the check and
// Sentinel settings) as "params.<name>".
func settingsOf(tl *timeline.Timeline) map[string]string {
	if len(tl.Settings) > 0 {
		return tl.Settings
	}
	out := map[string]string{}
	b, err := json.Marshal(tl.Params)
	if err != nil {
		return out
	}
	var m map[string]any
	if json.Unmarshal(b, &m) == nil {
		for k, v := range m {
			out["params."+k] = fmt.Sprint(v)
		}
	}
	return out
}

// differingKeys lists, sorted, the settings whose value (or presence) is
// not the same in every run.
func differingKeys(settings []map[string]string) []string {
	all := map[string]bool{}
	for _, s := range settings {
		for k := range s {
			all[k] = true
		}
	}
	// A seed changes a run's random choices, not the experiment; the
	// backend has a column of its own.
	delete(all, "seed")
	delete(all, "backend")
	var out []string
	for k := range all {
		v0, ok0 := settings[0][k]
		for _, s := range settings[1:] {
			if v, ok := s[k]; ok != ok0 || v != v0 {
				out = append(out, k)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// durStats is "median [min-max]" in seconds, noting runs without a value.
func durStats(ds []time.Duration, of int) string {
	if len(ds) == 0 {
		return "-"
	}
	s := stats.Sorted(ds)
	med := stats.QuantileSorted(s, 0.5)
	out := fmt.Sprintf("%.2fs [%.2f-%.2f]", med.Seconds(), s[0].Seconds(), s[len(s)-1].Seconds())
	if len(s) < of {
		out += fmt.Sprintf(" (%d of %d runs)", len(s), of)
	}
	return out
}

func intStats(xs []int) string {
	fs := make([]float64, len(xs))
	for i, x := range xs {
		fs[i] = float64(x)
	}
	return fmt.Sprintf("%g [%d-%d]", stats.Median(fs), slices.Min(xs), slices.Max(xs))
}

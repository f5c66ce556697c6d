package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/redisha-sim/redisha-sim/sim/model"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/sweep"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
	"github.com/redisha-sim/redisha-sim/sim/verdict"
)

// modelTrials is how many trials a prediction takes by default: enough for
// stable p5/p95 (50 trials beyond each), a few seconds of CPU.
const modelTrials = 2000

// maxTrials bounds --trials: a p5-p95 band is stable long before.
const maxTrials = 100000

func newModelCmd() *cobra.Command {
	f := &runFlags{}
	var (
		trials int
		seed   uint64
	)
	cmd := &cobra.Command{
		Use:   "model [SCENARIO.yaml]",
		Short: "Predict a scenario's interruption from a timing model of the checks and of Sentinel (no cluster)",
		Long: `Predict, without running anything, what a scenario will measure: a
discrete-event simulation of the proxy's health checks (the proxy's own
state machine) and of Sentinel's detection, election, promotion and
reconfiguration (sentinel.c's periods and random terms), with the
scenario's writers going through the proxy. Each trial draws its own
phases; the output is the distribution (p5, p50, p95, max) of the write
interruption, the proxy's share of it, the time the proxy takes to mark
the dead master DOWN, and the two-master window, with the failover's
phases.

The model covers one fault on the initial master (kill, stop, restart,
pause, disconnect), optionally undone later, and, with several groups
(topology.groups), one fault on a host holding initial masters
(target host:h1), every group's failover by the same Sentinels with one
shared epoch; other scenarios are refused with the reason.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := loadScenario(args, f)
			if err != nil {
				return err
			}
			if err := checkOutput("json", f.jsonOut); err != nil {
				return err
			}
			pred, err := predict(s, trials, seed)
			if err != nil {
				return err
			}
			model.WritePrediction(os.Stdout, s.Name, s.Backend, pred)
			if f.jsonOut != "" {
				if err := writePredictionJSON(f.jsonOut, pred); err != nil {
					return exitError{exitFailed, err}
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&f.backend, "backend", "", "memory or docker (default: the scenario's): the backends differ in how dead nodes answer")
	cmd.Flags().StringArrayVar(&f.sets, "set", nil, "override a scenario field, e.g. --set proxy.inter=500ms (repeatable)")
	cmd.Flags().StringVar(&f.jsonOut, "json", "", "write the prediction to this file")
	cmd.Flags().IntVar(&trials, "trials", modelTrials, "number of simulated runs")
	cmd.Flags().Uint64Var(&seed, "seed", 0, "random seed (0: pick one)")
	return cmd
}

// predict runs the model for a scenario; a scenario the model does not
// cover is bad input, with the reason.
func predict(s *scenario.Scenario, trials int, seed uint64) (*model.Prediction, error) {
	if err := checkRange("trials", trials, 20, maxTrials, " (at least 20 for a p5-p95 band)"); err != nil {
		return nil, err
	}
	p, err := model.FromScenario(s)
	if err != nil {
		if errors.Is(err, model.ErrNotModelled) {
			return nil, exitError{exitBadInput, fmt.Errorf("scenario %s: the timing model cannot predict it: %w", s.Name, err)}
		}
		return nil, exitError{exitBadInput, fmt.Errorf("scenario %s: %w", s.Name, err)}
	}
	pred, err := model.Predict(p, trials, seed)
	if err != nil {
		return nil, exitError{exitBadInput, err}
	}
	return pred, nil
}

func writePredictionJSON(path string, pred *model.Prediction) error {
	b, err := json.MarshalIndent(sweep.SummariseModel(pred, nil), "", " ")
	if err != nil {
		return err
	}
	return writeOutput(path, b)
}

// reportModel prints, after a run's report, the run against the model;
// a scenario the model does not cover gets one line saying why. A run
// with several workloads is compared through its first workload, the one
// the model describes (writers through the proxy, a connection per write:
// scenario.PerOpProxyWriters), not through the worst, and says so.
func reportModel(w io.Writer, s *scenario.Scenario, tl *timeline.Timeline, r *verdict.Report) []model.Comparison {
	p, err := model.FromScenario(s)
	if err != nil {
		fmt.Fprintf(w, "\nTiming model: %v\n", err)
		return nil
	}
	pred, err := model.Predict(p, modelTrials, 0)
	if err != nil {
		fmt.Fprintf(w, "\nTiming model: %v\n", err)
		return nil
	}
	fmt.Fprintln(w)
	if len(r.Workloads) > 0 {
		first := r.Workloads[0]
		fmt.Fprintf(w, "The model describes the first workload, %s (%s): its figures are compared, not the worst workload's (%s).\n",
			first.Name, first.Client, r.WorstWorkload)
		tl, r = verdict.WorkloadTimeline(tl, first.Name), first.Report
	}
	cs := model.Compare(pred, tl, r)
	model.WriteComparison(w, pred.Trials, cs)
	return cs
}

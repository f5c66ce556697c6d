package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/redisha-sim/redisha-sim/scenarios"
	"github.com/redisha-sim/redisha-sim/sim"
	"github.com/redisha-sim/redisha-sim/sim/docker"
	"github.com/redisha-sim/redisha-sim/sim/external"
	"github.com/redisha-sim/redisha-sim/sim/htmlreport"
	"github.com/redisha-sim/redisha-sim/sim/model"
	"github.com/redisha-sim/redisha-sim/sim/report"
	"github.com/redisha-sim/redisha-sim/sim/rig"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
	"github.com/redisha-sim/redisha-sim/sim/undertest"
	"github.com/redisha-sim/redisha-sim/sim/verdict"
)

// runFlags are the flags of run (and the commands built on it).
type runFlags struct {
	backend string
	sets    []string
	jsonOut string
	// junitOut is the --junit file: the expectations as JUnit test cases.
	junitOut string
	htmlOut  string
	svgOut   string
	quiet    bool
	// startJitter is the most the workload's start is delayed, at random.
	startJitter time.Duration
	// allowFaults lets a run apply faults to an external deployment;
	// without it, such a run is a dry run.
	allowFaults bool
	// dockerMode is where a docker run's engine runs: direct, runner or
	// auto (sim/docker's ChooseMode).
	dockerMode string
	// args and logLevel are the command's, passed on to a runner.
	args     []string
	logLevel string
}

func newRunCmd(g *globalFlags) *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "run [SCENARIO.yaml]",
		Short: "Run a failover scenario and report the interruption, its phases and lost writes",
		Long: `Run a failover scenario: start the cluster (in-memory by default, or real
Redis and Sentinel containers with --backend docker), put the proxy under
test in front of it, drive writes and reads through it, inject the
scenario's faults, and report how long clients were cut off, why, and what
acknowledged writes were lost.

With backend external the scenario names a running deployment
(external: its Sentinels, nodes and fault commands) instead of starting
one. Without --allow-faults that is a dry run: it connects, checks that
the Sentinels agree on the master and every node answers, prints each
fault with the command it would run, and exits 0, writing nothing. With
--allow-faults the run writes only keys under a prefix unique to it and
deletes them at the end, and undoes the faults it applied (also on
SIGINT).

With --junit FILE the run is also written as JUnit XML for CI: the
scenario is the test suite, each expectation a test case named by its
text, failed with the measured value in its message; a run that fails
to start, fails or is interrupted is a suite with one case, "run", in
error. --json writes the full record and, first, a summary for pipelines
(schema_version, snake_case keys, durations in seconds; see
sim/report/SCHEMA.md).

Without a file, runs the embedded ` + scenarios.Default + `. Exit code: 0 when every
expectation holds, 1 when one fails (or the run fails), 2 on bad input,
130 when interrupted.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutputs("json", f.jsonOut, "junit", f.junitOut, "html", f.htmlOut, "svg", f.svgOut); err != nil {
				return err
			}
			s, err := loadScenario(args, f)
			if err != nil {
				return junitError(f, scenarioName(args), f.backend, err)
			}
			f.args = args
			if !cmd.Flags().Changed("log-level") {
				// The report tells what the logs would; keep the terminal
				// for the progress line.
				g.logLevel = "off"
			}
			log, err := g.logger()
			if err != nil {
				return err
			}
			f.logLevel = g.logLevel
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if s.IsExternal() && !f.allowFaults {
				if err := external.Plan(ctx, s, 0, os.Stdout); err != nil {
					return junitError(f, s.Name, s.Backend, exitError{exitBadInput, fmt.Errorf("dry run on the external deployment: %w", err)})
				}
				return nil
			}
			res, err := runScenario(ctx, s, f, log, os.Stderr)
			if err != nil {
				return junitError(f, s.Name, s.Backend, err)
			}
			if f.junitOut != "" {
				var b bytes.Buffer
				if err := report.JUnit(&b, res.Timeline, res.Report); err != nil {
					return exitError{exitFailed, err}
				}
				if err := writeOutput(f.junitOut, b.Bytes()); err != nil {
					return exitError{exitFailed, err}
				}
			}
			out := io.Writer(os.Stdout)
			if f.quiet {
				out = io.Discard
			}
			report.Text(out, res.Timeline, res.Report)
			var cs []model.Comparison
			if !f.quiet || f.htmlOut != "" {
				cs = reportModel(out, s, res.Timeline, res.Report)
			}
			if f.htmlOut != "" {
				if err := writeRunHTML(f.htmlOut, res.Timeline, res.Report, cs); err != nil {
					return exitError{exitFailed, err}
				}
			}
			if f.svgOut != "" {
				svg := htmlreport.RunSVG(htmlreport.RunData{Timeline: res.Timeline, Report: res.Report})
				if err := writeOutput(f.svgOut, []byte(svg)); err != nil {
					return exitError{exitFailed, err}
				}
			}
			if f.jsonOut != "" {
				if err := writeJSON(f.jsonOut, res.Timeline, res.Report); err != nil {
					return exitError{exitFailed, err}
				}
			}
			if !res.Report.Passed() {
				return exitError{exitFailed, fmt.Errorf("scenario %s: %d expectation(s) failed", s.Name, failedCount(res.Report))}
			}
			return nil
		},
	}
	addRunFlags(cmd, f)
	return cmd
}

func addRunFlags(cmd *cobra.Command, f *runFlags) {
	cmd.Flags().StringVar(&f.backend, "backend", "", "memory, docker or external (default: the scenario's)")
	cmd.Flags().StringArrayVar(&f.sets, "set", nil, "override a scenario field, e.g. --set sentinel.down_after=1s (repeatable)")
	cmd.Flags().StringVar(&f.jsonOut, "json", "", "write a versioned summary (sim/report/SCHEMA.md), the full timeline and the verdicts to this file")
	cmd.Flags().StringVar(&f.junitOut, "junit", "", "write the expectations as JUnit XML test cases to this file (for CI)")
	cmd.Flags().StringVar(&f.htmlOut, "html", "", "write a self-contained HTML report (timeline chart, phases, model) to this file")
	cmd.Flags().StringVar(&f.svgOut, "svg", "", "write the timeline chart alone as an SVG file")
	cmd.Flags().BoolVarP(&f.quiet, "quiet", "q", false, "print no report (exit code, --json and --html only)")
	cmd.Flags().BoolVar(&f.allowFaults, "allow-faults", false, "apply the faults to an external deployment (backend external); without it, a dry run that prints the plan")
	addDockerModeFlag(cmd, f)
	cmd.Flags().DurationVar(&f.startJitter, "start-jitter", 0, "delay the workload by a random time up to this, so that repeated runs fault the master at different phases of the checks (0: a fixed start)")
}

// addDockerModeFlag adds --docker-mode (run, sweep and tune).
func addDockerModeFlag(cmd *cobra.Command, f *runFlags) {
	cmd.Flags().StringVar(&f.dockerMode, "docker-mode", "", "backend docker: where the engine runs: direct (this process reaches the containers), runner (in a container on the run's networks) or auto (default: $"+docker.EnvMode+", else auto)")
}

func failedCount(r *verdict.Report) int {
	n := 0
	for _, e := range r.Expectations {
		if !e.Held {
			n++
		}
	}
	return n
}

// loadScenario reads the scenario file, or the embedded default.
func loadScenario(args []string, f *runFlags) (*scenario.Scenario, error) {
	sets := f.sets
	if f.backend != "" {
		sets = append([]string{"backend=" + f.backend}, sets...)
	}
	var (
		s   *scenario.Scenario
		err error
	)
	if len(args) == 0 {
		s, err = scenario.LoadFS(scenarios.FS, scenarios.Default, sets)
	} else {
		s, err = scenario.Load(args[0], sets)
	}
	if err != nil {
		return nil, exitError{exitBadInput, err}
	}
	// What the run would find only once the cluster is up (the proxy
	// configuration against the topology) is bad input too.
	if err := undertest.Preflight(s); err != nil {
		return nil, exitError{exitBadInput, err}
	}
	return s, nil
}

// runScenario runs s on its backend with a live progress line on out.
func runScenario(ctx context.Context, s *scenario.Scenario, f *runFlags, log *slog.Logger, out io.Writer) (*sim.Result, error) {
	if f.startJitter < 0 {
		return nil, exitError{exitBadInput, fmt.Errorf("--start-jitter %v: must not be negative", f.startJitter)}
	}
	b, starter, err := backendFor(s, f.allowFaults)
	if err != nil {
		return nil, exitError{exitBadInput, err}
	}
	if s.IsExternal() {
		// A deployment that is not as the scenario says is bad input,
		// refused before anything is written or faulted.
		if _, err := external.Inspect(ctx, s, 0); err != nil {
			return nil, exitError{exitBadInput, fmt.Errorf("check the external deployment: %w", err)}
		}
	}
	mode := ""
	if s.Backend == "docker" && !s.IsExternal() {
		var why string
		if mode, why, err = docker.ChooseMode(ctx, f.dockerMode); err != nil {
			return nil, exitError{exitBadInput, err}
		}
		log.Info("docker mode", "mode", mode, "why", why)
		if mode == docker.ModeRunner {
			return runInRunner(ctx, s, f, log, os.Stdout, os.Stderr)
		}
	}
	line := newProgressLine(out)
	res, err := sim.Run(ctx, s, b, sim.Options{Log: log, StartProxy: starter, Progress: line.update, StartJitter: f.startJitter})
	line.done()
	switch {
	case err != nil && ctx.Err() != nil:
		return nil, exitError{130, errors.New("interrupted: everything the run started was stopped")}
	case err != nil:
		return nil, exitError{exitFailed, err}
	}
	res.Timeline.DockerMode = mode
	return res, nil
}

// progressLine rewrites one status line on a terminal, and prints nothing
// otherwise.
type progressLine struct {
	out io.Writer
	tty bool
}

func newProgressLine(out io.Writer) *progressLine {
	tty := false
	if f, ok := out.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progressLine{out: out, tty: tty}
}

func (p *progressLine) update(pr sim.Progress) {
	if !p.tty {
		return
	}
	msg := fmt.Sprintf("[%5.1fs] %-12s", pr.Elapsed.Seconds(), pr.Stage)
	if pr.Stage == "running" || pr.Stage == "reading back" {
		msg += fmt.Sprintf(" writes ok %d failed %d", pr.OK, pr.Fail)
		if pr.Phase != "" {
			msg += "  last: " + pr.Phase
		}
	}
	fmt.Fprintf(p.out, "\r\033[K%s", msg)
}

func (p *progressLine) done() {
	if p.tty {
		fmt.Fprint(p.out, "\r\033[K")
	}
}

// writeJSON saves the summary, the timeline and the verdicts.
func writeJSON(path string, tl *timeline.Timeline, r *verdict.Report) error {
	b, err := report.JSON(tl, r)
	if err != nil {
		return err
	}
	return writeOutput(path, b)
}

// junitError writes, when --junit was given, the run that could not be
// judged as a suite with one case in error, and returns err.
func junitError(f *runFlags, scenario, backend string, err error) error {
	if f.junitOut == "" {
		return err
	}
	var b bytes.Buffer
	if werr := report.JUnitError(&b, scenario, backend, err); werr != nil {
		return errors.Join(err, werr)
	}
	if werr := writeOutput(f.junitOut, b.Bytes()); werr != nil {
		return errors.Join(err, werr)
	}
	return err
}

// scenarioName names the scenario of args before it is loaded: the
// file's name without its extension, or the embedded default's.
func scenarioName(args []string) string {
	name := scenarios.Default
	if len(args) > 0 {
		name = args[0]
	}
	return strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))
}

// backendFor picks the backend and proxy starter of a scenario; an
// external deployment takes faults only when allowFaults.
func backendFor(s *scenario.Scenario, allowFaults bool) (rig.Backend, rig.ProxyStarter, error) {
	if s.IsExternal() {
		return external.New(s, external.Options{AllowFaults: allowFaults}), external.StartProxy, nil
	}
	b, ok := backends[s.Backend]
	if !ok {
		names := make([]string, 0, len(backends))
		for n := range backends {
			names = append(names, n)
		}
		return nil, nil, fmt.Errorf("backend %q is not available (have: %s)", s.Backend, strings.Join(names, ", "))
	}
	return b.backend(), b.proxy, nil
}

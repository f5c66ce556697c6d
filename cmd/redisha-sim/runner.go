package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/redisha-sim/redisha-sim/sim"
	"github.com/redisha-sim/redisha-sim/sim/docker"
	"github.com/redisha-sim/redisha-sim/sim/report"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
)

// newRunnerCmd is the command a runner container runs (sim/docker's
// runner mode): "runner PROTOCOL RUN-ARGS...". It prints the protocol
// line, then runs "run RUN-ARGS..." as this process.
func newRunnerCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "runner PROTOCOL [run arguments]",
		Short:              "Run a scenario inside a runner container (started by run in runner mode)",
		Hidden:             true,
		DisableFlagParsing: true,
		Args:               cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := runnerAvailable(); err != nil {
				return exitError{exitBadInput, err}
			}
			if p, err := strconv.Atoi(args[0]); err != nil || p != docker.RunnerProtocol {
				return exitError{exitBadInput, fmt.Errorf("runner protocol %q asked, this binary speaks %d", args[0], docker.RunnerProtocol)}
			}
			fmt.Println(docker.RunnerProtocolLine)
			if os.Getenv(docker.EnvRunnerName) != "" {
				// The host holds our stdin: its end is the host gone
				// (even killed). Stop the run as SIGTERM does (run's
				// handler), so that it removes what it made.
				go func() {
					io.Copy(io.Discard, os.Stdin)
					stopAsSIGTERM()
				}()
			}
			if code := run(append([]string{"run"}, args[1:]...)); code != exitOK {
				return exitError{code, nil}
			}
			return nil
		},
	}
}

// runnerAdvice tells what to do about a runner image that does not speak
// this binary's protocol.
const runnerAdvice = "run 'redisha-sim images proxy' (make images) to put this binary in the proxy image, or set " + docker.EnvProxyImage + " to an image of this version"

// runInRunner runs s in a runner container (docker's runner mode) and
// returns its result as a direct run does; the runner's standard output
// and error go to stdout and stderr. A runner that exits without a result
// gives an exitError with its code and no message: it said why on stderr.
func runInRunner(ctx context.Context, s *scenario.Scenario, f *runFlags, log *slog.Logger, stdout, stderr io.Writer) (*sim.Result, error) {
	if err := checkRunnerFiles(s); err != nil {
		return nil, err
	}
	level := f.logLevel
	if level == "" {
		level = "off"
	}
	args := []string{"-q", "--log-level", level, "--backend", "docker", "--start-jitter", f.startJitter.String()}
	for _, set := range f.sets {
		args = append(args, "--set", set)
	}
	dir := ""
	if len(f.args) > 0 {
		abs, err := filepath.Abs(f.args[0])
		if err != nil {
			return nil, exitError{exitBadInput, err}
		}
		dir = filepath.Dir(abs)
		args = append(args, docker.RunnerScenarioDir+"/"+filepath.Base(abs))
	}
	images := docker.ImagesFor(s.Images.Redis, s.Images.HAProxy, s.Images.Proxy)
	start := time.Now()
	rr, err := docker.RunInRunner(ctx, docker.RunnerOptions{Args: args, ScenarioDir: dir, Images: images,
		Stdout: stdout, Stderr: stderr, Log: log})
	switch {
	case err != nil && ctx.Err() != nil:
		return nil, exitError{130, errors.New("interrupted: everything the run started was stopped")}
	case errors.Is(err, docker.ErrRunnerProtocol):
		return nil, exitError{exitFailed, fmt.Errorf("%w (image %s): %s", err, images.Proxy, runnerAdvice)}
	case err != nil:
		return nil, exitError{exitFailed, err}
	}
	log.Info("runner done", "exit", rr.ExitCode, "elapsed", time.Since(start).Round(time.Millisecond))
	if rr.JSON == nil {
		// The runner printed why on its standard error.
		if rr.ExitCode == exitOK {
			rr.ExitCode = exitFailed
		}
		return nil, exitError{rr.ExitCode, nil}
	}
	var file report.File
	if err := json.Unmarshal(rr.JSON, &file); err != nil || file.Timeline == nil || file.Report == nil {
		return nil, exitError{exitFailed, fmt.Errorf("read the runner's result: not a run --json file (%v)", err)}
	}
	file.Timeline.DockerMode = docker.ModeRunner
	return &sim.Result{Timeline: file.Timeline, Report: file.Report, Proxy: file.Timeline.Proxy}, nil
}

// checkRunnerFiles refuses, as bad input, a scenario that names a file
// the runner would not have: runner mode copies in only the scenario's
// directory (docker.CheckCopiedIn).
func checkRunnerFiles(s *scenario.Scenario) error {
	if s.FS != nil || s.File == "" {
		return nil
	}
	dir, err := filepath.Abs(filepath.Dir(s.File))
	if err != nil {
		return exitError{exitBadInput, err}
	}
	for _, ref := range s.Files() {
		if err := docker.CheckCopiedIn(dir, ref.Path); err != nil {
			return exitError{exitBadInput, s.ErrorAt(ref.Field, err.Error()+
				": runner mode copies only the scenario's directory into the runner; put the file in it, or use --docker-mode direct on a host that reaches the containers")}
		}
	}
	return nil
}

// Command redisha-sim measures Redis Sentinel failovers behind an
// HAProxy-style proxy, predicts them with a timing model, and runs that
// proxy. It only parses flags, wires the packages under sim/ and proxy/
// together and maps errors to exit codes (0 ok, 1 an expectation failed,
// 2 bad input, 130 interrupted).
//
//	redisha-sim run [SCENARIO.yaml]          run a scenario (embedded master-kill by default)
//	redisha-sim model SCENARIO.yaml          the timing model's predicted distribution
//	redisha-sim sweep SCENARIO.yaml --set K=V1,V2   measure a grid of settings
//	redisha-sim tune SCENARIO.yaml --budget 3s      recommend check settings
//	redisha-sim summarize RUN.json...        medians and ranges of saved runs
//	redisha-sim proxy -f haproxy.cfg         run the proxy (-c checks a configuration)
//	redisha-sim images | clean               build the local images, remove leftovers
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
)

// exitError carries an exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func (e exitError) Unwrap() error { return e.err }

// Exit codes shared by the subcommands.
const (
	exitOK       = 0
	exitFailed   = 1 // an expectation failed, or the configuration is invalid
	exitBadInput = 2 // bad flags, scenario or configuration file
)

func main() {
	// go-redis logs through a package-level logger (pool dial retries);
	// the command reports through its own output instead.
	redis.SetLogger(quietRedis{})
	os.Exit(run(os.Args[1:]))
}

type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

func run(args []string) int {
	root := newRoot()
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	var ee exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			printError(ee.Error())
		}
		return ee.code
	}
	// Cobra's own errors: unknown flags and commands, missing arguments.
	printError(err.Error() + "; see 'redisha-sim --help'")
	return exitBadInput
}

// printError writes an error on standard error, one line per problem
// (a scenario with three errors gives three lines), each prefixed.
func printError(msg string) {
	for _, line := range strings.Split(msg, "\n") {
		fmt.Fprintln(os.Stderr, "redisha-sim: "+line)
	}
}

type globalFlags struct {
	logLevel string
}

func newRoot() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:           "redisha-sim",
		Short:         "Measure Redis Sentinel failovers behind an HAProxy-style proxy",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error, off (run: off unless given)")
	root.AddCommand(newProxyCmd(g), newRunCmd(g), newModelCmd(), newSweepCmd(g), newTuneCmd(g), newImagesCmd(g), newRelayCmd(g), newCleanCmd(), newSummarizeCmd(), newRunnerCmd())
	return root
}

// logger returns a text logger on standard error at the chosen level
// ("off" discards everything).
func (g *globalFlags) logger() (*slog.Logger, error) {
	if strings.EqualFold(g.logLevel, "off") {
		return slog.New(slog.DiscardHandler), nil
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(strings.ToUpper(g.logLevel))); err != nil {
		return nil, exitError{exitBadInput, fmt.Errorf("invalid --log-level %q: want debug, info, warn, error or off", g.logLevel)}
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})), nil
}

//go:build !unix

package main

import (
	"fmt"
	"os"
	"runtime"
)

// The runner and relay subcommands run inside the harness's Linux
// containers (the runner container, the redis containers), never on a
// Windows host: here they refuse with these errors.
var (
	errRunnerOS = fmt.Errorf("the runner subcommand runs inside the Linux runner container, not on %s: use run, which starts that container", runtime.GOOS)
	errExecOS   = fmt.Errorf("relay PROGRAM replaces this process with PROGRAM (exec), which %s cannot do; it runs inside the Linux redis containers", runtime.GOOS)
)

// runnerAvailable refuses the runner subcommand here.
func runnerAvailable() error { return errRunnerOS }

// stopAsSIGTERM is not reached (runnerAvailable refused first); it exits
// rather than do nothing.
func stopAsSIGTERM() {
	fmt.Fprintln(os.Stderr, errRunnerOS)
	os.Exit(exitFailed)
}

// execAvailable refuses relay PROGRAM here.
func execAvailable() error { return errExecOS }

// execProgram is not reached (execAvailable refused first).
func execProgram(string, []string) error { return errExecOS }

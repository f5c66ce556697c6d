//go:build unix

package main

import (
	"os"
	"syscall"
)

// runnerAvailable: the runner subcommand runs here (in the runner
// container, which is Linux).
func runnerAvailable() error { return nil }

// stopAsSIGTERM stops the run as SIGTERM does (run's handler).
func stopAsSIGTERM() { syscall.Kill(os.Getpid(), syscall.SIGTERM) }

// execAvailable: relay PROGRAM can replace this process with PROGRAM.
func execAvailable() error { return nil }

// execProgram replaces this process with the program at path.
func execProgram(path string, argv []string) error {
	return syscall.Exec(path, argv, os.Environ())
}

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/sweep"
)

// checkOutput makes sure an output file given by --flag can be written
// before a run that may take minutes produces what goes in it: an
// existing regular file must open for writing (it is not changed), a new
// one must be creatable in its directory (it is created and removed).
// Devices and pipes (/dev/null, /dev/stdout) are taken as they are.
func checkOutput(flag, path string) error {
	if path == "" {
		return nil
	}
	bad := func(err error) error {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return exitError{exitBadInput, fmt.Errorf("--%s %s: cannot write it: %w", flag, path, err)}
	}
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		return bad(errors.New("is a directory"))
	case err == nil && !fi.Mode().IsRegular():
		return nil
	case err == nil:
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return bad(err)
		}
		return f.Close()
	case !errors.Is(err, fs.ErrNotExist):
		return bad(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return bad(err)
	}
	f.Close()
	return os.Remove(path)
}

// checkOutputs checks each flag's path (flag, path, flag, path...).
func checkOutputs(flagPaths ...string) error {
	for i := 0; i+1 < len(flagPaths); i += 2 {
		if err := checkOutput(flagPaths[i], flagPaths[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// checkPositive refuses a duration flag at or below zero; what it wants
// is said the same way for every flag.
func checkPositive(flag string, d time.Duration, want string) error {
	if d <= 0 {
		return exitError{exitBadInput, fmt.Errorf("--%s %v: must be greater than zero: %s", flag, d, want)}
	}
	return nil
}

// checkRange refuses an integer flag outside [lo, hi].
func checkRange(flag string, v, lo, hi int, why string) error {
	if v < lo || v > hi {
		return exitError{exitBadInput, fmt.Errorf("--%s %d: want %d to %d%s", flag, v, lo, hi, why)}
	}
	return nil
}

// Bounds of the sweep and tune flags: far beyond what a machine measures
// in a day.
const (
	maxRepeat   = 1000
	maxParallel = 256
	maxRuns     = 10000
)

// gridSize is len(grid(axes)), saturating past maxRuns.
func gridSize(axes []sweep.Axis) int {
	n := 1
	for _, a := range axes {
		n *= len(a.Values)
		if n > maxRuns {
			return maxRuns + 1
		}
	}
	return n
}

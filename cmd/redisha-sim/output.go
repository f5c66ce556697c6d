package main

import (
	"fmt"
	"os"
)

// writeOutput writes an output file (--json, --junit, --html, --svg)
// atomically: a reader (a CI step, a browser that reloads) sees the old
// file or the whole new one, never half of it, and a run that fails while
// writing leaves no truncated file. Devices and pipes (/dev/stdout), which
// checkOutput lets through and which cannot be renamed over, are written
// as they are.
func writeOutput(path string, b []byte) error {
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		return nil
	}
	if err := writeFileAtomic(path, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

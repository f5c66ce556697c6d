// Package proc runs the user's commands (client programs, fault commands)
// on the harness's machine, the same way on every OS: a shell line runs
// under the platform's shell, and a command runs in its own process group
// (Unix) or is killed with its process tree (Windows), so that a command
// that times out or is stopped takes what it started along.
package proc

import (
	"fmt"
	"os/exec"
	"strings"
)

// Shell returns the argv that runs line under this OS's shell: sh -c on
// Unix; on Windows sh -c when sh is on PATH (Git for Windows, MSYS2,
// Cygwin, WSL interop), else cmd /C.
func Shell(line string) []string { return shellArgv(goos, exec.LookPath, line) }

// shellArgv is Shell for a given OS, with lookPath to find sh.
func shellArgv(goos string, lookPath func(string) (string, error), line string) []string {
	if goos == "windows" {
		if _, err := lookPath("sh"); err != nil {
			return []string{"cmd", "/C", line}
		}
	}
	return []string{"sh", "-c", line}
}

// Describe renders a shell argv for logs and reports: `sh -c "line"`.
func Describe(argv []string) string {
	if len(argv) == 0 {
		return ""
	}
	return fmt.Sprintf("%s %q", strings.Join(argv[:len(argv)-1], " "), argv[len(argv)-1])
}

// Package proc runs the user's commands (client programs, fault commands)
// on the harness's machine, the same way on every OS: a shell line runs
// under the platform's shell, and a command runs in its own process group
// (Unix) or is killed with its process tree (Windows), so that a command
// that times out or is stopped takes what it started along.
package proc

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// Shell returns the argv that runs line under this OS's shell: sh -c on
// Unix; on Windows sh -c when sh is on PATH (Git for Windows, MSYS2,
// Cygwin, WSL interop), else cmd /S /C.
func Shell(line string) []string { return shellArgv(goos, exec.LookPath, line) }

// ShellCommand is the command that runs argv (from Shell) with ctx, in a
// group of its own (Group). For cmd.exe, which parses its command line
// itself, line reaches it as written (no re-quoting of its quotes).
func ShellCommand(ctx context.Context, argv []string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	Group(cmd)
	verbatim(cmd, argv)
	return cmd
}

// shellArgv is Shell for a given OS, with lookPath to find sh.
func shellArgv(goos string, lookPath func(string) (string, error), line string) []string {
	if goos == "windows" {
		if _, err := lookPath("sh"); err != nil {
			return []string{"cmd", "/S", "/C", line}
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

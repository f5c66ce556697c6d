//go:build unix

package proc

import (
	"os/exec"
	"runtime"
	"syscall"
)

const goos = runtime.GOOS

// Group makes cmd (not yet started) the leader of a process group of its
// own, which KillGroup kills whole.
func Group(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// KillGroup kills with SIGKILL the process group of cmd (started with
// Group): the command and everything it started that stayed in the group.
func KillGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}

// verbatim: exec passes argv as it is on Unix.
func verbatim(*exec.Cmd, []string) {}

//go:build windows

package proc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

const goos = "windows"

// Group does nothing on Windows: KillGroup finds the children through
// their parent process ids instead.
func Group(*exec.Cmd) {}

// KillGroup kills cmd and its process tree with taskkill /T /F (what
// Windows ships for that; a job object would also reach children whose
// parent already exited, which taskkill cannot find). When taskkill fails
// (not found, or the process already gone) it kills cmd's process alone.
func KillGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	out, err := exec.Command("taskkill", "/T", "/F", "/PID", strconv.Itoa(cmd.Process.Pid)).CombinedOutput()
	if err == nil {
		return nil
	}
	if kerr := cmd.Process.Kill(); kerr != nil && !errors.Is(kerr, os.ErrProcessDone) {
		return fmt.Errorf("kill process tree %d: taskkill: %v: %s; kill: %w", cmd.Process.Pid, err, out, kerr)
	}
	return nil
}

// verbatim gives cmd.exe its command line as written: exec would quote
// line by the C runtime's rules (\" for a quote), which cmd.exe does not
// parse. cmd /S /C "line" strips the outer quotes and runs the rest as it
// is.
func verbatim(cmd *exec.Cmd, argv []string) {
	if len(argv) == 4 && argv[0] == "cmd" && argv[1] == "/S" && argv[2] == "/C" {
		cmd.SysProcAttr = &syscall.SysProcAttr{CmdLine: `cmd /S /C "` + argv[3] + `"`}
	}
}

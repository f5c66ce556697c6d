//go:build !unix

package redistest

import (
	"errors"
	"os"
	"syscall"
)

// canFreeze: Windows has no SIGSTOP.
const canFreeze = false

// freeze cannot stop a process here: Windows has no SIGSTOP (suspending
// every thread of another process is not something Go's os package does).
func freeze(*os.Process) error { return ErrPauseUnsupported }

// resume has nothing to continue: freeze never stops a process here.
func resume(*os.Process) error { return ErrPauseUnsupported }

// terminate has no graceful signal to send: os.Process.Signal supports
// only Kill here. The caller kills instead.
func terminate(*os.Process) error {
	return errors.New("no graceful shutdown signal on this OS")
}

// sysProcAttr: nothing to set; Kill and Close kill the process itself.
func sysProcAttr() *syscall.SysProcAttr { return nil }

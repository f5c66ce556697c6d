//go:build unix

package redistest

import (
	"os"
	"syscall"
)

// canFreeze: Unix has SIGSTOP.
const canFreeze = true

// freeze stops p with SIGSTOP.
func freeze(p *os.Process) error { return p.Signal(syscall.SIGSTOP) }

// resume continues p with SIGCONT.
func resume(p *os.Process) error { return p.Signal(syscall.SIGCONT) }

// terminate asks p to shut down gracefully (SIGTERM).
func terminate(p *os.Process) error { return p.Signal(syscall.SIGTERM) }

//go:build unix && !linux

package redistest

import "syscall"

// sysProcAttr puts a Redis process in its own process group. Only Linux
// has Pdeathsig: elsewhere (macOS) a test binary that crashes leaves its
// Redis processes running; Close kills them on a normal exit.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

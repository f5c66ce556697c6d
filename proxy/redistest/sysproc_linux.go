package redistest

import "syscall"

// sysProcAttr puts a Redis process in its own process group and has Linux
// kill it when the thread that started it (the spawner, which lives as
// long as the test binary) exits: a crashed test leaves no Redis behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

//go:build unix

package sim_test

import (
	"errors"
	"syscall"
	"testing"
	"time"
)

// requireProcessGroups: Unix has them.
func requireProcessGroups(*testing.T) {}

// assertGroupGone fails t unless (within 5 s) no process of the group is
// left: a signal 0 to the group finds none. It kills what it finds.
func assertGroupGone(t *testing.T, pgid, child int) {
	t.Helper()
	for range 50 {
		if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("process group %d (child %d) still has processes after the run", pgid, child)
	syscall.Kill(-pgid, syscall.SIGKILL)
}

//go:build !unix

package sim_test

import "testing"

// requireProcessGroups skips t: the test checks the client's process
// group, which Windows does not have (the client's process tree is killed
// with taskkill /T there, which this test does not check).
func requireProcessGroups(t *testing.T) {
	t.Helper()
	t.Skip("no process groups on this OS to check for leftover processes")
}

// assertGroupGone is not reached: requireProcessGroups skipped the test.
func assertGroupGone(t *testing.T, _, _ int) {
	t.Helper()
	t.Fatal("assertGroupGone needs process groups (requireProcessGroups skips first)")
}

package verdict

import (
	"fmt"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

// trioTimeline is a run of three nodes, redis1 the master and the others
// its replicas as the poller saw them at T=0, checked every second.
func trioTimeline() *timeline.Timeline {
	tl := base()
	tl.Nodes = []string{"redis1", "redis2", "redis3"}
	tl.Params.Inter, tl.Params.Rise, tl.Params.Fall, tl.Params.RolePoll = time.Second, 2, 3, 50*time.Millisecond
	roleAt(tl, 0, "redis1", timeline.RoleMaster)
	roleAt(tl, 0, "redis2", timeline.RoleReplica)
	roleAt(tl, 0, "redis3", timeline.RoleReplica)
	return tl
}

func roleAt(tl *timeline.Timeline, at int, node, role string) {
	tl.Events = append(tl.Events, timeline.Event{T: ms(at), Kind: timeline.KindRole, Source: "poller", Name: "role", Node: node, Role: role})
}

func faultOn(tl *timeline.Timeline, at int, action, node string) {
	tl.Events = append(tl.Events, timeline.Event{T: ms(at), Kind: timeline.KindFault, Source: "engine", Name: action, Target: node, Node: node, Took: ms(20)})
}

func downAt(tl *timeline.Timeline, at int, port, node string) {
	tl.Events = append(tl.Events, timeline.Event{T: ms(at), Kind: timeline.KindProxy, Source: "proxy", Name: "server-down", Port: port, Node: node, State: "DOWN"})
}

func switchTo(tl *timeline.Timeline, at int, node string) {
	for i := 1; i <= 3; i++ {
		sentinelEvent(tl, at+i, fmt.Sprintf("sentinel%d", i), "+switch-master", node, "")
	}
}

// falseDownsOf judges tl and returns its false DOWN marks, checking that
// the metric agrees.
func falseDownsOf(t *testing.T, tl *timeline.Timeline) FalseDown {
	t.Helper()
	tl.Sort()
	r := Judge(tl, nil)
	v, unknown := r.Metric("false_down_marks")
	if unknown != "" || v != float64(r.FalseDown.Count) || r.FalseDown.Count != len(r.FalseDown.Marks) {
		t.Fatalf("metric %v (%q), count %d, %d marks: want them equal and known", v, unknown, r.FalseDown.Count, len(r.FalseDown.Marks))
	}
	return r.FalseDown
}

func TestHealthyReplicaMarkedDownDuringADelayIsAFalseDownMark(t *testing.T) {
	tl := trioTimeline()
	// A slow link is not a failure: the node is alive and a replica
	// throughout, so the checks that timed out were wrong. The poller's
	// short timeout makes it report the node unreachable meanwhile.
	faultOn(tl, 3000, "delay", "redis2")
	roleAt(tl, 3200, "redis2", timeline.RoleUnreachable)
	downAt(tl, 5000, timeline.PortReplica, "redis2")
	faultOn(tl, 8000, "undelay", "redis2")
	roleAt(tl, 8100, "redis2", timeline.RoleReplica)
	fd := falseDownsOf(t, tl)
	want := DownMark{T: ms(5000), Port: timeline.PortReplica, Node: "redis2", State: "DOWN"}
	if fd.Count != 1 || fd.Marks[0] != want {
		t.Fatalf("got %+v, want one false DOWN mark %+v", fd, want)
	}
}

func TestKilledMasterMarkedDownIsNotAFalseDownMark(t *testing.T) {
	tl := trioTimeline()
	// Only the fault tells: the poller has not reported the node
	// unreachable yet.
	faultOn(tl, 3000, "kill", "redis1")
	downAt(tl, 6000, timeline.PortMaster, "redis1")
	if fd := falseDownsOf(t, tl); fd.Count != 0 {
		t.Fatalf("got %+v, want no false DOWN mark for a killed master", fd.Marks)
	}
}

func TestRescheduledReplicaMarkedDownAtItsOldAddressIsNotAFalseDownMark(t *testing.T) {
	tl := trioTimeline()
	// The poller follows the node to its new address and sees a healthy
	// replica; the proxy's server line keeps the old one, dead for good.
	faultOn(tl, 3000, "reschedule", "redis2")
	roleAt(tl, 3100, "redis2", timeline.RoleReplica)
	downAt(tl, 6000, timeline.PortReplica, "redis2")
	downAt(tl, 30000, timeline.PortReplica, "redis2")
	if fd := falseDownsOf(t, tl); fd.Count != 0 {
		t.Fatalf("got %+v, want no false DOWN mark for the old address of a rescheduled node", fd.Marks)
	}
}

func TestDownMarkRightAfterTheNodeCameBackIsNotAFalseDownMark(t *testing.T) {
	tl := trioTimeline()
	// A check that began while the node was paused can fail after the
	// unpause; one that began an inter and more later cannot.
	faultOn(tl, 2000, "pause", "redis3")
	faultOn(tl, 4000, "unpause", "redis3")
	downAt(tl, 4500, timeline.PortReplica, "redis3")
	downAt(tl, 7000, timeline.PortReplica, "redis3")
	fd := falseDownsOf(t, tl)
	if fd.Count != 1 || fd.Marks[0].T != ms(7000) {
		t.Fatalf("got %+v, want only the mark at 7s", fd.Marks)
	}
}

func TestDemotedOldMasterMarkedDownOnTheMasterPortIsNotAFalseDownMark(t *testing.T) {
	tl := trioTimeline()
	// The same node marked DOWN while it was the master Sentinel named is
	// a false mark: the test is not vacuous.
	downAt(tl, 2000, timeline.PortMaster, "redis1")
	// A failover demotes it: redis2 is promoted, redis1 follows it.
	roleAt(tl, 4900, "redis2", timeline.RoleMaster)
	switchTo(tl, 5000, "redis2")
	roleAt(tl, 6000, "redis1", timeline.RoleReplica)
	downAt(tl, 6100, timeline.PortMaster, "redis1")
	fd := falseDownsOf(t, tl)
	if fd.Count != 1 || fd.Marks[0].T != ms(2000) {
		t.Fatalf("got %+v, want only the mark at 2s", fd.Marks)
	}

	// The role alone is enough, without a Sentinel switch (REPLICAOF by
	// hand), and the poller may report it after the proxy's mark.
	tl = trioTimeline()
	downAt(tl, 6000, timeline.PortMaster, "redis1")
	roleAt(tl, 6100, "redis1", timeline.RoleReplica)
	if fd := falseDownsOf(t, tl); fd.Count != 0 {
		t.Fatalf("got %+v, want no false DOWN mark for a demoted master", fd.Marks)
	}
}

func TestReplicaMarkedDownWhileUnreachableIsNotAFalseDownMark(t *testing.T) {
	tl := trioTimeline()
	// No fault was injected, but the poller could not reach the node.
	roleAt(tl, 5000, "redis3", timeline.RoleUnreachable)
	downAt(tl, 5300, timeline.PortReplica, "redis3")
	roleAt(tl, 7000, "redis3", timeline.RoleReplica)
	if fd := falseDownsOf(t, tl); fd.Count != 0 {
		t.Fatalf("got %+v, want no false DOWN mark for an unreachable replica", fd.Marks)
	}
}

func TestReplicaPortMarkOfAPromotedReplicaIsNotAFalseDownMark(t *testing.T) {
	tl := trioTimeline()
	faultOn(tl, 1000, "kill", "redis1")
	roleAt(tl, 4000, "redis2", timeline.RoleMaster)
	switchTo(tl, 4100, "redis2")
	downAt(tl, 4500, timeline.PortReplica, "redis2")
	if fd := falseDownsOf(t, tl); fd.Count != 0 {
		t.Fatalf("got %+v, want no false DOWN mark for a replica that became master", fd.Marks)
	}
}

func TestMaintenanceIsNotADownMark(t *testing.T) {
	tl := trioTimeline()
	tl.Events = append(tl.Events, timeline.Event{T: ms(3000), Kind: timeline.KindProxy, Name: "server-down", Port: timeline.PortReplica, Node: "redis2", State: "MAINT"})
	if fd := falseDownsOf(t, tl); fd.Count != 0 {
		t.Fatalf("got %+v, want maintenance ignored", fd.Marks)
	}
}

func TestFalseDownMarksAreUnknownWithoutRoles(t *testing.T) {
	tl := base()
	downAt(tl, 3000, timeline.PortReplica, "redis2")
	r := Judge(tl, nil)
	if _, unknown := r.Metric("false_down_marks"); unknown == "" || r.FalseDown.Checked {
		t.Fatalf("got %+v, want false_down_marks unknown without role events", r.FalseDown)
	}
}

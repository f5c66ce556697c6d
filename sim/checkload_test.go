package sim_test

import (
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

func TestInProcessRunRecordsTheCheckLoadOnEveryNode(t *testing.T) {
	// The seed's checks (inter 1s) on a healthy cluster: the only fault
	// stops a Sentinel, which the nodes do not notice.
	res := run(t, load(t, "master-kill.yaml", "duration=5s", "faults[0].at=4s", "faults[0].action=stop", "faults[0].target=sentinel1"))
	tl := res.Timeline
	got := map[string]timeline.CheckLoad{}
	for _, l := range tl.CheckLoad {
		got[l.Node+" "+l.Port] = l
	}
	for _, node := range tl.Nodes {
		for _, port := range []string{timeline.PortMaster, timeline.PortReplica} {
			l, ok := got[node+" "+port]
			if !ok {
				t.Errorf("%s on the %s port: no check load recorded", node, port)
				continue
			}
			// About 5s of workload at one check a second, or one every
			// two where the role does not match the port (the check
			// waits inter for it, then downinter).
			if l.Checks < 2 || l.Checks > 10 || l.BytesOut <= 0 || l.BytesIn <= 0 || l.Seconds < 4.5 || l.Seconds > 7 {
				t.Errorf("%s on the %s port: %d checks, %d bytes out, %d in over %.2fs; want 2 to 10 checks with bytes both ways over about 5s",
					node, port, l.Checks, l.BytesOut, l.BytesIn, l.Seconds)
			}
		}
	}
	// Over the workload: from its start to its end.
	var start, end time.Duration
	for _, e := range tl.Events {
		switch {
		case e.Kind == timeline.KindNote && e.Name == "workload-start":
			start = e.T
		case e.Kind == timeline.KindNote && e.Name == "workload-end":
			end = e.T
		}
	}
	for _, l := range tl.CheckLoad {
		if d := l.From - start; d < -100*time.Millisecond || d > 100*time.Millisecond || l.To < end || l.To-end > 100*time.Millisecond {
			t.Errorf("%s on the %s port: counted from %v to %v, want the workload, %v to %v", l.Node, l.Port, l.From, l.To, start, end)
		}
	}
	r := res.Report
	if !r.CheckLoad.Measured || len(r.CheckLoad.Nodes) != len(tl.Nodes) {
		t.Fatalf("report: %+v, want every node measured", r.CheckLoad)
	}
	for _, m := range []string{"check_rate", "check_bytes_rate"} {
		if v, unknown := r.Metric(m); unknown != "" || v <= 0 {
			t.Errorf("%s = %v (%s), want a positive rate", m, v, unknown)
		}
	}
	// A healthy cluster gets no false DOWN marks.
	if v, unknown := r.Metric("false_down_marks"); unknown != "" || v != 0 {
		t.Errorf("false_down_marks = %v (%s), want 0: %+v", v, unknown, r.FalseDown.Marks)
	}
}

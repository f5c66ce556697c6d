package verdict

import (
	"testing"

	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

func TestCheckLoadSumsBothPortsPerNode(t *testing.T) {
	tl := trioTimeline()
	load := func(node, port string, checks uint64, out, in int64) timeline.CheckLoad {
		return timeline.CheckLoad{Node: node, Port: port, Checks: checks, BytesOut: out, BytesIn: in, From: 0, To: ms(10000), Seconds: 10}
	}
	tl.CheckLoad = []timeline.CheckLoad{
		load("redis2", timeline.PortMaster, 10, 600, 4000),
		load("redis1", timeline.PortMaster, 10, 600, 4000),
		load("redis1", timeline.PortReplica, 20, 500, 3000),
		load("redis2", timeline.PortReplica, 30, 500, 3000),
	}
	r := Judge(tl, nil)
	cl := r.CheckLoad
	if !cl.Measured || len(cl.Nodes) != 2 {
		t.Fatalf("got %+v, want two measured nodes", cl)
	}
	want := []NodeCheckLoad{
		{Node: "redis1", Checks: 30, BytesOut: 1100, BytesIn: 7000, ChecksPerSec: 3, BytesPerSec: 810},
		{Node: "redis2", Checks: 40, BytesOut: 1100, BytesIn: 7000, ChecksPerSec: 4, BytesPerSec: 810},
	}
	for i, w := range want {
		if cl.Nodes[i] != w {
			t.Errorf("node %d: got %+v, want %+v", i, cl.Nodes[i], w)
		}
	}
	if v, unknown := r.Metric("check_rate"); v != 4 || unknown != "" {
		t.Errorf("check_rate %v (%q), want 4", v, unknown)
	}
	if v, unknown := r.Metric("check_bytes_rate"); v != 810 || unknown != "" {
		t.Errorf("check_bytes_rate %v (%q), want 810", v, unknown)
	}
}

func TestCheckLoadOfAProxyInAContainerIsNotMeasured(t *testing.T) {
	tl := trioTimeline() // no check counts, as with HAProxy
	exp := scenario.Expectation{Metric: "check_rate", Op: "<=", Value: 100}
	r := Judge(tl, []scenario.Expectation{exp})
	if r.CheckLoad.Measured {
		t.Fatalf("got %+v, want not measured", r.CheckLoad)
	}
	for _, m := range []string{"check_rate", "check_bytes_rate"} {
		if v, unknown := r.Metric(m); unknown == "" {
			t.Errorf("%s = %v, want unknown (not measured), not a value", m, v)
		}
	}
	if r.Passed() || r.Expectations[0].Unknown == "" {
		t.Errorf("got %+v, want the expectation to fail as unknown", r.Expectations)
	}
}

package report

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/timeline"
	"github.com/redisha-sim/redisha-sim/sim/verdict"
)

// A run with two workloads shows them side by side, then a section each
// with its errors by kind, its writes to the old master and its late
// answers.
func TestTextShowsEveryWorkloadSideBySideAndInItsOwnSection(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	tl := &timeline.Timeline{Scenario: "s", Backend: "memory", End: ms(6000), InitialMaster: "redis1",
		Nodes: []string{"redis1", "redis2"}, Params: timeline.Params{Sentinels: 1},
		ReadBack:  &timeline.ReadBack{Master: "redis2", Settled: true},
		Workloads: []timeline.Workload{{Name: "pp", Client: "proxy", Detail: "per-op"}, {Name: "py", Client: "redis-py-sentinel"}}}
	tl.Events = []timeline.Event{{T: ms(1000), Kind: timeline.KindFault, Name: "kill", Target: "redis1"},
		{T: ms(3000), Kind: timeline.KindSentinel, Source: "sentinel1", Name: "+switch-master", Node: "redis2"}}
	for _, w := range []string{"pp", "py"} {
		for t := 0; t < 6000; t += 100 {
			op := timeline.Op{Kind: timeline.OpWrite, Key: fmt.Sprintf("%s:%d", w, t), Start: ms(t), End: ms(t + 1), Workload: w, Result: timeline.ResultOK, Node: "redis1", Final: "present"}
			switch {
			case t >= 1000 && t < 3000:
				op.Result, op.Err, op.Node, op.Final = timeline.ResultFail, "connection refused", "", "absent"
			case t >= 3000 && t < 3500 && w == "py":
				op.Result, op.Err, op.Final = timeline.ResultInfo, "no answer within the timeout", "absent"
				op.Late = &timeline.Late{At: op.End + ms(700), Result: timeline.ResultFail, Err: "READONLY"}
			case t >= 3000:
				op.Node = "redis2"
			}
			tl.Ops = append(tl.Ops, op)
		}
	}
	tl.Sort()
	var b bytes.Buffer
	Text(&b, tl, verdict.Judge(tl, nil))
	out := b.String()
	for _, want := range []string{
		"Workloads side by side (the durations above are the worst's, py):",
		"  pp                   proxy                    2.100s",
		"  py                   redis-py-sentinel        2.600s",
		"\nWorkload pp (proxy, per-op):\n",
		"\nWorkload py (redis-py-sentinel):\n",
		"Errors by kind: refused 20, timeout 5\n",
		"Writes to a node Sentinel no longer named master: 5, until 0.401s after the switch\n",
		"Late answers (after their timeout): 5 (0 ok), the latest 0.700s after its timeout\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

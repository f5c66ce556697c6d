package htmlreport

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redisha-sim/redisha-sim/sim/timeline"
	"github.com/redisha-sim/redisha-sim/sim/verdict"
)

// updateGolden rewrites the golden charts:
//
//	go test ./sim/htmlreport -run Golden -update
var updateGolden = flag.Bool("update", false, "rewrite the golden charts in testdata")

// A one-workload chart is byte for byte what it was before runs had
// several workloads (testdata/run-one-workload.svg was drawn then).
func TestOneWorkloadChartIsTheGoldenOne(t *testing.T) {
	tl := masterKill()
	got := RunSVG(RunData{Timeline: tl, Report: judge(t, tl)})
	path := filepath.Join("testdata", "run-one-workload.svg")
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("the one-workload chart changed (%d bytes, want %d): a run with one workload must draw as before", len(got), len(want))
	}
}

// twoWorkloads is masterKill's run seen by two workloads: its operations
// as "proxy" and a copy of its writes as "sentinel-aware", back 2s
// sooner.
func twoWorkloads() *timeline.Timeline {
	tl := masterKill()
	tl.Workloads = []timeline.Workload{{Name: "proxy", Client: "proxy", Detail: "per-op"}, {Name: "sentinel-aware", Client: "go-redis-sentinel"}}
	var ops []timeline.Op
	for _, op := range tl.Ops {
		op.Workload = "proxy"
		ops = append(ops, op)
		if op.Kind == timeline.OpWrite {
			op.Workload = "sentinel-aware"
			if op.Start >= ms(15300) && op.Start < ms(17300) {
				op.Result, op.Err = timeline.ResultOK, ""
			}
			ops = append(ops, op)
		}
	}
	tl.Ops = ops
	tl.Sort()
	return tl
}

// A run with several workloads draws each workload's operations in lanes
// of their own, under a header naming the workload, its client and its
// own write interruption.
func TestRunChartDrawsALabelledOperationsLanePerWorkload(t *testing.T) {
	tl := twoWorkloads()
	r := verdict.Judge(tl, nil)
	if len(r.Workloads) != 2 {
		t.Fatalf("got %d workload reports, want 2", len(r.Workloads))
	}
	root := parseXML(t, RunSVG(RunData{Timeline: tl, Report: r}))
	var headers []string
	for _, e := range root.all(classed("text", "h")) {
		headers = append(headers, e.textContent())
	}
	var subs []string
	for _, e := range root.all(classed("text", "sub")) {
		subs = append(subs, e.textContent())
	}
	for _, w := range r.Workloads {
		if !containsString(headers, "Operations of "+w.Name) {
			t.Errorf("no header for %s among %q", w.Name, headers)
		}
		want := "; write interruption " + secs(w.Report.WriteInterruption.Duration)
		if !slicesContainsPart(subs, w.Client) || !slicesContainsPart(subs, want) {
			t.Errorf("%s: no sub-header with %q and %q among %q", w.Name, w.Client, want, subs)
		}
	}
	if containsString(headers, "Operations") {
		t.Errorf("got a shared Operations header, want one per workload: %q", headers)
	}
	// writes and reads of "proxy", writes of "sentinel-aware".
	if n := len(root.all(classed("g", "ops-"+timeline.OpWrite))); n != 2 {
		t.Errorf("got %d write lanes, want one per workload (2)", n)
	}
	if n := len(root.all(classed("g", "ops-"+timeline.OpRead))); n != 1 {
		t.Errorf("got %d read lanes, want 1 (only proxy reads)", n)
	}
	if !strings.Contains(RunSVG(RunData{Timeline: tl, Report: r}), "worst workload "+r.WorstWorkload) {
		t.Errorf("the interruption's label does not name the worst workload %s", r.WorstWorkload)
	}
}

func slicesContainsPart(ss []string, part string) bool {
	for _, s := range ss {
		if strings.Contains(s, part) {
			return true
		}
	}
	return false
}

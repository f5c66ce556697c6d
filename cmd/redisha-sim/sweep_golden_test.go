package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/sim"
	"github.com/redisha-sim/redisha-sim/sim/model"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/sweep"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
	"github.com/redisha-sim/redisha-sim/sim/verdict"
)

// updateGolden rewrites the sweep's golden outputs:
//
//	go test ./cmd/redisha-sim -run Golden -update
var updateGolden = flag.Bool("update", false, "rewrite the golden sweep outputs in testdata")

// fakeSweep sweeps path over proxy.inter=1s,2s with two repeats of a fake
// run whose report run gives, with the times zeroed and a fixed model
// band on the first point, so that the outputs are the same every time.
func fakeSweep(t *testing.T, path string, run func(inter time.Duration, repeat int) *verdict.Report) *sweep.Result {
	t.Helper()
	n := map[time.Duration]int{}
	res, err := sweep.Sweep(t.Context(), sweep.Options{
		Sets: []string{"proxy.inter=1s,2s"}, Repeat: 2, Parallel: 1,
		Load: func(sets []string) (*scenario.Scenario, error) { return scenario.Load(path, sets) },
		Run: func(_ context.Context, s *scenario.Scenario, _ time.Duration) (*sim.Result, error) {
			inter := s.Proxy.Inter.D
			n[inter]++
			return &sim.Result{Timeline: &timeline.Timeline{}, Report: run(inter, n[inter])}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	res.Seconds, res.RunSeconds = 0, 0
	for i := range res.Runs {
		res.Runs[i].Seconds = 0
	}
	d := model.Dist{N: 100, P5: 5 * time.Second, P50: 6 * time.Second, P95: 7 * time.Second, Max: 8 * time.Second}
	res.Points[0].Prediction = &model.Prediction{Trials: 100, Interruption: d}
	return res
}

// oneGroupReport is a recovered interruption of inter times the repeat,
// a switch 500ms before writes came back and a lost write per repeat.
func oneGroupReport(inter time.Duration, repeat int) *verdict.Report {
	d := time.Duration(repeat) * inter
	return &verdict.Report{
		Fault:             &timeline.Event{},
		WriteInterruption: verdict.Interruption{Interrupted: true, Recovered: true, Duration: d},
		Phases:            []verdict.Phase{{Name: "+switch-master", Found: true}},
		ProxyShare:        500 * time.Millisecond,
		Lost:              verdict.LostWrites{Checked: true, Lost: repeat},
		TwoMaster:         verdict.TwoMaster{Total: time.Duration(repeat) * 100 * time.Millisecond},
		Failovers:         1,
		FalseDown:         verdict.FalseDown{Checked: true},
	}
}

// writeFakeSweep writes res as the command does, with --csv,
// --json and --svg, and returns the table, the CSV, the JSON and the SVG.
func writeFakeSweep(t *testing.T, res *sweep.Result) (table, csvText, jsonText, svg string) {
	t.Helper()
	dir := t.TempDir()
	f := &sweepFlags{csvOut: filepath.Join(dir, "sweep.csv")}
	f.jsonOut = filepath.Join(dir, "sweep.json")
	f.svgOut = filepath.Join(dir, "sweep.svg")
	var out strings.Builder
	if err := writeSweep(res, f, &out); err != nil {
		t.Fatal(err)
	}
	c, err := os.ReadFile(f.csvOut)
	if err != nil {
		t.Fatal(err)
	}
	j, err := os.ReadFile(f.jsonOut)
	if err != nil {
		t.Fatal(err)
	}
	g, err := os.ReadFile(f.svgOut)
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), string(c), string(j), string(g)
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateGolden {
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
		t.Errorf("%s: got\n%s\nwant\n%s", name, got, want)
	}
}

// A sweep of a one-group scenario prints, and writes as CSV, JSON and SVG,
// exactly what it did before sweeps knew of groups.
func TestSweepOfOneGroupWritesTheGoldenOutputs(t *testing.T) {
	res := fakeSweep(t, "../../scenarios/master-kill.yaml", oneGroupReport)
	table, csvText, jsonText, svg := writeFakeSweep(t, res)
	golden(t, "sweep-one-group.txt", table)
	golden(t, "sweep-one-group.svg", svg)
	golden(t, "sweep-one-group.csv", csvText)
	golden(t, "sweep-one-group.json", jsonText)
}

// threeGroupsReport is oneGroupReport for three groups, group i+1's
// interruption (i+1) x inter x the repeat, group3 without a switch and,
// in the second repeat at 2s, not recovered; the total as verdict.Judge
// makes it (the worst group's interruption, lost writes and failovers
// summed, the longest two-master window).
func threeGroupsReport(inter time.Duration, repeat int) *verdict.Report {
	total := &verdict.Report{Fault: &timeline.Event{}, FalseDown: verdict.FalseDown{Checked: true}, Lost: verdict.LostWrites{Checked: true}}
	for i := range 3 {
		g := oneGroupReport(time.Duration(i+1)*inter, repeat)
		if i == 2 {
			g.Phases, g.ProxyShare = nil, 0
			g.WriteInterruption.Recovered = !(inter == 2*time.Second && repeat == 2)
		}
		g.TwoMaster.Total += time.Duration(i) * time.Second
		total.Groups = append(total.Groups, verdict.GroupReport{Name: fmt.Sprintf("group%d", i+1), MasterName: fmt.Sprintf("group%d", i+1), Report: g})
		total.Lost.Lost += g.Lost.Lost
		total.Failovers += g.Failovers
		total.TwoMaster = g.TwoMaster
		total.Worst, total.WriteInterruption, total.Phases, total.ProxyShare = total.Groups[i].Name, g.WriteInterruption, g.Phases, g.ProxyShare
	}
	return total
}

// A sweep of a three-group scenario prints a row for all the groups and
// one per group, with a group and a failovers column, and says how to
// read them; its golden outputs show the layout.
func TestSweepOfThreeGroupsWritesARowPerGroup(t *testing.T) {
	res := fakeSweep(t, "../../scenarios/three-sets-host-kill.yaml", threeGroupsReport)
	d := model.Dist{N: 100, P5: time.Second, P50: 2 * time.Second, P95: 3 * time.Second, Max: 4 * time.Second}
	w := model.Dist{N: 100, P5: 4 * time.Second, P50: 5 * time.Second, P95: 6 * time.Second, Max: 7 * time.Second}
	res.Points[0].Prediction = &model.Prediction{Trials: 100, Interruption: d,
		Groups: []model.GroupPrediction{{Interruption: d}, {Interruption: d, Unrecovered: 10}, {Interruption: d}}, Worst: model.GroupPrediction{Interruption: w, Unrecovered: 10}}
	// At 2s the model never recovers group3.
	res.Points[1].Prediction = &model.Prediction{Trials: 100, Interruption: d,
		Groups: []model.GroupPrediction{{Interruption: d}, {Interruption: d}, {Unrecovered: 100}}, Worst: model.GroupPrediction{Unrecovered: 100}}
	table, csvText, _, svg := writeFakeSweep(t, res)
	golden(t, "sweep-three-groups.txt", table)
	golden(t, "sweep-three-groups.csv", csvText)
	if !strings.Contains(svg, "worst group") {
		t.Errorf("chart: got no mention of the worst group, want its axis to say so")
	}
	header, rows := sweepTable(res)
	if len(rows) != 8 || header[1] != "group" || !slices.Contains(header, "failovers median") {
		t.Fatalf("got header %q and %d rows, want a group and a failovers column and 4 rows per point", header, len(rows))
	}
	want := [][]string{
		{"1s", summaryTotal, "2", "4.50s"}, {"1s", "group1", "2", "1.50s"}, {"1s", "group2", "2", "3.00s"}, {"1s", "group3", "2", "4.50s"},
		{"2s", summaryTotal, "2 (1 not recovered)", "6.00s"}, {"2s", "group3", "2 (1 not recovered)", "6.00s"},
	}
	bands := map[string]string{"1s " + summaryTotal: "4.00-5.00-6.00s (10/100 never recover)", "1s group2": "1.00-2.00-3.00s (10/100 never recover)",
		"1s group1": "1.00-2.00-3.00s", "2s " + summaryTotal: "never recovers", "2s group3": "never recovers", "2s group1": "1.00-2.00-3.00s", "1s group3": "1.00-2.00-3.00s (median outside)"}
	for _, r := range rows {
		if want, ok := bands[r[0]+" "+r[1]]; ok && r[6] != want {
			t.Errorf("%s %s: got model band %q, want %q", r[0], r[1], r[6], want)
		}
	}
	for _, w := range want {
		if !slices.ContainsFunc(rows, func(r []string) bool { return slices.Equal(r[:4], w) }) {
			t.Errorf("got no row starting %q in %q", w, rows)
		}
	}
}

// twoWorkloadsReport is oneGroupReport for two workloads, app (the
// first, the model's) cut off for inter x the repeat and slow for twice
// that, with slow's lost writes; the total as verdict.Judge makes it (the
// worst workload's durations, the counts summed).
func twoWorkloadsReport(inter time.Duration, repeat int) *verdict.Report {
	app, slow := oneGroupReport(inter, repeat), oneGroupReport(2*inter, repeat)
	app.Lost.Lost = 0
	total := oneGroupReport(2*inter, repeat)
	total.Workloads = []verdict.WorkloadReport{{Name: "app", Client: "proxy", Report: app}, {Name: "slow", Client: "go-redis-sentinel", Report: slow}}
	total.WorstWorkload = "slow"
	return total
}

// A sweep of a scenario with two workloads prints the total and a row
// per workload, with a workload column and the model's band on the first
// workload's row; its golden output shows the layout.
func TestSweepOfTwoWorkloadsWritesARowPerWorkload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "two-clients.yaml")
	y := "name: two-clients\nworkloads:\n  - {name: app, client: proxy}\n  - {name: slow, client: go-redis-sentinel}\n" +
		"faults: [{at: 5s, action: kill, target: master}]\nexpect: [failovers == 1]\n"
	if err := os.WriteFile(path, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	res := fakeSweep(t, path, twoWorkloadsReport)
	table, csvText, jsonText, svg := writeFakeSweep(t, res)
	golden(t, "sweep-two-workloads.txt", table)
	if !strings.Contains(svg, "worst workload") {
		t.Errorf("chart: got no mention of the worst workload, want its axis to say so")
	}
	if !strings.Contains(jsonText, `"slow.write_interruption"`) || !strings.Contains(csvText, "workload") {
		t.Errorf("got JSON or CSV without the workloads' figures:\n%s\n%s", csvText, jsonText)
	}
	header, rows := sweepTable(res)
	if len(rows) != 6 || header[1] != "workload" || slices.Contains(header, "group") {
		t.Fatalf("got header %q and %d rows, want a workload column (no group column) and 3 rows per point", header, len(rows))
	}
	want := [][]string{
		{"1s", summaryTotal, "2", "3.00s", "3.90s", "4.00s", "5.00-6.00-7.00s", "0.50s", "2"},
		{"1s", "app", "2", "1.50s", "1.95s", "2.00s", "5.00-6.00-7.00s (median outside)", "0.50s", "0"},
		{"1s", "slow", "2", "3.00s", "3.90s", "4.00s", "-", "0.50s", "2"},
		{"2s", "app", "2", "3.00s", "3.90s", "4.00s", "-", "0.50s", "0"},
	}
	for _, w := range want {
		if !slices.ContainsFunc(rows, func(r []string) bool { return slices.Equal(r[:len(w)], w) }) {
			t.Errorf("got no row starting %q in %q", w, rows)
		}
	}
}

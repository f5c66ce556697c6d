package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/timeline"
	"github.com/redisha-sim/redisha-sim/sim/verdict"
)

// mkRun makes a run's timeline: writes every 10ms for 20s, the master
// killed at 10s, +sdown at 15s, writes failing for wi after the fault
// (to the end when wi is 0).
func mkRun(backend string, wi time.Duration) savedRun {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	tl := &timeline.Timeline{Scenario: "master-kill", Backend: backend, Proxy: "p", End: ms(20000), InitialMaster: "redis1",
		Params: timeline.Params{Sentinels: 3}}
	for t := 0; t < 20000; t += 10 {
		res := timeline.ResultOK
		if ms(t) >= ms(10000) && (wi == 0 || ms(t) < ms(10000)+wi) {
			res = timeline.ResultFail
		}
		tl.Ops = append(tl.Ops, timeline.Op{Kind: timeline.OpWrite, Key: fmt.Sprint(t), Start: ms(t), End: ms(t + 1), Result: res, Node: "redis1"})
	}
	tl.Events = append(tl.Events,
		timeline.Event{T: ms(10000), Kind: timeline.KindFault, Name: "kill", Target: "redis1"},
		timeline.Event{T: ms(15000), Kind: timeline.KindSentinel, Source: "sentinel1", Name: "+sdown", Node: "redis1", Detail: "master mymaster 127.0.0.1 6379"})
	tl.Sort()
	return savedRun{Timeline: tl, Report: &verdict.Report{}}
}

func TestSummarizeGroupsRunsAndTakesMedians(t *testing.T) {
	var out bytes.Buffer
	summarize(&out, []savedRun{
		mkRun("docker", 7*time.Second), mkRun("memory", 6*time.Second),
		mkRun("docker", 9*time.Second), mkRun("docker", 8*time.Second), mkRun("docker", 0),
	})
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("want a header, a rule and 2 rows, got:\n%s", out.String())
	}
	docker := lines[2]
	// Interruptions run from the last ok write (9.991s) to the first ok
	// one after the fault.
	for _, want := range []string{"| docker ", "| 4 ", "8.01s [7.01-9.01] (3 of 4 runs)", "5.00s [5.00-5.00]"} {
		if !strings.Contains(docker, want) {
			t.Errorf("docker row %q lacks %q", docker, want)
		}
	}
	if !strings.Contains(lines[3], "6.01s [6.01-6.01]") || !strings.Contains(lines[3], "| memory ") {
		t.Errorf("memory row: %q", lines[3])
	}
}

func TestSummarizeRejectsOtherFiles(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"x.json": `{"a":1}`, "y.json": `not json`} {
		path := dir + "/" + name
		if err := writeFile(path, body); err != nil {
			t.Fatal(err)
		}
		if _, err := readRun(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v should name the file", name, err)
		}
	}
}

func writeFile(path, body string) error { return os.WriteFile(path, []byte(body), 0o644) }

// The probe's case: partition.yaml with Sentinel-aware routing, run once
// as it is and once with --set topology.min_replicas_to_write=1, lost 1367
// and 400 writes; one row with the median 883.5 described neither. (Here
// 1000 writes are lost against 400 and 402.)
func TestSummarizeKeepsRunsWithDifferentSettingsApart(t *testing.T) {
	mk := func(minReplicas string, lost int) savedRun {
		r := mkRun("memory", 7*time.Second)
		r.Timeline.Scenario = "partition"
		r.Timeline.Settings = map[string]string{"proxy.sentinel_aware": "true", "topology.min_replicas_to_write": minReplicas, "seed": fmt.Sprint(lost)}
		// Writes acknowledged but missing when read back.
		r.Timeline.ReadBack = &timeline.ReadBack{Master: "redis1", Settled: true}
		n := 0
		for i, op := range r.Timeline.Ops {
			if op.Result != timeline.ResultOK {
				continue
			}
			r.Timeline.Ops[i].Final = "present"
			if n < lost {
				r.Timeline.Ops[i].Final = "absent"
				n++
			}
		}
		return r
	}
	var out bytes.Buffer
	summarize(&out, []savedRun{mk("0", 1000), mk("1", 400), mk("1", 402)})
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("got %d lines, want a header, a rule and 2 rows:\n%s", len(lines), out.String())
	}
	if !strings.Contains(lines[0], "| settings ") {
		t.Errorf("header %q has no settings column", lines[0])
	}
	// The seed differs in every run: it is not a setting that splits them.
	for i, wants := range [][]string{{"| topology.min_replicas_to_write=0 | 1 ", "| 1000 [1000-1000] |"}, {"| topology.min_replicas_to_write=1 | 2 ", "| 401 [400-402] |"}} {
		row := strings.Join(strings.Fields(lines[2+i]), " ")
		for _, want := range wants {
			if !strings.Contains(row, want) {
				t.Errorf("row %d: got %q, want it to contain %q", i, row, want)
			}
		}
	}
}

// Runs saved before runs recorded their settings are told apart by their
// timeline parameters.
func TestSummarizeTellsOldRunsApartByTheirParameters(t *testing.T) {
	a, b := mkRun("memory", 7*time.Second), mkRun("memory", 7*time.Second)
	a.Timeline.Params.Inter, b.Timeline.Params.Inter = time.Second, 2*time.Second
	var out bytes.Buffer
	summarize(&out, []savedRun{a, b})
	if got := strings.Count(out.String(), "params.inter="); got != 2 {
		t.Errorf("got %d rows naming params.inter, want 2:\n%s", got, out.String())
	}
}

// loadThreeGroups reads the verdict tests' synthetic three-group run.
func loadThreeGroups(t *testing.T) *timeline.Timeline {
	t.Helper()
	f, err := os.Open("../../sim/verdict/testdata/three-groups.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var tl timeline.Timeline
	if err := json.NewDecoder(zr).Decode(&tl); err != nil {
		t.Fatal(err)
	}
	tl.Sort()
	return &tl
}

func TestSummarizeShowsARowPerGroupAndTheTotal(t *testing.T) {
	tl := loadThreeGroups(t)
	var out bytes.Buffer
	summarize(&out, []savedRun{{Timeline: tl, Report: &verdict.Report{}}, {Timeline: tl, Report: &verdict.Report{}}})
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 6 || !strings.Contains(lines[0], "| group ") {
		t.Fatalf("want a header with a group column, a rule, the total and 3 groups, got:\n%s", out.String())
	}
	r := verdict.Judge(tl, nil)
	cell := func(d time.Duration) string {
		return fmt.Sprintf("%.2fs [%.2f-%.2f]", d.Seconds(), d.Seconds(), d.Seconds())
	}
	for i, want := range []struct{ group, interruption, lost string }{
		{summaryTotal, cell(r.WriteInterruption.Duration), fmt.Sprintf("| %d [%d-%d]", r.Lost.Lost, r.Lost.Lost, r.Lost.Lost)},
		{"group1", cell(r.Groups[0].Report.WriteInterruption.Duration), "| 1 [1-1]"},
		{"group2", cell(r.Groups[1].Report.WriteInterruption.Duration), ""},
		{"group3", cell(r.Groups[2].Report.WriteInterruption.Duration), ""},
	} {
		row := lines[2+i]
		for _, s := range []string{"| " + want.group + " ", "| 2 ", want.interruption, want.lost} {
			if !strings.Contains(row, s) {
				t.Errorf("row %q lacks %q", row, s)
			}
		}
	}
}

// mkWorkloadsRun is mkRun with two workloads: "quick" cut off for 2s
// after the fault, "slow" for wi.
func mkWorkloadsRun(wi time.Duration) savedRun {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	tl := mkRun("memory", 0).Timeline
	tl.Ops = nil
	tl.Workloads = []timeline.Workload{{Name: "quick", Client: "proxy"}, {Name: "slow", Client: "go-redis-sentinel"}}
	for _, w := range []struct {
		name string
		cut  time.Duration
	}{{"quick", 2 * time.Second}, {"slow", wi}} {
		for t := 0; t < 20000; t += 10 {
			res := timeline.ResultOK
			if ms(t) >= ms(10000) && ms(t) < ms(10000)+w.cut {
				res = timeline.ResultFail
			}
			tl.Ops = append(tl.Ops, timeline.Op{Kind: timeline.OpWrite, Key: fmt.Sprint(w.name, t), Start: ms(t), End: ms(t + 1), Result: res, Node: "redis1", Workload: w.name})
		}
	}
	tl.Sort()
	return savedRun{Timeline: tl, Report: &verdict.Report{}}
}

func TestSummarizeShowsARowPerWorkloadAndTheTotal(t *testing.T) {
	var out bytes.Buffer
	summarize(&out, []savedRun{mkWorkloadsRun(5 * time.Second), mkWorkloadsRun(7 * time.Second)})
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 5 || !strings.Contains(lines[0], "| workload ") || strings.Contains(lines[0], "| group ") {
		t.Fatalf("want a header with a workload column (no group column), a rule, the total and 2 workloads, got:\n%s", out.String())
	}
	for i, want := range []struct{ workload, interruption string }{
		{summaryTotal, "6.01s [5.01-7.01]"},
		{"quick", "2.01s [2.01-2.01]"},
		{"slow", "6.01s [5.01-7.01]"},
	} {
		row := lines[2+i]
		for _, s := range []string{"| " + want.workload + " ", "| 2 ", want.interruption} {
			if !strings.Contains(row, s) {
				t.Errorf("row %q lacks %q", row, s)
			}
		}
	}
}

// One workload: no workload column, the table as before.
func TestSummarizeOfOneWorkloadRunsHasNoWorkloadColumn(t *testing.T) {
	var out bytes.Buffer
	summarize(&out, []savedRun{mkRun("memory", 5*time.Second)})
	if strings.Contains(out.String(), "workload") {
		t.Errorf("got a workload column for one-workload runs:\n%s", out.String())
	}
}

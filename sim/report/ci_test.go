package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/joshdk/go-junit"

	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
	"github.com/redisha-sim/redisha-sim/sim/verdict"
)

// recordedRun is the recorded master-kill run judged against exps.
func recordedRun(t *testing.T, exps ...string) (*timeline.Timeline, *verdict.Report) {
	t.Helper()
	var run struct {
		Timeline *timeline.Timeline `json:"timeline"`
	}
	loadGz(t, "../verdict/testdata/runs/master-kill.json.gz", &run)
	var es []scenario.Expectation
	for _, raw := range exps {
		e, err := scenario.ParseExpectation(raw)
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
	}
	return run.Timeline, verdict.Judge(run.Timeline, es)
}

// The JUnit file, read back by a JUnit parser, has the scenario as its
// suite and an expectation per case, a failed one with the measured value.
func TestJUnitHasTheScenarioAsSuiteAndAnExpectationPerCase(t *testing.T) {
	tl, r := recordedRun(t, "write_interruption <= 60s", "write_interruption <= 1ms", "failovers == 1", "group9.failovers == 1")
	var b bytes.Buffer
	if err := JUnit(&b, tl, r); err != nil {
		t.Fatal(err)
	}
	suites, err := junit.Ingest(b.Bytes())
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, b.String())
	}
	if len(suites) != 1 {
		t.Fatalf("got %d suites, want 1", len(suites))
	}
	s := suites[0]
	if s.Name != tl.Scenario {
		t.Errorf("suite name %q, want %q", s.Name, tl.Scenario)
	}
	if s.Properties["backend"] != tl.Backend || s.Properties["failovers"] != "1" {
		t.Errorf("properties %v, want backend %s and failovers 1", s.Properties, tl.Backend)
	}
	if !strings.Contains(s.SystemOut, "Expectations:") {
		t.Errorf("system-out lacks the text report: %q", s.SystemOut)
	}
	want := []struct {
		name   string
		status junit.Status
		msg    string
	}{
		{"write_interruption <= 60s", junit.StatusPassed, ""},
		{"write_interruption <= 1ms", junit.StatusFailed, "write_interruption <= 1ms: measured " + secs(r.WriteInterruption.Duration)},
		{"failovers == 1", junit.StatusPassed, ""},
		{"group9.failovers == 1", junit.StatusFailed, `measured unknown: no group or workload "group9" in the run`},
	}
	if len(s.Tests) != len(want) {
		t.Fatalf("got %d cases, want %d", len(s.Tests), len(want))
	}
	for i, w := range want {
		got := s.Tests[i]
		if got.Name != w.name || got.Status != w.status || got.Classname != tl.Scenario {
			t.Errorf("case %d: got %q %s (class %q), want %q %s", i, got.Name, got.Status, got.Classname, w.name, w.status)
		}
		if w.msg != "" && !strings.Contains(got.Message, w.msg) {
			t.Errorf("case %d: message %q, want it to contain %q", i, got.Message, w.msg)
		}
	}
	if s.Totals.Tests != 4 || s.Totals.Failed != 2 || s.Totals.Error != 0 {
		t.Errorf("totals %+v, want 4 tests, 2 failed, 0 errors", s.Totals)
	}
}

// A run that could not be judged is a suite of one case in error.
func TestJUnitOfARunThatFailedIsOneCaseInError(t *testing.T) {
	var b bytes.Buffer
	if err := JUnitError(&b, "master-kill", "docker", errors.New("start redis1: no such image")); err != nil {
		t.Fatal(err)
	}
	suites, err := junit.Ingest(b.Bytes())
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, b.String())
	}
	if len(suites) != 1 || suites[0].Name != "master-kill" || len(suites[0].Tests) != 1 {
		t.Fatalf("got %+v, want one suite master-kill with one case", suites)
	}
	c := suites[0].Tests[0]
	if c.Status != junit.StatusError || !strings.Contains(c.Message, "no such image") {
		t.Errorf("case %q: status %s, message %q; want error with the run's error", c.Name, c.Status, c.Message)
	}
}

// The --json file of a recorded run validates against the schema, and
// decodes strictly into File: no key in the file that File lacks, and
// (decoding File's own encoding back) none in File the schema lacks.
func TestJSONFileValidatesAgainstTheSchema(t *testing.T) {
	tl, r := recordedRun(t, "write_interruption <= 60s", "group9.failovers == 1")
	b, err := JSON(tl, r)
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(b); err != nil {
		t.Fatalf("the file does not fit the schema: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("strict decode: %v", err)
	}
	if f.SchemaVersion != SchemaVersion {
		t.Errorf("schema_version %d, want %d", f.SchemaVersion, SchemaVersion)
	}
	s := f.Summary
	if s.Scenario != "master-kill" || s.Passed {
		t.Errorf("summary: scenario %q passed %v, want master-kill, false", s.Scenario, s.Passed)
	}
	if s.WriteInterruptionS == nil || *s.WriteInterruptionS != r.WriteInterruption.Duration.Seconds() {
		t.Errorf("write_interruption_s %v, want %v", s.WriteInterruptionS, r.WriteInterruption.Duration.Seconds())
	}
	if s.LostWrites == nil || *s.LostWrites != r.Lost.Lost {
		t.Errorf("lost_writes %v, want %d", s.LostWrites, r.Lost.Lost)
	}
	if s.Failovers != 1 || len(s.Expectations) != 2 {
		t.Fatalf("failovers %d, %d expectations; want 1 and 2", s.Failovers, len(s.Expectations))
	}
	e := s.Expectations[0]
	if e.Text != "write_interruption <= 60s" || e.Metric != "write_interruption" || e.Op != "<=" || e.Bound != 60 || e.Unit != "s" || !e.Passed ||
		e.Measured == nil || *e.Measured != r.WriteInterruption.Duration.Seconds() {
		t.Errorf("expectation 0: got %+v", e)
	}
	if e := s.Expectations[1]; e.Measured != nil || e.Unknown == "" || e.Passed || e.Unit != "count" {
		t.Errorf("expectation 1 (not measurable): got %+v, want measured null, unknown set, failed", e)
	}
}

// Runs with several groups and several workloads have their figures per
// group and per workload, and validate too.
func TestJSONFileOfGroupsAndWorkloadsValidates(t *testing.T) {
	var tl timeline.Timeline
	loadGz(t, "../verdict/testdata/three-groups.json.gz", &tl)
	tl.Sort()
	r := verdict.Judge(&tl, nil)
	b, err := JSON(&tl, r)
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(b); err != nil {
		t.Fatalf("the file does not fit the schema: %v", err)
	}
	s := NewSummary(&tl, r)
	if len(s.Groups) != 3 || s.Groups[0].Name != "group1" || s.Groups[0].MasterName != "group1" {
		t.Fatalf("groups %+v, want group1..group3", s.Groups)
	}
	for i, g := range s.Groups {
		want := r.Groups[i].Report.WriteInterruption.Duration.Seconds()
		if g.WriteInterruptionS == nil || *g.WriteInterruptionS != want {
			t.Errorf("%s: write_interruption_s %v, want %v", g.Name, g.WriteInterruptionS, want)
		}
	}
	if len(s.Workloads) != 0 {
		t.Errorf("workloads %+v, want none", s.Workloads)
	}
}

// The schema is strict: a key it does not know, a duration that is not a
// number or a missing figure is refused.
func TestSchemaRefusesWhatItDoesNotDescribe(t *testing.T) {
	tl, r := recordedRun(t, "failovers == 1")
	b, err := JSON(tl, r)
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(m map[string]any){
		"unknown summary key": func(m map[string]any) { m["summary"].(map[string]any)["writeInterruption"] = 1 },
		"duration as text":    func(m map[string]any) { m["summary"].(map[string]any)["write_interruption_s"] = "7s" },
		"missing lost_writes": func(m map[string]any) { delete(m["summary"].(map[string]any), "lost_writes") },
		"other version":       func(m map[string]any) { m["schema_version"] = 2 },
		"unknown expectation key": func(m map[string]any) {
			m["summary"].(map[string]any)["expectations"].([]any)[0].(map[string]any)["value"] = 1
		},
	} {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		bad, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := Validate(bad); err == nil {
			t.Errorf("%s: the schema accepted it", name)
		}
	}
}

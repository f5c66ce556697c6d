package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/joshdk/go-junit"

	"github.com/redisha-sim/redisha-sim/sim/report"
)

// shortKillYAML is a short master kill on the memory backend, with one
// expectation that holds and one that cannot.
const shortKillYAML = `name: short-kill
duration: 8s
settle: 10s
topology: {nodes: 3}
sentinel: {count: 3, quorum: 2, down_after: 1s, failover_timeout: 10s}
workload:
  writers: {count: 1, rate: 100, timeout: 500ms, connection: per-op}
  readers: {count: 1, rate: 50, timeout: 500ms, connection: per-op}
faults:
  - {at: 2s, action: kill, target: master}
expect:
  - failovers == 1
  - write_interruption <= 1ms
`

// A real run writes its expectations as JUnit (read back by a JUnit
// parser) and a --json file that fits the documented schema, whose
// summary agrees with the JUnit cases, and that summarize still reads.
func TestRunWritesJUnitAndAVersionedJSONForCI(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "short.yaml"), []byte(shortKillYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	stderr, code := runLimited(t, dir, "run", "-q", "--junit", "out.xml", "--json", "out.json", "short.yaml")
	if code != 1 || !strings.Contains(stderr, "1 expectation(s) failed") {
		t.Fatalf("got exit %d and\n%s\nwant exit 1 for the expectation that cannot hold", code, stderr)
	}
	suites, err := junit.IngestFile(filepath.Join(dir, "out.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(suites) != 1 || suites[0].Name != "short-kill" {
		t.Fatalf("got %d suites (%+v), want one named short-kill", len(suites), suites)
	}
	s := suites[0]
	if s.Properties["backend"] != "memory" || s.Totals.Tests != 2 || s.Totals.Failed != 1 || s.Totals.Error != 0 {
		t.Errorf("suite: properties %v, totals %+v; want backend memory, 2 tests, 1 failed", s.Properties, s.Totals)
	}

	b, err := os.ReadFile(filepath.Join(dir, "out.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := report.Validate(b); err != nil {
		t.Fatalf("out.json does not fit the schema: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f report.File
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("strict decode of out.json: %v", err)
	}
	sum := f.Summary
	if f.SchemaVersion != report.SchemaVersion || sum.Scenario != "short-kill" || sum.Backend != "memory" || sum.Passed {
		t.Errorf("summary: version %d, scenario %q, backend %q, passed %v; want %d, short-kill, memory, false",
			f.SchemaVersion, sum.Scenario, sum.Backend, sum.Passed, report.SchemaVersion)
	}
	if len(sum.Expectations) != len(s.Tests) {
		t.Fatalf("%d expectations in the summary, %d JUnit cases", len(sum.Expectations), len(s.Tests))
	}
	for i, e := range sum.Expectations {
		c := s.Tests[i]
		if c.Name != e.Text || (c.Status == junit.StatusPassed) != e.Passed {
			t.Errorf("case %d: JUnit %q %s, summary %q passed %v", i, c.Name, c.Status, e.Text, e.Passed)
		}
	}
	fail := sum.Expectations[1]
	if fail.Passed || fail.Measured == nil || sum.WriteInterruptionS == nil || *fail.Measured != *sum.WriteInterruptionS {
		t.Fatalf("write_interruption <= 1ms: got %+v, want failed with the run's write interruption %v", fail, sum.WriteInterruptionS)
	}
	if want := secsText(*fail.Measured); !strings.Contains(s.Tests[1].Message, "measured "+want) {
		t.Errorf("failure message %q lacks the measured %s", s.Tests[1].Message, want)
	}
	if sum.Failovers != 1 || sum.LostWrites == nil {
		t.Errorf("summary: failovers %d, lost_writes %v; want 1 and a count", sum.Failovers, sum.LostWrites)
	}

	// summarize reads the new file, and the same run saved as before
	// (timeline and report alone).
	var old map[string]json.RawMessage
	if err := json.Unmarshal(b, &old); err != nil {
		t.Fatal(err)
	}
	delete(old, "schema_version")
	delete(old, "summary")
	ob, err := json.Marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "old.json"), ob, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"out.json", "old.json"} {
		r, err := readRun(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("summarize %s: %v", name, err)
		}
		if r.Timeline.Scenario != "short-kill" || len(r.Report.Expectations) != 2 {
			t.Errorf("%s: read scenario %q with %d expectations, want short-kill with 2", name, r.Timeline.Scenario, len(r.Report.Expectations))
		}
	}
}

// secsText is a duration in seconds as the reports print it.
func secsText(s float64) string { return fmt.Sprintf("%.3fs", s) }

// A run refused before it starts, or that fails, still leaves a JUnit file
// for CI: one case, "run", in error with the reason; the exit code is the
// run's.
func TestRunThatErrorsWritesASuiteWithAnErrorCase(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"unknown.yaml": "name: typo\nnam: a\n",
		// Sentinel at 127.0.0.1:1 refuses: the run is refused when it
		// checks the deployment, after the scenario loaded.
		"ext.yaml": "name: staging\nbackend: external\nduration: 5s\nexternal:\n  sentinels: [127.0.0.1:1]\n  nodes:\n" +
			"    - {name: redis1, addr: \"127.0.0.1:2\", faults: {kill: \"true\"}}\n    - {name: redis2, addr: \"127.0.0.1:3\", faults: {kill: \"true\"}}\n" +
			"faults:\n  - {at: 2s, action: kill, target: master}\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		args  []string
		suite string
		code  int
		msg   string
	}{
		{[]string{"unknown.yaml"}, "unknown", exitBadInput, "nam"},
		{[]string{"--allow-faults", "ext.yaml"}, "staging", exitBadInput, "check the external deployment: sentinel 127.0.0.1:1"},
	} {
		out := filepath.Join(dir, "err.xml")
		os.Remove(out)
		stderr, code := runLimited(t, dir, append([]string{"run", "-q", "--junit", out}, tc.args...)...)
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d; stderr:\n%s", tc.args, code, tc.code, stderr)
		}
		suites, err := junit.IngestFile(out)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if len(suites) != 1 || suites[0].Name != tc.suite || len(suites[0].Tests) != 1 {
			t.Fatalf("%v: got %+v, want one suite %s with one case", tc.args, suites, tc.suite)
		}
		c := suites[0].Tests[0]
		if c.Name != "run" || c.Status != junit.StatusError || !strings.Contains(c.Message, tc.msg) || !strings.Contains(stderr, c.Message) {
			t.Errorf("%v: case %q %s %q; want run in error saying %q, as stderr does:\n%s", tc.args, c.Name, c.Status, c.Message, tc.msg, stderr)
		}
	}
}

package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/timeline"
	"github.com/redisha-sim/redisha-sim/sim/verdict"
)

func TestSummarizeGroupsRunsAndTakesMedians(t *testing.T) {
	run := func(backend string, wi time.Duration, recovered bool, lost int) savedRun {
		return savedRun{
			Timeline: &timeline.Timeline{Scenario: "master-kill", Backend: backend, Proxy: "p"},
			Report: &verdict.Report{
				WriteInterruption: verdict.Interruption{Recovered: recovered, Duration: wi},
				Lost:              verdict.LostWrites{Lost: lost},
				Phases: []verdict.Phase{
					{Name: "fault", At: 10 * time.Second, Found: true},
					{Name: "+sdown", At: 15 * time.Second, Found: true},
				},
			},
		}
	}
	var out bytes.Buffer
	summarize(&out, []savedRun{
		run("docker", 7*time.Second, true, 0), run("memory", 6*time.Second, true, 1),
		run("docker", 9*time.Second, true, 2), run("docker", 8*time.Second, true, 1), run("docker", 0, false, 0),
	})
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("want a header, a rule and 2 rows, got:\n%s", out.String())
	}
	docker := lines[2]
	for _, want := range []string{"| docker ", "| 4 ", "8.00s [7.00-9.00] (3 of 4 runs)", "5.00s [5.00-5.00]", "0.5 [0-2]"} {
		if !strings.Contains(docker, want) {
			t.Errorf("docker row %q lacks %q", docker, want)
		}
	}
	if !strings.Contains(lines[3], "6.00s [6.00-6.00]") || !strings.Contains(lines[3], "| memory ") {
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

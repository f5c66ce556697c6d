package verdict

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

// update rewrites the golden verdicts of the recorded runs:
//
//	go test ./sim/verdict -run TestRecordedRuns -update
//
// then `git diff sim/verdict/testdata` shows what a change to a checker
// changes in the verdict of real runs.
var update = flag.Bool("update", false, "rewrite testdata/runs/*.verdict.json from the current checkers")

// recordedRun is a `redisha-sim run --json` file: the timeline as recorded
// and the report the engine wrote at the time.
type recordedRun struct {
	Timeline *timeline.Timeline `json:"timeline"`
	Report   *Report            `json:"report"`
}

func loadRecordedRun(t *testing.T, path string) recordedRun {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b, err := io.ReadAll(io.LimitReader(zr, 64<<20))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var r recordedRun
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if r.Timeline == nil || r.Report == nil {
		t.Fatalf("%s: no timeline or report", path)
	}
	return r
}

// The runs in testdata/runs were recorded on the memory backend with the
// seed's configuration (see testdata/runs/README.md). Each is judged again
// by the current checkers, with the expectations it was run with, and the
// verdict is compared with the golden file next to it. What the runs are
// known to show is asserted too, so that a golden file rewritten with
// -update cannot silently accept a checker that stopped seeing it.
func TestRecordedRunsAreJudgedAsTheirGoldenVerdicts(t *testing.T) {
	known := map[string]func(t *testing.T, r *Report){
		"master-kill": func(t *testing.T, r *Report) {
			if r.Fault == nil || r.Fault.Name != "kill" {
				t.Errorf("fault: got %+v, want a kill", r.Fault)
			}
			// Seed's checks, down-after 5 s: 6.5-7.5 s (README, TIMING.md §3).
			if w := r.WriteInterruption; !w.Recovered || w.Duration < 6*time.Second || w.Duration > 8*time.Second {
				t.Errorf("write interruption: got %+v, want recovered after 6-8 s", w)
			}
			if !r.Lost.Checked || r.Lost.Lost > 1 {
				t.Errorf("lost writes: got %+v, want checked and at most 1", r.Lost)
			}
			if r.Failovers != 1 {
				t.Errorf("failovers: got %d, want 1", r.Failovers)
			}
		},
		"master-stop-start": func(t *testing.T, r *Report) {
			// The seed's own test fails: the returned old master passes the
			// checks and takes writes until Sentinel demotes it (TIMING.md §3).
			if !r.Lost.Checked || r.Lost.Lost < 100 {
				t.Errorf("lost writes: got %+v, want hundreds", r.Lost)
			}
			if r.TwoMaster.Total < 5*time.Second {
				t.Errorf("two-master window: got %v, want several seconds", r.TwoMaster.Total)
			}
			if r.Passed() {
				t.Errorf("expectations: all held, want the scenario's documented failure")
			}
		},
		"master-stop-start-sentinel": func(t *testing.T, r *Report) {
			// Sentinel-aware routing: no write lost, none to a node the
			// Sentinels did not name. In this run the proxy switched 35 ms
			// before a majority had published +switch-master, counting the
			// leader, which names the promoted replica from its
			// reconf-slaves step on; a view that ignored that saw a false
			// two-master window of 31 ms.
			if !r.Lost.Checked || r.Lost.Lost != 0 {
				t.Errorf("lost writes: got %+v, want none", r.Lost)
			}
			if r.TwoMaster.Total != 0 || r.TwoMaster.WrongWrites != 0 {
				t.Errorf("two-master window: got %v with %d writes, want none", r.TwoMaster.Total, r.TwoMaster.WrongWrites)
			}
			if !r.Passed() {
				t.Errorf("expectations: got %+v, want all held", r.Expectations)
			}
		},
		"three-sets-host-kill": func(t *testing.T, r *Report) {
			// Host h1 held the three groups' masters and sentinel1. The two
			// Sentinels left fail the three groups over; the first Sentinel
			// to reach ODOWN starts all three failovers, one epoch each, so
			// the votes for the first two come back for epochs it has left
			// and count only when re-cast a second later (TIMING.md §2).
			if len(r.Groups) != 3 || r.Failovers != 3 {
				t.Fatalf("groups: got %d with %d failovers, want 3 groups failed over", len(r.Groups), r.Failovers)
			}
			stale := 0
			for _, d := range r.ElectionDelays {
				if d.StaleEpoch != 0 {
					stale++
					if d.Lost < 500*time.Millisecond || d.Lost > 1500*time.Millisecond {
						t.Errorf("%s: votes re-cast after %v, want about a second (SENTINEL_ASK_PERIOD)", d.Group, d.Lost)
					}
				}
			}
			if stale != 2 {
				t.Errorf("election delays: got %+v, want two groups waiting for votes in the current epoch", r.ElectionDelays)
			}
			first, last := time.Duration(0), time.Duration(0)
			for i, g := range r.Groups {
				if !g.Report.WriteInterruption.Recovered {
					t.Fatalf("%s: write interruption not recovered", g.Name)
				}
				if d := g.Report.WriteInterruption.Duration; i == 0 || d < first {
					first = d
				}
				last = max(last, g.Report.WriteInterruption.Duration)
			}
			if last-first < 500*time.Millisecond {
				t.Errorf("groups' write interruptions %v to %v: want the delayed groups about a second longer", first, last)
			}
			if !r.Lost.Checked || r.Lost.Lost != 0 {
				t.Errorf("lost writes: got %+v, want none", r.Lost)
			}
		},
		"partition": func(t *testing.T, r *Report) {
			if r.Fault == nil || r.Fault.Name != "disconnect" {
				t.Errorf("fault: got %+v, want a disconnect", r.Fault)
			}
			// The isolated master acknowledges writes that its demotion
			// discards (TIMING.md §4).
			if !r.Lost.Checked || r.Lost.Lost == 0 {
				t.Errorf("lost writes: got %+v, want some", r.Lost)
			}
		},
	}
	paths, err := filepath.Glob("testdata/runs/*.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != len(known) {
		t.Fatalf("recorded runs: got %d files %v, want %d", len(paths), paths, len(known))
	}
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".json.gz")
		t.Run(name, func(t *testing.T) {
			rec := loadRecordedRun(t, path)
			// The expectations are parsed again from their text: files
			// written before ExpectResult had a Measured field carry the
			// measured value where the bound belongs.
			var exps []scenario.Expectation
			for _, e := range rec.Report.Expectations {
				x, err := scenario.ParseExpectation(e.Raw)
				if err != nil {
					t.Fatalf("expectation %q: %v", e.Raw, err)
				}
				exps = append(exps, x)
			}
			got := Judge(rec.Timeline, exps)
			check, ok := known[name]
			if !ok {
				t.Fatalf("no known facts for recorded run %s", name)
			}
			check(t, got)

			gotJSON, err := json.MarshalIndent(got, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			gotJSON = append(gotJSON, '\n')
			golden := strings.TrimSuffix(path, ".json.gz") + ".verdict.json"
			if *update {
				if err := os.WriteFile(golden, gotJSON, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if !bytes.Equal(gotJSON, want) {
				t.Errorf("verdict of %s differs from %s:\n%s\nIf the change is intended, run go test ./sim/verdict -run TestRecordedRuns -update and review git diff.",
					path, golden, diffLines(string(want), string(gotJSON)))
			}
		})
	}
}

// diffLines lists the lines of got that differ from want, position by
// position (the golden files are indented JSON of one fixed shape, so a
// changed value shows as one changed line), at most 40.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var out []string
	for i := 0; i < max(len(w), len(g)) && len(out) < 40; i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			out = append(out, "line "+strconv.Itoa(i+1)+":\n  want "+strings.TrimSpace(a)+"\n  got  "+strings.TrimSpace(b))
		}
	}
	return strings.Join(out, "\n")
}

package report

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/timeline"
	"github.com/redisha-sim/redisha-sim/sim/verdict"
)

// update rewrites the golden reports:
//
//	go test ./sim/report -update
var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current report")

// loadGz reads a gzipped JSON file into v.
func loadGz(t *testing.T, path string, v any) {
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
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := "testdata/" + name + ".golden"
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./sim/report -update)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("%s: line %d:\n got  %q\n want %q", path, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("%s: got %d lines, want %d", path, len(gl), len(wl))
	}
}

// The report of a recorded one-group run is the one written before runs
// had groups.
func TestOneGroupReportIsUnchanged(t *testing.T) {
	var run struct {
		Timeline *timeline.Timeline `json:"timeline"`
	}
	loadGz(t, "../verdict/testdata/runs/master-kill.json.gz", &run)
	var b bytes.Buffer
	Text(&b, run.Timeline, verdict.Judge(run.Timeline, nil))
	golden(t, "master-kill", b.Bytes())
}

// A run with three groups (the synthetic one of the verdict tests, made of
// three recorded runs) reports the total, then each group as its own run.
func TestThreeGroupReportHasTheTotalAndASectionPerGroup(t *testing.T) {
	var tl timeline.Timeline
	loadGz(t, "../verdict/testdata/three-groups.json.gz", &tl)
	tl.Sort()
	r := verdict.Judge(&tl, nil)
	var b bytes.Buffer
	Text(&b, &tl, r)
	out := b.String()
	for _, want := range []string{
		"\nAll 3 groups:\n",
		"Worst group: " + r.Worst + ", write interruption ",
		"Two-master window: longest " + secs(r.TwoMaster.Total) + ", in group3",
		"\nGroup group1 (master name group1; nodes group1.redis1 group1.redis2 group1.redis3; initial master group1.redis1):\n",
		"\nGroup group2 (",
		"\nGroup group3 (",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// Each group's section is what the group's run alone reports.
	for i, g := range r.Groups {
		var one bytes.Buffer
		body(&one, verdict.GroupTimeline(&tl, tl.Groups[i]), g.Report)
		if !strings.Contains(out, one.String()) {
			t.Errorf("%s: the report lacks the group's own verdict:\n%s", g.Name, one.String())
		}
	}
	golden(t, "three-groups", b.Bytes())
}

// A failover that needed a second election says so, with the epochs.
func TestReportSaysWhenAFailoverWaitedForASecondElection(t *testing.T) {
	ev := func(ms int, src, name, detail string) timeline.Event {
		return timeline.Event{T: time.Duration(ms) * time.Millisecond, Kind: timeline.KindSentinel, Source: src, Name: name, Detail: detail}
	}
	m := "master mymaster 10.0.0.1 6379"
	tl := &timeline.Timeline{End: 30 * time.Second, InitialMaster: "redis1", Params: timeline.Params{Sentinels: 3}, Events: []timeline.Event{
		ev(10000, "sentinel1", "+new-epoch", "1"),
		ev(10000, "sentinel1", "+try-failover", m),
		ev(10000, "sentinel1", "+vote-for-leader", "1111 1"),
		ev(10001, "sentinel2", "+new-epoch", "1"),
		ev(10001, "sentinel2", "+vote-for-leader", "2222 1"),
		ev(13000, "sentinel1", "-failover-abort-not-elected", m),
		ev(16000, "sentinel2", "+new-epoch", "2"),
		ev(16000, "sentinel2", "+try-failover", m),
		ev(16000, "sentinel2", "+vote-for-leader", "2222 2"),
		ev(16002, "sentinel3", "+vote-for-leader", "2222 2"),
		ev(16100, "sentinel2", "+elected-leader", m),
	}}
	var b bytes.Buffer
	Text(&b, tl, verdict.Judge(tl, nil))
	want := "Election: failover delayed 6.000s: election in epoch 1 by sentinel1 (aborted) not won, won in epoch 2 by sentinel2\n"
	if !strings.Contains(b.String(), want) {
		t.Errorf("report lacks %q:\n%s", want, b.String())
	}
}

// A docker run says where its engine ran; the rest of the report is that
// of the same run without the mode.
func TestReportSaysTheDockerMode(t *testing.T) {
	var run struct {
		Timeline *timeline.Timeline `json:"timeline"`
	}
	loadGz(t, "../verdict/testdata/runs/master-kill.json.gz", &run)
	var plain, runner bytes.Buffer
	Text(&plain, run.Timeline, verdict.Judge(run.Timeline, nil))
	run.Timeline.Backend, run.Timeline.DockerMode = "docker", "runner"
	Text(&runner, run.Timeline, verdict.Judge(run.Timeline, nil))
	first, rest, _ := strings.Cut(runner.String(), "\n")
	if !strings.Contains(first, "on the docker (runner mode) backend") {
		t.Errorf("first line: got %q, want the docker backend in runner mode", first)
	}
	_, plainRest, _ := strings.Cut(plain.String(), "\n")
	if rest != plainRest {
		t.Errorf("the report after its first line differs with the mode set")
	}
}

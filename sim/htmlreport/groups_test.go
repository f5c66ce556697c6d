package htmlreport

import (
	"compress/gzip"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/redisha-sim/redisha-sim/sim/timeline"
	"github.com/redisha-sim/redisha-sim/sim/verdict"
)

// threeGroups reads the verdict tests' synthetic run of three groups (three
// recorded one-group runs, renamed and tagged).
func threeGroups(t *testing.T) *timeline.Timeline {
	t.Helper()
	f, err := os.Open("../verdict/testdata/three-groups.json.gz")
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

func TestRunChartDrawsALabelledLaneBlockPerGroup(t *testing.T) {
	tl := threeGroups(t)
	r := verdict.Judge(tl, nil)
	root := parseXML(t, RunSVG(RunData{Timeline: tl, Report: r}))
	bands := root.all(func(e *elem) bool { return e.name == "rect" && e.attr["class"] == "group" })
	if len(bands) != 3 {
		t.Fatalf("got %d group bands, want 3", len(bands))
	}
	var titles []string
	for _, e := range root.all(func(e *elem) bool { return e.name == "text" && e.hasClass("title") }) {
		titles = append(titles, e.textContent())
	}
	for i, g := range r.Groups {
		want := g.Name + ": write interruption " + secs(g.Report.WriteInterruption.Duration)
		if !strings.Contains(strings.Join(titles, "\n"), want) {
			t.Errorf("group %d: no title %q among %q", i, want, titles)
		}
	}
	// The blocks are stacked in topology order, and each has its own
	// nodes' lanes below its band and above the next one's.
	var labels []*elem
	for _, e := range root.all(named("text")) {
		if e.attr["text-anchor"] == "end" {
			labels = append(labels, e)
		}
	}
	for i, g := range tl.Groups {
		top := attrFloat(t, bands[i], "y")
		bottom := 1e9
		if i+1 < len(bands) {
			bottom = attrFloat(t, bands[i+1], "y")
		}
		if i > 0 && top <= attrFloat(t, bands[i-1], "y") {
			t.Errorf("%s: band at y=%v, want it below the previous one", g.Name, top)
		}
		for _, n := range g.Nodes {
			found := false
			for _, l := range labels {
				y := attrFloat(t, l, "y")
				if strings.Contains(l.textContent(), n) && y > top && y < bottom {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: no lane of %s between y=%v and %v", g.Name, n, top, bottom)
			}
		}
		// A group's fault is marked across its block alone.
		for _, f := range root.all(func(e *elem) bool { return e.name == "line" && e.hasClass("fault") }) {
			if !strings.Contains(f.textContent(), " "+g.Name+".") {
				continue
			}
			if y1, y2 := attrFloat(t, f, "y1"), attrFloat(t, f, "y2"); y1 < top || y2 > bottom {
				t.Errorf("%s: fault line %q from y=%v to %v, want it within %v-%v", g.Name, f.textContent(), y1, y2, top, bottom)
			}
		}
		for _, l := range labels {
			y := attrFloat(t, l, "y")
			for _, other := range tl.Groups {
				if other.Name != g.Name && y > top && y < bottom && strings.Contains(l.textContent(), other.Name+".") {
					t.Errorf("%s's block has a lane of %s: %q", g.Name, other.Name, l.textContent())
				}
			}
		}
	}
}

func TestRunReportOfThreeGroupsHasAGroupTableAndPhasesPerGroup(t *testing.T) {
	tl := threeGroups(t)
	r := verdict.Judge(tl, nil)
	page := runPage(t, RunData{Timeline: tl, Report: r})
	text := parseXML(t, page).textContent()
	for _, want := range []string{"Groups", "write interruption, worst group " + r.Worst, "two-master window, longest in " + r.TwoMasterGroup,
		"Phases of the failover: group1", "Phases of the failover: group2", "Phases of the failover: group3"} {
		if !strings.Contains(text, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	checkNoExternalURL(t, page)
}

func TestOneGroupChartHasNoGroupBands(t *testing.T) {
	tl := masterKill()
	root := parseXML(t, RunSVG(RunData{Timeline: tl, Report: judge(t, tl)}))
	if n := len(root.all(func(e *elem) bool { return e.attr["class"] == "group" })); n != 0 {
		t.Errorf("got %d group bands, want none in a run with one group", n)
	}
}

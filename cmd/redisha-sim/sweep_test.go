package main

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/scenario"
)

func TestParseAxesSplitsSweptFromFixedSettings(t *testing.T) {
	fixed, axes, err := parseAxes([]string{"proxy.inter=250ms,500ms", "sentinel.down_after=1s", "proxy.rise=1,2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(fixed) != 1 || fixed[0] != "sentinel.down_after=1s" {
		t.Errorf("fixed: got %q, want [sentinel.down_after=1s]", fixed)
	}
	if len(axes) != 2 || axes[0].key != "proxy.inter" || len(axes[1].values) != 2 {
		t.Errorf("axes: got %+v", axes)
	}
	pts := grid(axes)
	if len(pts) != 4 || pts[0].label() != "proxy.inter=250ms proxy.rise=1" || pts[3].label() != "proxy.inter=500ms proxy.rise=2" {
		t.Errorf("grid: got %d points, first %q, last %q", len(pts), pts[0].label(), pts[len(pts)-1].label())
	}
}

func TestParseAxesRejectsMalformedSettings(t *testing.T) {
	for _, bad := range [][]string{{"proxy.inter"}, {"=1s"}, {"proxy.inter=1s,,2s"}, {"proxy.inter=1s,2s", "proxy.inter=3s,4s"}} {
		if _, _, err := parseAxes(bad); err == nil {
			t.Errorf("%q: got no error", bad)
		}
	}
}

// A bad value anywhere in the grid fails the sweep before any run, naming
// the --set it came from.
func TestSweepValidatesEveryPointBeforeRunning(t *testing.T) {
	f := &sweepFlags{repeat: 1, trials: 0}
	f.sets = []string{"proxy.inter=1s,bogus"}
	_, err := sweep(context.Background(), "../../scenarios/master-kill.yaml", f, slog.New(slog.DiscardHandler), nil)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != exitBadInput {
		t.Fatalf("got %v, want a bad-input exit", err)
	}
}

// The p95 interpolates between the closest ranks (sim/stats), as the
// model's band does: over five runs it lies between the two largest.
func TestSummariseTakesMedianAndInterpolatedP95(t *testing.T) {
	s := summarise([]float64{5, 1, 3, 2, 4})
	if s.N != 5 || s.Median != 3 || math.Abs(s.P95-4.8) > 1e-9 || s.Max != 5 {
		t.Errorf("got %+v, want median 3, p95 4.8, max 5", s)
	}
	if s := summarise([]float64{1, 2}); s.Median != 1.5 {
		t.Errorf("even count: median %v, want 1.5", s.Median)
	}
}

func TestHapDurWritesHAProxyDurations(t *testing.T) {
	for in, want := range map[string]string{"1s": "1s", "250ms": "250ms", "1.5s": "1500ms"} {
		d, _ := durationValue(in)
		if got := hapDur(d); got != want {
			t.Errorf("%s: got %s, want %s", in, got, want)
		}
	}
	if !strings.HasPrefix(latencyText(0), "none") {
		t.Errorf("no latency: got %q", latencyText(0))
	}
}

// A negative --start-jitter is refused before anything starts, by run
// and by sweep (the engine would take it as no delay).
func TestNegativeStartJitterIsBadInput(t *testing.T) {
	s, err := scenario.Load("../../scenarios/master-kill.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	_, err = runScenario(context.Background(), s, &runFlags{startJitter: -time.Second}, slog.New(slog.DiscardHandler), &out)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != exitBadInput || !strings.Contains(err.Error(), "--start-jitter") {
		t.Errorf("run: got %v, want a bad-input exit naming --start-jitter", err)
	}
	_, err = sweep(context.Background(), "../../scenarios/master-kill.yaml", &sweepFlags{repeat: 1, jitter: -time.Second}, slog.New(slog.DiscardHandler), nil)
	if !errors.As(err, &ee) || ee.code != exitBadInput || !strings.Contains(err.Error(), "--start-jitter") {
		t.Errorf("sweep: got %v, want a bad-input exit naming --start-jitter", err)
	}
}

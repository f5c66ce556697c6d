package main

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/scenario"
)

// A bad value anywhere in the grid fails the sweep before any run with
// the bad-input exit code (the library's own tests are in sim/sweep).
func TestSweepValidatesEveryPointBeforeRunning(t *testing.T) {
	f := &sweepFlags{repeat: 1, trials: 0}
	f.sets = []string{"proxy.inter=1s,bogus"}
	_, err := runSweep(t.Context(), "../../scenarios/master-kill.yaml", f, slog.New(slog.DiscardHandler), nil)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != exitBadInput {
		t.Fatalf("got %v, want a bad-input exit", err)
	}
}

// A malformed --set list is bad input too, with the library's message.
func TestSweepMalformedSetIsBadInput(t *testing.T) {
	f := &sweepFlags{repeat: 1}
	f.sets = []string{"proxy.inter=1s,,2s"}
	_, err := runSweep(t.Context(), "../../scenarios/master-kill.yaml", f, slog.New(slog.DiscardHandler), nil)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != exitBadInput || err.Error() != "--set proxy.inter=1s,,2s: empty value in the list" {
		t.Errorf("got %v, want a bad-input exit saying the list has an empty value", err)
	}
}

// tune refuses too few model trials before loading anything.
func TestTuneTooFewTrialsIsBadInput(t *testing.T) {
	f := &tuneFlags{budget: 3 * time.Second, trials: 10}
	err := tune(t.Context(), "../../scenarios/master-kill.yaml", f, slog.New(slog.DiscardHandler), &strings.Builder{}, &strings.Builder{})
	var ee exitError
	if !errors.As(err, &ee) || ee.code != exitBadInput || !strings.Contains(err.Error(), "--trials 10") {
		t.Errorf("got %v, want a bad-input exit naming --trials", err)
	}
}

// tune refuses a negative check timeout or reply delay before loading
// anything.
func TestTuneNegativeTimeoutIsBadInput(t *testing.T) {
	for _, f := range []*tuneFlags{
		{budget: 3 * time.Second, trials: 20, timeouts: []time.Duration{0, -time.Second}},
		{budget: 3 * time.Second, trials: 20, replyDelay: -time.Millisecond},
	} {
		err := tune(t.Context(), "../../scenarios/master-kill.yaml", f, slog.New(slog.DiscardHandler), &strings.Builder{}, &strings.Builder{})
		var ee exitError
		if !errors.As(err, &ee) || ee.code != exitBadInput || !strings.Contains(err.Error(), "is negative") {
			t.Errorf("got %v, want a bad-input exit saying the value is negative", err)
		}
	}
}

func TestLatencyTextSaysWhenTheScenarioHasNoDelayFaults(t *testing.T) {
	if got := latencyText(0); !strings.HasPrefix(got, "none") {
		t.Errorf("no latency: got %q, want it to start with none", got)
	}
	if got, want := latencyText(150*time.Millisecond), "up to 150ms per reply"; got != want {
		t.Errorf("got %q, want %q", got, want)
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
	_, err = runScenario(t.Context(), s, &runFlags{startJitter: -time.Second}, slog.New(slog.DiscardHandler), &out)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != exitBadInput || !strings.Contains(err.Error(), "--start-jitter") {
		t.Errorf("run: got %v, want a bad-input exit naming --start-jitter", err)
	}
	_, err = runSweep(t.Context(), "../../scenarios/master-kill.yaml", &sweepFlags{repeat: 1, jitter: -time.Second}, slog.New(slog.DiscardHandler), nil)
	if !errors.As(err, &ee) || ee.code != exitBadInput || !strings.Contains(err.Error(), "--start-jitter") {
		t.Errorf("sweep: got %v, want a bad-input exit naming --start-jitter", err)
	}
}

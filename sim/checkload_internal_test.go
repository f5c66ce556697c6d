package sim

import (
	"log/slog"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/rig"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

func TestRecordCheckLoadTakesTheDifferenceAndRefusesCountersThatWentBack(t *testing.T) {
	t0 := time.Now()
	rec := timeline.NewRecorder(t0)
	begin := &checkReading{at: t0, counts: []rig.ServerChecks{{Node: "redis1", Port: timeline.PortMaster, CheckCounts: rig.CheckCounts{Checks: 10, BytesSent: 310, BytesReceived: 170}}}}
	end := &checkReading{at: t0.Add(10 * time.Second), counts: []rig.ServerChecks{{Node: "redis1", Port: timeline.PortMaster, CheckCounts: rig.CheckCounts{Checks: 20, BytesSent: 620, BytesReceived: 340}}}}
	recordCheckLoad(rec, begin, end, slog.New(slog.DiscardHandler))
	got := rec.Timeline().CheckLoad
	if len(got) != 1 || got[0].Checks != 10 || got[0].BytesOut != 310 || got[0].BytesIn != 170 || got[0].Seconds != 10 {
		t.Fatalf("got %+v, want 10 checks, 310 bytes out, 170 in over 10 s", got)
	}

	// A proxy restarted in between: its counters start again from zero.
	rec = timeline.NewRecorder(t0)
	end.counts[0].Checks = 3
	recordCheckLoad(rec, begin, end, slog.New(slog.DiscardHandler))
	if got := rec.Timeline().CheckLoad; len(got) != 0 {
		t.Errorf("counters that went back: got %+v, want no check load (not measured)", got)
	}
}

package sim

import (
	"context"
	"log/slog"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/rig"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

// checkReading is a CheckCounter's counters at one instant.
type checkReading struct {
	at     time.Time
	counts []rig.ServerChecks
}

// readChecks reads the proxy's check counters; nil when it does not count
// its checks or the reading failed (logged: the run goes on without a
// check load).
func readChecks(ctx context.Context, px rig.ProxyUnderTest, log *slog.Logger) *checkReading {
	cc, ok := px.(rig.CheckCounter)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	counts, err := cc.CheckCounts(ctx)
	if err != nil {
		log.Warn("cannot read the proxy's check counters; the run records no check load", "err", err)
		return nil
	}
	return &checkReading{at: time.Now(), counts: counts}
}

// recordCheckLoad records in the timeline the check load on each node
// between two readings of the counters. Counters that went backwards (a
// proxy restarted by a fault) leave the load unrecorded: not measured.
func recordCheckLoad(rec *timeline.Recorder, begin, end *checkReading, log *slog.Logger) {
	if begin == nil || end == nil {
		return
	}
	type key struct{ node, port string }
	start := map[key]rig.CheckCounts{}
	for _, c := range begin.counts {
		start[key{c.Node, c.Port}] = c.CheckCounts
	}
	var load []timeline.CheckLoad
	for _, c := range end.counts {
		c0 := start[key{c.Node, c.Port}]
		if c.Checks < c0.Checks || c.BytesSent < c0.BytesSent || c.BytesReceived < c0.BytesReceived {
			log.Warn("the proxy's check counters went backwards (was it restarted?); the run records no check load", "node", c.Node, "port", c.Port)
			return
		}
		load = append(load, timeline.CheckLoad{
			Node: c.Node, Port: c.Port, Checks: c.Checks - c0.Checks,
			BytesOut: c.BytesSent - c0.BytesSent, BytesIn: c.BytesReceived - c0.BytesReceived,
			From: rec.Since(begin.at), To: rec.Since(end.at), Seconds: end.at.Sub(begin.at).Seconds(),
		})
	}
	rec.Update(func(tl *timeline.Timeline) { tl.CheckLoad = load })
}

package verdict

import (
	"time"

	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

// Bounds of the terms of sim/model/TIMING.md §6 (observed on real Redis 7.0 and
// HAProxy 2.6; see the README for this project's measurements).
const (
	// detectOffsetMax is a: Sentinel pings every second, so a master
	// failure is noticed down-after plus up to a period (and its
	// reply timeout) later.
	detectOffsetMax = 1100 * time.Millisecond
	// sdownSpreadMax is b: the spread between Sentinels reaching SDOWN
	// before a quorum agrees.
	sdownSpreadMax = time.Second
	// electionMin and electionMax bound e: ODOWN, the vote, and the
	// promoted replica answering role:master.
	electionMin = 100 * time.Millisecond
	electionMax = time.Second
)

// PredictWriteInterruption is the range of the write interruption that
// sim/model/TIMING.md §6 predicts when the master fails and Sentinel promotes a
// replica: W ≈ D + a + b + e + U(0, downinter) + (rise-1)·fastinter +
// client retry, with each term at its least and most. The client's share
// is at most one operation timeout (a write in flight when the new master
// comes up).
func PredictWriteInterruption(p timeline.Params) (lo, hi time.Duration) {
	fast := p.FastInter
	if fast == 0 {
		fast = p.Inter
	}
	down := p.DownInter
	if down == 0 {
		down = p.Inter
	}
	rise := max(p.Rise, 1)
	checks := time.Duration(rise-1) * fast
	lo = p.DownAfter + electionMin + checks
	hi = p.DownAfter + detectOffsetMax + sdownSpreadMax + electionMax + down + checks + p.OpTimeout
	return lo, hi
}

package sim_test

import (
	"testing"

	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

// With sentinel.password the memory Sentinels refuse every command before
// AUTH, so the whole run depends on each connection to them
// authenticating: the fault's target (master) is resolved by asking them,
// their events are recorded through PSUBSCRIBE, the Sentinel-aware proxy
// follows them, and the read-back waits until they agree.
func TestARunAgainstSentinelsWithAPasswordSeesEverything(t *testing.T) {
	s := load(t, "master-kill.yaml", "sentinel.password=s3cret!", "proxy.sentinel_aware=true",
		"duration=8s", "sentinel.down_after=1s", "faults[0].at=2s")
	res := run(t, s)
	r, tl := res.Report, res.Timeline
	var switched bool
	for _, e := range tl.Events {
		if e.Kind == timeline.KindSentinel && e.Name == "+switch-master" {
			switched = true
		}
	}
	if !switched {
		t.Error("no +switch-master recorded: the Sentinels' events were not read")
	}
	if f, ok := tl.FirstFault(); !ok || f.Target != tl.InitialMaster {
		t.Errorf("fault %+v, want the kill of the initial master %s", f, tl.InitialMaster)
	}
	if r.Failovers != 1 || !r.WriteInterruption.Recovered {
		t.Errorf("failovers %d, write interruption %+v: want one failover the proxy followed", r.Failovers, r.WriteInterruption)
	}
	if tl.ReadBack == nil || !tl.ReadBack.Settled || !r.Lost.Checked {
		t.Errorf("read-back %+v, lost %+v: want the Sentinels agreeing and the writes read back", tl.ReadBack, r.Lost)
	}
}

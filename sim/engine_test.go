package sim_test

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/scenarios"
	"github.com/redisha-sim/redisha-sim/sim"
	"github.com/redisha-sim/redisha-sim/sim/memory"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
	"github.com/redisha-sim/redisha-sim/sim/verdict"
)

// load reads an embedded scenario, shortened by overrides.
func load(t *testing.T, name string, sets ...string) *scenario.Scenario {
	t.Helper()
	s, err := scenario.LoadFS(scenarios.FS, name, sets)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func run(t *testing.T, s *scenario.Scenario) *sim.Result {
	t.Helper()
	res, err := sim.Run(t.Context(), s, memory.Backend{}, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func phase(r *verdict.Report, name string) verdict.Phase {
	for _, p := range r.Phases {
		if p.Name == name {
			return p
		}
	}
	return verdict.Phase{}
}

func TestMasterKillInterruptionIsWhatTheTimingPredicts(t *testing.T) {
	s := load(t, "master-kill.yaml", "sentinel.down_after=1500ms", "duration=12s", "faults[0].at=3s")
	res := run(t, s)
	r := res.Report
	// down-after 1.5 s, not 1 s: at 1 s a Sentinel's first reconnect to the
	// new master can come a full ping period after the switch, after the
	// down-after clock (started at the switch) ran out: a second,
	// cascading failover, as real Sentinels do too (sim/model/TIMING.md §3: 2 runs in
	// 10). This test counts one failover.
	D := 1500 * time.Millisecond
	I, F := time.Second, time.Second // the seed: inter 1s, fastinter = downinter = inter, rise 2
	// sim/model/TIMING.md §1-§2: SDOWN D after the kill (plus a tick); promotion
	// within the quorum's round trip and a few ticks; the proxy marks the
	// new master UP (rise-1)·fastinter after its first passing check, which
	// starts at most a failing check (T = inter) plus downinter after the
	// promotion.
	sdown, promo, up := phase(r, "+sdown"), phase(r, "promotion"), phase(r, "proxy UP")
	if !sdown.Found || !promo.Found || !up.Found {
		t.Fatalf("phases missing: %+v", r.Phases)
	}
	fault := r.Fault.T
	if d := sdown.At - fault; d < D || d > D+300*time.Millisecond {
		t.Errorf("+sdown %v after the kill, want D=%v plus a tick", d, D)
	}
	if d := promo.At - sdown.At; d < 50*time.Millisecond || d > 1500*time.Millisecond {
		t.Errorf("promotion %v after +sdown", d)
	}
	if d := up.At - promo.At; d < F || d > I+I+F+200*time.Millisecond {
		t.Errorf("proxy UP %v after the promotion, want within [%v, %v]", d, F, I+I+F)
	}
	w := r.WriteInterruption
	if !w.Interrupted || !w.Recovered || w.Duration < D+F || w.Duration > D+300*time.Millisecond+1500*time.Millisecond+3*I+200*time.Millisecond {
		t.Errorf("write interruption %+v outside what the phases allow", w)
	}
	if r.Failovers != 1 || !r.Lost.Checked || r.Lost.Lost > 2 {
		t.Errorf("failovers %d, lost %+v", r.Failovers, r.Lost)
	}
	if !r.Passed() {
		t.Errorf("expectations: %+v", r.Expectations)
	}
	assertOneGroupShape(t, res.Timeline)
}

// assertOneGroupShape checks that a one-group run records what it did
// before groups existed: no groups, no hosts, no group tags, plain keys.
func assertOneGroupShape(t *testing.T, tl *timeline.Timeline) {
	t.Helper()
	if len(tl.Groups) != 0 || len(tl.Hosts) != 0 || tl.InitialMaster != "redis1" || !slices.Equal(tl.Nodes, []string{"redis1", "redis2", "redis3"}) {
		t.Errorf("got groups %v, hosts %v, initial master %s, nodes %v; want the one-group shape", tl.Groups, tl.Hosts, tl.InitialMaster, tl.Nodes)
	}
	for _, op := range tl.Ops {
		if op.Group != "" || !strings.HasPrefix(op.Key, "w") {
			t.Fatalf("got op %+v, want no group and a plain key", op)
		}
	}
	for _, e := range tl.Events {
		if e.Group != "" {
			t.Fatalf("got event %+v tagged in a one-group run", e)
		}
	}
}

func TestMasterStopStartShowsTheTwoMasterWindowAndItsLostWrites(t *testing.T) {
	s := load(t, "master-stop-start.yaml", "sentinel.down_after=1500ms", "duration=22s", "faults[0].at=2s", "faults[1].at=7s")
	r := run(t, s).Report
	// The restarted old master passes the seed's checks (role:master,
	// backlog from its snapshot) and takes writes until Sentinel demotes
	// it about 10 s later.
	if r.TwoMaster.Total < 8*time.Second || r.TwoMaster.WrongWrites == 0 {
		t.Errorf("two-master window %v with %d wrong writes, want about 10s", r.TwoMaster.Total, r.TwoMaster.WrongWrites)
	}
	if !r.Lost.Checked || r.Lost.Lost == 0 {
		t.Errorf("lost writes %+v, want the old master's writes lost", r.Lost)
	}
	if r.Passed() {
		t.Error("the scenario's expectations (no lost writes, no window) must fail with the seed's checks")
	}
}

func TestSentinelQuorumLostMeansNoFailover(t *testing.T) {
	r := run(t, load(t, "sentinel-quorum-lost.yaml", "duration=10s")).Report
	if r.Failovers != 0 || phase(r, "+odown").Found || !phase(r, "+sdown").Found {
		t.Errorf("failovers %d, phases %+v: want +sdown and no +odown", r.Failovers, r.Phases)
	}
	if w := r.WriteInterruption; w.Recovered {
		t.Errorf("writes recovered without a failover: %+v", w)
	}
	if !r.Passed() {
		t.Errorf("expectations: %+v", r.Expectations)
	}
}

func TestPartitionLosesTheIsolatedMastersWrites(t *testing.T) {
	r := run(t, load(t, "partition.yaml", "sentinel.down_after=1500ms", "duration=14s", "faults[0].at=2s", "faults[1].at=8s")).Report
	if r.Failovers != 1 || !r.Lost.Checked || r.Lost.Lost == 0 {
		t.Errorf("failovers %d, lost %+v: want a failover and lost writes", r.Failovers, r.Lost)
	}
}

func TestCancelledRunStopsEverything(t *testing.T) {
	s := load(t, "master-kill.yaml", "duration=30s")
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(4*time.Second, cancel)
	start := time.Now()
	res, err := sim.Run(ctx, s, memory.Backend{}, sim.Options{})
	if err == nil || res != nil {
		t.Fatalf("got %v, %v; want the cancellation", res, err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Fatalf("Run returned %v after the cancellation", d-4*time.Second)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before+2 {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines after the run, %d before:\n%s", g, before, buf[:runtime.Stack(buf, true)])
	}
}

func TestFaultTheBackendCannotDoIsASetupErrorBeforeAnythingStarts(t *testing.T) {
	// Validated for the docker backend, which can; run on the memory one,
	// whose proxy runs in-process.
	s := load(t, "master-kill.yaml", "backend=docker", "proxy.kind=haproxy", "faults[0].action=stop", "faults[0].target=proxy")
	var stages []string
	_, err := sim.Run(t.Context(), s, memory.Backend{}, sim.Options{Progress: func(p sim.Progress) { stages = append(stages, p.Stage) }})
	if !errors.Is(err, sim.ErrSetup) || !strings.Contains(err.Error(), "the memory backend cannot stop proxy") {
		t.Fatalf("got %v: the memory backend cannot stop the proxy, want a setup error that says so", err)
	}
	if len(stages) > 0 {
		t.Errorf("got stages %v, want none: nothing may start", stages)
	}
}

// A master killed and rescheduled on a new address: the run's timeline
// names it redis1 at both addresses (the fault's detail, the role poller
// that follows it, Sentinel's events on the old address), Sentinel fails
// over once and never learns the new address, and the orphan master gets
// no writes through the seed's checks while Redis has two masters.
func TestMasterBackOnANewAddressIsNamedByBothAndStaysAnOrphanMaster(t *testing.T) {
	s := load(t, "master-new-address.yaml", "sentinel.down_after=1500ms", "duration=16s", "faults[0].at=2s", "faults[1].at=7s")
	res := run(t, s)
	r := res.Report
	var moved time.Duration
	var roleAfter, sdownOld, slaveNew bool
	for _, e := range res.Timeline.Events {
		switch {
		case e.Kind == timeline.KindFault && e.Name == "reschedule":
			if !strings.HasPrefix(e.Detail, "redis1 moved from ") || e.Err != "" {
				t.Errorf("reschedule event: detail %q, error %q; want redis1's move", e.Detail, e.Err)
			}
			moved = e.T
		case moved == 0:
		case e.Kind == timeline.KindRole && e.Node == "redis1" && e.Role == "master":
			roleAfter = true
		case e.Kind == timeline.KindSentinel && e.Name == "+sdown" && e.Node == "redis1" && strings.HasPrefix(e.Detail, "slave "):
			sdownOld = true
		case e.Kind == timeline.KindSentinel && e.Name == "+slave" && e.Node == "redis1":
			slaveNew = true
		}
	}
	if moved == 0 || !roleAfter || !sdownOld || slaveNew {
		t.Errorf("reschedule at %v, redis1 polled as master after it %v, Sentinel's +sdown of the old address %v, +slave of redis1 %v; want the first three and no +slave",
			moved, roleAfter, sdownOld, slaveNew)
	}
	if r.Failovers != 1 || r.TwoMaster.Total != 0 || r.TwoMaster.RoleOverlap < 5*time.Second {
		t.Errorf("failovers %d, two-master window %v, role overlap %v: want 1, 0s and the rest of the run (about 9s)", r.Failovers, r.TwoMaster.Total, r.TwoMaster.RoleOverlap)
	}
}

package model

import (
	"flag"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/fault"
	core "github.com/redisha-sim/redisha-sim/sim/sentinel"
	"github.com/redisha-sim/redisha-sim/sim/sentinel/sentineltest"
)

var update = flag.Bool("update", false, "rewrite the golden Sentinel decision log")

// scriptRun replays a sentineltest script on the model's Sentinels: no
// proxy, no clients, ticks at the script's instants, Sentinels that start
// knowing only the master.
func scriptRun(sc sentineltest.Script) *sentineltest.Log {
	// Replies come back at the instant of the request (RTT zero): the
	// memory backend's test clock stands still from one instant to the
	// next while its real round trips run.
	p := Params{Nodes: sc.Nodes, Sentinels: sc.Sentinels, Quorum: sc.Quorum, DownAfter: sc.DownAfter,
		FailoverTimeout: sc.FailoverTimeout, ParallelSyncs: sc.ParallelSyncs}
	w := &world{p: p, rng: rand.New(rand.NewPCG(1, 2)), fault: sc.FaultAt}
	w.addGroups(sc.NodeRunIDs)
	w.targets = w.nodes[:1]
	log := sentineltest.NewLog(sc, w.nodeOf, func(runID string) int {
		for i, id := range sentinelIDs {
			if id == runID {
				return i
			}
		}
		return -1
	})
	for i := range sc.Sentinels {
		s := newSentinel(w, i)
		s.tickEvery, s.listReplicas = sc.Tick, true
		s.onEvent = func(e core.Event) { log.Record(w.q.now, i, e) }
		w.sentinels = append(w.sentinels, s)
	}
	switch sc.Fault {
	case fault.Kill:
		w.q.at(sc.FaultAt, func() { w.exit(w.nodes[0]) })
	case fault.Pause:
		w.q.at(sc.FaultAt, func() { w.nodes[0].paused = true })
	}
	if sc.UndoAt > 0 {
		w.q.at(sc.UndoAt, w.undoFault)
	}
	for i, s := range w.sentinels {
		s.monitor()
		w.q.at(time.Duration(i)*sc.Offset, s.tickF)
	}
	w.q.run(sc.End + sc.Tick/2)
	return log
}

// The model drives the Sentinel core as the memory backend does: each
// scripted fault gives the same decisions, instant by instant, as in
// ../sentinel/testdata/<script>.log, which sim/memory's
// TestSentinelDriverMakesTheScriptedDecisions checks too.
func TestSentinelDriverMakesTheScriptedDecisions(t *testing.T) {
	for _, sc := range sentineltest.Scripts {
		t.Run(sc.Name, func(t *testing.T) {
			log := scriptRun(sc)
			d, err := log.Compare("../sentinel/testdata", *update)
			if err != nil {
				t.Fatal(err)
			}
			if d != "" {
				t.Errorf("decisions differ from the golden log:\n%s\nwhole log:\n%s", d, log)
			}
		})
	}
}

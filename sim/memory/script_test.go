package memory

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/sentinel"
	"github.com/redisha-sim/redisha-sim/sim/sentinel/sentineltest"
)

func (o *outbox) empty() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.q) == 0
}

// quiet reports whether nothing is on its way to the Sentinel: no command
// unanswered (but by a frozen node: those wait for it to resume), no
// connection closed by its peer but not yet handled, no message waiting in
// a connection.
func (s *Sentinel) quiet() bool {
	q := true
	ok := s.call(func() {
		s.core.Instances(func(ri *sentinel.Instance) {
			if n := s.nw.node(ri.Addr); n != nil {
				if st, _ := n.stateOf(); st == nodePaused {
					return
				}
			}
			if ri.Link.Pending != 0 {
				q = false
			}
		})
		for _, ls := range s.links {
			for _, c := range []*link{ls.cc, ls.pc} {
				if c != nil && (c.isClosed() || !c.replies.empty()) {
					q = false
				}
			}
		}
	})
	return ok && q
}

// scriptRun replays a sentineltest script on in-memory nodes and
// Sentinels whose clock (and the nodes' INFO clock) is the script's: the
// test moves it from instant to instant, posts the ticks due, and waits
// until every request has been answered before the next instant.
func scriptRun(t *testing.T, sc sentineltest.Script) *sentineltest.Log {
	t.Helper()
	ctx := t.Context()
	discard := slog.New(slog.DiscardHandler)
	nw := newNetwork(1)
	base := time.Now()
	var clock atomic.Int64
	nw.clock = func() time.Time { return base.Add(time.Duration(clock.Load())) }
	var nodes []*Node
	for i := range sc.Nodes {
		addr, err := freeAddr()
		if err != nil {
			t.Fatal(err)
		}
		n := newNode(fmt.Sprintf("redis%d", i+1), addr, nodeOptions{}, nw, discard)
		nw.nodes[addr] = n
		if err := n.start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.shutdown(false) })
		n.mu.Lock()
		n.runID = sc.NodeRunIDs[i]
		n.mu.Unlock()
		nodes = append(nodes, n)
	}
	for _, n := range nodes[1:] {
		n.becomeReplicaOf(nodes[0].Addr())
	}
	if err := waitFor(ctx, 10*time.Second, func() bool { return linksUp(nodes[1:]) }); err != nil {
		t.Fatalf("replicas did not sync: %v", err)
	}
	var sentinels []*Sentinel
	var mu sync.Mutex
	log := sentineltest.NewLog(sc, func(addr string) int {
		return slices.IndexFunc(nodes, func(n *Node) bool { return n.Addr() == addr })
	}, func(runID string) int {
		return slices.IndexFunc(sentinels, func(s *Sentinel) bool { return s.myid == runID })
	})
	cfg := sentinelConfig{masters: []monitored{{name: "mymaster", addr: nodes[0].Addr()}}, quorum: sc.Quorum, downAfter: sc.DownAfter,
		failoverTimeout: sc.FailoverTimeout, parallelSyncs: sc.ParallelSyncs}
	for j := range sc.Sentinels {
		addr, err := freeAddr()
		if err != nil {
			t.Fatal(err)
		}
		s := newSentinel(fmt.Sprintf("sentinel%d", j+1), addr, cfg, nw, uint64(j+1), discard)
		s.clock = func() time.Duration { return time.Duration(clock.Load()) }
		s.manualTicks = true
		s.onEvent = func(e sentinel.Event) {
			mu.Lock()
			defer mu.Unlock()
			log.Record(s.now(), j, e)
		}
		nw.mu.Lock()
		nw.sentinels[addr] = s
		nw.mu.Unlock()
		sentinels = append(sentinels, s)
		// Started at once, as the backend does, so that the port picked
		// is still free.
		if err := s.start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.stop)
	}
	quiesce := func() {
		t.Helper()
		// Two passes in a row with nothing on its way: a message a
		// Sentinel handled during one pass shows in the next.
		deadline := time.Now().Add(10 * time.Second)
		for calm := 0; calm < 2; {
			calm++
			for _, s := range sentinels {
				if !s.quiet() {
					calm = 0
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("at %v: the Sentinels did not settle", time.Duration(clock.Load()))
			}
			if calm == 0 {
				select {
				case <-ctx.Done():
					t.Fatal(ctx.Err())
				case <-time.After(time.Millisecond):
				}
			}
		}
	}
	due := map[time.Duration][]int{}
	for j := range sc.Sentinels {
		for _, at := range sc.Ticks(j) {
			due[at] = append(due[at], j)
		}
	}
	instants := slices.Sorted(func(yield func(time.Duration) bool) {
		for at := range due {
			if !yield(at) {
				return
			}
		}
	})
	type action struct {
		at     time.Duration
		action fault.Action
	}
	actions := []action{{sc.FaultAt, sc.Fault}}
	if sc.UndoAt > 0 {
		actions = append(actions, action{sc.UndoAt, fault.Of(sc.Fault).Undo})
	}
	for _, at := range instants {
		for len(actions) > 0 && at >= actions[0].at {
			clock.Store(int64(actions[0].at))
			if err := nodes[0].do(ctx, actions[0].action); err != nil {
				t.Fatal(err)
			}
			actions = actions[1:]
			quiesce()
		}
		clock.Store(int64(at))
		var wg sync.WaitGroup
		for _, j := range due[at] {
			s := sentinels[j]
			wg.Add(1)
			s.post(func() {
				defer wg.Done()
				s.core.Tick(at)
			})
		}
		wg.Wait()
		quiesce()
	}
	return log
}

// The memory backend drives the Sentinel core as the model does: each
// scripted fault gives the same decisions, instant by instant, as in
// ../sentinel/testdata/<script>.log, which sim/model's
// TestSentinelDriverMakesTheScriptedDecisions checks too (and rewrites with
// -update).
func TestSentinelDriverMakesTheScriptedDecisions(t *testing.T) {
	for _, sc := range sentineltest.Scripts {
		t.Run(sc.Name, func(t *testing.T) {
			log := scriptRun(t, sc)
			d, err := log.Compare("../sentinel/testdata", false)
			if err != nil {
				t.Fatal(err)
			}
			if d != "" {
				t.Errorf("decisions differ from the golden log:\n%s\nwhole log:\n%s", d, log)
			}
		})
	}
}

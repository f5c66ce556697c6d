package model

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy/config"
	"github.com/redisha-sim/redisha-sim/proxy/health"
	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/undertest"
)

// Backend effects the model needs, by backend (TIMING.md §2, §4 and this
// project's measurements).
var backendEffects = map[string]struct {
	deadHangs, gracefulStop     bool
	refuse, kill, promote, sync time.Duration
}{
	// The in-memory nodes refuse connections once stopped and switch
	// roles at once; their graceful stop is Redis 7's (sim/memory's
	// TestGracefulStopHoldsWritesUntilTheReplicasNextPeriodicAck).
	"memory": {deadHangs: false, gracefulStop: true, promote: 0, sync: 5 * time.Millisecond},
	// A killed container's process is gone ~35 ms after the kill is
	// issued through the Docker API; its address then refuses
	// connections for ~120 ms and hangs afterwards (the IP goes away).
	// Measured by dialling a node every 5 ms through five kills of the
	// docker backend's containers (sim/docker's
	// TestKilledContainerAcceptsThenRefusesThenHangs): accepts until
	// 31-45 ms, then refuses for 91-145 ms (mean 121). Real Redis stops
	// gracefully as TIMING.md §4 says, and answers role:master ~30 ms
	// after SLAVEOF NO ONE.
	"docker": {deadHangs: true, gracefulStop: true, refuse: 120 * time.Millisecond, kill: 35 * time.Millisecond,
		promote: 30 * time.Millisecond, sync: 50 * time.Millisecond},
}

// FromScenario derives the model's parameters from a scenario, with the
// proxy's check settings read from the configuration it runs with.
func FromScenario(s *scenario.Scenario) (Params, error) {
	groups := s.ResolvedGroups()
	p := Params{
		Nodes: len(groups[0].Nodes), Sentinels: s.Sentinel.Count, Quorum: s.Sentinel.Quorum,
		DownAfter: s.Sentinel.DownAfter.D, FailoverTimeout: s.Sentinel.FailoverTimeout.D,
		ParallelSyncs: s.Sentinel.ParallelSyncs, Persistence: s.Topology.Persistence,
		Duration: s.Duration.D, Writers: s.Workload.Writers.Count, WriteRate: s.Workload.Writers.Rate,
		OpTimeout: s.Workload.Writers.Timeout.D, SentinelAware: s.Proxy.SentinelAware,
	}
	if len(groups) > 1 {
		p.Groups = len(groups)
	}
	for _, g := range groups[1:] {
		if len(g.Nodes) != p.Nodes {
			return p, fmt.Errorf("%w: groups of different sizes (%s has %d nodes, %s %d): the model gives every group the same", ErrNotModelled,
				groups[0].Name, p.Nodes, g.Name, len(g.Nodes))
		}
	}
	if !s.PerOpProxyWriters() {
		return p, fmt.Errorf("%w: writers that keep connections or do not go through the proxy (the model opens a connection per write through the proxy)", ErrNotModelled)
	}
	fx, ok := backendEffects[s.Backend]
	if !ok {
		return p, fmt.Errorf("%w: backend %q", ErrNotModelled, s.Backend)
	}
	p.DeadHangs, p.RefuseWindow, p.KillDelay = fx.deadHangs, fx.refuse, fx.kill
	p.GracefulStop, p.PromoteDelay, p.SyncDelay = fx.gracefulStop, fx.promote, fx.sync

	c, err := undertest.CheckSettings(s)
	if errors.Is(err, undertest.ErrNoServers) {
		return p, fmt.Errorf("%w: no master backend", ErrNotModelled)
	}
	if err != nil {
		return p, err
	}
	p.Check = health.Params{Inter: c.Inter, FastInter: c.FastInter, DownInter: c.DownInter, Rise: c.Rise, Fall: c.Fall}
	p.ReadTimeout, p.ConnectTimeout = c.Inter, c.Inter
	if c.TimeoutCheck > 0 {
		p.ReadTimeout = c.TimeoutCheck
		p.ConnectTimeout = min(c.Inter, c.TimeoutConnect)
		if c.TimeoutConnect == 0 {
			p.ConnectTimeout = c.Inter
		}
	}
	p.ReplicaCheck, p.CheckReplies, p.BacklogGuard = c.OnReplica, c.Sends, c.BacklogGuard
	p.Balance = "roundrobin"
	if c.Balance == config.BalanceFirst {
		p.Balance = "first"
	}

	f, err := faultOf(s)
	if err != nil {
		return p, err
	}
	p.Fault = f
	return p, p.validate()
}

// faultOf finds the one fault on the first group's initial master, or
// on a host, and its undo on the same node or host.
func faultOf(s *scenario.Scenario) (Fault, error) {
	var f Fault
	if len(s.Faults) == 0 {
		return f, fmt.Errorf("%w: no fault", ErrNotModelled)
	}
	first := s.Faults[0]
	groups := s.ResolvedGroups()
	initial := groups[0].Nodes[0]
	host, onHost := strings.CutPrefix(first.Target, scenario.HostTarget)
	switch {
	case onHost:
		h, err := hostOf(s, host)
		if err != nil {
			return f, err
		}
		f.Host = h
	case first.Target == "master" || first.Target == initial || (len(groups) > 1 && first.Target == groups[0].Name+".master"):
	default:
		return f, fmt.Errorf("%w: the first fault acts on %s, not the first group's master or a host", ErrNotModelled, first.Target)
	}
	if first.Action == fault.Blackhole && !wholeBlackhole(first) {
		return f, fmt.Errorf("%w: fault blackhole: the model sees a node up, paused or cut off, not a slow, lossy or one-way link"+
			" (a blackhole of every peer both ways runs as a pause; this one names some peers or one direction)", ErrNotModelled)
	}
	if fx := fault.Of(first.Action); fx.Link && !fx.Model && first.Action != fault.Blackhole {
		return f, fmt.Errorf("%w: fault %s: the model sees a node up, paused or cut off, not a slow, lossy or one-way link", ErrNotModelled, first.Action)
	}
	f.Action, f.At = first.Action, first.At.D
	undo := fault.Of(f.Action).Undo
	for i, x := range s.Faults[1:] {
		same := x.Target == initial || (first.As != "" && x.Target == first.As)
		if onHost {
			same = x.Target == first.Target || (first.As != "" && x.Target == first.As)
		}
		if !same || undo == "" || x.Action != undo || f.Undo != 0 {
			return f, fmt.Errorf("%w: fault %d (%s %s)", ErrNotModelled, i+2, x.Action, x.Target)
		}
		f.Undo = x.At.D
	}
	return f, nil
}

// hostOf is the model's view of a scenario's host: its nodes by group and
// index, and its Sentinels by index.
func hostOf(s *scenario.Scenario, name string) (*Host, error) {
	groups := s.ResolvedGroups()
	type at struct{ group, node int }
	nodes := map[string]at{}
	for gi, g := range groups {
		for j, n := range g.Nodes {
			nodes[n] = at{gi, j}
		}
	}
	sentinels := map[string]int{}
	for i, n := range s.SentinelNames() {
		sentinels[n] = i
	}
	for _, h := range s.ResolvedHosts() {
		if h.Name != name {
			continue
		}
		out := &Host{Nodes: make([][]int, len(groups))}
		for _, m := range h.Members {
			if a, ok := nodes[m]; ok {
				out.Nodes[a.group] = append(out.Nodes[a.group], a.node)
			} else if i, ok := sentinels[m]; ok {
				out.Sentinels = append(out.Sentinels, i)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown host %q", name)
}

// wholeBlackhole reports a blackhole of every peer class in both
// directions: to every side the node is frozen, as a paused one is
// (nothing answers; connections are accepted on the memory backend and
// what was held is delivered on heal), which is how the model runs it.
func wholeBlackhole(f scenario.Fault) bool {
	if f.Direction != "" {
		return false
	}
	if len(f.Peers) == 0 {
		return true
	}
	for _, c := range fault.PeerClasses {
		if !slices.Contains(f.Peers, c) {
			return false
		}
	}
	return true
}

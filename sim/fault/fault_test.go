package fault_test

import (
	"slices"
	"testing"

	"github.com/redisha-sim/redisha-sim/sim/fault"
)

func TestEveryActionIsDeclaredOnceWithAnUndoFromTheTable(t *testing.T) {
	seen := map[fault.Action]bool{}
	for _, e := range fault.All() {
		if seen[e.Action] {
			t.Errorf("%s: declared twice", e.Action)
		}
		seen[e.Action] = true
		if e.Help == "" {
			t.Errorf("%s: no help text", e.Action)
		}
		if e.Undo != "" {
			u, ok := fault.Lookup(e.Undo)
			if !ok {
				t.Errorf("%s: got undo %q, want an action of the table", e.Action, e.Undo)
				continue
			}
			if u.Undo != "" || u.Link != e.Link || !slices.Equal(u.Targets, e.Targets) {
				t.Errorf("%s: its undo %s must act on the same kinds and the same way, and have no undo itself", e.Action, e.Undo)
			}
		}
	}
	if got, want := len(fault.Actions()), len(fault.All()); got != want {
		t.Errorf("got %d action names, want %d", got, want)
	}
}

func TestBackendsPerformActionsOnlyOnKindsTheActionAccepts(t *testing.T) {
	for _, e := range fault.All() {
		for b, kinds := range e.Backends {
			if !slices.Contains(fault.Backends, b) {
				t.Errorf("%s: unknown backend %q", e.Action, b)
			}
			for _, k := range kinds {
				if !e.Accepts(k) {
					t.Errorf("%s: backend %s on %s, which the action does not accept (targets %v)", e.Action, b, k, e.Targets)
				}
			}
		}
	}
}

func TestTheTableSaysWhatTheBackendsAndTheModelDo(t *testing.T) {
	cases := []struct {
		action  fault.Action
		backend string
		kind    fault.Kind
		want    bool
	}{
		{fault.Kill, fault.Memory, fault.KindNode, true},
		{fault.Pause, fault.Memory, fault.KindSentinel, true},
		{fault.Disconnect, fault.Memory, fault.KindSentinel, true},
		{fault.Reconnect, fault.Memory, fault.KindSentinel, true},
		{fault.Disconnect, fault.Docker, fault.KindSentinel, true},
		{fault.Delay, fault.Docker, fault.KindNode, true},
		{fault.Delay, fault.Docker, fault.KindSentinel, true},
		{fault.Delay, fault.Memory, fault.KindSentinel, false},
		{fault.Stop, fault.Memory, fault.KindProxy, false}, // in-process
		{fault.Stop, fault.Docker, fault.KindProxy, true},
		{"jitter", fault.Docker, fault.KindNode, false},
		{fault.Kill, fault.Memory, fault.KindHost, true},
		{fault.Start, fault.Docker, fault.KindHost, true},
		{fault.Disconnect, fault.Docker, fault.KindHost, true},
		{fault.Disconnect, fault.Memory, fault.KindHost, true}, // its Sentinels too
		{fault.Reconnect, fault.Memory, fault.KindHost, true},
		{fault.Disconnect, fault.Memory, fault.KindProxy, false}, // in-process
		{fault.Restart, fault.Docker, fault.KindHost, false},
		{fault.Reschedule, fault.Memory, fault.KindNode, true},
		{fault.Reschedule, fault.Docker, fault.KindNode, true},
		{fault.Reschedule, fault.Docker, fault.KindSentinel, false},
		{fault.Reschedule, fault.Docker, fault.KindProxy, false},
		{fault.Reschedule, fault.Memory, fault.KindHost, false},
		{fault.Reschedule, fault.External, fault.KindNode, false},
		{fault.Delay, fault.Docker, fault.KindHost, false},
		{fault.Failover, fault.Memory, fault.KindNode, true}, // SENTINEL FAILOVER, every backend
		{fault.Failover, fault.Docker, fault.KindNode, true},
		{fault.Failover, fault.External, fault.KindNode, true},
		{fault.Failover, fault.Docker, fault.KindHost, false},
		{fault.Failover, fault.Memory, fault.KindSentinel, false},
	}
	for _, c := range cases {
		if got := fault.Of(c.action).Available(c.backend, c.kind); got != c.want {
			t.Errorf("%s on a %s of the %s backend: got available %v, want %v", c.action, c.kind, c.backend, got, c.want)
		}
	}
	var modelled []fault.Action
	for _, e := range fault.All() {
		if e.Model {
			modelled = append(modelled, e.Action)
		}
	}
	if want := []fault.Action{fault.Stop, fault.Kill, fault.Restart, fault.Pause, fault.Disconnect, fault.Failover}; !slices.Equal(modelled, want) {
		t.Errorf("modelled: got %v, want %v", modelled, want)
	}
	if !fault.Of(fault.Delay).Link || !fault.Of(fault.Delay).Takes("jitter") || fault.Of(fault.Kill).Takes("delay") {
		t.Error("delay acts on the link and takes delay and jitter; kill takes neither")
	}
}

func TestHostsTakeKillStopPauseAndDisconnectWithTheirUndos(t *testing.T) {
	var got []fault.Action
	for _, e := range fault.All() {
		if e.Accepts(fault.KindHost) {
			got = append(got, e.Action)
		}
	}
	want := []fault.Action{fault.Stop, fault.Kill, fault.Start, fault.Pause, fault.Unpause, fault.Disconnect, fault.Reconnect}
	if !slices.Equal(got, want) {
		t.Errorf("actions on hosts: got %v, want %v", got, want)
	}
	if got := fault.KindsText([]fault.Kind{fault.KindNode, fault.KindHost}); got != "Redis nodes and hosts" {
		t.Errorf("got %q, want %q", got, "Redis nodes and hosts")
	}
}

func TestTheUserSpaceLinkFaultsRunOnBothBackendsAndHealUndoesThem(t *testing.T) {
	for _, a := range []fault.Action{fault.Blackhole, fault.Reset, fault.Loss, fault.Bandwidth} {
		e := fault.Of(a)
		if !e.Link || e.Undo != fault.Heal || !e.Takes("peers") {
			t.Errorf("%s: got link %v, undo %q, peers %v; want a link fault undone by heal that takes peers", a, e.Link, e.Undo, e.Takes("peers"))
		}
		if !e.Available(fault.Memory, fault.KindNode) || e.Available(fault.Memory, fault.KindSentinel) {
			t.Errorf("%s: want the memory backend's nodes only on that backend", a)
		}
		if !e.Available(fault.Docker, fault.KindNode) || !e.Available(fault.Docker, fault.KindSentinel) || e.Available(fault.Docker, fault.KindProxy) || e.Available(fault.Docker, fault.KindHost) {
			t.Errorf("%s: want the docker backend's nodes and Sentinels (their relays), not its proxy or hosts", a)
		}
	}
	if fault.Of(fault.Reset).Takes("direction") || !fault.Of(fault.Blackhole).Takes("direction") {
		t.Error("a reset cuts both ways and takes no direction; a blackhole takes one")
	}
	if !fault.Of(fault.Loss).Takes("loss") || !fault.Of(fault.Bandwidth).Takes("rate") || fault.Of(fault.Blackhole).Takes("loss") {
		t.Error("loss takes loss, bandwidth rate, blackhole neither")
	}
	all := fault.LinkFault{Action: fault.Blackhole}
	if !slices.Equal(all.Classes(), fault.PeerClasses) || !slices.Equal(all.Dirs(), []string{fault.In, fault.Out}) {
		t.Errorf("defaults: got %v %v, want every peer class both ways", all.Classes(), all.Dirs())
	}
	if got := (fault.LinkFault{Action: fault.Delay}).Dirs(); !slices.Equal(got, []string{fault.Out}) {
		t.Errorf("a delay's default direction: got %v, want [out]", got)
	}
}

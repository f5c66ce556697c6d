package rig_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/rig"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
)

// member is a Stepper that records what it was asked, in one shared log.
type member struct {
	name string
	kind rig.Kind
	log  *steps
	// actErr fails Act.
	actErr error
	// together, when set, makes Act wait until every member is in Act.
	together *sync.WaitGroup
}

type steps struct {
	mu  sync.Mutex
	got []string
}

func (s *steps) add(x string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, x)
}

func (m member) Name() string   { return m.name }
func (m member) Kind() rig.Kind { return m.kind }
func (m member) Addr() string   { return m.name + ":6379" }
func (m member) Do(ctx context.Context, a fault.Action) error {
	if err := m.Act(ctx, a); err != nil {
		return err
	}
	return m.Verify(ctx, a)
}

func (m member) Act(_ context.Context, a fault.Action) error {
	if m.together != nil {
		m.together.Done()
		all := make(chan struct{})
		go func() { m.together.Wait(); close(all) }()
		select {
		case <-all:
		case <-time.After(5 * time.Second):
			m.log.add("alone " + m.name)
		}
	}
	m.log.add("act " + m.name)
	return m.actErr
}

func (m member) Verify(_ context.Context, a fault.Action) error {
	m.log.add("verify " + m.name)
	return nil
}

func TestAHostActsOnEveryMemberBeforeVerifyingAny(t *testing.T) {
	log := &steps{}
	// Each member's Act returns only once all three are in Act: acted on
	// one after the other, they would wait 5 s and log "alone".
	var together sync.WaitGroup
	together.Add(3)
	h := rig.NewHost("h1", fault.Docker, []rig.Stepper{
		member{name: "redis1", kind: rig.KindNode, log: log, together: &together},
		member{name: "redis2", kind: rig.KindNode, log: log, together: &together},
		member{name: "sentinel1", kind: rig.KindSentinel, log: log, together: &together},
	})
	if h.Kind() != rig.KindHost || h.Name() != "h1" || h.Addr() != "" {
		t.Fatalf("got kind %s, name %s, addr %q; want host, h1, \"\"", h.Kind(), h.Name(), h.Addr())
	}
	if err := h.Do(t.Context(), fault.Kill); err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(log.got, func(s string) bool { return strings.HasPrefix(s, "alone") }) {
		t.Errorf("got steps %v, want the members acted on together", log.got)
	}
	acts := slices.IndexFunc(log.got, func(s string) bool { return strings.HasPrefix(s, "verify") })
	if acts != 3 {
		t.Errorf("got steps %v, want the three acts before any verify", log.got)
	}
	if len(log.got) != 6 {
		t.Errorf("got steps %v, want an act and a verify for each member", log.got)
	}
}

func TestAHostRefusesAnActionItsBackendCannotPerformBeforeActing(t *testing.T) {
	log := &steps{}
	members := []rig.Stepper{
		member{name: "redis1", kind: rig.KindNode, log: log},
		member{name: "sentinel1", kind: rig.KindSentinel, log: log},
	}
	// A blackhole acts on nodes and Sentinels, not on hosts.
	err := rig.NewHost("h1", fault.Memory, members).Do(t.Context(), fault.Blackhole)
	if err == nil || !strings.Contains(err.Error(), "the memory backend cannot blackhole a host") {
		t.Errorf("got %v, want an error saying the memory backend cannot blackhole a host", err)
	}
	// A member the backend cannot act on: the memory backend's proxy runs
	// in-process.
	withProxy := append(slices.Clone(members), member{name: "proxy", kind: rig.KindProxy, log: log})
	if err := rig.NewHost("h1", fault.Memory, withProxy).Do(t.Context(), fault.Kill); err == nil || !strings.Contains(err.Error(), "cannot kill its member proxy") {
		t.Errorf("got %v, want an error saying the memory backend cannot kill the host's member proxy", err)
	}
	// Restart is not a host action on any backend.
	if err := rig.NewHost("h1", fault.Docker, members).Do(t.Context(), fault.Restart); err == nil {
		t.Error("restart of a host: got no error, want one")
	}
	if len(log.got) != 0 {
		t.Errorf("got steps %v, want none", log.got)
	}
}

func TestAHostJoinsItsMembersErrorsAndSkipsTheChecksWhenAnEffectFailed(t *testing.T) {
	log := &steps{}
	boom := errors.New("boom")
	err := rig.NewHost("h1", fault.Docker, []rig.Stepper{
		member{name: "redis1", kind: rig.KindNode, log: log, actErr: boom},
		member{name: "redis2", kind: rig.KindNode, log: log},
	}).Do(t.Context(), fault.Stop)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "stop host h1") {
		t.Errorf("got %v, want the member's error wrapped as stop host h1", err)
	}
	if slices.ContainsFunc(log.got, func(s string) bool { return strings.HasPrefix(s, "verify") }) {
		t.Errorf("got steps %v, want no verify after a failed effect", log.got)
	}
}

func TestAScenarioIsOneGroupNamedByItsMasterName(t *testing.T) {
	s := &scenario.Scenario{}
	s.Topology.Nodes = 3
	s.Sentinel.MasterName = "mymaster"
	topo := rig.TopologyOf(s)
	if len(topo.Groups) != 1 || topo.Groups[0].Name != rig.DefaultGroup || topo.Groups[0].MasterName != "mymaster" {
		t.Fatalf("got groups %+v, want one, %s, named mymaster", topo.Groups, rig.DefaultGroup)
	}
	if got, want := topo.Nodes(), s.NodeNames(); !slices.Equal(got, want) || len(got) != 3 {
		t.Errorf("got nodes %v, want the scenario's %v", got, want)
	}
	if len(topo.Hosts) != 0 {
		t.Errorf("got hosts %v, want none (every instance alone)", topo.Hosts)
	}
}

func TestATopologyWithAMisplacedOrTwiceNamedInstanceIsRefused(t *testing.T) {
	good := rig.Topology{
		Groups: []rig.Group{
			{Name: "group1", MasterName: "cache", Nodes: []string{"group1.redis1", "group1.redis2"}},
			{Name: "group2", MasterName: "queue", Nodes: []string{"group2.redis1", "group2.redis2"}},
		},
		Sentinels: []string{"sentinel1"},
		Hosts:     []rig.Host{{Name: "h1", Members: []string{"group1.redis1", "group2.redis1", "sentinel1"}}},
	}
	if err := good.Check(); err != nil {
		t.Fatalf("got %v, want a valid topology", err)
	}
	cases := []struct {
		name string
		edit func(*rig.Topology)
		want string
	}{
		{"no group", func(t *rig.Topology) { t.Groups = nil }, "no replication group"},
		{"a group without nodes", func(t *rig.Topology) { t.Groups[1].Nodes = nil }, "group group2 has no node"},
		{"a node in two groups", func(t *rig.Topology) { t.Groups[1].Nodes[0] = "group1.redis1" }, `instance "group1.redis1" named twice`},
		{"one master name for two groups", func(t *rig.Topology) { t.Groups[1].MasterName = "cache" }, `master name "cache" named twice`},
		{"a host holding an unknown instance", func(t *rig.Topology) { t.Hosts[0].Members[0] = "redis9" }, `host h1 holds "redis9"`},
		{"an instance on two hosts", func(t *rig.Topology) {
			t.Hosts = append(t.Hosts, rig.Host{Name: "h2", Members: []string{"sentinel1"}})
		}, "sentinel1 is on hosts h1 and h2"},
	}
	for _, c := range cases {
		topo := good
		topo.Groups = []rig.Group{good.Groups[0], good.Groups[1]}
		topo.Groups[1].Nodes = slices.Clone(good.Groups[1].Nodes)
		topo.Hosts = []rig.Host{{Name: "h1", Members: slices.Clone(good.Hosts[0].Members)}}
		c.edit(&topo)
		if err := topo.Check(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

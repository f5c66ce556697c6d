package sim_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/sim"
	"github.com/redisha-sim/redisha-sim/sim/memory"
	"github.com/redisha-sim/redisha-sim/sim/rig"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

// directProxy stands in for a proxy with one frontend per group: both
// ports of a group are its initial master's own address, so that a group's
// clients lose their server when its master dies and nothing else changes.
type directProxy struct{ fes []rig.Frontend }

// startDirect is a rig.ProxyStarter giving the groups named in only (all
// when empty) a directProxy frontend.
func startDirect(only ...string) rig.ProxyStarter {
	return func(_ context.Context, s *scenario.Scenario, c rig.Cluster, _ *slog.Logger) (rig.ProxyUnderTest, error) {
		addr := map[string]string{}
		for _, n := range c.Nodes() {
			addr[n.Name()] = n.Addr()
		}
		var fes []rig.Frontend
		for _, g := range rig.TopologyOf(s).Groups {
			if len(only) > 0 && !slices.Contains(only, g.Name) {
				continue
			}
			a := addr[g.Nodes[0]]
			fes = append(fes, rig.Frontend{Group: g.Name, MasterAddr: a, ReplicaAddr: a})
		}
		return directProxy{fes: fes}, nil
	}
}

func (p directProxy) Describe() string            { return "direct to each group's initial master" }
func (p directProxy) Frontends() []rig.Frontend   { return p.fes }
func (p directProxy) Instance() rig.Instance      { return nil }
func (p directProxy) Close(context.Context) error { return nil }
func (p directProxy) Watch(ctx context.Context, _ func(rig.ProxyEvent)) error {
	<-ctx.Done()
	return nil
}

// threeGroups is master-kill with three groups of three nodes, a short
// down-after, killing group2's initial master 2 s in.
func threeGroups(t *testing.T) *scenario.Scenario {
	t.Helper()
	s := load(t, "master-kill.yaml", "sentinel.down_after=1s", "duration=7s", "settle=15s", "faults[0].at=2s",
		"workload.writers.rate=50", "workload.readers.rate=50")
	s.Topology.Groups = scenario.Groups{Count: 3}
	s.Faults[0].Target = "group2.redis1"
	return s
}

func TestThreeGroupsRunSeparatelyAndOnlyTheKilledGroupFails(t *testing.T) {
	s := threeGroups(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	res, err := sim.Run(ctx, s, memory.Backend{}, sim.Options{StartProxy: startDirect()})
	if err != nil {
		t.Fatal(err)
	}
	tl := res.Timeline

	// Three groups recorded, the first group's initial master as the run's.
	var names []string
	members := map[string]string{} // node -> group
	for _, g := range tl.Groups {
		names = append(names, g.Name)
		if g.MasterName != g.Name || len(g.Nodes) != 3 || g.InitialMaster != g.Name+".redis1" || g.MasterAddr == "" || g.ReadBack == nil {
			t.Errorf("group %+v: want master name %[2]s, 3 nodes, initial master %[2]s.redis1, its ports and its read-back", g, g.Name)
		}
		for _, n := range g.Nodes {
			members[n] = g.Name
		}
	}
	if want := []string{"group1", "group2", "group3"}; !slices.Equal(names, want) {
		t.Fatalf("got groups %v, want %v", names, want)
	}
	if len(tl.Nodes) != 9 || tl.InitialMaster != "group1.redis1" {
		t.Errorf("got nodes %v, initial master %s; want 9 nodes, group1.redis1", tl.Nodes, tl.InitialMaster)
	}

	kill, ok := tl.FirstFault()
	if !ok || kill.Err != "" || kill.Target != "group2.redis1" || kill.Group != "group2" {
		t.Fatalf("got fault %+v, want the kill of group2.redis1 tagged group2", kill)
	}
	killed := kill.T + kill.Took // the node is down from here on

	// Every operation carries its group, and its key the group's prefix;
	// group1 and group3 never fail, group2 fails from the kill on.
	count := map[string]int{}
	okBefore, failedAfter := 0, 0
	for _, op := range tl.Ops {
		count[op.Group]++
		if !strings.HasPrefix(op.Key, op.Group+":") {
			t.Errorf("op %d of group %q has key %q", op.ID, op.Group, op.Key)
		}
		if op.Node != "" && members[op.Node] != op.Group {
			t.Errorf("op %d of group %q was served by %s, of group %q", op.ID, op.Group, op.Node, members[op.Node])
		}
		switch op.Group {
		case "group1", "group3":
			if op.Result != timeline.ResultOK {
				t.Errorf("op %+v of %s failed", op, op.Group)
			}
			if op.Kind == timeline.OpWrite && op.Final != "present" {
				t.Errorf("write %+v of %s not read back", op, op.Group)
			}
		case "group2":
			if op.Start > killed {
				if op.Result == timeline.ResultOK {
					t.Errorf("op %+v of group2 succeeded after the kill at %v", op, killed)
				}
				failedAfter++
			} else if op.Result == timeline.ResultOK && op.End < kill.T {
				okBefore++
			}
		default:
			t.Errorf("op %+v has group %q", op, op.Group)
		}
	}
	if count["group1"] == 0 || count["group3"] == 0 || okBefore == 0 || failedAfter == 0 {
		t.Errorf("got ops per group %v, %d group2 ops ok before the kill, %d after it; want all groups busy, both before and after", count, okBefore, failedAfter)
	}
	for _, g := range tl.Groups {
		if g.Name != "group2" && (!g.ReadBack.Settled || g.ReadBack.Err != "" || g.ReadBack.Master != g.InitialMaster) {
			t.Errorf("group %s read back %+v, want settled on %s", g.Name, *g.ReadBack, g.InitialMaster)
		}
	}
	if rb := tl.Groups[1].ReadBack; rb.Master == "" || rb.Master == "group2.redis1" || members[rb.Master] != "group2" {
		t.Errorf("group2 read back %+v, want from the replica Sentinel promoted", *rb)
	}
	if tl.ReadBack == nil || tl.ReadBack.Master != "group1.redis1" {
		t.Errorf("got the run's read-back %+v, want the first group's master", tl.ReadBack)
	}

	// Events: group2's failover tagged group2, no group1 event tagged
	// otherwise.
	switched := false
	for _, e := range tl.Events {
		if e.Kind == timeline.KindSentinel && e.Name == "+switch-master" && strings.HasPrefix(e.Detail, "group2 ") {
			switched = true
			if e.Group != "group2" {
				t.Errorf("event %+v tagged %q, want group2", e, e.Group)
			}
		}
		g1 := members[e.Node] == "group1"
		if e.Kind == timeline.KindSentinel {
			f := strings.Fields(e.Detail)
			g1 = slices.Contains(f, "group1") && (f[0] == "group1" || f[0] == "master" && f[1] == "group1" || strings.Contains(e.Detail, "@ group1 "))
		}
		if g1 && e.Group != "group1" {
			t.Errorf("event %+v of group1 tagged %q", e, e.Group)
		}
		if !g1 && e.Group == "group1" {
			t.Errorf("event %+v tagged group1", e)
		}
	}
	if !switched {
		t.Error("no +switch-master of group2 recorded")
	}
}

func TestGroupWithoutFrontendIsASetupError(t *testing.T) {
	s := threeGroups(t)
	_, err := sim.Run(t.Context(), s, memory.Backend{}, sim.Options{StartProxy: startDirect("group1", "group3")})
	if !errors.Is(err, sim.ErrSetup) || !strings.Contains(err.Error(), "group group2 has no frontend") {
		t.Fatalf("got %v, want a setup error naming group2", err)
	}
}

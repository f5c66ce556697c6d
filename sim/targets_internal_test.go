package sim

import (
	"log/slog"
	"testing"

	"github.com/redisha-sim/redisha-sim/sim/memory"
	"github.com/redisha-sim/redisha-sim/sim/rig"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
)

// Targets in a run of two groups on two hosts resolve to the group's
// master as the Sentinels name it, its replica, a host, and names given
// by as.
func TestTargetsResolveByGroupAndHost(t *testing.T) {
	s, err := scenario.Parse("s.yaml", []byte("topology: {groups: 2, nodes: 2, hosts: [h1, h2]}\nsentinel: {count: 1}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := memory.Backend{}.Start(t.Context(), rig.TopologyOf(s), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(t.Context()) })
	poller := newRolePoller(c, "", &nodeIdentity{})
	for _, n := range []string{"group1.redis2", "group2.redis2"} {
		poller.update(t.Context(), n, "role:slave\r\nmaster_link_status:up\r\n", nil)
	}
	named := map[string]rig.Instance{}
	groups := s.ResolvedGroups()
	for _, c2 := range []struct{ target, wantName string }{
		{"master", "group1.redis1"},
		{"replica", "group1.redis2"},
		{"group1.master", "group1.redis1"},
		{"group2.master", "group2.redis1"},
		{"group2.replica", "group2.redis2"},
		{"group2.redis2", "group2.redis2"},
		{"sentinel1", "sentinel1"},
		{"host:h2", "h2"},
	} {
		in, err := resolveTarget(t.Context(), c2.target, groups, c, "", nil, poller, named)
		if err != nil {
			t.Errorf("%s: %v", c2.target, err)
			continue
		}
		if in.Name() != c2.wantName {
			t.Errorf("%s: got %s, want %s", c2.target, in.Name(), c2.wantName)
		}
		if c2.target == "host:h2" {
			if in.Kind() != rig.KindHost {
				t.Errorf("host:h2: got kind %s, want host", in.Kind())
			}
			named["gone"] = in
		}
	}
	if in, err := resolveTarget(t.Context(), "gone", groups, c, "", nil, poller, named); err != nil || in.Name() != "h2" {
		t.Errorf("a name given by as: got %v, %v; want h2", in, err)
	}
	for _, bad := range []string{"host:h3", "group3.master", "redis1"} {
		if in, err := resolveTarget(t.Context(), bad, groups, c, "", nil, poller, named); err == nil {
			t.Errorf("%s: got %s, want an error", bad, in.Name())
		}
	}
}

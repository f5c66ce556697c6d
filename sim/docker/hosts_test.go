package docker

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/redis/go-redis/v9"

	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/rig"
)

// Two groups of two nodes and three Sentinels monitoring both masters; the
// host holding both masters is killed: both containers exit, and every
// Sentinel fails both groups over to their replicas.
func TestKillingTheHostOfBothMastersFailsOverBothGroups(t *testing.T) {
	requireDocker(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	topo := rig.Topology{
		Groups: []rig.Group{
			{Name: "group1", MasterName: "cache", Nodes: []string{"group1.redis1", "group1.redis2"}},
			{Name: "group2", MasterName: "queue", Nodes: []string{"group2.redis1", "group2.redis2"}},
		},
		Hosts: []rig.Host{
			{Name: "h1", Members: []string{"group1.redis1", "group2.redis1"}},
			{Name: "h2", Members: []string{"group1.redis2", "group2.redis2"}},
		},
		Sentinels: []string{"sentinel1", "sentinel2", "sentinel3"}, Quorum: 2,
		DownAfter: 2 * time.Second, FailoverTimeout: 5 * time.Second, ParallelSyncs: 1, MinReplicasMaxLag: 10 * time.Second,
	}
	c := startCluster(ctx, t, topo)
	hosts := c.Hosts()
	if len(hosts) != 2 || hosts[0].Name() != "h1" || hosts[0].Kind() != rig.KindHost {
		t.Fatalf("got hosts %v, want h1 and h2, of kind host", hosts)
	}
	// Before: every Sentinel has each group's first node as its master.
	masterOf := func(s rig.Instance, name string) string {
		t.Helper()
		sc := redis.NewClient(&redis.Options{Addr: s.Addr(), Protocol: 2, DisableIdentity: true, MaxRetries: -1})
		defer sc.Close()
		a, err := sc.Do(ctx, "SENTINEL", "get-master-addr-by-name", name).StringSlice()
		if err != nil || len(a) != 2 {
			return ""
		}
		return net.JoinHostPort(a[0], a[1])
	}
	for _, s := range c.Sentinels() {
		for _, g := range topo.Groups {
			if got, want := masterOf(s, g.MasterName), c.SentinelAddr(g.Nodes[0]); got != want {
				t.Fatalf("%s: %s at %s, want %s", s.Name(), g.MasterName, got, want)
			}
		}
	}

	killed := time.Now()
	if err := hosts[0].Do(ctx, fault.Kill); err != nil {
		t.Fatal(err)
	}
	// The fault happened: both masters' containers exited.
	for _, g := range topo.Groups {
		var n *Container
		for _, x := range c.nodes {
			if x.name == g.Nodes[0] {
				n = x
			}
		}
		res, err := c.cli.ContainerInspect(ctx, n.ID(), client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if st := res.Container.State.Status; st != container.StateExited {
			t.Errorf("%s after the host's kill: %s, want exited", n.name, st)
		}
	}
	// Then both groups fail over, on every Sentinel.
	deadline := time.Now().Add(60 * time.Second)
	for _, s := range c.Sentinels() {
		for _, g := range topo.Groups {
			want := c.SentinelAddr(g.Nodes[1])
			for {
				got := masterOf(s, g.MasterName)
				if got == want {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: %s at %s %v after the kill, want its replica %s", s.Name(), g.MasterName, got, time.Since(killed), want)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	t.Logf("every Sentinel switched both groups within %v of the host's kill", time.Since(killed).Round(time.Millisecond))
}

package docker

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/rig"
)

// With announce_hostnames, the containers' Sentinel names the master by
// its container name; the cluster maps that name to the node and resolves
// it for an in-process proxy; and the failover action, SENTINEL FAILOVER
// through rig.Failover, moves the master to the replica without the
// master going down.
func TestFailoverMovesTheMasterOfSentinelsThatAnnounceHostnames(t *testing.T) {
	requireDocker(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	c := startCluster(ctx, t, rig.Topology{
		Groups: []rig.Group{{Name: rig.DefaultGroup, MasterName: "mymaster", Nodes: []string{"redis1", "redis2"}}}, Sentinels: []string{"sentinel1"}, Quorum: 1,
		DownAfter: 5 * time.Second, FailoverTimeout: 60 * time.Second, ParallelSyncs: 1, MinReplicasMaxLag: 10 * time.Second,
		AnnounceHostnames: true,
	})
	sc := redis.NewClient(&redis.Options{Addr: c.Sentinels()[0].Addr(), Protocol: 2, DisableIdentity: true})
	defer sc.Close()
	master := func() string {
		t.Helper()
		hp, err := sc.Do(ctx, "SENTINEL", "get-master-addr-by-name", "mymaster").StringSlice()
		if err != nil || len(hp) != 2 {
			t.Fatalf("get-master-addr-by-name: %v %v", hp, err)
		}
		return net.JoinHostPort(hp[0], hp[1])
	}
	if got := master(); got != "redis1:6379" {
		t.Fatalf("Sentinel names the master %s, want redis1:6379 (by its name)", got)
	}
	if name, ok := c.NodeByAddr("redis1:6379"); !ok || name != "redis1" {
		t.Errorf("NodeByAddr(redis1:6379): got %q %v, want redis1", name, ok)
	}
	addrs, err := c.LookupHost(ctx, "redis2")
	n2 := c.Nodes()[1].(*Container)
	if err != nil || !slices.Contains(addrs, n2.clientsIP.String()) || !slices.Contains(addrs, n2.clusterIP.String()) {
		t.Errorf("LookupHost(redis2): got %v %v, want its addresses on both networks", addrs, err)
	}

	detail, err := c.Nodes()[0].(rig.Reporter).DoReport(ctx, fault.Failover)
	if err != nil {
		t.Fatalf("failover: %v", err)
	}
	t.Log(detail)
	if !strings.Contains(detail, "to redis2") {
		t.Errorf("failover detail %q: want the master moved to redis2", detail)
	}
	if got := master(); got != "redis2:6379" {
		t.Errorf("after the failover Sentinel names %s, want redis2:6379", got)
	}
	// The old master was never down: it still answers.
	if err := waitPing(ctx, c.Nodes()[0].Addr(), "", time.Second); err != nil {
		t.Errorf("the old master does not answer after a planned failover: %v", err)
	}
}

package docker

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/rig"
)

// sentinelReplicas reads SENTINEL REPLICAS mymaster as ip:port → flags.
func sentinelReplicas(ctx context.Context, t *testing.T, sc *redis.Client) map[string]string {
	t.Helper()
	reps, err := sc.Do(ctx, "SENTINEL", "replicas", "mymaster").Slice()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range reps {
		kv, _ := r.([]any)
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			k, _ := kv[i].(string)
			v, _ := kv[i+1].(string)
			m[k] = v
		}
		out[net.JoinHostPort(m["ip"], m["port"])] = m["flags"]
	}
	return out
}

// A rescheduled replica container answers on its new addresses only,
// replicates its first master again, is named by its old and new
// addresses, and the Sentinel, which finds it in the master's INFO, names
// it by the new one while keeping the old as a down replica.
func TestRescheduledContainerAnswersOnANewAddressOnlyAndKeepsItsName(t *testing.T) {
	requireDocker(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	c := startPair(ctx, t)
	cl := c.(*Cluster)
	n := c.Nodes()[1].(*Container)
	if !fault.Of(fault.Reschedule).Available(fault.Docker, rig.KindNode) {
		t.Fatal("the fault table says the docker backend reschedules nodes")
	}
	old, oldCluster := n.Addr(), cl.SentinelAddr(n.Name())
	sub := redis.NewClient(&redis.Options{Addr: c.Sentinels()[0].Addr(), Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { sub.Close() })
	ps := sub.Subscribe(ctx, "+slave")
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}

	detail, err := n.DoReport(ctx, fault.Reschedule)
	if err != nil {
		t.Fatal(err)
	}
	now, nowCluster := n.Addr(), cl.SentinelAddr(n.Name())
	t.Logf("%s", detail)
	if now == old || nowCluster == oldCluster {
		t.Fatalf("got addresses %s and %s after the reschedule, want others than %s and %s", now, nowCluster, old, oldCluster)
	}
	if !strings.Contains(detail, "moved from") || !strings.Contains(detail, strings.TrimSuffix(nowCluster, ":6379")) {
		t.Errorf("got detail %q, want it to name the move to %s", detail, nowCluster)
	}
	if err := waitPing(ctx, now, "", 5*time.Second); err != nil {
		t.Errorf("the new address %s: %v", now, err)
	}
	for _, a := range []string{old, oldCluster} {
		if conn, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			conn.Close()
			t.Errorf("the old address %s still accepts connections", a)
		}
	}
	for _, a := range []string{old, oldCluster, now, nowCluster} {
		if name, ok := c.NodeByAddr(a); !ok || name != n.Name() {
			t.Errorf("NodeByAddr(%s): got %q, %v; want %s", a, name, ok, n.Name())
		}
	}
	// Its command line still says replicaof the first master.
	rc := redis.NewClient(&redis.Options{Addr: now, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { rc.Close() })
	var info string
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(info, "master_link_status:up"); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("30s after the reschedule it does not replicate its master:\n%s", info)
		}
		info, _ = rc.Info(ctx, "replication").Result()
	}

	// The Sentinel finds it in the master's INFO (+slave, named by the new
	// address) and keeps the old address, marked down after down-after.
	select {
	case m := <-ps.Channel():
		f := strings.Fields(m.Payload) // slave <ip:port> <ip> <port> @ mymaster ...
		if len(f) < 4 {
			t.Fatalf("+slave %q", m.Payload)
		}
		if name, ok := c.NodeByAddr(net.JoinHostPort(f[2], f[3])); !ok || name != n.Name() {
			t.Errorf("+slave %q: named %q, want %s", m.Payload, name, n.Name())
		}
		if got := net.JoinHostPort(f[2], f[3]); got != nowCluster {
			t.Errorf("+slave at %s, want the new address %s", got, nowCluster)
		}
	case <-time.After(25 * time.Second):
		t.Fatal("no +slave within 25s of the reschedule (the Sentinel reads the master's INFO every 10s)")
	}
	sc := redis.NewClient(&redis.Options{Addr: c.Sentinels()[0].Addr(), Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { sc.Close() })
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		reps := sentinelReplicas(ctx, t, sc)
		if reps[nowCluster] == "slave" && strings.Contains(reps[oldCluster], "s_down") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Sentinel lists %v; want %s a slave and %s s_down", reps, nowCluster, oldCluster)
		}
	}
}

package memory

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/rig"
)

// shapeMargin is what a reply may take beyond delay+jitter on a busy
// machine.
const shapeMargin = 200 * time.Millisecond

// delayCluster starts three nodes and three Sentinels and returns the
// cluster and its nodes, the first the master.
func delayCluster(t *testing.T) (*Cluster, []rig.Instance) {
	t.Helper()
	c, err := Backend{}.Start(t.Context(), rig.Topology{
		Groups: []rig.Group{{Name: rig.DefaultGroup, MasterName: "mymaster", Nodes: []string{"r1", "r2", "r3"}}}, Password: "pw", Sentinels: []string{"s1", "s2", "s3"}, Quorum: 2,
		DownAfter: 5 * time.Second, FailoverTimeout: 60 * time.Second, ParallelSyncs: 1,
		ReplicationLag: time.Millisecond, MinReplicasMaxLag: 10 * time.Second, Seed: 7,
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	if _, ok := c.Nodes()[0].(rig.LinkShaper); !ok || !fault.Of(fault.Delay).Available(fault.Memory, rig.KindNode) || !fault.Of(fault.Undelay).Available(fault.Memory, rig.KindNode) {
		t.Fatal("the fault table says the memory backend delays nodes: its nodes must shape their links")
	}
	return c.(*Cluster), c.Nodes()
}

func shape(t *testing.T, in rig.Instance, delay, jitter time.Duration) {
	t.Helper()
	ls, ok := in.(rig.LinkShaper)
	if !ok {
		t.Fatalf("%s is no rig.LinkShaper", in.Name())
	}
	if err := ls.Shape(t.Context(), delay, jitter); err != nil {
		t.Fatal(err)
	}
}

// client is a go-redis client with one connection.
func client(t *testing.T, addr string) *redis.Client {
	t.Helper()
	rc := redis.NewClient(&redis.Options{Addr: addr, Password: "pw", Protocol: 2, DisableIdentity: true, MaxRetries: -1,
		PoolSize: 1, DialTimeout: 2 * time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 2 * time.Second})
	t.Cleanup(func() { rc.Close() })
	return rc
}

// pings times n PINGs on rc and returns the fastest and the slowest.
func pings(t *testing.T, rc *redis.Client, n int) (lo, hi time.Duration) {
	t.Helper()
	lo = time.Hour
	for i := 0; i < n; i++ {
		start := time.Now()
		if err := rc.Ping(t.Context()).Err(); err != nil {
			t.Fatalf("PING %d: %v", i, err)
		}
		d := time.Since(start)
		lo, hi = min(lo, d), max(hi, d)
	}
	return lo, hi
}

func TestDelayedNodeAnswersClientsLateOverTCPAndOnTimeAfterUndelay(t *testing.T) {
	_, nodes := delayCluster(t)
	replica := nodes[1]
	const delay, jitter = 300 * time.Millisecond, 200 * time.Millisecond

	pooled := client(t, replica.Addr()) // connected before the fault
	if lo, hi := pings(t, pooled, 5); hi > 50*time.Millisecond {
		t.Fatalf("before the delay: PING took %v to %v, want under 50ms", lo, hi)
	}
	shape(t, replica, delay, jitter)
	lo, hi := pings(t, pooled, 10)
	t.Logf("delay %v jitter %v, connection opened before: PING took %v to %v", delay, jitter, lo, hi)
	if lo < delay || hi >= delay+jitter+shapeMargin {
		t.Errorf("PING on an open connection took %v to %v, want within [%v, %v)", lo, hi, delay, delay+jitter+shapeMargin)
	}
	// A new connection: go-redis sends AUTH first, so its first PING waits
	// for two late replies.
	fresh := client(t, replica.Addr())
	first, _ := pings(t, fresh, 1)
	lo, hi = pings(t, fresh, 3)
	t.Logf("new connection: AUTH and the first PING took %v, then PING took %v to %v", first, lo, hi)
	if first < 2*delay || first >= 2*(delay+jitter)+shapeMargin {
		t.Errorf("AUTH and PING on a new connection took %v, want within [%v, %v)", first, 2*delay, 2*(delay+jitter)+shapeMargin)
	}
	if lo < delay || hi >= delay+jitter+shapeMargin {
		t.Errorf("PING on a new connection took %v to %v, want within [%v, %v)", lo, hi, delay, delay+jitter+shapeMargin)
	}
	// The master is not slowed.
	if lo, hi := pings(t, client(t, nodes[0].Addr()), 5); hi > 50*time.Millisecond {
		t.Errorf("the master's PING took %v to %v, want under 50ms", lo, hi)
	}

	shape(t, replica, 0, 0)
	lo, hi = pings(t, pooled, 10)
	t.Logf("after undelay: PING took %v to %v", lo, hi)
	if hi > 50*time.Millisecond {
		t.Errorf("after undelay: PING took %v to %v, want under 50ms", lo, hi)
	}
}

func TestDelayedNodeKeepsReplyOrderOnAConnection(t *testing.T) {
	_, nodes := delayCluster(t)
	replica := nodes[1]
	// A jitter much larger than the delay: each reply alone would often
	// overtake the one before.
	const delay, jitter, n = 50 * time.Millisecond, 300 * time.Millisecond, 50
	rc := client(t, replica.Addr())
	echoes := func() ([]redis.Cmder, error) {
		return rc.Pipelined(t.Context(), func(p redis.Pipeliner) error {
			for i := 0; i < n; i++ {
				p.Echo(t.Context(), strconv.Itoa(i))
			}
			return nil
		})
	}
	// The first pipeline on a connection makes go-redis set it up (HELLO);
	// that is done before the delay.
	if _, err := echoes(); err != nil {
		t.Fatal(err)
	}
	shape(t, replica, delay, jitter)
	start := time.Now()
	cmds, err := echoes()
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cmds {
		if got := c.(*redis.StringCmd).Val(); got != strconv.Itoa(i) {
			t.Fatalf("reply %d is %q: replies were reordered", i, got)
		}
	}
	t.Logf("%d pipelined ECHOs, delay %v jitter %v: in order, the last after %v", n, delay, jitter, took)
	// Replies are delayed side by side, not one after another (that would
	// take n×delay, 2.5s): the last leaves with the latest draw.
	if limit := delay + jitter + shapeMargin; took < delay || took >= limit {
		t.Errorf("the pipeline took %v, want within [%v, %v)", took, delay, limit)
	}
}

func TestDelayedNodeSlowsSentinelLinksAndReplication(t *testing.T) {
	c, nodes := delayCluster(t)
	master, replica := nodes[0], nodes[1]

	// Sentinel: a PING to the slow replica stays unanswered for about the
	// delay (SENTINEL REPLICAS' last-ping-sent, in ms, counts from the
	// PING until its reply).
	const delay = 600 * time.Millisecond
	shape(t, replica, delay, 0)
	_, replicaPort, _ := net.SplitHostPort(replica.Addr())
	sc := redis.NewClient(&redis.Options{Addr: c.Sentinels()[0].Addr(), Protocol: 2, DisableIdentity: true, MaxRetries: -1})
	t.Cleanup(func() { sc.Close() })
	var longest time.Duration
	for deadline := time.Now().Add(4 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		reps, err := sc.Do(t.Context(), "SENTINEL", "replicas", "mymaster").Slice()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range reps {
			if v, ok := field(r, "last-ping-sent"); ok && fieldIs(r, "port", replicaPort) {
				ms, _ := strconv.Atoi(v)
				longest = max(longest, time.Duration(ms)*time.Millisecond)
			}
		}
	}
	t.Logf("Sentinel's longest wait for the slow replica's PONG: %v (delay %v)", longest, delay)
	if longest < delay-100*time.Millisecond || longest >= delay+shapeMargin+100*time.Millisecond {
		t.Errorf("Sentinel waited at most %v for a PONG, want about %v", longest, delay)
	}
	shape(t, replica, 0, 0)

	// Replication: a write on the slow master reaches a replica no sooner
	// than the delay.
	mc, rc := client(t, master.Addr()), client(t, nodes[2].Addr())
	pings(t, mc, 1) // connected and authenticated before the delay
	shape(t, master, delay, 0)
	start := time.Now()
	if err := mc.Set(t.Context(), "delayed", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	var seen time.Duration
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if v, _ := rc.Get(t.Context(), "delayed").Result(); v == "1" {
			seen = time.Since(start)
			break
		}
	}
	t.Logf("a write on the slow master reached a replica after %v (delay %v)", seen, delay)
	if seen < delay || seen >= delay+shapeMargin {
		t.Errorf("the write reached the replica after %v, want within [%v, %v)", seen, delay, delay+shapeMargin)
	}
}

// field reads key from a RESP2 flat map (a SENTINEL REPLICAS entry).
func field(entry any, key string) (string, bool) {
	kv, ok := entry.([]any)
	if !ok {
		return "", false
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i] == key {
			v, ok := kv[i+1].(string)
			return v, ok
		}
	}
	return "", false
}

func fieldIs(entry any, key, want string) bool {
	v, ok := field(entry, key)
	return ok && v == want
}

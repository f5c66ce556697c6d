package redistest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClusterTB is the part of testing.TB that StartCluster uses.
type ClusterTB interface {
	TB
	Fatalf(format string, args ...any)
	Cleanup(func())
	Context() context.Context
}

// MasterName is the name a Cluster's Sentinels monitor the master under.
const MasterName = "mymaster"

// Cluster is a master, its replicas in sync, and three Sentinels (quorum 2,
// down-after 1s, failover-timeout 5s) monitoring the master, all on
// loopback, removed when the test ends.
type Cluster struct {
	Master    *Server
	Replicas  []*Server
	Sentinels []*Server
}

// StartCluster starts a Cluster whose nodes require password (none when
// empty). It skips or fails t as Require does when Redis is missing.
func StartCluster(t ClusterTB, replicas int, password string) *Cluster {
	t.Helper()
	nodes := StartGroup(t, 1+replicas, password)
	c := &Cluster{Master: nodes[0], Replicas: nodes[1:]}
	for range 3 {
		c.Sentinels = append(c.Sentinels, StartSentinel(t, c.Master))
	}
	return c
}

// StartGroup starts size nodes requiring password (none when empty), the
// first the master and the others its replicas in sync, closed when the
// test ends. It skips or fails t as Require does when Redis is missing.
func StartGroup(t ClusterTB, size int, password string) []*Server {
	t.Helper()
	return StartGroupWith(t, size, Options{Password: password})
}

// StartGroupWith is StartGroup with every node started with o (its
// password, extra arguments).
func StartGroupWith(t ClusterTB, size int, o Options) []*Server {
	t.Helper()
	Require(t)
	var nodes []*Server
	for range size {
		n, err := Start(t.Context(), o)
		if err != nil {
			t.Fatalf("start redis: %v", err)
		}
		t.Cleanup(n.Close)
		nodes = append(nodes, n)
	}
	for _, r := range nodes[1:] {
		if err := r.ReplicaOf(t.Context(), nodes[0]); err != nil {
			t.Fatalf("%v", err)
		}
	}
	return nodes
}

// StartSentinel starts a Sentinel monitoring m as MasterName (quorum 2,
// down-after 1s, failover-timeout 5s), with m's password.
func StartSentinel(t ClusterTB, m *Server) *Server {
	t.Helper()
	lines := []string{
		fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2", MasterName, m.Port),
		"sentinel down-after-milliseconds " + MasterName + " 1000",
		"sentinel failover-timeout " + MasterName + " 5000",
	}
	if m.Password != "" {
		lines = append(lines, "sentinel auth-pass "+MasterName+" "+m.Password)
	}
	s, err := Start(t.Context(), Options{Sentinel: true, Args: lines})
	if err != nil {
		t.Fatalf("start sentinel: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Nodes are the master then its replicas.
func (c *Cluster) Nodes() []*Server {
	return append([]*Server{c.Master}, c.Replicas...)
}

// WaitDiscovered waits until every Sentinel lists the replicas with their
// link up and knows the two other Sentinels: only then is a failover sure
// to find a replica.
func (c *Cluster) WaitDiscovered(t ClusterTB) {
	t.Helper()
	var addrs []string
	for _, s := range c.Sentinels {
		addrs = append(addrs, s.Addr)
	}
	WaitSentinelsDiscovered(t, addrs, len(c.Replicas))
}

// WaitSentinelsDiscovered waits until each Sentinel at addrs lists
// replicas replicas of MasterName, each connected with its link up, and
// knows the other Sentinels. Sentinel lists a replica before it has
// connected to it ("disconnected", link "err"): replies compared or
// failovers started before then see a half-discovered cluster.
func WaitSentinelsDiscovered(t ClusterTB, addrs []string, replicas int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for _, addr := range addrs {
		rc := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1})
		defer rc.Close()
		for {
			m, err := rc.Do(t.Context(), "SENTINEL", "master", MasterName).Result()
			reps, rerr := rc.Do(t.Context(), "SENTINEL", "replicas", MasterName).Result()
			kv := Strings(m)
			ok := err == nil && rerr == nil && Field(kv, "num-slaves") == strconv.Itoa(replicas) &&
				Field(kv, "num-other-sentinels") == strconv.Itoa(len(addrs)-1)
			list, _ := reps.([]any)
			for _, r := range list {
				rkv := Strings(r)
				if Field(rkv, "master-link-status") != "ok" || strings.Contains(Field(rkv, "flags"), "disconnected") {
					ok = false
				}
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("sentinel %s did not discover the cluster within 20s: %v %v %v", addr, m, err, reps)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// Strings turns an array reply into strings, and a map reply (RESP3) into
// its keys and values in turn; nil for anything else.
func Strings(v any) []string {
	var out []string
	switch r := v.(type) {
	case []any:
		for _, x := range r {
			out = append(out, fmt.Sprint(x))
		}
	case map[any]any:
		for k, x := range r {
			out = append(out, fmt.Sprint(k), fmt.Sprint(x))
		}
	}
	return out
}

// Field reads a key of a flat key-value reply.
func Field(kv []string, k string) string {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i] == k {
			return kv[i+1]
		}
	}
	return ""
}

package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	tcexec "github.com/testcontainers/testcontainers-go/exec"

	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/link"
	"github.com/redisha-sim/redisha-sim/sim/rig"
)

// startRelayed starts a master, a replica and two Sentinels behind their
// relays, removed (and checked gone) when the test ends. Down-after is
// long enough (10s) that no subtest's fault fails the master over.
func startRelayed(ctx context.Context, t *testing.T) *Cluster {
	t.Helper()
	cl := startCluster(ctx, t, rig.Topology{
		Groups: []rig.Group{{Name: rig.DefaultGroup, MasterName: "mymaster", Nodes: []string{"redis1", "redis2"}}}, Sentinels: []string{"sentinel1", "sentinel2"}, Quorum: 2,
		DownAfter: 10 * time.Second, FailoverTimeout: 60 * time.Second, ParallelSyncs: 1, MinReplicasMaxLag: 10 * time.Second,
	})
	if !cl.relay {
		t.Fatalf("image %s has no relay (label %s): build it with 'redisha-sim images redis'", cl.images.Redis, LabelRelay)
	}
	return cl
}

func linkFault(ctx context.Context, t *testing.T, c *Container, f fault.LinkFault) {
	t.Helper()
	if err := c.LinkFault(ctx, f); err != nil {
		t.Fatal(err)
	}
}

// pingTimes are n PINGs' round trips on one connection, sorted.
func pingTimes(ctx context.Context, t *testing.T, rc *redis.Client, n int) []time.Duration {
	t.Helper()
	var out []time.Duration
	for i := 0; i < n; i++ {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		start := time.Now()
		err := rc.Ping(pctx).Err()
		out = append(out, time.Since(start))
		cancel()
		if err != nil {
			t.Fatalf("PING %d: %v", i, err)
		}
	}
	slices.Sort(out)
	return out
}

func oneConn(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1,
		PoolSize: 1, DialTimeout: 2 * time.Second, ReadTimeout: 5 * time.Second})
}

// One cluster, the faults one after the other, each undone before the
// next: every fault takes effect, and its undo restores the link.
func TestLinkFaultsThroughTheRelayTakeEffectAndTheirUndoRestoresTheLink(t *testing.T) {
	requireDocker(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	cl := startRelayed(ctx, t)
	master, replica, s1 := cl.nodes[0], cl.nodes[1], cl.sentinels[0]

	t.Run("the instances announce their real addresses and Redis is PID 1", func(t *testing.T) {
		mc := oneConn(master.Addr())
		defer mc.Close()
		info, err := mc.Info(ctx, "replication", "server").Result()
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("slave0:ip=%s,port=%d,", replica.clusterIP, RedisPort)
		if !strings.Contains(info, want) {
			t.Errorf("INFO replication of the master: got %q, want %q in it", info, want)
		}
		if !strings.Contains(info, "process_id:1\r\n") {
			t.Errorf("INFO server: redis-server is not PID 1: %q", info)
		}
		sc := oneConn(s1.Addr())
		defer sc.Close()
		reps, err := sc.Do(ctx, "SENTINEL", "REPLICAS", "mymaster").Slice()
		if err != nil || len(reps) != 1 {
			t.Fatalf("SENTINEL REPLICAS: %v %v", reps, err)
		}
		if got := fmt.Sprint(reps[0]); !strings.Contains(got, "name "+net.JoinHostPort(replica.clusterIP.String(), "6379")) {
			t.Errorf("SENTINEL REPLICAS: got %s, want the replica at %s:6379", got, replica.clusterIP)
		}
		if name, ok := cl.NodeByAddr(net.JoinHostPort(replica.clusterIP.String(), "6379")); !ok || name != replica.name {
			t.Errorf("NodeByAddr of the announced replica: got %q %v, want %s", name, ok, replica.name)
		}
		sens, err := sc.Do(ctx, "SENTINEL", "SENTINELS", "mymaster").Slice()
		if err != nil || len(sens) != 1 {
			t.Fatalf("SENTINEL SENTINELS: %v %v", sens, err)
		}
		want = fmt.Sprintf("ip %s port %d ", cl.sentinels[1].clusterIP, SentinelPort)
		if got := fmt.Sprint(sens[0]); !strings.Contains(got, want) {
			t.Errorf("SENTINEL SENTINELS: got %s, want %q in it", got, want)
		}
	})

	t.Run("delay: PING round trips within 10% of the delay, undelay restores them", func(t *testing.T) {
		rc := oneConn(master.Addr())
		defer rc.Close()
		if p := pingTimes(ctx, t, rc, 5); p[2] > 50*time.Millisecond {
			t.Fatalf("before: PING median %v, want under 50ms", p[2])
		}
		const delay = 200 * time.Millisecond
		linkFault(ctx, t, master, fault.LinkFault{Action: fault.Delay, Delay: delay})
		p := pingTimes(ctx, t, rc, 7)
		t.Logf("delay %v: PING through the relay took %v", delay, p)
		if p[0] < delay || p[3] > delay+delay/10 {
			t.Errorf("delay %v: PING took %v (median %v), want at least %v and a median within 10%%", delay, p, p[3], delay)
		}
		linkFault(ctx, t, master, fault.LinkFault{Action: fault.Undelay})
		if p := pingTimes(ctx, t, rc, 5); p[2] > 50*time.Millisecond {
			t.Errorf("after undelay: PING median %v, want under 50ms", p[2])
		}
	})

	t.Run("blackhole: a connection hangs, heal delivers what it held", func(t *testing.T) {
		rc := oneConn(master.Addr())
		defer rc.Close()
		pingTimes(ctx, t, rc, 1)
		linkFault(ctx, t, master, fault.LinkFault{Action: fault.Blackhole, Peers: []string{fault.PeersClients}})
		pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
		defer pcancel()
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- rc.Ping(pctx).Err() }()
		select {
		case err := <-done:
			t.Fatalf("blackholed: PING returned after %v: %v", time.Since(start), err)
		case <-time.After(time.Second):
		}
		linkFault(ctx, t, master, fault.LinkFault{Action: fault.Heal})
		if err := <-done; err != nil {
			t.Fatalf("the PING held by the blackhole: %v", err)
		}
		t.Logf("the PING sent into the blackhole was answered after the heal, %v after it was sent", time.Since(start))
	})

	t.Run("reset: connections fail at once, heal restores them", func(t *testing.T) {
		rc := oneConn(master.Addr())
		defer rc.Close()
		pingTimes(ctx, t, rc, 1)
		linkFault(ctx, t, master, fault.LinkFault{Action: fault.Reset, Peers: []string{fault.PeersClients}})
		start := time.Now()
		err := rc.Ping(ctx).Err()
		if err == nil || time.Since(start) > time.Second {
			t.Fatalf("reset: PING on the open connection: %v after %v, want an error at once", err, time.Since(start))
		}
		if err := resetSeen(ctx, master.Addr(), time.Second); err != nil {
			t.Fatalf("reset: %v", err)
		}
		linkFault(ctx, t, master, fault.LinkFault{Action: fault.Heal})
		if p := pingTimes(ctx, t, rc, 3); p[1] > 50*time.Millisecond {
			t.Errorf("after heal: PING median %v", p[1])
		}
	})

	t.Run("loss: the fraction of connections hangs", func(t *testing.T) {
		const loss, n = 0.5, 40
		linkFault(ctx, t, master, fault.LinkFault{Action: fault.Loss, Loss: loss, Peers: []string{fault.PeersClients}, Direction: fault.In})
		hung := 0
		for i := 0; i < n; i++ {
			if _, err := answer(ctx, master.Addr(), 300*time.Millisecond); errors.Is(err, errNoAnswer) {
				hung++
			} else if err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("loss %v: %d of %d connections hung", loss, hung, n)
		// Binomial(40, 0.5): outside [10, 30] has a chance under 1e-3.
		if hung < 10 || hung > 30 {
			t.Errorf("loss %v: %d of %d connections hung, want about %d", loss, hung, n, n/2)
		}
		linkFault(ctx, t, master, fault.LinkFault{Action: fault.Heal})
		for i := 0; i < 10; i++ {
			if _, err := answer(ctx, master.Addr(), time.Second); err != nil {
				t.Fatalf("after heal, connection %d: %v", i, err)
			}
		}
	})

	t.Run("bandwidth paces what passes", func(t *testing.T) {
		rc := oneConn(master.Addr())
		defer rc.Close()
		const size, rate = 100_000, 50_000.0
		if err := rc.Set(ctx, "big", strings.Repeat("x", size), 0).Err(); err != nil {
			t.Fatal(err)
		}
		linkFault(ctx, t, master, fault.LinkFault{Action: fault.Bandwidth, Rate: rate, Peers: []string{fault.PeersClients}, Direction: fault.Out})
		start := time.Now()
		if err := rc.Get(ctx, "big").Err(); err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		want := time.Duration(size / rate * float64(time.Second))
		t.Logf("bandwidth %v B/s: GET of %d bytes took %v", rate, size, took)
		if took < want*9/10 || took > want*2 {
			t.Errorf("bandwidth %v B/s: GET of %d bytes took %v, want about %v", rate, size, took, want)
		}
		linkFault(ctx, t, master, fault.LinkFault{Action: fault.Heal})
		start = time.Now()
		if err := rc.Get(ctx, "big").Err(); err != nil || time.Since(start) > want/4 {
			t.Errorf("after heal: GET took %v (%v)", time.Since(start), err)
		}
	})

	t.Run("a one-way partition from the Sentinels leaves replication flowing", func(t *testing.T) {
		mc, rc, sc := oneConn(master.Addr()), oneConn(replica.Addr()), oneConn(s1.Addr())
		defer mc.Close()
		defer rc.Close()
		defer sc.Close()
		linkFault(ctx, t, master, fault.LinkFault{Action: fault.Blackhole, Peers: []string{fault.PeersSentinels}, Direction: fault.In})
		time.Sleep(2 * time.Second)
		m, err := sc.Do(ctx, "SENTINEL", "MASTER", "mymaster").StringSlice()
		if err != nil {
			t.Fatal(err)
		}
		lastOK := -1
		for i := 0; i+1 < len(m); i += 2 {
			if m[i] == "last-ok-ping-reply" {
				lastOK, _ = strconv.Atoi(m[i+1])
			}
		}
		if lastOK < 1500 {
			t.Errorf("partitioned from the Sentinels: sentinel1's last good PING reply from the master was %d ms ago, want over 1500", lastOK)
		}
		for i := 0; i < 3; i++ {
			v := "v" + strconv.Itoa(i)
			if err := mc.Set(ctx, "oneway", v, 0).Err(); err != nil {
				t.Fatalf("SET on the master: %v", err)
			}
			deadline := time.Now().Add(2 * time.Second)
			for {
				got, _ := rc.Get(ctx, "oneway").Result()
				if got == v {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the replica has %q 2s after SET %q on the master: replication stopped", got, v)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		linkFault(ctx, t, master, fault.LinkFault{Action: fault.Heal})
		deadline := time.Now().Add(5 * time.Second)
		for {
			m, err := sc.Do(ctx, "SENTINEL", "MASTER", "mymaster").StringSlice()
			ok := false
			for i := 0; err == nil && i+1 < len(m); i += 2 {
				if m[i] == "last-ok-ping-reply" {
					v, _ := strconv.Atoi(m[i+1])
					ok = v < 1500
				}
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after heal: sentinel1 gets no PING reply from the master: %v %v", m, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("a fault set on a stopped container takes effect when it starts", func(t *testing.T) {
		if err := replica.Do(ctx, fault.Stop); err != nil {
			t.Fatal(err)
		}
		const delay = 150 * time.Millisecond
		linkFault(ctx, t, replica, fault.LinkFault{Action: fault.Delay, Delay: delay})
		if err := replica.Do(ctx, fault.Start); err != nil {
			t.Fatal(err)
		}
		rc := oneConn(replica.Addr())
		defer rc.Close()
		if p := pingTimes(ctx, t, rc, 3); p[0] < delay {
			t.Errorf("after start: PING took %v, want at least %v", p, delay)
		}
		linkFault(ctx, t, replica, fault.LinkFault{Action: fault.Undelay})
		if p := pingTimes(ctx, t, rc, 3); p[1] > 50*time.Millisecond {
			t.Errorf("after undelay: PING took %v", p)
		}
	})
}

// BenchmarkRelayControl compares the two ways of setting a relay's rules:
// an HTTP request to its control endpoint (what LinkFault does) and a
// docker exec of redisha-sim in the container (the alternative).
//
//	go test -run '^$' -bench RelayControl -benchtime 20x ./sim/docker
func BenchmarkRelayControl(b *testing.B) {
	ctx := b.Context()
	c, err := Backend{}.Start(ctx, rig.Topology{
		Groups: []rig.Group{{Name: rig.DefaultGroup, MasterName: "mymaster", Nodes: []string{"redis1"}}}, Sentinels: []string{"sentinel1"}, Quorum: 1,
		DownAfter: 10 * time.Second, FailoverTimeout: 60 * time.Second, ParallelSyncs: 1, MinReplicasMaxLag: 10 * time.Second,
	}, nil)
	if c != nil {
		defer c.Close(context.Background())
	}
	if err != nil {
		b.Fatal(err)
	}
	cl := c.(*Cluster)
	n := cl.nodes[0]
	b.Run("http", func(b *testing.B) {
		for b.Loop() {
			if err := link.Send(ctx, cl.hc, n.controlAddr(), link.Request{Fault: fault.LinkFault{Action: fault.Heal}}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("exec", func(b *testing.B) {
		for b.Loop() {
			code, r, err := n.c.Exec(ctx, []string{RelayBinary, "relay", "--help"}, tcexec.Multiplexed())
			if err != nil || code != 0 {
				b.Fatalf("exec: %d %v", code, err)
			}
			io.Copy(io.Discard, r)
		}
	})
}

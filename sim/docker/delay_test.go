package docker

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/redis/go-redis/v9"

	"github.com/redisha-sim/redisha-sim/proxy/redistest"
	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/rig"
)

// requireNetemEnv makes a Docker host without netem a failure of the
// delay test instead of a skip.
const requireNetemEnv = "REDISHA_REQUIRE_NETEM"

// requireDocker skips when no Docker engine answers, unless
// REDISHA_REQUIRE_REDIS is set (CI: it runs the containers too), and
// builds the local Redis image when it is missing or stale.
func requireDocker(t *testing.T) {
	t.Helper()
	redistest.Require(t) // the image is built from redis-server
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	missing, err := MissingImages(ctx)
	if err != nil {
		if os.Getenv(redistest.RequireEnv) != "" {
			t.Fatalf("docker: %v", err)
		}
		t.Skipf("no Docker engine (%v); set %s to make this a failure", err, redistest.RequireEnv)
	}
	for _, m := range missing {
		if m == "redis" {
			if err := BuildLocalImages(ctx, []string{"redis"}, "", nil); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// ours lists the containers of one run.
func ours(ctx context.Context, t *testing.T, runID string) []string {
	t.Helper()
	cli, err := dockerClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	f := client.Filters{}
	f.Add("label", LabelRun+"="+runID)
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cs.Items {
		names = append(names, c.Names...)
	}
	return names
}

// startPair starts a master, one replica and one Sentinel, removed (and
// checked gone) when the test ends.
func startPair(ctx context.Context, t *testing.T) rig.Cluster {
	t.Helper()
	c, err := Backend{}.Start(ctx, rig.Topology{
		Groups: []rig.Group{{Name: rig.DefaultGroup, MasterName: "mymaster", Nodes: []string{"redis1", "redis2"}}}, Sentinels: []string{"sentinel1"}, Quorum: 1,
		DownAfter: 5 * time.Second, FailoverTimeout: 60 * time.Second, ParallelSyncs: 1, MinReplicasMaxLag: 10 * time.Second,
	}, nil)
	if c != nil {
		runID := c.(*Cluster).runID
		t.Cleanup(func() {
			cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := c.Close(cctx); err != nil {
				t.Errorf("close: %v", err)
			}
			if left := ours(cctx, t, runID); len(left) > 0 {
				t.Errorf("containers left behind: %v", left)
			}
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDelayedContainerAnswersPINGLateUntilUndelay(t *testing.T) {
	requireDocker(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	c := startPair(ctx, t)
	if !fault.Of(fault.Delay).Available(fault.Docker, rig.KindNode) || fault.Of(fault.Delay).Available(fault.Docker, rig.KindSentinel) {
		t.Fatal("the docker backend must support delay on nodes, and only there")
	}
	node := c.Nodes()[1]
	rc := redis.NewClient(&redis.Options{Addr: node.Addr(), Protocol: 2, DisableIdentity: true, MaxRetries: -1,
		PoolSize: 1, DialTimeout: 2 * time.Second, ReadTimeout: 3 * time.Second})
	defer rc.Close()
	pings := func(n int) (lo, hi time.Duration) {
		t.Helper()
		lo = time.Hour
		for i := 0; i < n; i++ {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			start := time.Now()
			err := rc.Ping(pctx).Err()
			d := time.Since(start)
			cancel()
			if err != nil {
				t.Fatalf("PING %d: %v", i, err)
			}
			lo, hi = min(lo, d), max(hi, d)
		}
		return lo, hi
	}
	if lo, hi := pings(5); hi > 100*time.Millisecond {
		t.Fatalf("before the delay: PING took %v to %v, want under 100ms", lo, hi)
	}

	const delay = 200 * time.Millisecond
	err := node.(rig.LinkShaper).Shape(ctx, delay, 0)
	if errors.Is(err, ErrNoNetem) && os.Getenv(requireNetemEnv) == "" {
		t.Skipf("%v; set %s to make this a failure", err, requireNetemEnv)
	}
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := pings(5)
	t.Logf("delay %v: PING from the host took %v to %v", delay, lo, hi)
	if lo < delay || hi >= delay+300*time.Millisecond {
		t.Errorf("PING took %v to %v, want within [%v, %v)", lo, hi, delay, delay+300*time.Millisecond)
	}

	if err := node.(rig.LinkShaper).Shape(ctx, 0, 0); err != nil {
		t.Fatal(err)
	}
	lo, hi = pings(5)
	t.Logf("after undelay: PING took %v to %v", lo, hi)
	if hi > 100*time.Millisecond {
		t.Errorf("after undelay: PING took %v to %v, want under 100ms", lo, hi)
	}
}

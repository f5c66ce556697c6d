package docker

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/redisha-sim/redisha-sim/proxy/redistest"
	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/rig"
)

// requireDocker skips when no Docker engine answers, unless
// REDISHA_REQUIRE_REDIS is set (CI: it runs the containers too), and
// builds the local Redis image when it is missing or stale (under the tag
// REDISHA_REDIS_IMAGE names when it is a redisha-sim/ one).
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
			// The Redis image carries redisha-sim for its relay.
			bin := filepath.Join(t.TempDir(), "redisha-sim")
			build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/redisha-sim/redisha-sim/cmd/redisha-sim")
			build.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("go build: %v: %s", err, out)
			}
			if err := BuildLocalImages(ctx, []string{"redis"}, bin, nil); err != nil {
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
	return startCluster(ctx, t, rig.Topology{
		Groups: []rig.Group{{Name: rig.DefaultGroup, MasterName: "mymaster", Nodes: []string{"redis1", "redis2"}}}, Sentinels: []string{"sentinel1"}, Quorum: 1,
		DownAfter: 5 * time.Second, FailoverTimeout: 60 * time.Second, ParallelSyncs: 1, MinReplicasMaxLag: 10 * time.Second,
	})
}

// startCluster starts the topology, removed (and checked gone) when the
// test ends.
func startCluster(ctx context.Context, t *testing.T, topo rig.Topology) *Cluster {
	t.Helper()
	c, err := Backend{}.Start(ctx, topo, nil)
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
	return c.(*Cluster)
}

// A delay with jitter through the relay, on a node and on a Sentinel:
// every PING leaves between delay and delay+jitter late, until undelay.
func TestDelayedContainerAnswersPINGLateUntilUndelay(t *testing.T) {
	requireDocker(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	c := startPair(ctx, t)
	for _, in := range []rig.Instance{c.Nodes()[1], c.Sentinels()[0]} {
		kind := in.Kind()
		if !fault.Of(fault.Delay).Available(fault.Docker, kind) {
			t.Fatalf("the docker backend must support delay on a %s", kind)
		}
		rc := oneConn(in.Addr())
		defer rc.Close()
		if p := pingTimes(ctx, t, rc, 5); p[4] > 100*time.Millisecond {
			t.Fatalf("%s before the delay: PING took %v, want under 100ms", in.Name(), p)
		}
		const delay, jitter = 200 * time.Millisecond, 100 * time.Millisecond
		if err := in.(rig.LinkFaulter).LinkFault(ctx, fault.LinkFault{Action: fault.Delay, Delay: delay, Jitter: jitter}); err != nil {
			t.Fatal(err)
		}
		p := pingTimes(ctx, t, rc, 9)
		t.Logf("%s, delay %v jitter %v: PING from the host took %v", in.Name(), delay, jitter, p)
		if p[0] < delay || p[8] >= delay+jitter+50*time.Millisecond {
			t.Errorf("%s: PING took %v, want within [%v, %v)", in.Name(), p, delay, delay+jitter+50*time.Millisecond)
		}
		if p[8]-p[0] < 10*time.Millisecond {
			t.Errorf("%s: PING took %v: no jitter", in.Name(), p)
		}
		if err := in.(rig.LinkFaulter).LinkFault(ctx, fault.LinkFault{Action: fault.Undelay}); err != nil {
			t.Fatal(err)
		}
		if p := pingTimes(ctx, t, rc, 5); p[4] > 100*time.Millisecond {
			t.Errorf("%s after undelay: PING took %v, want under 100ms", in.Name(), p)
		}
	}
}

package memory

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/rig"
)

// rescheduleCluster starts r1 (master), r2 and r3 and one Sentinel with
// down-after 1s.
func rescheduleCluster(t *testing.T, persistence bool) *Cluster {
	t.Helper()
	c, err := Backend{}.Start(t.Context(), rig.Topology{
		Groups: []rig.Group{{Name: rig.DefaultGroup, MasterName: "mymaster", Nodes: []string{"r1", "r2", "r3"}}}, Password: "pw",
		Sentinels: []string{"s1"}, Quorum: 1, DownAfter: time.Second, FailoverTimeout: 60 * time.Second, ParallelSyncs: 1,
		ReplicationLag: time.Millisecond, MinReplicasMaxLag: 10 * time.Second, Persistence: persistence, Seed: 19,
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c.(*Cluster)
}

// reschedule reschedules in and returns its old address and the detail
// it reports for the timeline.
func reschedule(t *testing.T, in rig.Instance) (old, detail string) {
	t.Helper()
	old = in.Addr()
	detail, err := in.(rig.Reporter).DoReport(t.Context(), fault.Reschedule)
	if err != nil {
		t.Fatal(err)
	}
	return old, detail
}

// refuses reports whether nothing accepts connections at addr.
func refuses(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
	if err != nil {
		return true
	}
	c.Close()
	return false
}

func infoOf(t *testing.T, addr string) string {
	t.Helper()
	rc := client(t, addr)
	info, err := rc.Info(t.Context(), "replication").Result()
	if err != nil {
		t.Fatalf("INFO on %s: %v", addr, err)
	}
	return info
}

func TestRescheduledReplicaServesOnANewAddressAndIsNamedByBoth(t *testing.T) {
	c := rescheduleCluster(t, false)
	master, replica := c.Nodes()[0], c.Nodes()[1]
	if err := client(t, master.Addr()).Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	old, detail := reschedule(t, replica)
	now := replica.Addr()
	if now == old {
		t.Fatalf("got address %s after the reschedule, want another than %s", now, old)
	}
	if !refuses(old) {
		t.Errorf("the old address %s still accepts connections", old)
	}
	if want := "r2 moved from " + old + " to " + now; detail != want {
		t.Errorf("got detail %q, want %q", detail, want)
	}
	for _, a := range []string{old, now} {
		if name, ok := c.NodeByAddr(a); !ok || name != "r2" {
			t.Errorf("NodeByAddr(%s): got %q, %v; want r2", a, name, ok)
		}
	}
	// It starts as first configured: a replica of r1, which syncs it.
	var info string
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(info, "master_link_status:up"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("10s after the reschedule r2 does not replicate r1:\n%s", info)
		}
		info = infoOf(t, now)
	}
	if _, port, _ := net.SplitHostPort(master.Addr()); infoField(info, "master_port") != port {
		t.Errorf("got master_port %s, want r1's %s", infoField(info, "master_port"), port)
	}
	if v, err := client(t, now).Get(t.Context(), "k").Result(); err != nil || v != "v" {
		t.Errorf("GET k on the rescheduled replica: got %q, %v; want the master's v", v, err)
	}
	// The Sentinel finds it at the new address in the master's INFO (every
	// 10s) and keeps the old one, which it marks down.
	sc := redis.NewClient(&redis.Options{Addr: c.Sentinels()[0].Addr(), Protocol: 2, DisableIdentity: true, MaxRetries: -1})
	t.Cleanup(func() { sc.Close() })
	for deadline := time.Now().Add(25 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		newFlags, oldFlags := sentinelFlags(t, sc, now), sentinelFlags(t, sc, old)
		if newFlags == "slave" && strings.Contains(oldFlags, "s_down") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("25s after the reschedule the Sentinel shows the new address as %q and the old as %q; want slave and s_down", newFlags, oldFlags)
		}
	}
}

func TestRescheduledMasterComesBackAloneAsAMasterOnANewAddress(t *testing.T) {
	for _, persistence := range []bool{false, true} {
		c := rescheduleCluster(t, persistence)
		master, replica := c.Nodes()[0], c.Nodes()[1]
		if err := client(t, master.Addr()).Set(t.Context(), "k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		old, _ := reschedule(t, master)
		now := master.Addr()
		if now == old || !refuses(old) {
			t.Fatalf("persistence %v: got %s after the reschedule from %s, which refuses: %v; want a new address and the old refusing", persistence, now, old, refuses(old))
		}
		if role := infoField(infoOf(t, now), "role"); role != "master" {
			t.Errorf("persistence %v: got role %s on the new address, want master", persistence, role)
		}
		want := ""
		if persistence {
			want = "v" // its snapshot, as a restart loads it
		}
		if v, _ := client(t, now).Get(t.Context(), "k").Result(); v != want {
			t.Errorf("persistence %v: got k=%q on the rescheduled master, want %q", persistence, v, want)
		}
		// Its replicas still follow the old address, where nothing answers.
		info := infoOf(t, replica.Addr())
		if _, port, _ := net.SplitHostPort(old); infoField(info, "master_port") != port || infoField(info, "master_link_status") != "down" {
			t.Errorf("persistence %v: the replica shows master_port %s and link %s, want the old %s and down", persistence,
				infoField(info, "master_port"), infoField(info, "master_link_status"), port)
		}
		if name, ok := c.NodeByAddr(old); !ok || name != "r1" {
			t.Errorf("NodeByAddr(%s): got %q, %v; want r1", old, name, ok)
		}
	}
}

package undertest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisha-sim/redisha-sim/proxy"
	"github.com/redisha-sim/redisha-sim/sim/memory"
	"github.com/redisha-sim/redisha-sim/sim/rig"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/undertest"
)

// runID is the run_id a node reports in INFO server, asked at addr.
func runID(ctx context.Context, addr, password string) (string, error) {
	c := redis.NewClient(&redis.Options{Addr: addr, Password: password, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: time.Second})
	defer c.Close()
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "run_id:"); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("no run_id in INFO server from %s", addr)
}

// Three groups on the memory backend behind the in-process proxy: each
// group's master port reaches that group's initial master, and a write
// through it lands there and nowhere else. Both the seed's three-set file
// and the configuration built from the scenario.
func TestEachGroupsMasterPortReachesThatGroupsMaster(t *testing.T) {
	for _, cfg := range []string{threeSets, ""} {
		t.Run("config="+cfg, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			// Fast checks so the replicas leave the master ports quickly.
			s := load(t, "master-kill", "proxy.config="+cfg, "proxy.inter=100ms", "proxy.rise=1", "proxy.fall=1", "proxy.timeout_check=200ms")
			s.Topology.Groups = scenario.Groups{Count: 3}
			topo := rig.TopologyOf(s)
			c, err := memory.Backend{}.Start(ctx, topo, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close(context.Background()) })
			p, err := undertest.StartInProcessProxy(ctx, s, c, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close(context.Background()) })
			fronts := p.Frontends()
			if len(fronts) != 3 {
				t.Fatalf("got %d frontends, want 3 (one per group): %+v", len(fronts), fronts)
			}
			addr := map[string]string{}
			for _, n := range c.Nodes() {
				addr[n.Name()] = n.Addr()
			}
			// Wait (bounded) until every master backend routes to its
			// master alone.
			px := p.(interface{ Proxy() *proxy.Proxy }).Proxy()
			layout := make([]string, 0, 3)
			for i, g := range topo.Groups {
				if fronts[i].Group != g.Name || fronts[i].MasterAddr == "" || fronts[i].ReplicaAddr == "" {
					t.Fatalf("frontend %d: got %+v, want group %s with both ports", i, fronts[i], g.Name)
				}
				layout = append(layout, masterBackendOf(t, px, fronts[i].MasterAddr))
			}
			deadline := time.Now().Add(10 * time.Second)
			for i := 0; ; i++ {
				ready := true
				for _, b := range layout {
					up := 0
					for _, st := range px.Backend(b).Servers() {
						if st.Up {
							up++
						}
					}
					ready = ready && up == 1
				}
				if ready {
					break
				}
				if time.Now().After(deadline) || i > 1000 {
					t.Fatalf("the master backends %v never had one server up each", layout)
				}
				time.Sleep(50 * time.Millisecond)
			}
			pw := s.Topology.Password
			for i, g := range topo.Groups {
				master := g.Nodes[0]
				want, err := runID(ctx, addr[master], pw)
				if err != nil {
					t.Fatal(err)
				}
				// Several connections: a port that balanced over the
				// group's nodes, or reached another group, would show it.
				for k := 0; k < 3; k++ {
					got, err := runID(ctx, fronts[i].MasterAddr, pw)
					if err != nil {
						t.Fatalf("%s master port: %v", g.Name, err)
					}
					if got != want {
						t.Fatalf("%s master port reached run_id %s, want %s's %s", g.Name, got, master, want)
					}
				}
				key := "written-through-" + g.Name
				w := redis.NewClient(&redis.Options{Addr: fronts[i].MasterAddr, Password: pw, MaxRetries: -1})
				err = w.Set(ctx, key, g.Name, 0).Err()
				w.Close()
				if err != nil {
					t.Fatalf("write through %s's master port: %v", g.Name, err)
				}
				for _, other := range topo.Groups {
					r := redis.NewClient(&redis.Options{Addr: addr[other.Nodes[0]], Password: pw, MaxRetries: -1})
					n, err := r.Exists(ctx, key).Result()
					r.Close()
					if err != nil {
						t.Fatal(err)
					}
					if wantN := map[bool]int64{true: 1, false: 0}[other.Name == g.Name]; n != wantN {
						t.Errorf("%s written through %s's port: on %s's master %d times, want %d", key, g.Name, other.Name, n, wantN)
					}
				}
			}
		})
	}
}

// masterBackendOf is the backend of the frontend listening at addr.
func masterBackendOf(t *testing.T, px *proxy.Proxy, addr string) string {
	t.Helper()
	for _, f := range px.Frontends() {
		if f.Addr().String() == addr {
			return f.Backend().Name
		}
	}
	t.Fatalf("no frontend at %s", addr)
	return ""
}

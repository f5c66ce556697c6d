package external_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy"
	"github.com/redisha-sim/redisha-sim/proxy/config"
	"github.com/redisha-sim/redisha-sim/proxy/redistest"
	"github.com/redisha-sim/redisha-sim/sim"
	"github.com/redisha-sim/redisha-sim/sim/external"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
	"github.com/redisha-sim/redisha-sim/sim/verdict"
)

// setsConfig is an HAProxy configuration in the shape of the seed's three
// sets (scenarios/haproxy-seed-three-sets.cfg) in front of sets of nodes:
// set i's master port on ports[2i] (front_redis_master<i+1>), its replica
// port on ports[2i+1] (front_redis_slave<i+1>), the stats on the last
// port. Every backend's servers are named prefix1, prefix2, ..., as in
// seedLikeConfig.
func setsConfig(sets [][]*redistest.Server, ports []int, prefix string) string {
	port := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", ports[i]) }
	var b strings.Builder
	fmt.Fprintf(&b, "defaults\n mode tcp\n timeout connect 1s\n timeout server 15s\n timeout client 15s\n")
	for i, nodes := range sets {
		for k, side := range []struct{ name, role string }{{"master", "master"}, {"slave", "slave"}} {
			name := fmt.Sprintf("%s%d", side.name, i+1)
			fmt.Fprintf(&b, "frontend front_redis_%s\n bind %s\n default_backend back_redis_%[1]s\n", name, port(2*i+k))
			fmt.Fprintf(&b, "backend back_redis_%s\n option tcp-check\n tcp-check send PING\\r\\n\n tcp-check expect string +PONG\n", name)
			fmt.Fprintf(&b, " tcp-check send info\\ replication\\r\\n\n tcp-check expect string role:%s\n tcp-check send QUIT\\r\\n\n tcp-check expect string +OK\n", side.role)
			for j, n := range nodes {
				fmt.Fprintf(&b, " server %s%d %s check inter 250ms fall 2 rise 1\n", prefix, j+1, n.Addr)
			}
		}
	}
	fmt.Fprintf(&b, "listen stats\n bind %s\n mode http\n timeout client 5s\n timeout connect 4s\n timeout server 30s\n stats uri /haproxy_stats\n stats auth admin:1234\n", port(2*len(sets)))
	return b.String()
}

// setsProxy are the ports of one proxy in front of two sets: each set's
// master and replica port, and the stats listener.
type setsProxy struct {
	master, replica [2]string
	stats           string
}

// startOwnSetsProxy starts this project's proxy, apart from any run, in
// front of two sets with setsConfig (servers s1, s2, ...: matched to the
// nodes by their addresses).
func startOwnSetsProxy(t *testing.T, cache, sessions []*redistest.Server) setsProxy {
	t.Helper()
	text := setsConfig([][]*redistest.Server{cache, sessions}, freePorts(t, 5), "s")
	cfg, _, err := config.Parse("deployment.cfg", strings.NewReader(text), config.ParseOptions{})
	if err != nil {
		t.Fatalf("parse:\n%s\n%v", text, err)
	}
	p, err := proxy.New(cfg, proxy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	var out setsProxy
	for i := range 2 {
		out.master[i] = p.Frontend(fmt.Sprintf("front_redis_master%d", i+1)).Addr().String()
		out.replica[i] = p.Frontend(fmt.Sprintf("front_redis_slave%d", i+1)).Addr().String()
	}
	out.stats = p.StatsAddrs()[0].String()
	return out
}

// startHAProxySets starts Debian's haproxy in front of two sets with
// setsConfig (servers redis1, redis2, ...: HAProxy leaves the CSV's addr
// empty, so they are matched to the nodes cache-redis1, sessions-redis1,
// ... by the end of their names), or skips without one.
func startHAProxySets(t *testing.T, cache, sessions []*redistest.Server) setsProxy {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("no haproxy installed")
	}
	ports := freePorts(t, 5)
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(setsConfig([][]*redistest.Server{cache, sessions}, ports, "redis")), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "-db", "-f", cfg)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", ports[i]) }
	for i := 0; ; i++ {
		conn, err := net.DialTimeout("tcp", addr(4), time.Second)
		if err == nil {
			conn.Close()
			break
		}
		if i == 50 {
			t.Fatalf("haproxy does not listen on %s: %v\n%s", addr(4), err, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return setsProxy{master: [2]string{addr(0), addr(2)}, replica: [2]string{addr(1), addr(3)}, stats: addr(4)}
}

// describeSetsBehindOneProxy writes and loads a scenario naming the two
// sets as groups cache (cache-redis1..3) and sessions (sessions-redis1,
// sessions-redis2), each with its ports of the one proxy px, followed
// through its stats CSV; the master of sessions is killed 2s in by a
// shell command.
func describeSetsBehindOneProxy(t *testing.T, cache, sessions []*redistest.Server, sentinels []string, px setsProxy) *scenario.Scenario {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "name: external-sets-one-proxy\nbackend: external\nduration: 8s\nsettle: 20s\nwarmup: 20s\n")
	fmt.Fprintf(&b, "workload: {writers: {count: 1, rate: 50}}\n")
	fmt.Fprintf(&b, "topology:\n  groups:\n")
	for i, g := range []string{"cache", "sessions"} {
		fmt.Fprintf(&b, "    - {name: %s, master_name: %[1]s, proxy: {master: %q, replica: %q}}\n", g, px.master[i], px.replica[i])
	}
	fmt.Fprintf(&b, "external:\n  command_timeout: 10s\n  sentinels: [%s]\n", strings.Join(sentinels, ", "))
	fmt.Fprintf(&b, "  proxy: {stats_csv: \"http://admin:1234@%s/haproxy_stats;csv\"}\n  nodes:\n", px.stats)
	for i, n := range cache {
		fmt.Fprintf(&b, "    - {name: cache-redis%d, addr: %q, group: cache, faults: {kill: \"kill -9 {pid}\"}}\n", i+1, n.Addr)
	}
	for i, n := range sessions {
		fmt.Fprintf(&b, "    - {name: sessions-redis%d, addr: %q, group: sessions, faults: {kill: \"kill -9 {pid}\"}}\n", i+1, n.Addr)
	}
	b.WriteString("faults:\n  - {at: 2s, action: kill, target: sessions.master}\n")
	return loadScenario(t, "sets.yaml", b.String())
}

func TestTwoSetsBehindTheUsersOwnProxyAreMeasuredThroughTheirOwnPorts(t *testing.T) {
	cache, sessions, sentinels := twoSets(t)
	px := startOwnSetsProxy(t, cache, sessions)
	measureSetsBehindOneProxy(t, cache, sessions, sentinels, px, "s")
}

func TestTwoSetsBehindARealHAProxyAreMeasuredThroughTheirOwnPorts(t *testing.T) {
	if _, err := exec.LookPath("haproxy"); err != nil {
		t.Skip("no haproxy installed")
	}
	cache, sessions, sentinels := twoSets(t)
	px := startHAProxySets(t, cache, sessions)
	measureSetsBehindOneProxy(t, cache, sessions, sentinels, px, "redis")
}

// measureSetsBehindOneProxy plans and runs the kill of the sessions
// master through one proxy px in front of both sets (servers named
// prefix1, prefix2, ...) and checks that the stats CSV maps each set's
// backends and servers to its group, that the dry run names each group's
// ports, that the sessions group's writes went through its port pair and
// were interrupted and recovered, and that the cache group's were not
// interrupted.
func measureSetsBehindOneProxy(t *testing.T, cache, sessions []*redistest.Server, sentinels []string, px setsProxy, prefix string) {
	t.Helper()
	s := describeSetsBehindOneProxy(t, cache, sessions, sentinels, px)

	v, err := external.InspectProxy(t.Context(), s, 0)
	if err != nil {
		t.Fatalf("inspect the proxy: %v", err)
	}
	for i, g := range []struct {
		name  string
		nodes int
	}{{"cache", len(cache)}, {"sessions", len(sessions)}} {
		for _, side := range []struct{ backend, port string }{{"back_redis_master", "master"}, {"back_redis_slave", "replica"}} {
			b := fmt.Sprintf("%s%d", side.backend, i+1)
			if v.Ports[b] != side.port || v.Groups[b] != g.name {
				t.Errorf("backend %s: got port %q of group %q, want %s of %s", b, v.Ports[b], v.Groups[b], side.port, g.name)
			}
			for j := range g.nodes {
				if got, want := v.Servers[fmt.Sprintf("%s/%s%d", b, prefix, j+1)], fmt.Sprintf("%s-redis%d", g.name, j+1); got != want {
					t.Errorf("server %s/%s%d: got node %q, want %q", b, prefix, j+1, got, want)
				}
			}
		}
	}
	if len(v.Unmapped) != 0 {
		t.Errorf("unmapped servers: got %v, want none", v.Unmapped)
	}

	var plan bytes.Buffer
	if err := external.Plan(t.Context(), s, 0, &plan); err != nil {
		t.Fatalf("plan: %v", err)
	}
	for _, want := range []string{
		"group cache:\n  sentinels: 3 agree that cache-redis1 is the master of cache",
		fmt.Sprintf("the user's proxy: master port %s, replica port %s\n", px.master[0], px.replica[0]),
		fmt.Sprintf("the user's proxy: master port %s, replica port %s\n", px.master[1], px.replica[1]),
		fmt.Sprintf("backend back_redis_master2 serves the master port of group sessions: %s1=sessions-redis1 %[1]s2=sessions-redis2", prefix),
		`kill sessions.master (now sessions-redis1): sh -c "kill -9 `,
	} {
		if !strings.Contains(plan.String(), want) {
			t.Errorf("plan:\n%s\nwant it to contain %q", plan.String(), want)
		}
	}

	res, err := sim.Run(t.Context(), s, external.New(s, external.Options{AllowFaults: true}), sim.Options{StartProxy: external.StartProxy})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	var killAt time.Duration = -1
	for _, e := range res.Timeline.Events {
		if e.Kind == timeline.KindFault && e.Name == "kill" {
			if e.Target != "sessions-redis1" || e.Err != "" {
				t.Fatalf("kill event: got %+v, want sessions-redis1 killed by its command", e)
			}
			killAt = e.T
		}
	}
	if killAt < 0 {
		t.Fatal("no kill recorded")
	}
	if _, err := sessions[0].Do(t.Context(), "PING"); err == nil {
		t.Fatal("the sessions master still answers after its kill command")
	}
	if len(res.Timeline.Groups) != 2 {
		t.Fatalf("timeline groups: got %+v, want cache and sessions", res.Timeline.Groups)
	}
	for i, g := range res.Timeline.Groups {
		if g.MasterAddr != px.master[i] || g.ReplicaAddr != px.replica[i] {
			t.Errorf("group %s's ports: got %s and %s, want %s and %s", g.Name, g.MasterAddr, g.ReplicaAddr, px.master[i], px.replica[i])
		}
	}
	reports := map[string]*verdict.Report{}
	for _, g := range res.Report.Groups {
		reports[g.Name] = g.Report
	}
	if r := reports["sessions"]; r == nil || !r.WriteInterruption.Interrupted || !r.WriteInterruption.Recovered || r.WriteInterruption.Duration <= 0 {
		t.Errorf("sessions' write interruption: got %+v, want one that ended", r)
	}
	if r := reports["cache"]; r == nil || r.WriteInterruption.Interrupted || r.Writes.OK == 0 {
		t.Errorf("cache's writes: got %+v, want them acknowledged and not interrupted", r)
	}
	if !strings.Contains(res.Proxy, "for cache") || !strings.Contains(res.Proxy, px.master[1]+" (master) and "+px.replica[1]+" (replica) for sessions") {
		t.Errorf("proxy: got %q, want each group's ports", res.Proxy)
	}
	after := proxyEvents(res.Timeline, killAt)
	// sessions has one replica: the new master.
	for _, want := range []string{"master sessions-redis1 server-down", "master sessions-redis2 server-up"} {
		found := false
		for _, e := range after {
			found = found || e == want
		}
		if !found {
			t.Errorf("proxy events after the kill: got %v, want %q among them", after, want)
		}
	}
	for _, e := range after {
		if strings.Contains(e, "cache-redis") {
			t.Errorf("proxy event of the cache group after the kill of the sessions master: %q", e)
		}
	}
}

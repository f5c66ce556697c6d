package external_test

import (
	"bytes"
	"context"
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
	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

// freePorts finds n free loopback ports (free when asked: the proxies'
// configurations need fixed ports).
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var out []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	return out
}

// seedLikeConfig is an HAProxy configuration in the seed's shape (its
// backend names, its role checks, a stats listener with basic auth) in
// front of the nodes, on ports[0] (master), ports[1] (replica) and
// ports[2] (stats). Its servers are named prefix1, prefix2, ...: "s" so
// that only their addresses (the CSV's addr column) name the nodes,
// "redis" so that their names do (HAProxy fills addr only with "stats
// show-legends").
func seedLikeConfig(nodes []*redistest.Server, ports []int, prefix string) string {
	port := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", ports[i]) }
	var b strings.Builder
	fmt.Fprintf(&b, "defaults\n mode tcp\n timeout connect 1s\n timeout server 15s\n timeout client 15s\n")
	for i, side := range []struct{ name, role string }{{"master1", "master"}, {"slave1", "slave"}} {
		fmt.Fprintf(&b, "frontend front_redis_%s\n bind %s\n default_backend back_redis_%[1]s\n", side.name, port(i))
		fmt.Fprintf(&b, "backend back_redis_%s\n option tcp-check\n tcp-check send PING\\r\\n\n tcp-check expect string +PONG\n", side.name)
		fmt.Fprintf(&b, " tcp-check send info\\ replication\\r\\n\n tcp-check expect string role:%s\n tcp-check send QUIT\\r\\n\n tcp-check expect string +OK\n", side.role)
		for j, n := range nodes {
			fmt.Fprintf(&b, " server %s%d %s check inter 250ms fall 2 rise 1\n", prefix, j+1, n.Addr)
		}
	}
	fmt.Fprintf(&b, "listen stats\n bind %s\n mode http\n timeout client 5s\n timeout connect 4s\n timeout server 30s\n stats uri /haproxy_stats\n stats auth admin:1234\n", port(2))
	return b.String()
}

// startOwnProxy starts this project's proxy, apart from any run, in
// front of a deployment as a user would run it.
func startOwnProxy(t *testing.T, c *redistest.Cluster) (master, replica, stats string) {
	t.Helper()
	text := seedLikeConfig(c.Nodes(), freePorts(t, 3), "s")
	cfg, _, err := config.Parse("deployment.cfg", strings.NewReader(text), config.ParseOptions{})
	if err != nil {
		t.Fatalf("parse:\n%s\n%v", text, err)
	}
	p, err := proxy.New(cfg, proxy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p.Frontend("front_redis_master1").Addr().String(), p.Frontend("front_redis_slave1").Addr().String(), p.StatsAddrs()[0].String()
}

// proxyEvents are the proxy events of a timeline as "port node name".
func proxyEvents(tl *timeline.Timeline, after time.Duration) []string {
	var out []string
	for _, e := range tl.Events {
		if e.Kind == timeline.KindProxy && e.T >= after {
			out = append(out, e.Port+" "+e.Node+" "+e.Name)
		}
	}
	return out
}

func TestTheUserProxysViewIsFollowedThroughItsStatsCSV(t *testing.T) {
	c := deployment(t)
	master, replica, stats := startOwnProxy(t, c)
	followThroughStats(t, c, master, replica, stats, "s")
}

func TestARealHAProxysViewIsFollowedThroughItsStatsCSV(t *testing.T) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("no haproxy installed")
	}
	c := deployment(t)
	ports := freePorts(t, 3)
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(seedLikeConfig(c.Nodes(), ports, "redis")), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "-db", "-f", cfg)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	stats := fmt.Sprintf("127.0.0.1:%d", ports[2])
	for i := 0; ; i++ {
		conn, err := net.DialTimeout("tcp", stats, time.Second)
		if err == nil {
			conn.Close()
			break
		}
		if i == 50 {
			t.Fatalf("haproxy does not listen on %s: %v\n%s", stats, err, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	followThroughStats(t, c, fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1]), stats, "redis")
}

// followThroughStats runs master-kill through a proxy of the deployment
// and checks that the proxy's view, read from its stats CSV, is on the
// timeline (its servers named prefix1, prefix2, ...): the old master's server down and the new one's up on the
// master port.
func followThroughStats(t *testing.T, c *redistest.Cluster, master, replica, stats, prefix string) {
	t.Helper()
	s := describe(t, c, "kill -9 {pid}", "faults:\n  - {at: 2s, action: kill, target: master}\n")
	s.External.Proxy.Master, s.External.Proxy.Replica = master, replica
	s.External.Proxy.StatsCSV = "http://admin:1234@" + stats + "/haproxy_stats;csv"

	v, err := external.InspectProxy(t.Context(), s, 0)
	if err != nil {
		t.Fatalf("inspect the proxy: %v", err)
	}
	if v.Ports["back_redis_master1"] != "master" || v.Ports["back_redis_slave1"] != "replica" {
		t.Errorf("ports: got %v, want back_redis_master1 master and back_redis_slave1 replica", v.Ports)
	}
	for i := range c.Nodes() {
		if got, want := v.Servers[fmt.Sprintf("back_redis_master1/%s%d", prefix, i+1)], fmt.Sprintf("redis%d", i+1); got != want {
			t.Errorf("server %s%d: got node %q, want %q", prefix, i+1, got, want)
		}
	}
	if strings.Contains(v.URL, "1234") {
		t.Errorf("the view's URL %q shows the password", v.URL)
	}

	res, err := sim.Run(t.Context(), s, external.New(s, external.Options{AllowFaults: true}), sim.Options{StartProxy: external.StartProxy})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	var killAt time.Duration = -1
	for _, e := range res.Timeline.Events {
		if e.Kind == timeline.KindFault && e.Name == "kill" && e.Err == "" {
			killAt = e.T
		}
	}
	if killAt < 0 {
		t.Fatal("no kill recorded")
	}
	if _, err := c.Master.Do(t.Context(), "PING"); err == nil {
		t.Fatal("the master still answers after the kill command")
	}
	after := proxyEvents(res.Timeline, killAt)
	newMaster := res.Timeline.ReadBack.Master
	if newMaster == "" || newMaster == "redis1" {
		t.Fatalf("read-back master: got %q, want a new master", newMaster)
	}
	for _, want := range []string{"master redis1 server-down", "master " + newMaster + " server-up", "replica " + newMaster + " server-down"} {
		found := false
		for _, e := range after {
			found = found || e == want
		}
		if !found {
			t.Errorf("proxy events after the kill: got %v, want %q among them", after, want)
		}
	}
	if !strings.Contains(res.Proxy, "followed through http://admin:xxxxx@"+stats) {
		t.Errorf("proxy: got %q, want it followed through the redacted stats URL", res.Proxy)
	}
}

func TestAStatsCSVThatCannotBeReadGivesOneClearError(t *testing.T) {
	c := deployment(t)
	_, _, stats := startOwnProxy(t, c)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	for name, tc := range map[string]struct{ url, backend, want string }{
		"wrong password": {"http://admin:wrong@" + stats + "/haproxy_stats;csv", "", "the proxy's stats http://admin:xxxxx@" + stats + "/haproxy_stats;csv: GET: 401 Unauthorized"},
		"not the CSV":    {"http://admin:1234@" + stats + "/haproxy_stats", "", "the proxy's stats http://admin:xxxxx@" + stats + "/haproxy_stats: statistics CSV: "},
		"nothing there":  {"http://" + closed + "/stats;csv", "", "the proxy's stats http://" + closed + "/stats;csv: Get "},
		"no such backend": {"http://admin:1234@" + stats + "/haproxy_stats;csv", "bk_redis",
			`external.proxy.master_backend "bk_redis": the proxy's stats http://admin:xxxxx@` + stats + "/haproxy_stats;csv have no such backend (backends: back_redis_master1, back_redis_slave1)"},
	} {
		s := describe(t, c, "true", "")
		s.External.Proxy.Master = "127.0.0.1:1"
		s.External.Proxy.StatsCSV, s.External.Proxy.MasterBackend = tc.url, tc.backend
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		_, err := external.Inspect(ctx, s, 0)
		cancel()
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), ":1234@") || strings.Contains(err.Error(), ":wrong@") {
			t.Errorf("%s: got %v, want one line beginning %q, no password", name, err, tc.want)
		}
	}
}

package docker

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy"
	"github.com/redisha-sim/redisha-sim/proxy/config"
	"github.com/redisha-sim/redisha-sim/proxy/redistest"
	"github.com/redisha-sim/redisha-sim/scenarios"
	"github.com/redisha-sim/redisha-sim/sim/rig"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/undertest"
)

func TestParseCheckMetrics(t *testing.T) {
	text := `# HELP haproxy_server_check_completed_total Total number of health checks that reached a result.
# TYPE haproxy_server_check_completed_total counter
haproxy_server_check_completed_total{proxy="bk_redis",server="redis1"} 12
haproxy_server_check_completed_total{proxy="bk_redis",server="redis2"} 7
# TYPE haproxy_server_check_sent_bytes_total counter
haproxy_server_check_sent_bytes_total{proxy="bk_redis",server="redis1"} 372
# TYPE haproxy_server_check_received_bytes_total counter
haproxy_server_check_received_bytes_total{proxy="bk_redis",server="redis1"} 4096
# TYPE haproxy_process_uptime_seconds gauge
haproxy_process_uptime_seconds 30
`
	got, err := parseCheckMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]rig.CheckCounts{
		"bk_redis/redis1": {Checks: 12, BytesSent: 372, BytesReceived: 4096},
		"bk_redis/redis2": {Checks: 7},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	// HAProxy's own exporter has no count of checks.
	_, err = parseCheckMetrics(strings.NewReader("# TYPE haproxy_server_check_failures_total counter\nhaproxy_server_check_failures_total{proxy=\"b\",server=\"s\"} 3\n"))
	if err == nil || !strings.Contains(err.Error(), "no haproxy_server_check_completed_total") {
		t.Errorf("got %v, want an error naming the missing metric", err)
	}
}

// freePort is a loopback port nobody listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// The configuration a proxy container gets, run by real HAProxy and by our
// proxy as processes on loopback against real Redis: both must accept it
// and report the same server states through the CSV the engine follows,
// before and after a promotion.
func TestContainerProxyConfigIsFollowedThroughTheCSV(t *testing.T) {
	redistest.Require(t)
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		if os.Getenv(redistest.RequireEnv) != "" {
			t.Fatal("haproxy not found: install Debian's haproxy")
		}
		t.Skip("haproxy not installed")
	}
	ctx := t.Context()
	var nodes []*redistest.Server
	var addrs []undertest.NodeAddr
	for i := 0; i < 3; i++ {
		n, err := redistest.Start(ctx, redistest.Options{Password: "password1234"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.Close)
		if i > 0 {
			if err := n.ReplicaOf(ctx, nodes[0]); err != nil {
				t.Fatal(err)
			}
		}
		nodes = append(nodes, n)
		addrs = append(addrs, undertest.NodeAddr{Name: fmt.Sprintf("redis%d", i+1), Addr: n.Addr})
	}
	s, err := scenario.LoadFS(scenarios.FS, "master-kill.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Rendered as for our proxy in a container (with its metrics path);
	// Debian's HAProxy has the Prometheus exporter and runs it too.
	s.Proxy.Kind = "redisha-container"
	layout, _, err := ProxyConfigFor(s, addrs, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Loopback ports instead of the container's fixed ones.
	stats := 0
	for _, f := range layout.Config.Frontends {
		for i := range f.Binds {
			p := freePort(t)
			if f.Name == "redisha_sim_stats" {
				stats = p
			}
			f.Binds[i].Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
		}
	}
	text := config.Render(layout.Config)
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}

	// Real HAProxy.
	cmd := exec.CommandContext(ctx, haproxy, "-db", "-f", path)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	hp := &containerProxy{layout: layout, statsURL: fmt.Sprintf("http://127.0.0.1:%d%s;csv", stats, statsURI)}

	// Our proxy, from the same text, with its own ports.
	cfg, _, err := config.Parse("rendered", strings.NewReader(text), config.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ourStats := 0
	for _, f := range cfg.Frontends {
		for i := range f.Binds {
			p := freePort(t)
			if f.Name == "redisha_sim_stats" {
				ourStats = p
			}
			f.Binds[i].Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
		}
	}
	px, err := proxy.New(cfg, proxy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { px.Close() })
	op := &containerProxy{layout: layout, statsURL: fmt.Sprintf("http://127.0.0.1:%d%s;csv", ourStats, statsURI)}

	for name, p := range map[string]*containerProxy{"haproxy": hp, "redisha": op} {
		t.Run(name, func(t *testing.T) {
			wctx, cancel := context.WithCancel(ctx)
			defer cancel()
			var mu sync.Mutex
			state := map[string]bool{}
			done := make(chan struct{})
			go func() {
				defer close(done)
				p.Watch(wctx, func(e rig.ProxyEvent) {
					mu.Lock()
					state[e.Port+"/"+e.Node] = e.Up
					mu.Unlock()
				})
			}()
			waitState := func(want map[string]bool) {
				t.Helper()
				deadline := time.Now().Add(15 * time.Second)
				for {
					mu.Lock()
					ok := true
					for k, v := range want {
						if got, seen := state[k]; !seen || got != v {
							ok = false
						}
					}
					got := fmt.Sprint(state)
					mu.Unlock()
					if ok {
						return
					}
					if time.Now().After(deadline) {
						t.Fatalf("states %s, want %v\n%s", got, want, out.String())
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
			waitState(map[string]bool{"master/redis1": true, "master/redis2": false, "master/redis3": false,
				"replica/redis1": false, "replica/redis2": true, "replica/redis3": true})
			cancel()
			<-done
		})
	}
	// Our proxy reports its check counters through its metrics, as the
	// engine reads them in a container: each reading lies between two
	// readings of the proxy's own counters around it.
	cp := &countingProxy{containerProxy: op, metricsURL: fmt.Sprintf("http://127.0.0.1:%d%s", ourStats, metricsPath)}
	own := func() map[string]rig.CheckCounts {
		m := map[string]rig.CheckCounts{}
		for _, bp := range layout.Ports() {
			for _, st := range px.Backend(bp[0]).Servers() {
				m[layout.ServerNode[bp[0]+"/"+st.Name]+" "+bp[1]] = rig.CheckCounts{Checks: st.ChecksDone, BytesSent: st.CheckBytesSent, BytesReceived: st.CheckBytesReceived}
			}
		}
		return m
	}
	before := own()
	counts, err := cp.CheckCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	after := own()
	if len(counts) != 6 {
		t.Errorf("check counters of %d servers, want 6 (3 nodes behind 2 ports): %+v", len(counts), counts)
	}
	for _, c := range counts {
		k := c.Node + " " + c.Port
		b, a := before[k], after[k]
		if c.Checks == 0 || c.Checks < b.Checks || c.Checks > a.Checks ||
			c.BytesSent < b.BytesSent || c.BytesSent > a.BytesSent || c.BytesReceived < b.BytesReceived || c.BytesReceived > a.BytesReceived {
			t.Errorf("%s: metrics say %+v, the proxy %+v before and %+v after", k, c.CheckCounts, b, a)
		}
	}
	// HAProxy's exporter on the same path has no count of checks.
	hc := &countingProxy{containerProxy: hp, metricsURL: fmt.Sprintf("http://127.0.0.1:%d%s", stats, metricsPath)}
	if _, err := hc.CheckCounts(ctx); err == nil || !strings.Contains(err.Error(), "no "+metricChecks) {
		t.Errorf("HAProxy's metrics: got %v, want an error saying it has no %s", err, metricChecks)
	}

	// A promotion: redis2 becomes master, redis1 its replica; both proxies
	// see redis2 UP on the master port.
	if err := nodes[1].ReplicaOf(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := nodes[0].ReplicaOf(ctx, nodes[1]); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]*containerProxy{"haproxy": hp, "redisha": op} {
		deadline := time.Now().Add(15 * time.Second)
		for {
			states, err := p.poll(ctx)
			up := map[string]bool{}
			for _, st := range states {
				up[st.Backend+"/"+st.Server] = st.Up()
			}
			if err == nil && up[layout.Groups[0].MasterBackend+"/redis2"] && !up[layout.Groups[0].MasterBackend+"/redis1"] {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: after the promotion: %v %v", name, states, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

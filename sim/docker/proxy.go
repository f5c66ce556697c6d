package docker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/testcontainers/testcontainers-go"

	"github.com/redisha-sim/redisha-sim/proxy/config"
	"github.com/redisha-sim/redisha-sim/sim/rig"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/undertest"
)

// The statistics endpoint the engine adds to a proxy in a container, to
// follow its servers' states through the CSV export (HAProxy's ";csv",
// which this project's proxy serves too).
const (
	statsPort = 9999
	statsURI  = "/redisha-sim-stats"
	// metricsPath serves Prometheus metrics on the same listener, for
	// the check counters of this project's proxy.
	metricsPath = "/metrics"
	// statsPoll is how often the CSV is read: the resolution of the
	// proxy events on the timeline.
	statsPoll = 50 * time.Millisecond
)

// proxyConfigPath is where the configuration goes in the container.
const proxyConfigPath = "/etc/haproxy/haproxy.cfg"

// StartProxy starts the proxy a scenario asks for in front of a docker
// cluster: this project's proxy in-process (talking to the containers'
// addresses) or in a container, or HAProxy in a container.
func StartProxy(ctx context.Context, s *scenario.Scenario, c rig.Cluster, log *slog.Logger) (rig.ProxyUnderTest, error) {
	if s.Proxy.Kind == "" || s.Proxy.Kind == "redisha" {
		return undertest.StartInProcessProxy(ctx, s, c, log)
	}
	cl, ok := c.(*Cluster)
	if !ok {
		return nil, fmt.Errorf("proxy kind %s needs the docker backend", s.Proxy.Kind)
	}
	return cl.startProxyContainer(ctx, s)
}

// ProxyConfigFor renders the configuration of a scenario's proxy as it runs
// in a container on the clients network: servers at the nodes' addresses
// there, frontends on fixed ports, and the engine's statistics endpoint,
// with the Prometheus metrics for this project's proxy (an HAProxy image
// may lack the exporter, and its metrics count no checks anyway).
func ProxyConfigFor(s *scenario.Scenario, nodes []undertest.NodeAddr, sentinels []string) (*undertest.ProxyLayout, string, error) {
	layout, err := undertest.BuildProxyConfig(s, nodes, sentinels, undertest.Placement{FixedPorts: true})
	if err != nil {
		return nil, "", err
	}
	st := &config.Stats{URI: statsURI, Realm: "redisha-sim"}
	if s.Proxy.Kind == "redisha-container" {
		st.MetricsPath = metricsPath
	}
	layout.Config.Frontends = append(layout.Config.Frontends, &config.Frontend{
		Name: "redisha_sim_stats", Mode: config.ModeHTTP,
		Binds:    []config.Bind{{Addr: net.JoinHostPort("", strconv.Itoa(statsPort))}},
		Timeouts: config.Timeouts{Client: 10 * time.Second},
		Stats:    st,
	})
	return layout, config.Render(layout.Config), nil
}

func (cl *Cluster) startProxyContainer(ctx context.Context, s *scenario.Scenario) (rig.ProxyUnderTest, error) {
	nodes, sentinels := undertest.ProxyTargets(s, cl)
	layout, text, err := ProxyConfigFor(s, nodes, sentinels)
	if err != nil {
		return nil, err
	}
	var image, desc string
	var cmd []string
	switch s.Proxy.Kind {
	case "haproxy":
		image, desc = cl.images.HAProxy, "HAProxy (container "+cl.images.HAProxy+")"
		cmd = []string{"haproxy", "-db", "-f", proxyConfigPath}
	case "redisha-container":
		image, desc = cl.images.Proxy, "redisha proxy (container "+cl.images.Proxy+")"
		cmd = []string{"proxy", "-f", proxyConfigPath}
	default:
		return nil, fmt.Errorf("unknown proxy kind %q: valid are %s", s.Proxy.Kind, strings.Join(scenario.ProxyKinds, ", "))
	}
	if s.Proxy.Config != "" {
		desc += " with " + s.Proxy.Config
	}
	if s.Proxy.SentinelAware {
		desc += ", Sentinel-aware"
	}
	desc += layout.DescribeGroups()
	if err := cl.requireImage(ctx, image); err != nil {
		return nil, err
	}
	files := []testcontainers.ContainerFile{{Reader: strings.NewReader(text), ContainerFilePath: proxyConfigPath, FileMode: 0o644}}
	c, err := cl.run(ctx, "proxy", rig.KindProxy, image, 30, cmd, files, nil)
	if err != nil {
		return nil, fmt.Errorf("start the proxy container: %w", err)
	}
	cl.log.Info("proxy container started", "image", image, "addr", c.clientsIP)
	base := "http://" + net.JoinHostPort(c.clientsIP.String(), strconv.Itoa(statsPort))
	p := &containerProxy{c: c, layout: layout, desc: desc, statsURL: base + statsURI + ";csv"}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := p.poll(ctx)
		if err == nil {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			logs := c.logs(context.Background())
			return nil, fmt.Errorf("the proxy container does not serve its statistics: %w\n%s", err, logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s.Proxy.Kind == "redisha-container" {
		return &countingProxy{containerProxy: p, metricsURL: base + metricsPath}, nil
	}
	return p, nil
}

// logs is the tail of a container's output, for error messages.
func (c *Container) logs(ctx context.Context) string {
	r, err := c.c.Logs(ctx)
	if err != nil {
		return ""
	}
	defer r.Close()
	b, _ := io.ReadAll(io.LimitReader(r, 1<<20))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}

// containerProxy is a proxy in a container, followed through its CSV.
type containerProxy struct {
	c        *Container
	layout   *undertest.ProxyLayout
	desc     string
	statsURL string
	http     http.Client
}

func (p *containerProxy) Describe() string { return p.desc }

func (p *containerProxy) addr(frontend string) string {
	if frontend == "" {
		return ""
	}
	f := p.layout.Config.Frontend(frontend)
	if f == nil || len(f.Binds) == 0 {
		return ""
	}
	_, port, _ := net.SplitHostPort(f.Binds[0].Addr)
	return net.JoinHostPort(p.c.clientsIP.String(), port)
}

// Frontends are every group's ports on the container's clients address,
// in the topology's order.
func (p *containerProxy) Frontends() []rig.Frontend {
	var out []rig.Frontend
	for _, g := range p.layout.Groups {
		out = append(out, rig.Frontend{Group: g.Group, MasterAddr: p.addr(g.MasterFrontend), ReplicaAddr: p.addr(g.ReplicaFrontend)})
	}
	return out
}

func (p *containerProxy) Instance() rig.Instance { return p.c }

// The proxy container is removed with the cluster.
func (p *containerProxy) Close(context.Context) error { return nil }

// poll reads the servers' states.
func (p *containerProxy) poll(ctx context.Context) ([]undertest.StatsRow, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var states []undertest.StatsRow
	err := p.get(ctx, p.statsURL, func(body io.Reader) (err error) {
		states, err = undertest.ParseStatsCSV(body)
		return err
	})
	return states, err
}

// get reads url from the proxy's statistics listener with read, which
// sees the body of a 200 answer.
func (p *containerProxy) get(ctx context.Context, url string, read func(io.Reader) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return read(resp.Body)
}

// Watch polls the statistics and reports every change of a server's
// state (UP or not), timestamped when the poll saw it: within statsPoll
// of the change.
func (p *containerProxy) Watch(ctx context.Context, f func(rig.ProxyEvent)) error {
	last := map[string]bool{}
	t := time.NewTicker(statsPoll)
	defer t.Stop()
	for {
		states, err := p.poll(ctx)
		at := time.Now()
		if err == nil {
			for _, st := range states {
				port := p.layout.Port(st.Backend)
				if port == "" {
					continue
				}
				key := st.Backend + "/" + st.Server
				up := st.Up()
				if prev, seen := last[key]; seen && prev == up {
					continue
				}
				last[key] = up
				f(rig.ProxyEvent{At: at, Port: port, Node: p.layout.ServerNode[key], Up: up, State: st.Status, Detail: st.Detail})
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// countingProxy is this project's proxy in a container: it also reports
// its check counters, read from its Prometheus metrics.
type countingProxy struct {
	*containerProxy
	metricsURL string
}

// The proxy's Prometheus metrics that count checks, by server.
const (
	metricChecks        = "haproxy_server_check_completed_total"
	metricCheckSent     = "haproxy_server_check_sent_bytes_total"
	metricCheckReceived = "haproxy_server_check_received_bytes_total"
)

// CheckCounts reads the check counters from the metrics.
func (p *countingProxy) CheckCounts(ctx context.Context) ([]rig.ServerChecks, error) {
	var byServer map[string]rig.CheckCounts
	err := p.get(ctx, p.metricsURL, func(body io.Reader) (err error) {
		if byServer, err = parseCheckMetrics(body); err != nil {
			return fmt.Errorf("GET %s: %w", p.metricsURL, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p.layout.ServerChecks(byServer), nil
}

// parseCheckMetrics reads the check counters of every server, by
// "backend/server", from Prometheus text.
func parseCheckMetrics(r io.Reader) (map[string]rig.CheckCounts, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return nil, err
	}
	if fams[metricChecks] == nil {
		return nil, fmt.Errorf("no %s in the metrics: not a proxy that counts its checks", metricChecks)
	}
	out := map[string]rig.CheckCounts{}
	for _, name := range []string{metricChecks, metricCheckSent, metricCheckReceived} {
		fam := fams[name]
		if fam == nil {
			continue
		}
		for _, m := range fam.GetMetric() {
			var backend, server string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "proxy":
					backend = l.GetValue()
				case "server":
					server = l.GetValue()
				}
			}
			if backend == "" || server == "" || m.GetCounter() == nil {
				continue
			}
			key := backend + "/" + server
			c := out[key]
			v := m.GetCounter().GetValue()
			switch name {
			case metricChecks:
				c.Checks = uint64(v)
			case metricCheckSent:
				c.BytesSent = int64(v)
			case metricCheckReceived:
				c.BytesReceived = int64(v)
			}
			out[key] = c
		}
	}
	return out, nil
}

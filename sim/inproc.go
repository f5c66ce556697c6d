package sim

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

// ProxyTargets are the nodes and Sentinels as a proxy in front of c
// reaches them. A Sentinel-aware proxy must use the nodes' addresses as
// Sentinel reports them: a cluster may say where they differ
// (SentinelAddr).
func ProxyTargets(s *scenario.Scenario, c Cluster) ([]NodeAddr, []string) {
	var nodes []NodeAddr
	sa, hasSA := c.(interface{ SentinelAddr(node string) string })
	for _, n := range c.Nodes() {
		addr := n.Addr()
		if s.Proxy.SentinelAware && hasSA {
			addr = sa.SentinelAddr(n.Name())
		}
		nodes = append(nodes, NodeAddr{Name: n.Name(), Addr: addr})
	}
	var sentinels []string
	for _, se := range c.Sentinels() {
		sentinels = append(sentinels, se.Addr())
	}
	return nodes, sentinels
}

// StartInProcessProxy runs this project's proxy in the engine's process,
// configured for the scenario and pointed at the cluster's nodes.
func StartInProcessProxy(ctx context.Context, s *scenario.Scenario, c Cluster, log *slog.Logger) (ProxyUnderTest, error) {
	nodes, sentinels := ProxyTargets(s, c)
	layout, err := BuildProxyConfig(s, nodes, sentinels, InProcess)
	if err != nil {
		return nil, err
	}
	p, err := proxy.New(layout.Config, proxy.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("start proxy: %w", err)
	}
	desc := "redisha proxy (in-process)"
	if s.Proxy.Config != "" {
		desc += " with " + s.Proxy.Config
	}
	if s.Proxy.SentinelAware {
		desc += ", Sentinel-aware"
	}
	return &inProcessProxy{p: p, layout: layout, desc: desc}, nil
}

type inProcessProxy struct {
	p      *proxy.Proxy
	layout *ProxyLayout
	desc   string

	// watched is the reading of the check counters taken when Watch
	// began, which the engine calls as the workload starts.
	mu      sync.Mutex
	watched *checkReading
}

func (ip *inProcessProxy) Describe() string { return ip.desc }

func (ip *inProcessProxy) MasterAddr() string {
	return ip.p.Frontend(ip.layout.MasterFrontend).Addr().String()
}

func (ip *inProcessProxy) ReplicaAddr() string {
	if ip.layout.ReplicaFrontend == "" {
		return ""
	}
	return ip.p.Frontend(ip.layout.ReplicaFrontend).Addr().String()
}

func (ip *inProcessProxy) Instance() Instance { return nil }

// Proxy is the running proxy, for callers that want its stats.
func (ip *inProcessProxy) Proxy() *proxy.Proxy { return ip.p }

func (ip *inProcessProxy) Watch(ctx context.Context, f func(ProxyEvent)) error {
	ip.mu.Lock()
	if ip.watched == nil {
		ip.watched = ip.readChecks()
	}
	ip.mu.Unlock()
	sub := ip.p.Events().Subscribe(4096, ip.p.Events().Last())
	defer sub.Close()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-sub.C:
			if !ok {
				return nil
			}
			if e.Type != proxy.EventServerUp && e.Type != proxy.EventServerDown {
				continue
			}
			port := ""
			switch e.Backend {
			case ip.layout.MasterBackend:
				port = "master"
			case ip.layout.ReplicaBackend:
				port = "replica"
			default:
				continue
			}
			f(ProxyEvent{At: ip.p.Start().Add(e.T), Port: port, Node: ip.layout.ServerNode[e.Backend+"/"+e.Server],
				Up: e.Type == proxy.EventServerUp, State: e.State, Detail: e.Message})
		}
	}
}

func (ip *inProcessProxy) Close(ctx context.Context) error {
	return ip.p.Close()
}

// checkCounts are a server's check counters at one instant.
type checkCounts struct {
	checks         uint64
	sent, received int64
}

// checkReading is every server's check counters, by "backend/server".
type checkReading struct {
	at     time.Time
	counts map[string]checkCounts
}

// checkBackends are the backends of the master and replica ports, with
// their port names.
func (ip *inProcessProxy) checkBackends() [][2]string {
	out := [][2]string{{ip.layout.MasterBackend, timeline.PortMaster}}
	if rb := ip.layout.ReplicaBackend; rb != "" && rb != ip.layout.MasterBackend {
		out = append(out, [2]string{rb, timeline.PortReplica})
	}
	return out
}

// readChecks reads the check counters of the servers of both ports.
func (ip *inProcessProxy) readChecks() *checkReading {
	r := &checkReading{at: time.Now(), counts: map[string]checkCounts{}}
	for _, bp := range ip.checkBackends() {
		b := ip.p.Backend(bp[0])
		if b == nil {
			continue
		}
		for _, st := range b.Servers() {
			r.counts[bp[0]+"/"+st.Name] = checkCounts{checks: st.ChecksDone, sent: st.CheckBytesSent, received: st.CheckBytesReceived}
		}
	}
	return r
}

// checkLoad is the check load on each node since Watch began (since the
// proxy started if it never did), one entry per node and port.
func (ip *inProcessProxy) checkLoad(rec *timeline.Recorder) []timeline.CheckLoad {
	end := ip.readChecks()
	ip.mu.Lock()
	begin := ip.watched
	ip.mu.Unlock()
	if begin == nil {
		begin = &checkReading{at: ip.p.Start(), counts: map[string]checkCounts{}}
	}
	var out []timeline.CheckLoad
	for _, bp := range ip.checkBackends() {
		b := ip.p.Backend(bp[0])
		if b == nil {
			continue
		}
		for _, st := range b.Servers() {
			key := bp[0] + "/" + st.Name
			node, ok := ip.layout.ServerNode[key]
			if !ok {
				continue
			}
			c0, c1 := begin.counts[key], end.counts[key]
			out = append(out, timeline.CheckLoad{
				Node: node, Port: bp[1], Checks: c1.checks - c0.checks,
				BytesOut: c1.sent - c0.sent, BytesIn: c1.received - c0.received,
				From: rec.Since(begin.at), To: rec.Since(end.at), Seconds: end.at.Sub(begin.at).Seconds(),
			})
		}
	}
	return out
}

// checkLoadReporter is a proxy under test that counts the health checks it
// runs: the in-process proxy. A proxy in a container does not, and its
// runs record no check load.
type checkLoadReporter interface {
	checkLoad(rec *timeline.Recorder) []timeline.CheckLoad
}

// recordCheckLoad records in the timeline the check load the proxy put on
// each node over the workload, if the proxy counts its checks. The engine
// calls it as the workload ends.
func recordCheckLoad(px ProxyUnderTest, rec *timeline.Recorder) {
	r, ok := px.(checkLoadReporter)
	if !ok {
		return
	}
	load := r.checkLoad(rec)
	rec.Update(func(tl *timeline.Timeline) { tl.CheckLoad = load })
}

package undertest

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/redisha-sim/redisha-sim/proxy"
	"github.com/redisha-sim/redisha-sim/sim/rig"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
)

// ProxyTargets are the nodes and Sentinels as a proxy in front of c
// reaches them. A Sentinel-aware proxy must use the nodes' addresses as
// Sentinel reports them: a cluster may say where they differ
// (SentinelAddr).
func ProxyTargets(s *scenario.Scenario, c rig.Cluster) ([]NodeAddr, []string) {
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
func StartInProcessProxy(ctx context.Context, s *scenario.Scenario, c rig.Cluster, log *slog.Logger) (rig.ProxyUnderTest, error) {
	nodes, sentinels := ProxyTargets(s, c)
	layout, err := BuildProxyConfig(s, nodes, sentinels, InProcess)
	if err != nil {
		return nil, err
	}
	opts := proxy.Options{Logger: log}
	// A cluster that names its nodes by host names the harness's DNS
	// does not know (docker's container names) resolves them itself.
	if r, ok := c.(proxy.Resolver); ok {
		opts.Resolver = r
	}
	p, err := proxy.New(layout.Config, opts)
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
	desc += layout.DescribeGroups()
	return &inProcessProxy{p: p, layout: layout, desc: desc}, nil
}

type inProcessProxy struct {
	p      *proxy.Proxy
	layout *ProxyLayout
	desc   string
}

func (ip *inProcessProxy) Describe() string { return ip.desc }

// Frontends are every group's ports, in the topology's order.
func (ip *inProcessProxy) Frontends() []rig.Frontend {
	addr := func(frontend string) string {
		if frontend == "" {
			return ""
		}
		return ip.p.Frontend(frontend).Addr().String()
	}
	var out []rig.Frontend
	for _, g := range ip.layout.Groups {
		out = append(out, rig.Frontend{Group: g.Group, MasterAddr: addr(g.MasterFrontend), ReplicaAddr: addr(g.ReplicaFrontend)})
	}
	return out
}

func (ip *inProcessProxy) Instance() rig.Instance { return nil }

// Proxy is the running proxy, for callers that want its stats.
func (ip *inProcessProxy) Proxy() *proxy.Proxy { return ip.p }

func (ip *inProcessProxy) Watch(ctx context.Context, f func(rig.ProxyEvent)) error {
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
			port := ip.layout.Port(e.Backend)
			if port == "" {
				continue
			}
			f(rig.ProxyEvent{At: ip.p.Start().Add(e.T), Port: port, Node: ip.layout.ServerNode[e.Backend+"/"+e.Server],
				Up: e.Type == proxy.EventServerUp, State: e.State, Detail: e.Message})
		}
	}
}

func (ip *inProcessProxy) Close(ctx context.Context) error {
	return ip.p.Close()
}

// CheckCounts reads the proxy's own check counters.
func (ip *inProcessProxy) CheckCounts(context.Context) ([]rig.ServerChecks, error) {
	byServer := map[string]rig.CheckCounts{}
	for _, bp := range ip.layout.Ports() {
		b := ip.p.Backend(bp[0])
		if b == nil {
			continue
		}
		for _, st := range b.Servers() {
			byServer[bp[0]+"/"+st.Name] = rig.CheckCounts{Checks: st.ChecksDone, BytesSent: st.CheckBytesSent, BytesReceived: st.CheckBytesReceived}
		}
	}
	return ip.layout.ServerChecks(byServer), nil
}

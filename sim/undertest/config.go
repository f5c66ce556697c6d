// Package undertest builds the proxy under test: the configuration of a
// scenario's proxy (from its HAProxy file or its inline settings, pointed
// at the cluster's nodes), this project's proxy run in-process, and the
// check settings of a scenario (CheckSettings) that the engine, the model
// and tune read.
package undertest

import (
	"bytes"
	"cmp"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/redisha-sim/redisha-sim/proxy/config"
	"github.com/redisha-sim/redisha-sim/proxy/tcpcheck"
	"github.com/redisha-sim/redisha-sim/sim/rig"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

// NodeAddr is a node as the proxy must reach it.
type NodeAddr struct {
	Name string
	Addr string
}

// ProxyLayout is a proxy configuration for a scenario, with what the engine
// needs to know about it.
type ProxyLayout struct {
	Config                          *config.Config
	MasterFrontend, ReplicaFrontend string
	MasterBackend, ReplicaBackend   string
	// ServerNode maps "backend/server" to the node it points to.
	ServerNode map[string]string
}

// Ports are the backends of the master and replica ports, each with its
// port name (timeline.PortMaster, timeline.PortReplica).
func (l *ProxyLayout) Ports() [][2]string {
	out := [][2]string{{l.MasterBackend, timeline.PortMaster}}
	if rb := l.ReplicaBackend; rb != "" && rb != l.MasterBackend {
		out = append(out, [2]string{rb, timeline.PortReplica})
	}
	return out
}

// ServerChecks maps check counters read per "backend/server" to the nodes
// behind the master and replica ports; servers of other backends, or
// pointing at no node, are left out.
func (l *ProxyLayout) ServerChecks(byServer map[string]rig.CheckCounts) []rig.ServerChecks {
	var out []rig.ServerChecks
	for _, bp := range l.Ports() {
		prefix := bp[0] + "/"
		for key, c := range byServer {
			if !strings.HasPrefix(key, prefix) {
				continue
			}
			if node, ok := l.ServerNode[key]; ok {
				out = append(out, rig.ServerChecks{Node: node, Port: bp[1], CheckCounts: c})
			}
		}
	}
	slices.SortFunc(out, func(a, b rig.ServerChecks) int {
		return cmp.Or(cmp.Compare(a.Port, b.Port), cmp.Compare(a.Node, b.Node))
	})
	return out
}

// Placement says where a proxy listens.
type Placement struct {
	// Host is the address frontends bind ("" for all).
	Host string
	// FixedPorts keeps each frontend on a known port, as in a container:
	// the scenario's master and replica ports or 5000 and 5001, the file's
	// own port for the others. Without it, frontends bind the scenario's
	// ports, or any free port (0).
	FixedPorts bool
}

// InProcess is the placement of a proxy in the engine's process.
var InProcess = Placement{Host: "127.0.0.1"}

// Default ports of a proxy in a container, as in the seed.
const (
	DefaultMasterPort  = 5000
	DefaultReplicaPort = 5001
)

// BuildProxyConfig makes the configuration of a scenario's proxy: from its
// HAProxy file, with each backend's servers pointed at the nodes in order,
// or from its inline settings. Frontends bind as the placement says; check
// settings set in the scenario override the file's. With
// proxy.sentinel_aware, the master and replica backends follow the
// Sentinels at sentinels (host:port); the nodes' addresses must then be
// the ones Sentinel reports.
func BuildProxyConfig(s *scenario.Scenario, nodes []NodeAddr, sentinels []string, place Placement) (*ProxyLayout, error) {
	var cfg *config.Config
	if s.Proxy.Config != "" {
		path := s.Path(s.Proxy.Config)
		data, err := s.ReadFile(s.Proxy.Config)
		if err != nil {
			return nil, fmt.Errorf("proxy configuration: %w", err)
		}
		c, _, err := config.Parse(path, bytes.NewReader(data), config.ParseOptions{})
		if err != nil {
			return nil, fmt.Errorf("proxy configuration %s:\n%w", path, err)
		}
		cfg = c
	} else {
		c, err := inlineConfig(s)
		if err != nil {
			return nil, err
		}
		cfg = c
	}
	l := &ProxyLayout{Config: cfg, ServerNode: map[string]string{}}
	l.MasterBackend, l.ReplicaBackend = s.Proxy.MasterBackend, s.Proxy.ReplicaBackend
	for _, b := range cfg.Backends {
		if b.Mode != config.ModeTCP || len(b.Servers) == 0 {
			continue
		}
		switch expectedRole(b) {
		case "master":
			if l.MasterBackend == "" {
				l.MasterBackend = b.Name
			}
		case "slave":
			if l.ReplicaBackend == "" {
				l.ReplicaBackend = b.Name
			}
		}
	}
	if l.MasterBackend == "" || cfg.Backend(l.MasterBackend) == nil {
		return nil, fmt.Errorf("proxy configuration: no master backend: name it with proxy.master_backend, or give it a check that expects role:master")
	}
	for _, b := range cfg.Backends {
		if b.Mode != config.ModeTCP {
			continue
		}
		if len(b.Servers) > len(nodes) {
			return nil, fmt.Errorf("proxy configuration: backend %s has %d servers but the topology has %d nodes", b.Name, len(b.Servers), len(nodes))
		}
		for i, sv := range b.Servers {
			sv.Addr = nodes[i].Addr
			l.ServerNode[b.Name+"/"+sv.Name] = nodes[i].Name
			applyCheckOverrides(&s.Proxy, sv)
		}
		if s.Proxy.TimeoutCheck.Set() {
			b.Timeouts.Check = s.Proxy.TimeoutCheck.D
		}
		if s.Proxy.Config != "" && b.Name == l.ReplicaBackend && s.Proxy.Balance != "" {
			bal, _ := config.ParseBalance(s.Proxy.Balance)
			b.Balance = bal
		}
	}
	for _, f := range cfg.Frontends {
		port, own := 0, place.FixedPorts
		switch {
		case f.Mode != config.ModeTCP:
		case f.DefaultBackend == l.MasterBackend && l.MasterFrontend == "":
			l.MasterFrontend, port, own = f.Name, s.Proxy.MasterPort, false
			if port == 0 && place.FixedPorts {
				port = DefaultMasterPort
			}
		case f.DefaultBackend == l.ReplicaBackend && l.ReplicaFrontend == "":
			l.ReplicaFrontend, port, own = f.Name, s.Proxy.ReplicaPort, false
			if port == 0 && place.FixedPorts {
				port = DefaultReplicaPort
			}
		}
		for i := range f.Binds {
			p := port
			if own {
				if _, fp, err := net.SplitHostPort(f.Binds[i].Addr); err == nil {
					p, _ = strconv.Atoi(fp)
				}
			}
			f.Binds[i].Addr = net.JoinHostPort(place.Host, strconv.Itoa(p))
		}
	}
	if l.MasterFrontend == "" {
		return nil, fmt.Errorf("proxy configuration: no frontend routes to the master backend %s", l.MasterBackend)
	}
	if s.Proxy.SentinelAware {
		if len(sentinels) == 0 {
			return nil, fmt.Errorf("proxy.sentinel_aware: the cluster has no Sentinels to follow")
		}
		for name, role := range map[string]string{l.MasterBackend: "master", l.ReplicaBackend: "replica"} {
			if b := cfg.Backend(name); b != nil {
				b.Sentinel = &config.Sentinel{MasterName: s.Sentinel.MasterName, Addrs: sentinels, Role: role}
			}
		}
	}
	if err := cfg.Normalize(); err != nil {
		return nil, fmt.Errorf("proxy configuration: %w", err)
	}
	return l, nil
}

// expectedRole is the role a backend's check expects ("master", "slave").
func expectedRole(b *config.Backend) string {
	for _, r := range b.CheckRules {
		if r.Action == tcpcheck.ActExpect && !r.Negate {
			if role, ok := strings.CutPrefix(r.Pattern, "role:"); ok {
				return role
			}
		}
	}
	return ""
}

func applyCheckOverrides(p *scenario.Proxy, sv *config.Server) {
	if p.Inter.Set() {
		sv.Inter = p.Inter.D
		// The file's fastinter/downinter defaulted to its inter: follow the
		// new one unless the scenario sets them too.
		sv.FastInter, sv.DownInter = 0, 0
	}
	if p.FastInter.Set() {
		sv.FastInter = p.FastInter.D
	}
	if p.DownInter.Set() {
		sv.DownInter = p.DownInter.D
	}
	if p.Rise > 0 {
		sv.Rise = p.Rise
	}
	if p.Fall > 0 {
		sv.Fall = p.Fall
	}
	if p.ShutdownSessions != nil {
		sv.ShutdownSessions = *p.ShutdownSessions
	}
}

// checkRules builds the check sequence of an inline proxy for a role.
func checkRules(s *scenario.Scenario, role string) ([]tcpcheck.Rule, config.CheckKind, error) {
	p := &s.Proxy
	var lines []string
	switch p.Check {
	case "redis":
		return nil, config.CheckRedis, nil
	case "custom":
		for _, l := range p.CheckRules {
			lines = append(lines, strings.ReplaceAll(l, "{role}", role))
		}
	default:
		if pw := s.Topology.Password; pw != "" {
			lines = append(lines, `send "AUTH `+pw+`\r\n"`, "expect string +OK")
		}
		lines = append(lines, `send PING\r\n`, "expect string +PONG", `send info\ replication\r\n`, "expect string role:"+role)
		if p.Check == "seed" && role == "master" {
			lines = append(lines, "expect string repl_backlog_active:1")
		}
		lines = append(lines, `send QUIT\r\n`, "expect string +OK")
	}
	src := "backend b\n option tcp-check\n"
	for _, l := range lines {
		src += " tcp-check " + l + "\n"
	}
	cfg, _, err := config.Parse("proxy.check_rules", strings.NewReader(src), config.ParseOptions{})
	if err != nil {
		return nil, 0, fmt.Errorf("proxy.check_rules: %w", err)
	}
	return cfg.Backends[0].CheckRules, config.CheckTCP, nil
}

// inlineConfig builds the proxy of a scenario without a configuration file:
// a master port and a replica port, as in the seed.
func inlineConfig(s *scenario.Scenario) (*config.Config, error) {
	p := &s.Proxy
	to := config.Timeouts{Connect: p.TimeoutConnect.D, Server: p.TimeoutServer.D}
	cfg := &config.Config{}
	for _, role := range []string{"master", "slave"} {
		rules, kind, err := checkRules(s, role)
		if err != nil {
			return nil, err
		}
		name := map[string]string{"master": "master", "slave": "replica"}[role]
		be := &config.Backend{Name: "back_" + name, CheckKind: kind, CheckRules: rules, Timeouts: to}
		if role == "slave" && p.Balance != "" {
			be.Balance, _ = config.ParseBalance(p.Balance)
		}
		for _, n := range s.NodeNames() {
			be.Servers = append(be.Servers, &config.Server{Name: n, Check: true, Inter: config.DefaultInter})
		}
		cfg.Backends = append(cfg.Backends, be)
		cfg.Frontends = append(cfg.Frontends, &config.Frontend{
			Name: "front_" + name, Binds: []config.Bind{{Addr: ":0"}}, DefaultBackend: be.Name,
			Timeouts: config.Timeouts{Client: p.TimeoutClient.D},
		})
	}
	return cfg, nil
}

// Package undertest builds the proxy under test: the configuration of a
// scenario's proxy (from its HAProxy file or its inline settings, one
// master/replica backend pair per replication group, pointed at that
// group's nodes), this project's proxy run in-process, and the
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

// GroupLayout is where one replication group enters the proxy: the
// frontends and backends of its master and replica ports.
type GroupLayout struct {
	// Group names the topology's group.
	Group string
	// MasterFrontend and MasterBackend serve the group's master port.
	MasterFrontend, MasterBackend string
	// ReplicaFrontend and ReplicaBackend serve its replica port; "" when
	// the configuration has none for the group.
	ReplicaFrontend, ReplicaBackend string
}

// ProxyLayout is a proxy configuration for a scenario, with what the engine
// needs to know about it.
type ProxyLayout struct {
	Config *config.Config
	// Groups are the topology's groups, in its order, each with the
	// frontends and backends that serve it.
	Groups []GroupLayout
	// ServerNode maps "backend/server" to the node it points to. Node
	// names are unique across groups.
	ServerNode map[string]string
}

// Port is the port a backend serves (timeline.PortMaster,
// timeline.PortReplica), "" for a backend that serves no group.
func (l *ProxyLayout) Port(backend string) string {
	for _, g := range l.Groups {
		switch backend {
		case g.MasterBackend:
			return timeline.PortMaster
		case g.ReplicaBackend:
			return timeline.PortReplica
		}
	}
	return ""
}

// isReplicaBackend reports whether a backend is a group's replica backend.
func (l *ProxyLayout) isReplicaBackend(backend string) bool {
	return slices.ContainsFunc(l.Groups, func(g GroupLayout) bool { return g.ReplicaBackend == backend })
}

// Ports are the backends of every group's master and replica ports, each
// with its port name (timeline.PortMaster, timeline.PortReplica), group
// after group.
func (l *ProxyLayout) Ports() [][2]string {
	var out [][2]string
	for _, g := range l.Groups {
		out = append(out, [2]string{g.MasterBackend, timeline.PortMaster})
		if rb := g.ReplicaBackend; rb != "" && rb != g.MasterBackend {
			out = append(out, [2]string{rb, timeline.PortReplica})
		}
	}
	return out
}

// ServerChecks maps check counters read per "backend/server" to the nodes
// behind every group's master and replica ports; servers of other
// backends, or pointing at no node, are left out.
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

// DescribeGroups completes a proxy's description with its groups' master
// frontends (", 3 groups: front_redis_master1, ..."); "" for one group,
// whose description stays as it was.
func (l *ProxyLayout) DescribeGroups() string {
	if len(l.Groups) < 2 {
		return ""
	}
	var fronts []string
	for _, g := range l.Groups {
		fronts = append(fronts, g.MasterFrontend)
	}
	return fmt.Sprintf(", %d groups (master frontends %s)", len(l.Groups), strings.Join(fronts, ", "))
}

// Placement says where a proxy listens.
type Placement struct {
	// Host is the address frontends bind ("" for all).
	Host string
	// FixedPorts keeps each frontend on a known port, as in a container:
	// the first group's master and replica frontends on the scenario's
	// master and replica ports or 5000 and 5001, the other frontends on
	// the file's own ports (a built configuration puts group i on
	// 5000+2(i-1) and 5001+2(i-1)). Without it, the first group's
	// frontends bind the scenario's ports, every other frontend any free
	// port (0).
	FixedPorts bool
}

// InProcess is the placement of a proxy in the engine's process.
var InProcess = Placement{Host: "127.0.0.1"}

// Default ports of a proxy in a container, as in the seed.
const (
	DefaultMasterPort  = 5000
	DefaultReplicaPort = 5001
)

// PairError is a proxy configuration whose master/replica backend pairs
// do not fit the scenario's groups, or that cannot serve them.
type PairError struct {
	// Field is the scenario field that named the backend
	// ("proxy.master_backend", "topology.groups[1].replica_backend"), ""
	// when the backend was taken in the file's order.
	Field string
	// Pos is the backend's (or frontend's) place in the configuration:
	// only the file when the backend is not in it, zero for a configuration
	// built from the scenario.
	Pos config.Pos
	// Section is "backend 'name'" or "frontend 'name'"; "" for a group
	// that found no backend.
	Section string
	Msg     string
}

func (e PairError) Error() string {
	where := e.Pos.File
	switch {
	case e.Pos.Line > 0:
		where = e.Pos.String()
	case where == "":
		where = "the proxy built from the scenario"
	}
	if e.Section != "" {
		where += ": " + e.Section
	}
	return where + ": " + e.Msg
}

// PairErrors is the error BuildProxyConfig returns when the configuration
// does not fit the groups: every mismatch found.
type PairErrors []PairError

func (e PairErrors) Error() string {
	lines := make([]string, len(e))
	for i, pe := range e {
		lines[i] = pe.Error()
	}
	return strings.Join(lines, "\n")
}

// BuildProxyConfig makes the configuration of a scenario's proxy: from its
// HAProxy file or from its inline settings. Each group of the topology
// gets a master backend and, optionally, a replica backend of the
// configuration: those its GroupSpec names (the first group: also
// proxy.master_backend and proxy.replica_backend), else the backends whose
// check expects role:master (role:slave), the i-th in file order going to
// the i-th group left. Their servers point at the group's nodes in order;
// other backends' servers at all nodes in order. A configuration whose
// pairs do not fit the groups is a PairErrors. Frontends bind as the
// placement says; check settings set in the scenario override the file's.
// With proxy.sentinel_aware, every group's backends follow the Sentinels
// at sentinels (host:port) under the group's master name; the nodes'
// addresses must then be the ones Sentinel reports.
func BuildProxyConfig(s *scenario.Scenario, nodes []NodeAddr, sentinels []string, place Placement) (*ProxyLayout, error) {
	groups := rig.TopologyOf(s).Groups
	var (
		cfg   *config.Config
		path  string
		built []GroupLayout
	)
	if s.Proxy.Config != "" {
		path = s.Path(s.Proxy.Config)
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
		c, pairs, err := inlineConfig(s, groups)
		if err != nil {
			return nil, err
		}
		cfg, built = c, pairs
	}
	byName := map[string]NodeAddr{}
	for _, n := range nodes {
		byName[n.Name] = n
	}
	members := make([][]NodeAddr, len(groups))
	for i, g := range groups {
		for _, name := range g.Nodes {
			n, ok := byName[name]
			if !ok {
				return nil, fmt.Errorf("proxy configuration: no address for node %s of %s", name, g.Name)
			}
			members[i] = append(members[i], n)
		}
	}
	l := &ProxyLayout{Config: cfg, ServerNode: map[string]string{}}
	if len(groups) > 1 && built != nil {
		// A built configuration knows its pairs, whatever its check.
		l.Groups = built
	} else {
		pairs, err := pairBackends(s, cfg, path, groups)
		if err != nil {
			return nil, err
		}
		l.Groups = pairs
	}
	groupOf := map[string]int{}
	for i, g := range l.Groups {
		groupOf[g.MasterBackend] = i
		if g.ReplicaBackend != "" {
			groupOf[g.ReplicaBackend] = i
		}
	}
	for _, b := range cfg.Backends {
		if b.Mode != config.ModeTCP {
			continue
		}
		targets, of := nodes, "the topology"
		if i, ok := groupOf[b.Name]; ok {
			targets = members[i]
			if len(groups) > 1 {
				of = groups[i].Name
			}
		}
		if len(b.Servers) > len(targets) {
			return nil, fmt.Errorf("proxy configuration: backend %s has %d servers but %s has %d nodes", b.Name, len(b.Servers), of, len(targets))
		}
		for i, sv := range b.Servers {
			sv.Addr = targets[i].Addr
			l.ServerNode[b.Name+"/"+sv.Name] = targets[i].Name
			applyCheckOverrides(&s.Proxy, sv)
		}
		if s.Proxy.TimeoutCheck.Set() {
			b.Timeouts.Check = s.Proxy.TimeoutCheck.D
		}
		// timeout connect bounds the data path's connects and, with
		// timeout check set, the checks' (TIMING.md §1): one given in the
		// scenario or by --set overrides the file's, as HAProxy has one
		// setting for both.
		if s.Proxy.Config != "" && s.Proxy.TimeoutConnect.Given() {
			b.Timeouts.Connect = s.Proxy.TimeoutConnect.D
		}
		if s.Proxy.Config != "" && l.isReplicaBackend(b.Name) && s.Proxy.Balance != "" {
			bal, _ := config.ParseBalance(s.Proxy.Balance)
			b.Balance = bal
		}
	}
	if err := l.bindFrontends(s, place); err != nil {
		return nil, err
	}
	if s.Proxy.SentinelAware {
		if len(sentinels) == 0 {
			return nil, fmt.Errorf("proxy.sentinel_aware: the cluster has no Sentinels to follow")
		}
		for i, g := range l.Groups {
			for name, role := range map[string]string{g.MasterBackend: "master", g.ReplicaBackend: "replica"} {
				if b := cfg.Backend(name); b != nil {
					b.Sentinel = &config.Sentinel{MasterName: groups[i].MasterName, Addrs: sentinels, Role: role, Password: s.Sentinel.Password}
				}
			}
		}
	}
	if err := cfg.Normalize(); err != nil {
		return nil, fmt.Errorf("proxy configuration: %w", err)
	}
	return l, nil
}

// bindFrontends finds every group's master and replica frontends (the
// first frontend whose default_backend is the group's backend) and binds
// every frontend as the placement says. A group's backend without a
// frontend, and with fixed ports two frontends on one port, are
// PairErrors.
func (l *ProxyLayout) bindFrontends(s *scenario.Scenario, place Placement) error {
	cfg := l.Config
	for _, f := range cfg.Frontends {
		port, own := 0, place.FixedPorts
		for i := range l.Groups {
			g := &l.Groups[i]
			if f.Mode != config.ModeTCP {
				break
			}
			if f.DefaultBackend == g.MasterBackend && g.MasterFrontend == "" {
				g.MasterFrontend = f.Name
				if i == 0 {
					port, own = s.Proxy.MasterPort, false
					if port == 0 && place.FixedPorts {
						port = DefaultMasterPort
					}
				}
				break
			}
			if f.DefaultBackend == g.ReplicaBackend && g.ReplicaFrontend == "" {
				g.ReplicaFrontend = f.Name
				if i == 0 {
					port, own = s.Proxy.ReplicaPort, false
					if port == 0 && place.FixedPorts {
						port = DefaultReplicaPort
					}
				}
				break
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
	var errs PairErrors
	noFrontend := func(g GroupLayout, backend, role string) {
		pos := config.Pos{}
		if b := cfg.Backend(backend); b != nil {
			pos = b.Pos
		}
		errs = append(errs, PairError{Pos: pos, Section: "backend '" + backend + "'",
			Msg: fmt.Sprintf("no frontend routes to this %s backend of %s: add a frontend with default_backend %s", role, g.Group, backend)})
	}
	for _, g := range l.Groups {
		if g.MasterFrontend == "" {
			noFrontend(g, g.MasterBackend, "master")
		}
		if g.ReplicaBackend != "" && g.ReplicaBackend != g.MasterBackend && g.ReplicaFrontend == "" {
			noFrontend(g, g.ReplicaBackend, "replica")
		}
	}
	bound := map[string]string{}
	for _, f := range cfg.Frontends {
		for _, b := range f.Binds {
			_, p, err := net.SplitHostPort(b.Addr)
			if err != nil || p == "0" {
				continue
			}
			if other, twice := bound[p]; twice && other != f.Name {
				errs = append(errs, PairError{Pos: f.Pos, Section: "frontend '" + f.Name + "'",
					Msg: fmt.Sprintf("binds port %s, as frontend %s does: each group needs its own ports", p, other)})
			}
			bound[p] = f.Name
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// pairBackends gives every group its master backend and its optional
// replica backend: those it names, else the next of the configuration's
// backends whose check expects the role, in file order.
func pairBackends(s *scenario.Scenario, cfg *config.Config, path string, groups []rig.Group) ([]GroupLayout, error) {
	out := make([]GroupLayout, len(groups))
	for i, g := range groups {
		out[i].Group = g.Name
	}
	var errs PairErrors
	fail := func(field string, b *config.Backend, section, msg string) {
		pos := config.Pos{File: path}
		if b != nil {
			pos = b.Pos
		}
		errs = append(errs, PairError{Field: field, Pos: pos, Section: section, Msg: msg})
	}
	var names []string
	for _, b := range cfg.Backends {
		names = append(names, b.Name)
	}
	claimed := map[string]string{}
	for _, r := range []struct {
		check, role, key string
		of               func(*GroupLayout) *string
		named            func(rig.Group) string
		first            string
	}{
		{"master", "master", "master_backend", func(g *GroupLayout) *string { return &g.MasterBackend },
			func(g rig.Group) string { return g.MasterBackend }, s.Proxy.MasterBackend},
		{"slave", "replica", "replica_backend", func(g *GroupLayout) *string { return &g.ReplicaBackend },
			func(g rig.Group) string { return g.ReplicaBackend }, s.Proxy.ReplicaBackend},
	} {
		var unnamed []int
		namingErrs := len(errs)
		for i, g := range groups {
			name, field := r.named(g), fmt.Sprintf("topology.groups[%d].%s", i, r.key)
			if name == "" && i == 0 && r.first != "" {
				name, field = r.first, "proxy."+r.key
			}
			if name == "" {
				unnamed = append(unnamed, i)
				continue
			}
			b := cfg.Backend(name)
			section := "backend '" + name + "'"
			if b == nil {
				fail(field, nil, section, fmt.Sprintf("no such backend for %s's %s; the configuration's backends: %s", g.Name, r.key, strings.Join(names, ", ")))
				continue
			}
			if other, ok := claimed[name]; ok && other != g.Name {
				fail(field, b, section, fmt.Sprintf("used by %s and by %s: each group needs its own backends", other, g.Name))
				continue
			}
			claimed[name] = g.Name
			*r.of(&out[i]) = name
		}
		// A group whose name failed leaves the order undecided: say
		// nothing of the others.
		if len(unnamed) == 0 || len(errs) > namingErrs {
			continue
		}
		var free, all []*config.Backend
		for _, b := range cfg.Backends {
			if b.Mode != config.ModeTCP || len(b.Servers) == 0 || expectedRole(b) != r.check {
				continue
			}
			all = append(all, b)
			if _, ok := claimed[b.Name]; !ok {
				free = append(free, b)
			}
		}
		found := fmt.Sprintf("%d backend(s) whose check expects role:%s (%s) for %d group(s)", len(all), r.check, backendNames(all), len(groups))
		var missing []string
		for k, i := range unnamed {
			if k >= len(free) {
				missing = append(missing, groups[i].Name)
				continue
			}
			claimed[free[k].Name] = groups[i].Name
			*r.of(&out[i]) = free[k].Name
		}
		// A replica backend is optional; a master backend is not.
		if len(missing) > 0 && r.role == "master" {
			msg := fmt.Sprintf("no master backend for %s: the configuration has %s", strings.Join(missing, ", "), found)
			if len(groups) == 1 {
				msg = "no master backend: name it with proxy.master_backend, or give it a check that expects role:master"
			}
			fail("", nil, "", msg)
		}
		for _, b := range free[min(len(unnamed), len(free)):] {
			fail("", b, "backend '"+b.Name+"'", fmt.Sprintf("no group for this %s backend: the configuration has %s", r.role, found))
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

func backendNames(bs []*config.Backend) string {
	if len(bs) == 0 {
		return "none"
	}
	var names []string
	for _, b := range bs {
		names = append(names, b.Name)
	}
	return strings.Join(names, ", ")
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
// a master port and a replica port per group, as in the seed, and the
// pairs it built. One group keeps the plain names (back_master,
// front_master, back_replica, front_replica); with several, each name ends
// with the group's ("back_master_group2"), and group i's frontends bind
// 5000+2(i-1) and 5001+2(i-1) where ports are fixed.
func inlineConfig(s *scenario.Scenario, groups []rig.Group) (*config.Config, []GroupLayout, error) {
	p := &s.Proxy
	to := config.Timeouts{Connect: p.TimeoutConnect.D, Server: p.TimeoutServer.D}
	cfg := &config.Config{}
	var pairs []GroupLayout
	for gi, g := range groups {
		suffix, bind := "", ":0"
		if len(groups) > 1 {
			suffix = "_" + g.Name
		}
		pair := GroupLayout{Group: g.Name}
		for ri, role := range []string{"master", "slave"} {
			rules, kind, err := checkRules(s, role)
			if err != nil {
				return nil, nil, err
			}
			name := map[string]string{"master": "master", "slave": "replica"}[role] + suffix
			be := &config.Backend{Name: "back_" + name, CheckKind: kind, CheckRules: rules, Timeouts: to}
			if role == "slave" && p.Balance != "" {
				be.Balance, _ = config.ParseBalance(p.Balance)
			}
			for _, n := range g.Nodes {
				be.Servers = append(be.Servers, &config.Server{Name: n, Check: true, Inter: config.DefaultInter})
			}
			if gi > 0 {
				bind = ":" + strconv.Itoa(DefaultMasterPort+2*gi+ri)
			}
			cfg.Backends = append(cfg.Backends, be)
			cfg.Frontends = append(cfg.Frontends, &config.Frontend{
				Name: "front_" + name, Binds: []config.Bind{{Addr: bind}}, DefaultBackend: be.Name,
				Timeouts: config.Timeouts{Client: p.TimeoutClient.D},
			})
			if role == "master" {
				pair.MasterBackend = be.Name
			} else {
				pair.ReplicaBackend = be.Name
			}
		}
		pairs = append(pairs, pair)
	}
	return cfg, pairs, nil
}

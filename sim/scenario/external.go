package scenario

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/fault"
)

// External names a running deployment that backend external measures
// instead of starting one: its Sentinels, its nodes (as Sentinel reports
// them) with a command per fault action, and the user's proxy, if any.
// The Redis password is topology.password.
type External struct {
	// Sentinels are the Sentinels, at least one: each its host:port, or
	// {addr, faults} to give it fault commands (as a node's).
	Sentinels []ExternalSentinel `yaml:"sentinels"`
	// MasterName is the master name the Sentinels monitor (default
	// sentinel.master_name's, mymaster). With several master names,
	// topology.groups names them instead ([{name, master_name}, ...]) and
	// each node its group (ExternalNode.Group).
	MasterName string `yaml:"master_name"`
	// SentinelPassword is the Sentinels' requirepass (default none); it
	// becomes sentinel.password.
	SentinelPassword string `yaml:"sentinel_password"`
	// Nodes are the Redis nodes, at least two: a name for reports and
	// targets, and the address as Sentinel reports it.
	Nodes []ExternalNode `yaml:"nodes"`
	// Proxy is the user's proxy under test; without it, the in-process
	// redisha proxy is pointed at the nodes. With several groups, each
	// group names its ports (topology.groups[].proxy) and its backends
	// (topology.groups[].master_backend, replica_backend), and Proxy
	// keeps only StatsCSV, for them all.
	Proxy ExternalProxy `yaml:"proxy"`
	// CommandTimeout bounds each fault command (default 30s).
	CommandTimeout Duration `yaml:"command_timeout"`
	// AllowDegraded lets the run start with replicas down (not
	// answering): the scenario then measures a degraded deployment. The
	// master must answer and the Sentinels must agree on it either way.
	// Default false: a node down refuses the run.
	AllowDegraded bool `yaml:"allow_degraded"`
}

// ExternalNode is one Redis node of an external deployment.
type ExternalNode struct {
	Name string `yaml:"name"`
	// Addr is host:port as Sentinel reports the node.
	Addr string `yaml:"addr"`
	// Group names the topology.groups entry the node belongs to, with
	// several master names (topology.groups: [{name, master_name}, ...]);
	// leave it out with one.
	Group string `yaml:"group"`
	// Faults map a fault action (kill, stop, start, restart, pause,
	// unpause, disconnect, reconnect) to a command template run on the
	// harness's machine by "sh -c" (on Windows without sh on PATH,
	// "cmd /C"): {name}, {addr}, {host}, {port} and {pid} (the node's
	// process_id from INFO, read when the fault fires) are substituted.
	// Without one, kill, pause, unpause and failover act natively
	// (NativeActions); start and restart need one.
	Faults map[string]string `yaml:"faults"`
}

// ExternalSentinel is one Sentinel of an external deployment, written as
// its address ("sentinel-0.staging:26379") or as {addr, faults}.
type ExternalSentinel struct {
	// Addr is its host:port.
	Addr string `yaml:"addr"`
	// Faults map a fault action (kill, stop, start, restart, pause,
	// unpause, disconnect, reconnect) to a command template, as a node's
	// do. A Sentinel has no
	// native pause: CLIENT PAUSE holds its replies, but it keeps pinging,
	// voting and failing over on its own connections.
	Faults map[string]string `yaml:"faults"`
	// plain is true when it was written as an address alone.
	plain bool
}

// UnmarshalYAML reads an address or a mapping.
func (e *ExternalSentinel) UnmarshalYAML(unmarshal func(any) error) error {
	var v any
	if err := unmarshal(&v); err != nil {
		return err
	}
	if a, ok := v.(string); ok {
		*e = ExternalSentinel{Addr: a, plain: true}
		return nil
	}
	type object ExternalSentinel
	var o object
	if err := unmarshal(&o); err != nil {
		return err
	}
	*e = ExternalSentinel(o)
	return nil
}

// SentinelAddrs are the Sentinels' addresses, in order.
func (e External) SentinelAddrs() []string {
	var out []string
	for _, s := range e.Sentinels {
		out = append(out, s.Addr)
	}
	return out
}

// ExternalProxy is the user's proxy: where the workload connects.
type ExternalProxy struct {
	// Master and Replica are host:port of its master and replica ports;
	// Replica may be empty.
	Master  string `yaml:"master"`
	Replica string `yaml:"replica"`
	// StatsCSV is the URL of the proxy's statistics as HAProxy's CSV
	// (e.g. http://admin:secret@haproxy.staging:9000/haproxy_stats;csv,
	// basic auth in the URL); optional. When given, the run follows the
	// proxy's view of each server through it, as on the other backends.
	StatsCSV string `yaml:"stats_csv"`
	// MasterBackend and ReplicaBackend are the CSV's backends (pxname)
	// behind the master and replica ports. Default: the one backend whose
	// servers are nodes, or the backend whose name holds "master" and the
	// one whose name holds "replica" or "slave".
	MasterBackend  string `yaml:"master_backend"`
	ReplicaBackend string `yaml:"replica_backend"`
}

// statsURLProblem says what is wrong with a stats CSV URL, or "". It
// never repeats the URL's password.
func statsURLProblem(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "not a URL: want e.g. http://admin:secret@haproxy.staging:9000/haproxy_stats;csv"
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("%s: want an http:// or https:// URL, e.g. http://haproxy.staging:9000/haproxy_stats;csv", u.Redacted())
	case u.Hostname() == "":
		return fmt.Sprintf("%s: no host, e.g. http://haproxy.staging:9000/haproxy_stats;csv", u.Redacted())
	case u.Fragment != "":
		return fmt.Sprintf("%s: a URL without #fragment", u.Redacted())
	}
	return ""
}

// hostPattern is a host name, an IPv4 address or an IPv6 address.
var hostPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]+$`)

// DefaultCommandTimeout bounds a fault command of an external deployment.
const DefaultCommandTimeout = 30 * time.Second

// NativeActions are the actions an external node performs without a
// command: pause (CLIENT PAUSE), unpause (waiting for it to end),
// failover (SENTINEL FAILOVER) and kill (DEBUG SEGFAULT, when the node
// allows DEBUG: checked when the run attaches, not here). Nothing native
// starts a process: start needs a command.
var NativeActions = []fault.Action{fault.Pause, fault.Unpause, fault.Failover, fault.Kill}

// CommandActions are the actions an external node's faults map may give
// a command for.
var CommandActions = []fault.Action{fault.Kill, fault.Stop, fault.Start, fault.Restart, fault.Pause, fault.Unpause, fault.Disconnect, fault.Reconnect}

// IsExternal reports whether the scenario attaches to a running
// deployment.
func (s *Scenario) IsExternal() bool { return s.Backend == fault.External }

// ExternalNode finds a node of the external deployment by name.
func (s *Scenario) ExternalNode(name string) (ExternalNode, bool) {
	for _, n := range s.External.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return ExternalNode{}, false
}

// normalizeExternal checks the external section, before the topology's
// own fields: the node names become topology.names, the Sentinels'
// count sentinel.count and the master name sentinel.master_name, so the
// rest of the scenario (targets, expectations) reads as for the other
// backends.
func (s *Scenario) normalizeExternal(dur func(string, *Duration, time.Duration, bool)) []fieldError {
	var errs []fieldError
	bad := func(path, format string, args ...any) {
		errs = append(errs, fieldError{path: path, msg: fmt.Sprintf(format, args...)})
	}
	e := &s.External
	given := len(e.Sentinels) > 0 || len(e.Nodes) > 0 || e.MasterName != "" || e.SentinelPassword != "" || e.Proxy != (ExternalProxy{}) || e.CommandTimeout.Set() || e.AllowDegraded
	if !s.IsExternal() {
		if given {
			bad("external", "only backend external reads an external section: set backend: external, or remove it")
		}
		for i, g := range s.Topology.Groups.List {
			if g.Proxy != (GroupProxy{}) {
				bad(fmt.Sprintf("topology.groups[%d].proxy", i), "only backend external reads a group's proxy ports (the user's proxy, started apart from the run): remove it, or give proxy.config for the proxy the run starts")
			}
		}
		return errs
	}
	addr := func(path, a string) {
		host, port, err := net.SplitHostPort(a)
		if err != nil || host == "" || !hostPattern.MatchString(host) {
			// The host goes into fault commands ({addr}, {host}): no
			// character a shell would read.
			bad(path, "invalid address %q: want host:port, e.g. sentinel-0.staging:26379", a)
			return
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			bad(path, "invalid port in %q: want 1 to 65535", a)
		}
	}
	if len(e.Sentinels) == 0 {
		bad("external.sentinels", "backend external needs the Sentinels' addresses, e.g. [sentinel-0.staging:26379]")
	}
	if len(e.Sentinels) > MaxSentinels {
		bad("external.sentinels", "%d Sentinels: at most %d", len(e.Sentinels), MaxSentinels)
	}
	for i, se := range e.Sentinels {
		path := fmt.Sprintf("external.sentinels[%d]", i)
		if se.plain {
			addr(path, se.Addr)
			continue
		}
		if se.Addr == "" {
			bad(path+".addr", "the Sentinel's address is needed, e.g. {addr: sentinel-0.staging:26379, faults: {kill: ...}}")
		} else {
			addr(path+".addr", se.Addr)
		}
		errs = append(errs, checkCommands(path, se.Faults)...)
	}
	switch {
	case s.Sentinel.Password != "" && s.Sentinel.Password != e.SentinelPassword:
		bad("sentinel.password", "backend external takes the Sentinels' password as external.sentinel_password")
	case passwordProblem(e.SentinelPassword) != "":
		bad("external.sentinel_password", "%s", passwordProblem(e.SentinelPassword))
	default:
		s.Sentinel.Password = e.SentinelPassword
	}
	grouped := len(s.Topology.Groups.List) > 1
	switch {
	case grouped && e.MasterName != "":
		bad("external.master_name", "%d groups: give each its master_name in topology.groups instead", len(s.Topology.Groups.List))
	case grouped:
		// Each group's master name is its own (topology.groups).
	case e.MasterName == "" && s.Sentinel.MasterName != "":
		e.MasterName = s.Sentinel.MasterName
	case e.MasterName == "":
		e.MasterName = "mymaster"
	case !namePattern.MatchString(e.MasterName):
		bad("external.master_name", "invalid name %q: letters, digits, '-' and '_'", e.MasterName)
	case s.Sentinel.MasterName != "" && s.Sentinel.MasterName != e.MasterName:
		bad("external.master_name", "%q, but sentinel.master_name is %q: give one", e.MasterName, s.Sentinel.MasterName)
	}
	if !grouped {
		s.Sentinel.MasterName = e.MasterName
	}
	if s.Topology.Groups.Count > 1 || s.Topology.Groups.raw != "" {
		bad("topology.groups", "backend external needs the groups named: topology.groups: [{name: cache, master_name: cache}, ...], and each of external.nodes with its group")
		// Checked as one group from here on: one error, not a cascade.
		s.Topology.Groups = Groups{}
	}
	if len(s.Topology.Names) > 0 || s.Topology.Nodes != 0 {
		bad("topology.names", "backend external names its nodes in external.nodes: remove topology.nodes and topology.names")
	}
	if len(e.Nodes) < 2 {
		bad("external.nodes", "backend external needs the nodes as Sentinel reports them, at least two: [{name: redis1, addr: 10.0.0.1:6379}, ...]")
	}
	if most := MaxNodes * max(1, len(s.Topology.Groups.List)); len(e.Nodes) > most {
		bad("external.nodes", "%d nodes: at most %d", len(e.Nodes), most)
	}
	names, addrs := map[string]bool{}, map[string]bool{}
	var list []string
	for i, n := range e.Nodes {
		path := fmt.Sprintf("external.nodes[%d]", i)
		switch {
		case !namePattern.MatchString(n.Name):
			bad(path+".name", "invalid name %q: start with a letter, then letters, digits, '-' or '_'", n.Name)
		case names[n.Name]:
			bad(path+".name", "name %q used twice", n.Name)
		}
		names[n.Name] = true
		list = append(list, n.Name)
		addr(path+".addr", n.Addr)
		if addrs[n.Addr] {
			bad(path+".addr", "address %q used twice", n.Addr)
		}
		addrs[n.Addr] = true
		errs = append(errs, checkCommands(path, n.Faults)...)
	}
	switch {
	case grouped:
		errs = append(errs, s.groupExternalNodes()...)
	case len(e.Nodes) >= 2 && len(e.Nodes) <= MaxNodes:
		for i, n := range e.Nodes {
			if n.Group != "" {
				bad(fmt.Sprintf("external.nodes[%d].group", i), "group %q, but the scenario has one group: declare several in topology.groups, or leave group out", n.Group)
			}
		}
		s.Topology.Names = list
		s.Topology.Nodes = len(list)
	}
	if n := len(e.Sentinels); n > 0 && n <= MaxSentinels {
		if s.Sentinel.Count != 0 && s.Sentinel.Count != n {
			bad("sentinel.count", "%d, but external.sentinels names %d: remove sentinel.count", s.Sentinel.Count, n)
		}
		s.Sentinel.Count = n
	}
	errs = append(errs, s.checkUserProxy(addr)...)
	dur("external.command_timeout", &e.CommandTimeout, DefaultCommandTimeout, true)
	return errs
}

// checkUserProxy checks the user's proxy: its ports (external.proxy with
// one group, topology.groups[].proxy with several: every group's or
// none), its stats CSV and the CSV's backends named for each group. addr
// checks one host:port and reports it at a path.
func (s *Scenario) checkUserProxy(addr func(path, a string)) []fieldError {
	var errs []fieldError
	bad := func(path, format string, args ...any) {
		errs = append(errs, fieldError{path: path, msg: fmt.Sprintf(format, args...)})
	}
	p := s.External.Proxy
	specs := s.Topology.Groups.List
	grouped := len(specs) > 1
	if !grouped {
		for i, g := range specs {
			if g.Proxy != (GroupProxy{}) {
				bad(fmt.Sprintf("topology.groups[%d].proxy", i), "one group: give the user's proxy's ports as external.proxy: {master: ..., replica: ...}")
			}
		}
	}
	if grouped {
		if p.Master != "" || p.Replica != "" {
			key := "master"
			if p.Master == "" {
				key = "replica"
			}
			bad("external.proxy."+key, "%d groups: give each group its proxy's ports, topology.groups: [{name: ..., master_name: ..., proxy: {master: haproxy.staging:5000, replica: haproxy.staging:5001}}, ...]; external.proxy keeps stats_csv for them all", len(specs))
		}
		for _, kv := range [][2]string{{"master_backend", p.MasterBackend}, {"replica_backend", p.ReplicaBackend}} {
			if kv[1] != "" {
				bad("external.proxy."+kv[0], "%d groups: name each group's backend as topology.groups[].%s", len(specs), kv[0])
			}
		}
	}
	ups := s.UserProxy()
	if ups == nil {
		if p.StatsCSV != "" {
			if grouped {
				bad("external.proxy.stats_csv", "the stats of the user's proxy, but no group names the proxy's ports: give each its topology.groups[].proxy: {master: ..., replica: ...}, or remove stats_csv")
			} else {
				bad("external.proxy.master", "the proxy's master port is needed, e.g. haproxy.staging:5000")
			}
		}
		return errs
	}
	if p.StatsCSV != "" {
		if msg := statsURLProblem(p.StatsCSV); msg != "" {
			bad("external.proxy.stats_csv", "%s", msg)
		}
	}
	// Who uses each port and each backend: the groups must not share one.
	ports, backends := map[string]string{}, map[string]string{}
	for _, u := range ups {
		ofGroup := "the "
		if grouped {
			ofGroup = "group " + u.Group + "'s "
		}
		if u.Master == "" {
			if grouped {
				bad(u.Field+".proxy.master", "group %s has no master port of the user's proxy, the other groups have theirs: give every group its ports, e.g. proxy: {master: haproxy.staging:5002, replica: haproxy.staging:5003}", u.Group)
			} else {
				bad(u.Field+".master", "the proxy's master port is needed, e.g. haproxy.staging:5000")
			}
		}
		portPath := u.Field + "."
		if grouped {
			portPath += "proxy."
		}
		for _, kv := range [][2]string{{"master", u.Master}, {"replica", u.Replica}} {
			if kv[1] == "" {
				continue
			}
			addr(portPath+kv[0], kv[1])
			if other, dup := ports[kv[1]]; dup {
				bad(portPath+kv[0], "%q is %s port too: each group has its own ports", kv[1], other)
			}
			ports[kv[1]] = ofGroup + kv[0]
		}
		for _, kv := range [][2]string{{"master_backend", u.MasterBackend}, {"replica_backend", u.ReplicaBackend}} {
			key, v := kv[0], kv[1]
			switch {
			case v == "":
				continue
			case p.StatsCSV == "":
				bad(u.Field+"."+key, "names a backend of the stats CSV: give external.proxy.stats_csv, or remove it")
			case !hostPattern.MatchString(v):
				bad(u.Field+"."+key, "invalid backend name %q: letters, digits, '.', '_', ':' and '-'", v)
			case backends[v] != "":
				bad(u.Field+"."+key, "%q is %s too: each port has its own backend", v, backends[v])
			}
			backends[v] = ofGroup + key
		}
	}
	return errs
}

// UserProxyGroup is the user's proxy as it serves one group: its ports
// and the stats CSV's backends named for them.
type UserProxyGroup struct {
	// Group is the group's name, as ResolvedGroups gives it.
	Group string
	// Master and Replica are host:port of its master and replica ports;
	// Replica may be "".
	Master, Replica string
	// MasterBackend and ReplicaBackend are the stats CSV's backends
	// behind the ports, "" when the scenario leaves them to be found.
	MasterBackend, ReplicaBackend string
	// Field is where the scenario gives them, for messages:
	// "external.proxy" with one group, "topology.groups[1]" with several
	// (the ports under .proxy, the backends beside it).
	Field string
}

// UserProxy is the user's proxy per group, in the topology's order; nil
// when backend external has none (the in-process proxy serves every
// group) or the backend is another.
func (s *Scenario) UserProxy() []UserProxyGroup {
	if !s.IsExternal() {
		return nil
	}
	groups := s.ResolvedGroups()
	specs := s.Topology.Groups.List
	if len(specs) <= 1 {
		p := s.External.Proxy
		if p.Master == "" && p.Replica == "" && p.MasterBackend == "" && p.ReplicaBackend == "" {
			return nil
		}
		return []UserProxyGroup{{Group: groups[0].Name, Master: p.Master, Replica: p.Replica,
			MasterBackend: p.MasterBackend, ReplicaBackend: p.ReplicaBackend, Field: "external.proxy"}}
	}
	given := false
	for _, g := range specs {
		given = given || g.Proxy != (GroupProxy{})
	}
	if !given {
		return nil
	}
	var out []UserProxyGroup
	for i, g := range groups {
		if i >= len(specs) {
			break
		}
		sp := specs[i]
		out = append(out, UserProxyGroup{Group: g.Name, Master: sp.Proxy.Master, Replica: sp.Proxy.Replica,
			MasterBackend: sp.MasterBackend, ReplicaBackend: sp.ReplicaBackend, Field: fmt.Sprintf("topology.groups[%d]", i)})
	}
	return out
}

// groupExternalNodes gives each group of topology.groups the external
// nodes that name it, and checks that every node names a group and every
// group has at least two nodes.
func (s *Scenario) groupExternalNodes() []fieldError {
	var errs []fieldError
	specs := s.Topology.Groups.List
	names := make([]string, len(specs))
	for i, g := range specs {
		names[i] = g.Name
		if names[i] == "" {
			names[i] = fmt.Sprintf("group%d", i+1)
		}
		if g.Nodes != 0 {
			errs = append(errs, fieldError{path: fmt.Sprintf("topology.groups[%d].nodes", i), msg: "backend external takes a group's nodes from external.nodes[].group: remove nodes"})
		}
		specs[i].names = []string{}
	}
	for i, n := range s.External.Nodes {
		path := fmt.Sprintf("external.nodes[%d]", i)
		gi := slices.Index(names, n.Group)
		switch {
		case n.Group == "":
			errs = append(errs, fieldError{path: path + ".name", msg: fmt.Sprintf("node %q has no group: give it one of %s (group: ...)", n.Name, oneOf(names))})
		case gi < 0:
			errs = append(errs, fieldError{path: path + ".group", msg: fmt.Sprintf("unknown group %q; topology.groups names %s", n.Group, oneOf(names))})
		default:
			specs[gi].names = append(specs[gi].names, n.Name)
		}
	}
	for i := range specs {
		if k := len(specs[i].names); k < 2 && len(errs) == 0 {
			errs = append(errs, fieldError{path: fmt.Sprintf("topology.groups[%d]", i), msg: fmt.Sprintf("group %s has %d of external.nodes: give it at least two (a master and a replica)", names[i], k)})
		}
	}
	return errs
}

// ExternalGroupOf is the group of a node (false when no group has it).
func (s *Scenario) ExternalGroupOf(node string) (Group, bool) {
	for _, g := range s.ResolvedGroups() {
		if slices.Contains(g.Nodes, node) {
			return g, true
		}
	}
	return Group{}, false
}

// checkCommands checks the fault commands of a node or a Sentinel.
func checkCommands(path string, faults map[string]string) []fieldError {
	var errs []fieldError
	for _, k := range slices.Sorted(maps.Keys(faults)) {
		if !slices.Contains(CommandActions, fault.Action(k)) {
			errs = append(errs, fieldError{path: path + ".faults." + k, msg: fmt.Sprintf("no command for action %q: the actions a command performs are %s", k, actionList(CommandActions))})
		} else if faults[k] == "" {
			errs = append(errs, fieldError{path: path + ".faults." + k, msg: fmt.Sprintf("an empty command: give one, or leave %s out", k)})
		}
	}
	return errs
}

// checkExternalFault checks that an external deployment can perform a
// fault: an action with no native way needs a command on every node or
// Sentinel the target may resolve to (the named one, or every one of its
// kind for master, replica and names given by as). A Sentinel has no
// native action.
func (s *Scenario) checkExternalFault(path string, f *Fault) []fieldError {
	if !s.IsExternal() || !slices.Contains(CommandActions, f.Action) {
		return nil
	}
	if f.Kind == fault.KindSentinel {
		names := s.SentinelNames()
		target := s.asTarget(f.Target)
		var missing []string
		where := "external.sentinels[].faults." + string(f.Action)
		for i, se := range s.External.Sentinels {
			if i >= len(names) || (slices.Contains(names, target) && names[i] != target) {
				continue
			}
			if se.Faults[string(f.Action)] == "" {
				missing = append(missing, names[i])
				where = fmt.Sprintf("external.sentinels[%d].faults.%s", i, f.Action)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		if len(missing) > 1 {
			where = "external.sentinels[].faults." + string(f.Action) + " on each"
		}
		msg := fmt.Sprintf("backend external has no command to %s %s: give %s, written {addr: ..., faults: {%s: ...}}", f.Action, oneOf(missing), where, f.Action)
		if f.Action == fault.Pause {
			msg += " (a Sentinel has no native pause: under CLIENT PAUSE it keeps pinging, voting and failing over, only its replies wait)"
		}
		return []fieldError{{path: path + ".action", msg: msg}}
	}
	if slices.Contains(NativeActions, f.Action) {
		return nil
	}
	nodes := s.External.Nodes
	if n, ok := s.ExternalNode(f.Target); ok {
		nodes = []ExternalNode{n}
	}
	var missing []string
	for _, n := range nodes {
		if n.Faults[string(f.Action)] == "" {
			missing = append(missing, n.Name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	msg := fmt.Sprintf("backend external has no command to %s %s: give external.nodes[].faults.%s", f.Action, oneOf(missing), f.Action)
	if len(nodes) > 1 {
		msg += fmt.Sprintf(" on every node (target %q may resolve to any of them)", f.Target)
	}
	if f.Action == fault.Start || f.Action == fault.Restart {
		msg += fmt.Sprintf(" (nothing native starts a process: a kill without a command is DEBUG SEGFAULT, its %s needs one)", f.Action)
	}
	return []fieldError{{path: path + ".action", msg: msg}}
}

// asTarget is the target a name given by as stands for, followed
// through earlier faults (a name given by as to a name given by as); any
// other name is itself.
func (s *Scenario) asTarget(name string) string {
	for range len(s.Faults) {
		found := false
		for _, f := range s.Faults {
			if f.As != "" && f.As == name && f.Target != name {
				name, found = f.Target, true
				break
			}
		}
		if !found {
			break
		}
	}
	return name
}

func actionList(as []fault.Action) string {
	var out []string
	for _, a := range as {
		out = append(out, string(a))
	}
	return oneOf(out)
}

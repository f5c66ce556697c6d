package scenario

import (
	"cmp"
	"fmt"
	"math"
	"strconv"
)

// Groups are a scenario's replication groups. In YAML, either a number
// (that many groups of Topology.Nodes nodes each) or a list of GroupSpec.
// Neither (the default) is one group named group1, monitored as
// Sentinel.MasterName, whose nodes keep their plain names (redis1...).
type Groups struct {
	// Count is the number of groups given as a number (0: not given).
	Count int
	// List is the groups given as a list.
	List []GroupSpec

	// raw is a count as written, parsed by normalize so that a bad one is
	// reported at its line; bad is a value that is neither.
	raw, bad string
}

// UnmarshalYAML reads a number or a list of groups.
func (g *Groups) UnmarshalYAML(unmarshal func(any) error) error {
	var v any
	if err := unmarshal(&v); err != nil {
		return err
	}
	*g = Groups{}
	switch v := v.(type) {
	case nil:
	case []any:
		return unmarshal(&g.List)
	case map[string]any:
		g.bad = "a mapping"
	case float64:
		g.raw = strconv.FormatFloat(v, 'g', -1, 64)
		if math.IsNaN(v) {
			g.raw = "NaN"
		}
	default:
		g.raw = fmt.Sprint(v)
	}
	return nil
}

// GroupSpec declares one group.
type GroupSpec struct {
	// Name names the group in targets and reports (default groupI).
	Name string `yaml:"name"`
	// Nodes is the group's node count (default Topology.Nodes).
	Nodes int `yaml:"nodes"`
	// MasterName is the name Sentinel monitors its master by (default:
	// Sentinel.MasterName with one group, the group's name with several).
	MasterName string `yaml:"master_name"`
	// MasterBackend and ReplicaBackend name the proxy configuration's
	// backends serving the group (default: the configuration's pairs in
	// order).
	MasterBackend  string `yaml:"master_backend"`
	ReplicaBackend string `yaml:"replica_backend"`
	// Proxy is where the user's proxy serves the group, with backend
	// external and several groups (with one, external.proxy gives the
	// ports): every group has it or none. With external.proxy.stats_csv,
	// MasterBackend and ReplicaBackend name the CSV's backends of these
	// ports (default: the backends whose servers are the group's nodes).
	Proxy GroupProxy `yaml:"proxy"`
	// Hosts places the group's nodes: the host of each node, in order,
	// or one host for all of them (default: node i on host i, modulo the
	// number of Topology.Hosts).
	Hosts []string `yaml:"hosts"`
	// names are the group's nodes as backend external names them
	// (external.nodes[].group), nil on the other backends.
	names []string
}

// GroupProxy is where the user's proxy serves one group.
type GroupProxy struct {
	// Master and Replica are host:port of the proxy's master and replica
	// ports for the group; Replica may be empty.
	Master  string `yaml:"master"`
	Replica string `yaml:"replica"`
}

// Group is a group as the scenario resolves it: names given, defaults
// filled in, node names qualified by the group when there are several
// ("group2.redis1").
type Group struct {
	Name, MasterName              string
	Nodes                         []string
	MasterBackend, ReplicaBackend string
}

// Host is a failure domain as the scenario resolves it: the node and
// Sentinel names placed on it.
type Host struct {
	Name    string
	Members []string
}

// HostTarget prefixes a host's name in a fault's target: "host:h1".
const HostTarget = "host:"

// specs are the groups as declared, one zero spec per group given by
// number, at least one.
func (s *Scenario) specs() []GroupSpec {
	specs := s.Topology.Groups.List
	if len(specs) == 0 {
		specs = make([]GroupSpec, max(1, min(s.Topology.Groups.Count, MaxGroups)))
	}
	return specs[:min(len(specs), MaxGroups)]
}

// ResolvedGroups returns the scenario's groups, in order, at least one.
func (s *Scenario) ResolvedGroups() []Group {
	specs := s.specs()
	if len(specs) == 1 && specs[0].Name == "" && specs[0].Nodes == 0 {
		return []Group{{Name: "group1", MasterName: cmp.Or(specs[0].MasterName, s.Sentinel.MasterName), Nodes: s.plainNodeNames(),
			MasterBackend: specs[0].MasterBackend, ReplicaBackend: specs[0].ReplicaBackend}}
	}
	out := make([]Group, 0, len(specs))
	for i, g := range specs {
		name := cmp.Or(g.Name, fmt.Sprintf("group%d", i+1))
		if g.names != nil {
			// An external deployment's nodes keep the names the scenario
			// gives them (pod or host names in fault commands).
			out = append(out, Group{Name: name, MasterName: cmp.Or(g.MasterName, name), Nodes: g.names,
				MasterBackend: g.MasterBackend, ReplicaBackend: g.ReplicaBackend})
			continue
		}
		n := g.Nodes
		if n == 0 {
			n = s.Topology.Nodes
		}
		names := s.Topology.Names
		nodes := make([]string, max(0, min(n, MaxNodes)))
		for j := range nodes {
			if len(names) == len(nodes) {
				nodes[j] = name + "." + names[j]
			} else {
				nodes[j] = fmt.Sprintf("%s.redis%d", name, j+1)
			}
		}
		master := g.MasterName
		if master == "" && len(specs) == 1 {
			master = s.Sentinel.MasterName
		}
		out = append(out, Group{Name: name, MasterName: cmp.Or(master, name), Nodes: nodes,
			MasterBackend: g.MasterBackend, ReplicaBackend: g.ReplicaBackend})
	}
	return out
}

// placeOn is the host of member i of a list placed by explicit (one
// entry per member, one for all, or none: the default rule over hosts);
// "" when explicit has no entry for it.
func placeOn(hosts, explicit []string, i int) string {
	switch {
	case len(explicit) == 1:
		return explicit[0]
	case len(explicit) > 1 && i < len(explicit):
		return explicit[i]
	case len(explicit) == 0 && len(hosts) > 0:
		return hosts[i%len(hosts)]
	}
	return ""
}

// ResolvedHosts returns the scenario's hosts with their members (every
// group's nodes placed there, in order, then the Sentinels); none when
// the scenario declares no hosts. By default node i of every group and
// Sentinel i go on host i, modulo the number of hosts; GroupSpec.Hosts and
// Sentinel.Hosts place them explicitly.
func (s *Scenario) ResolvedHosts() []Host {
	hosts := s.Topology.Hosts
	if len(hosts) == 0 {
		return nil
	}
	out := make([]Host, len(hosts))
	at := map[string]int{}
	for i, h := range hosts {
		out[i].Name = h
		if _, dup := at[h]; !dup {
			at[h] = i
		}
	}
	put := func(member, host string) {
		if i, ok := at[host]; ok {
			out[i].Members = append(out[i].Members, member)
		}
	}
	specs := s.specs()
	for gi, g := range s.ResolvedGroups() {
		for j, n := range g.Nodes {
			put(n, placeOn(hosts, specs[gi].Hosts, j))
		}
	}
	for j, n := range s.SentinelNames() {
		put(n, placeOn(hosts, s.Sentinel.Hosts, j))
	}
	return out
}

// HostOf names the host a node or Sentinel is placed on; "" when none.
func (s *Scenario) HostOf(member string) string {
	for _, h := range s.ResolvedHosts() {
		for _, m := range h.Members {
			if m == member {
				return h.Name
			}
		}
	}
	return ""
}

package scenario

import "fmt"

// Groups are a scenario's replication groups. In YAML, either a number
// (that many groups of Topology.Nodes nodes each) or a list of GroupSpec.
// Neither (the default) is one group named group1, monitored as
// Sentinel.MasterName, whose nodes keep their plain names (redis1...).
type Groups struct {
	Count int
	List  []GroupSpec
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

// HostSpec declares one host. In YAML, a name (members placed by the
// default rule) or {name, members}.
type HostSpec struct {
	Name    string   `yaml:"name"`
	Members []string `yaml:"members"`
}

// ResolvedGroups returns the scenario's groups, in order, at least one.
func (s *Scenario) ResolvedGroups() []Group {
	specs := s.Topology.Groups.List
	if len(specs) == 0 {
		n := max(1, min(s.Topology.Groups.Count, MaxGroups))
		specs = make([]GroupSpec, n)
	}
	if len(specs) == 1 && specs[0].Name == "" && specs[0].Nodes == 0 {
		return []Group{{Name: "group1", MasterName: cmpOr(specs[0].MasterName, s.Sentinel.MasterName), Nodes: s.plainNodeNames(),
			MasterBackend: specs[0].MasterBackend, ReplicaBackend: specs[0].ReplicaBackend}}
	}
	out := make([]Group, 0, len(specs))
	for i, g := range specs {
		name := cmpOr(g.Name, fmt.Sprintf("group%d", i+1))
		n := g.Nodes
		if n == 0 {
			n = s.Topology.Nodes
		}
		nodes := make([]string, max(0, min(n, MaxNodes)))
		for j := range nodes {
			nodes[j] = fmt.Sprintf("%s.redis%d", name, j+1)
		}
		out = append(out, Group{Name: name, MasterName: cmpOr(g.MasterName, name), Nodes: nodes,
			MasterBackend: g.MasterBackend, ReplicaBackend: g.ReplicaBackend})
	}
	return out
}

// ResolvedHosts returns the scenario's hosts with their members; none when
// the scenario declares no hosts.
func (s *Scenario) ResolvedHosts() []Host {
	out := make([]Host, 0, len(s.Topology.Hosts))
	for _, h := range s.Topology.Hosts {
		out = append(out, Host{Name: h.Name, Members: h.Members})
	}
	return out
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

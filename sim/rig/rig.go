// Package rig holds the small interfaces between the scenario engine
// (sim), the backends that start clusters (sim/memory, sim/docker) or
// attach to one (sim/external), and the
// proxy under test (sim/undertest). It imports no other part of the
// simulator but the scenario format and the fault table, so that each of
// them can depend on it without depending on the others.
package rig

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
)

// Topology is the cluster a backend starts: replication groups, every
// group's master monitored by every Sentinel, and the hosts the instances
// are placed on.
type Topology struct {
	// Groups are the replication groups, at least one. Node names are
	// unique across groups.
	Groups []Group
	// Hosts place instances on named hosts (failure domains), a host
	// fault acting on all of a host's members at once. An instance on no
	// host is alone; no hosts means every instance is alone.
	Hosts []Host
	// Password is the nodes' requirepass and masterauth (none when empty).
	Password string
	// SentinelPassword is the Sentinels' requirepass (none when empty).
	SentinelPassword   string
	MinReplicasToWrite int
	MinReplicasMaxLag  time.Duration
	// Persistence makes a graceful stop write a snapshot that a restart
	// loads.
	Persistence bool
	// ReplicationLag delays replication (memory backend).
	ReplicationLag time.Duration
	// Sentinel settings.
	Sentinels       []string
	Quorum          int
	DownAfter       time.Duration
	FailoverTimeout time.Duration
	ParallelSyncs   int
	// AnnounceHostnames has the nodes announced and monitored by host
	// name (the docker backend: replica-announce-ip, resolve-hostnames,
	// announce-hostnames).
	AnnounceHostnames bool
	// Seed makes random choices repeatable; zero picks one.
	Seed int64
	// Images and Subnet configure the docker backend.
	Images scenario.Images
	Subnet string
}

// Group is one replication group: a master and its replicas, monitored by
// every Sentinel under one master name.
type Group struct {
	// Name names the group in reports and targets ("group1").
	Name string
	// MasterName is the name the Sentinels monitor the group's master by.
	MasterName string
	// Nodes are the group's Redis nodes; the first starts as master, the
	// others as its replicas.
	Nodes []string
	// MasterBackend and ReplicaBackend name the proxy configuration's
	// backends that serve the group; empty means the configuration's
	// master/replica backend pairs are given to the groups in order.
	MasterBackend, ReplicaBackend string
}

// Host is a named failure domain: the nodes and Sentinels placed on it.
type Host struct {
	Name string
	// Members are node and Sentinel names.
	Members []string
}

// DefaultGroup is the name of the single group of a scenario that
// declares no groups.
const DefaultGroup = "group1"

// Nodes returns every group's nodes, group after group, each group's
// initial master first.
func (t Topology) Nodes() []string {
	var out []string
	for _, g := range t.Groups {
		out = append(out, g.Nodes...)
	}
	return out
}

// Check reports what makes the topology unusable to a backend: no group,
// a group without nodes or master name, a name (node, Sentinel, group,
// master name, host) used twice, a host member that is no node or
// Sentinel, an instance on two hosts.
func (t Topology) Check() error {
	if len(t.Groups) == 0 {
		return errors.New("check the topology: no replication group")
	}
	var errs []error
	instances := map[string]bool{}
	seen := func(kind, name string, in map[string]bool) {
		if in[name] {
			errs = append(errs, fmt.Errorf("check the topology: %s %q named twice", kind, name))
		}
		in[name] = true
	}
	groups, masters, hosts, placed := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]string{}
	for _, g := range t.Groups {
		seen("group", g.Name, groups)
		if g.MasterName == "" {
			errs = append(errs, fmt.Errorf("check the topology: group %s has no master name", g.Name))
		}
		seen("master name", g.MasterName, masters)
		if len(g.Nodes) == 0 {
			errs = append(errs, fmt.Errorf("check the topology: group %s has no node", g.Name))
		}
		for _, n := range g.Nodes {
			seen("instance", n, instances)
		}
	}
	for _, s := range t.Sentinels {
		seen("instance", s, instances)
	}
	for _, h := range t.Hosts {
		seen("host", h.Name, hosts)
		for _, m := range h.Members {
			switch other, twice := placed[m]; {
			case !instances[m]:
				errs = append(errs, fmt.Errorf("check the topology: host %s holds %q, no node or Sentinel", h.Name, m))
			case twice:
				errs = append(errs, fmt.Errorf("check the topology: %s is on hosts %s and %s", m, other, h.Name))
			}
			placed[m] = h.Name
		}
	}
	return errors.Join(errs...)
}

// TopologyOf derives the topology of a scenario: its groups and hosts as
// the scenario resolves them.
func TopologyOf(s *scenario.Scenario) Topology {
	var groups []Group
	for _, g := range s.ResolvedGroups() {
		groups = append(groups, Group{Name: g.Name, MasterName: g.MasterName, Nodes: g.Nodes,
			MasterBackend: g.MasterBackend, ReplicaBackend: g.ReplicaBackend})
	}
	var hosts []Host
	for _, h := range s.ResolvedHosts() {
		hosts = append(hosts, Host{Name: h.Name, Members: h.Members})
	}
	return Topology{
		Groups: groups, Hosts: hosts,
		Password: s.Topology.Password, SentinelPassword: s.Sentinel.Password,
		MinReplicasToWrite: s.Topology.MinReplicasToWrite, MinReplicasMaxLag: s.Topology.MinReplicasMaxLag.D,
		Persistence: s.Topology.Persistence, ReplicationLag: s.Topology.ReplicationLag.D,
		Sentinels: s.SentinelNames(), Quorum: s.Sentinel.Quorum, DownAfter: s.Sentinel.DownAfter.D,
		FailoverTimeout: s.Sentinel.FailoverTimeout.D, ParallelSyncs: s.Sentinel.ParallelSyncs, AnnounceHostnames: s.Sentinel.AnnounceHostnames,
		Seed: s.Seed, Images: s.Images, Subnet: s.Network.Subnet,
	}
}

// Backend starts clusters.
type Backend interface {
	// Name is "memory", "docker" or "external".
	Name() string
	// Start brings up a cluster and returns once its replicas are in sync
	// and its Sentinels know each other and every replica.
	Start(ctx context.Context, t Topology, log *slog.Logger) (Cluster, error)
}

// Cluster is a running set of Redis nodes and Sentinels.
type Cluster interface {
	// Nodes are every group's nodes, in the topology's order.
	Nodes() []Instance
	Sentinels() []Instance
	// Hosts are the topology's hosts, in its order: instances of
	// KindHost whose Do acts on every member at the same instant.
	Hosts() []Instance
	// NodeByAddr names the node at an address as Redis and Sentinel report
	// it (their "ip:port"), if there is one.
	NodeByAddr(addr string) (string, bool)
	// Close stops and removes everything the cluster started.
	Close(ctx context.Context) error
}

// KeyPrefixer is a cluster the run shares with other data (an external
// deployment): the engine writes only keys under its KeyPrefix (the
// workload's and the warm-up's), and the cluster's Close deletes them.
type KeyPrefixer interface {
	// KeyPrefix is unique to the run, e.g. "redisha-sim:3f2a9c:".
	KeyPrefix() string
}

// KeyPrefixOf is a cluster's key prefix, "" for a cluster that is not a
// KeyPrefixer (the run owns it whole).
func KeyPrefixOf(c Cluster) string {
	if kp, ok := c.(KeyPrefixer); ok {
		return kp.KeyPrefix()
	}
	return ""
}

// Kind is the kind of an instance, as the fault table names the kinds
// an action acts on.
type Kind = fault.Kind

// The kinds of instance.
const (
	KindNode     = fault.KindNode
	KindSentinel = fault.KindSentinel
	KindProxy    = fault.KindProxy
	KindHost     = fault.KindHost
)

// Instance is a node, a Sentinel, a proxy or a host that faults can act
// on.
type Instance interface {
	Name() string
	Kind() Kind
	// Addr is where the harness (and an in-process proxy) reaches it; ""
	// for a host.
	Addr() string
	// Do performs a fault action of the table in package fault, one the
	// backend supports on this kind of instance (fault.Entry.Available),
	// and returns once its effect has been verified: the container's
	// state, the node unreachable...
	Do(ctx context.Context, action fault.Action) error
}

// Reporter is an instance whose fault actions have something to report
// for the timeline: the command an external node ran, its exit code,
// output and duration. The engine calls DoReport rather than Do for the
// actions that are not on the link, and records the report as the fault
// event's detail, also when it fails.
type Reporter interface {
	DoReport(ctx context.Context, action fault.Action) (detail string, err error)
}

// LinkShaper is an instance whose network link can be slowed: the engine
// calls Shape, not Do, for the actions on the link (fault.Entry.Link:
// delay and undelay). The instances of a backend that the fault table says
// can delay implement it or LinkFaulter (which the engine prefers).
type LinkShaper interface {
	// Shape delays every reply the instance sends by delay plus a random
	// extra uniform in [0, jitter], keeping the order on each connection;
	// zeros remove the delay. It returns once the effect is in place.
	Shape(ctx context.Context, delay, jitter time.Duration) error
}

// LinkFaulter is an instance whose links take the user-space link faults
// of the fault table (blackhole, reset, loss, bandwidth, heal, and delay
// and undelay narrowed to peer classes and directions). The engine prefers
// it to LinkShaper for every link action when an instance implements it.
type LinkFaulter interface {
	// LinkFault applies f to the instance's links with the peer classes
	// and directions f names, and returns once the effect has been
	// verified from outside where a client can see it.
	LinkFault(ctx context.Context, f fault.LinkFault) error
}

// ProxyEvent is a change of a server's state in the proxy under test.
type ProxyEvent struct {
	At time.Time
	// Port is "master" or "replica".
	Port string
	// Node is the node the server points to.
	Node string
	Up   bool
	// State is as the proxy shows it ("UP", "DOWN 1/2", "MAINT").
	State  string
	Detail string
}

// Frontend is where the workload of one group enters the proxy under
// test: its master port and its replica port.
type Frontend struct {
	// Group is the topology's group the ports serve.
	Group string
	// MasterAddr and ReplicaAddr are host:port as the harness dials them;
	// ReplicaAddr is "" when the proxy has no replica port for the group.
	MasterAddr, ReplicaAddr string
}

// ProxyUnderTest is the proxy the workload goes through.
type ProxyUnderTest interface {
	// Describe says what it is, for reports.
	Describe() string
	// Frontends are the ports of every group, in the topology's order.
	Frontends() []Frontend
	// Watch calls f for every server state change until ctx is done.
	Watch(ctx context.Context, f func(ProxyEvent)) error
	// Instance is the proxy as a fault target, nil when it cannot be
	// faulted (in-process).
	Instance() Instance
	Close(ctx context.Context) error
}

// CheckCounter is a proxy under test that counts the health checks it
// runs. The engine reads the counters as the workload starts and as it
// ends; the difference is the check load on each node. A proxy that
// cannot count them (HAProxy: its statistics have no count of checks) is
// not a CheckCounter, and its runs record no check load.
type CheckCounter interface {
	// CheckCounts reads the counters of the servers of the master and
	// replica ports.
	CheckCounts(ctx context.Context) ([]ServerChecks, error)
}

// CheckCounts are a server's check counters at one instant.
type CheckCounts struct {
	// Checks counts the checks completed, passed or failed.
	Checks uint64
	// BytesSent and BytesReceived are what the checks wrote to the server
	// and read from it.
	BytesSent, BytesReceived int64
}

// ServerChecks are the check counters of one server: the node it points to
// behind one port ("master" or "replica").
type ServerChecks struct {
	Node, Port string
	CheckCounts
}

// ProxyStarter starts the proxy a scenario asks for in front of a cluster.
type ProxyStarter func(ctx context.Context, s *scenario.Scenario, c Cluster, log *slog.Logger) (ProxyUnderTest, error)

// Stepper is an instance whose fault action splits into its effect and
// the check of that effect, so that a host can start the effects of all
// its members before checking any. Do is Act then Verify.
type Stepper interface {
	Instance
	// Act starts the action's effect and returns once it is issued.
	Act(ctx context.Context, action fault.Action) error
	// Verify checks the effect from outside, as Do does after Act.
	Verify(ctx context.Context, action fault.Action) error
}

// PlaceHosts makes the hosts of a backend's cluster: each host's members
// looked up by name among the cluster's instances (byName). A member that
// is not there, or that another host already holds, is an error
// (Topology.Check refuses both earlier; this keeps a backend honest).
func PlaceHosts(hosts []Host, backend string, byName map[string]Stepper) ([]Instance, error) {
	placed := map[string]string{}
	var out []Instance
	for _, h := range hosts {
		var members []Stepper
		for _, name := range h.Members {
			m, ok := byName[name]
			if !ok {
				return nil, fmt.Errorf("place host %s: no node or Sentinel %q", h.Name, name)
			}
			if other, dup := placed[name]; dup {
				return nil, fmt.Errorf("place host %s: %s is already on host %s", h.Name, name, other)
			}
			placed[name] = h.Name
			members = append(members, m)
		}
		out = append(out, NewHost(h.Name, backend, members))
	}
	return out, nil
}

// NewHost returns a host of a backend as an instance of KindHost: its Do
// performs the action on every member at the same instant (all the
// effects started concurrently, then all verified concurrently), after
// checking that the backend can perform it on the host and on each
// member's kind.
func NewHost(name, backend string, members []Stepper) Instance {
	return host{name: name, backend: backend, members: members}
}

type host struct {
	name    string
	backend string
	members []Stepper
}

func (h host) Name() string { return h.name }
func (h host) Kind() Kind   { return KindHost }
func (h host) Addr() string { return "" }

// Do acts on every member together.
func (h host) Do(ctx context.Context, action fault.Action) error {
	e := fault.Of(action)
	if !e.Available(h.backend, KindHost) {
		return fmt.Errorf("%s host %s: the %s backend cannot %[1]s a host", action, h.name, h.backend)
	}
	for _, m := range h.members {
		if !e.Available(h.backend, m.Kind()) {
			return fmt.Errorf("%[1]s host %[2]s: the %[3]s backend cannot %[1]s its member %[4]s, a %[5]s", action, h.name, h.backend, m.Name(), m.Kind())
		}
	}
	if err := together(h.members, func(m Stepper) error { return m.Act(ctx, action) }); err != nil {
		return fmt.Errorf("%s host %s: %w", action, h.name, err)
	}
	if err := together(h.members, func(m Stepper) error { return m.Verify(ctx, action) }); err != nil {
		return fmt.Errorf("%s host %s: %w", action, h.name, err)
	}
	return nil
}

// together runs f on every member concurrently, released at the same
// instant, and joins the errors.
func together(members []Stepper, f func(Stepper) error) error {
	errs := make([]error, len(members))
	var wg sync.WaitGroup
	release := make(chan struct{})
	for i, m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-release
			errs[i] = f(m)
		}()
	}
	close(release)
	wg.Wait()
	return errors.Join(errs...)
}

// Instances returns a backend's instances of one concrete type as
// Instances, for Cluster.Nodes and Cluster.Sentinels.
func Instances[T Instance](xs []T) []Instance {
	out := make([]Instance, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

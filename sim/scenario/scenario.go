// Package scenario reads failover scenarios from YAML: the cluster, the
// proxy under test, the workload, a timeline of faults, and the expectations
// that decide a run's exit code.
//
// Reading is strict: an unknown field or a bad value is an error naming the
// file, line and column, the field, and what would be valid. Overrides
// (--set key=value) apply to any field and are checked the same way.
package scenario

import (
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/inputfile"
)

// Scenario is one failover experiment.
type Scenario struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Backend runs the cluster: "memory" (in-process fakes, the default),
	// "docker" (real Redis and Sentinel containers) or "external" (a
	// running deployment, named in External).
	Backend string `yaml:"backend"`
	// Duration is how long the workload runs once the cluster is ready
	// (default 30s).
	Duration Duration `yaml:"duration"`
	// Settle bounds the wait, after the workload, for the cluster to agree
	// on one master before writes are read back (default 30s).
	Settle Duration `yaml:"settle"`
	// Warmup bounds the wait for the cluster and the proxy to be ready
	// (default 30s).
	Warmup Duration `yaml:"warmup"`
	// Seed makes the in-memory backend's random choices repeatable; zero
	// picks one.
	Seed     int64    `yaml:"seed"`
	Topology Topology `yaml:"topology"`
	Sentinel Sentinel `yaml:"sentinel"`
	Proxy    Proxy    `yaml:"proxy"`
	Workload Workload `yaml:"workload"`
	// WorkloadList are several workloads side by side, each with its
	// client kind (Spec); Workloads gives the run's, the shorthand
	// included.
	WorkloadList []Spec     `yaml:"workloads"`
	Faults       []Fault    `yaml:"faults"`
	Expect       []string   `yaml:"expect"`
	Images       Images     `yaml:"images"`
	Network      NetworkCfg `yaml:"network"`
	// External names the running deployment of backend external.
	External External `yaml:"external"`

	// File is the file the scenario was read from; relative paths in it are
	// resolved from its directory, in FS when set (embedded scenarios),
	// else on disk.
	File string `yaml:"-"`
	FS   fs.FS  `yaml:"-"`
	// Expectations are Expect, parsed.
	Expectations []Expectation `yaml:"-"`

	// loc places errors found after loading (ErrorAt).
	loc *loader
}

// ErrorAt is a problem with a field found after loading (e.g. in the
// proxy configuration the field names), placed like the loader's own:
// at the --set that gave the field's value, or at its line in the file.
func (s *Scenario) ErrorAt(field, msg string) Error {
	if s.loc == nil {
		return Error{File: s.File, Field: field, Msg: msg}
	}
	return s.loc.locate(fieldError{path: field, msg: msg})
}

// Topology is the Redis side of the cluster.
type Topology struct {
	// Nodes is how many Redis nodes run (default 3); the first is the
	// initial master.
	Nodes int `yaml:"nodes"`
	// Names names them (default redis1..redisN).
	Names []string `yaml:"names"`
	// Password sets requirepass and masterauth.
	Password string `yaml:"password"`
	// MinReplicasToWrite is Redis's min-replicas-to-write (default 0: off).
	MinReplicasToWrite int `yaml:"min_replicas_to_write"`
	// MinReplicasMaxLag is min-replicas-max-lag (default 10s).
	MinReplicasMaxLag Duration `yaml:"min_replicas_max_lag"`
	// Persistence makes a graceful stop write a snapshot that a restart
	// loads, as Redis's default save points do.
	Persistence bool `yaml:"persistence"`
	// ReplicationLag delays replication to replicas on the memory backend
	// (default 1ms).
	ReplicationLag Duration `yaml:"replication_lag"`
	// Groups are the replication groups: a number (that many groups of
	// Nodes nodes) or a list of groups (GroupSpec); default one. Nodes
	// and Names then apply to each group, whose node names are qualified
	// by its name ("group2.redis1").
	Groups Groups `yaml:"groups"`
	// Hosts declares the hosts (failure domains) by name (default none).
	// Node i of every group and Sentinel i go on host i, modulo the
	// number of hosts, unless a group's or sentinel.hosts place them; a
	// fault's target "host:<name>" acts on all of a host's members.
	Hosts []string `yaml:"hosts"`
}

// Sentinel is the Sentinel side of the cluster.
type Sentinel struct {
	// Count is how many Sentinels watch the master (default 3).
	Count int `yaml:"count"`
	// Quorum is the master's quorum (default a majority of Count).
	Quorum int `yaml:"quorum"`
	// DownAfter is down-after-milliseconds (default 5s).
	DownAfter Duration `yaml:"down_after"`
	// FailoverTimeout is failover-timeout (default 60s).
	FailoverTimeout Duration `yaml:"failover_timeout"`
	// ParallelSyncs is parallel-syncs (default 1).
	ParallelSyncs int `yaml:"parallel_syncs"`
	// MasterName is the monitored master's name (default mymaster); with
	// several groups, each group's master_name names its master instead.
	MasterName string `yaml:"master_name"`
	// Hosts places the Sentinels: the host of each, in order, or one host
	// for all (default: Sentinel i on host i, modulo the number of
	// topology.hosts).
	Hosts []string `yaml:"hosts"`
	// Password is the Sentinels' own requirepass (default none): the
	// backends configure their Sentinels with it, and every connection
	// the harness and a Sentinel-aware proxy make to a Sentinel
	// authenticates with it. With backend external it is
	// external.sentinel_password.
	Password string `yaml:"password"`
	// AnnounceHostnames names the nodes by host name rather than IP, as
	// Kubernetes charts run Sentinel (default false; docker backend only):
	// every node announces its container name (replica-announce-ip), the
	// replicas replicate from the master's name, and the Sentinels run
	// with resolve-hostnames and announce-hostnames and monitor the
	// master by its name, so that Sentinel's replies and events name
	// nodes by host name.
	AnnounceHostnames bool `yaml:"announce_hostnames"`
}

// Proxy is the proxy under test.
type Proxy struct {
	// Kind is "redisha" (this project's proxy, in-process, the default),
	// "redisha-container" (this project's proxy in a container) or
	// "haproxy" (HAProxy in a container); the container kinds need the
	// docker backend.
	Kind string `yaml:"kind"`
	// Config is an HAProxy configuration file, relative to the scenario's
	// directory; the engine points its servers at the cluster's nodes (in
	// order) and binds its frontends where it needs them. Without it, the
	// proxy is built from the fields below.
	Config string `yaml:"config"`
	// MasterBackend and ReplicaBackend name the configuration's backends
	// for the master and replica ports (default: the backends whose check
	// expects role:master and role:slave).
	MasterBackend  string `yaml:"master_backend"`
	ReplicaBackend string `yaml:"replica_backend"`
	// MasterPort and ReplicaPort bind the frontends (default: any free
	// port).
	MasterPort  int `yaml:"master_port"`
	ReplicaPort int `yaml:"replica_port"`
	// Check settings. With a Config, those that are set override every
	// server of the file (so sweeps can vary them).
	Inter     Duration `yaml:"inter"`
	FastInter Duration `yaml:"fastinter"`
	DownInter Duration `yaml:"downinter"`
	Rise      int      `yaml:"rise"`
	Fall      int      `yaml:"fall"`
	// TimeoutCheck is HAProxy's "timeout check" (default unset: inter
	// bounds the whole check).
	TimeoutCheck Duration `yaml:"timeout_check"`
	// Check is the check sequence without a Config: "seed" (the seed's:
	// AUTH, PING, info replication, role, repl_backlog_active:1, QUIT,
	// the default), "role" (the same without the backlog line), "redis"
	// (option redis-check: PING only) or "custom" (CheckRules).
	Check string `yaml:"check"`
	// CheckRules are tcp-check lines for Check "custom", as in HAProxy,
	// e.g. "expect string role:master"; "{role}" stands for master or
	// slave.
	CheckRules []string `yaml:"check_rules"`
	// Balance is the replica port's algorithm (default roundrobin).
	Balance string `yaml:"balance"`
	// ShutdownSessions closes a server's sessions when it goes DOWN.
	ShutdownSessions *bool `yaml:"shutdown_sessions"`
	// Timeouts of the data path (defaults from the seed: connect 4s,
	// client and server 15s). TimeoutConnect also bounds the checks'
	// connect when TimeoutCheck is set (min(inter, timeout connect), as
	// HAProxy does, TIMING.md §1); with a Config, one given here or by
	// --set overrides the file's on every backend.
	TimeoutConnect Duration `yaml:"timeout_connect"`
	TimeoutClient  Duration `yaml:"timeout_client"`
	TimeoutServer  Duration `yaml:"timeout_server"`
	// SentinelAware routes the master port by Sentinel as well as checks
	// (a redisha-sim extension).
	SentinelAware bool `yaml:"sentinel_aware"`
}

// Workload is what clients do during the run.
type Workload struct {
	Writers Clients `yaml:"writers"`
	Readers Clients `yaml:"readers"`
}

// Clients is one kind of client.
type Clients struct {
	// Count is how many clients run (default 1 writer, 0 readers).
	Count int `yaml:"count"`
	// Rate is each client's operations per second (default 200).
	Rate float64 `yaml:"rate"`
	// Timeout bounds each operation (default 1s).
	Timeout Duration `yaml:"timeout"`
	// Connection is "per-op" (a new connection for every operation, the
	// default: failover behaviour without client-side pooling) or
	// "persistent" (one long-lived connection per client, redialed after
	// errors; "pooled" is its older name).
	Connection string `yaml:"connection"`
}

// Fault is one action on the cluster at a time of the run.
type Fault struct {
	// At is the time from the start of the workload.
	At Duration `yaml:"at"`
	// Action is one of the actions of package fault.
	Action fault.Action `yaml:"action"`
	// Target is "master" or "replica" (the first group's, resolved when
	// the fault fires), "<group>.master" or "<group>.replica" with several
	// groups, a node name, "sentinel1".."sentinelN", "proxy",
	// "host:<name>" (every node and Sentinel placed on the host), or a
	// name given by an earlier fault's As.
	Target string `yaml:"target"`
	// As names the resolved target for later faults (e.g. old_master).
	As string `yaml:"as"`
	// Delay and Jitter are action delay's parameters: every reply the
	// node sends (to the proxy's checks, clients, Sentinels, replicas)
	// leaves Delay plus a random extra, uniform in [0, Jitter], late.
	// Other actions take neither.
	Delay  Duration `yaml:"delay"`
	Jitter Duration `yaml:"jitter"`
	// Peers and Direction narrow a link fault (blackhole, reset, loss,
	// bandwidth; delay on the memory backend): the peer classes
	// (clients, nodes, sentinels; default all) and the direction (in:
	// what the target hears, out: what it sends; default both, a
	// delay's out).
	Peers     []string `yaml:"peers"`
	Direction string   `yaml:"direction"`
	// Loss is action loss's fraction of connections that hang, 0..1.
	Loss *float64 `yaml:"loss"`
	// Rate is action bandwidth's bytes per second, greater than zero.
	Rate *float64 `yaml:"rate"`
	// Kind is the kind of instance Target names, filled in by validation.
	Kind fault.Kind `yaml:"-"`
}

// Images are the container images of the docker backend.
type Images struct {
	Redis   string `yaml:"redis"`
	HAProxy string `yaml:"haproxy"`
	Proxy   string `yaml:"proxy"`
}

// NetworkCfg configures the docker backend's network.
type NetworkCfg struct {
	// Subnet is the private network (default 172.28.<n>.0/24, picked free).
	Subnet string `yaml:"subnet"`
}

// Kinds of proxy under test.
var ProxyKinds = []string{"redisha", "redisha-container", "haproxy"}

// Duration is a time in a scenario: "1s", "250ms", "1m30s". It keeps the
// text as written, so a bad value can be reported with its position.
type Duration struct {
	D   time.Duration
	raw string
	set bool
}

// UnmarshalText keeps the text; Validate parses it.
func (d *Duration) UnmarshalText(b []byte) error {
	d.raw, d.set = string(b), true
	return nil
}

// MarshalText writes the duration back.
func (d Duration) MarshalText() ([]byte, error) {
	if d.raw != "" {
		return []byte(d.raw), nil
	}
	return []byte(d.D.String()), nil
}

// Set reports whether the field was given.
func (d Duration) Set() bool { return d.set || d.D != 0 }

// Given reports whether the field was written in the scenario, set by
// --set or by a Go caller (Dur), as opposed to filled in with its
// default by validation.
func (d Duration) Given() bool { return d.set }

// Dur makes a Duration from a value (for Go callers and defaults).
func Dur(d time.Duration) Duration { return Duration{D: d, set: true} }

func (d *Duration) parse() error {
	if d.raw == "" {
		return nil
	}
	v, err := time.ParseDuration(d.raw)
	if err != nil {
		return fmt.Errorf("invalid duration %q: want a number with a unit, e.g. 1s, 250ms, 1m30s", d.raw)
	}
	if v < 0 {
		return fmt.Errorf("invalid duration %q: must not be negative", d.raw)
	}
	d.D = v
	return nil
}

func (d Duration) String() string {
	if d.raw != "" {
		return d.raw
	}
	return d.D.String()
}

// NodeNames returns the names of every group's nodes, group after group.
func (s *Scenario) NodeNames() []string {
	var out []string
	for _, g := range s.ResolvedGroups() {
		out = append(out, g.Nodes...)
	}
	return out
}

// plainNodeNames are the node names of a scenario with one group.
func (s *Scenario) plainNodeNames() []string {
	if len(s.Topology.Names) > 0 {
		return s.Topology.Names
	}
	// Clamped: validation reports a count out of range, and goes on
	// checking the rest with these names.
	out := make([]string, max(0, min(s.Topology.Nodes, MaxNodes)))
	for i := range out {
		out[i] = fmt.Sprintf("redis%d", i+1)
	}
	return out
}

// SentinelNames returns the names of the Sentinels.
func (s *Scenario) SentinelNames() []string {
	out := make([]string, max(0, min(s.Sentinel.Count, MaxSentinels)))
	for i := range out {
		out[i] = fmt.Sprintf("sentinel%d", i+1)
	}
	return out
}

func oneOf(vals []string) string { return strings.Join(vals, ", ") }

// ReadFile reads a file the scenario refers to (relative to it).
func (s *Scenario) ReadFile(p string) ([]byte, error) {
	if s.FS != nil {
		return inputfile.ReadFS(s.FS, s.Path(p))
	}
	return inputfile.Read(s.Path(p))
}

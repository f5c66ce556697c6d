// Package external is the backend that attaches to a running deployment
// instead of starting one: Redis nodes and Sentinels on VMs, in
// Kubernetes, in containers someone else runs. The scenario's external
// section names them (scenario.External).
//
// Start creates nothing: for every group (master name: one, or one per
// entry of topology.groups, whose nodes are the external nodes naming
// it) it asks every Sentinel for the master, refuses a deployment whose
// Sentinels disagree, whose master is no node of the group, that does not
// report a node of the group, or whose nodes do not all answer (replicas
// may be down with external.allow_degraded), and returns the nodes and
// Sentinels as instances. The report states the deployment's Sentinel
// settings (SENTINEL MASTER of the first group), not the scenario's.
//
// Faults on a node or a Sentinel run its command template for the action
// (external.nodes[].faults, external.sentinels[].faults) with "sh -c" on
// the harness's machine, so that a command is written as in a terminal
// (pipes, quotes, ssh and kubectl as they are; on Windows the sh of Git
// for Windows, MSYS2 or WSL when one is on PATH, else "cmd /C"); {name},
// {addr}, {host}, {port} and {pid} (the process_id from INFO server when
// the fault fires, or the last one read when it does not answer) are
// substituted. Each command has a timeout (external.command_timeout),
// after which it is killed with what it started (its process group; on
// Windows its process tree, with taskkill /T /F); its exit code, output
// (bounded) and duration are the fault event's detail, and a command that
// fails fails the run. Without a command, on a node:
//
//   - pause is CLIENT PAUSE <ms> ALL, not DEBUG SLEEP: Redis 7 refuses
//     DEBUG unless enable-debug-command allows it (the default and the
//     usual charts do not), while CLIENT PAUSE is allowed by default. It
//     holds every client's commands (Sentinel's PING and INFO, the
//     proxy's checks, the workload) with their connections open; unlike
//     SIGSTOP, replicas are not paused, so the replication link stays up.
//     Neither can be ended early (CLIENT UNPAUSE waits behind the pause
//     itself), so the pause lasts until the scenario's next unpause of
//     the same target, or to the end of the workload; unpause then waits
//     until the node answers again.
//   - kill is DEBUG SEGFAULT: the node crashes as on a bug (Redis writes
//     its crash report and dies by SIGSEGV, well under a second), so
//     neither its data nor its connections are closed cleanly. Redis 7
//     refuses DEBUG unless enable-debug-command is yes (or local, and the
//     harness connects from the node's host), and an ACL may deny it
//     (NOPERM): when a kill without a command may act on a node (the one
//     it names, or every node for master, replica or a name given by as),
//     Inspect asks the node for DEBUG HELP, which changes nothing, and a
//     refusal stops the run before any fault, saying a command is needed;
//     the dry run prints its plan first ("kill: DEBUG SEGFAULT (native)"
//     or "a command is needed"). Nothing native starts a process: the
//     undo, start (or restart), needs a command, which the scenario's
//     validation asks for; without one the node stays down after the run.
//   - failover is rig.Failover, as on every backend: SENTINEL FAILOVER
//     <master-name of the node's group> on the first Sentinel that takes
//     it; it returns once a majority of the Sentinels name another
//     master.
//
// A Sentinel has no native action: CLIENT PAUSE is accepted by
// redis-sentinel and holds its replies, but it keeps pinging, voting and
// failing over on its own connections, which is not a pause.
//
// The user's proxy (external.proxy with one group; with several, each
// group's ports in topology.groups[].proxy) is connected to, not
// started: each group's workload goes through its own ports. With
// external.proxy.stats_csv (one for every group) its view of each server
// is read from its HAProxy-style CSV statistics (InspectProxy, bounded in
// size and time; basic auth in the URL; each group's backends mapped to
// the group's nodes) and recorded as the other backends' proxies are.
//
// Nothing acts without Options.AllowFaults. The run's keys are all under
// a prefix unique to it (rig.KeyPrefixer); Close deletes them from every
// group's master (never FLUSHALL, never CONFIG SET) after undoing every
// fault the run applied and did not undo (a kill or a stop by the
// target's start command, a pause by waiting for it; a kill with no
// start command is left, with a warning), also when the run is
// interrupted.
package external

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/rig"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
)

// ErrFaultsNotAllowed is a fault on a deployment the run was not allowed
// to fault (Options.AllowFaults).
var ErrFaultsNotAllowed = errors.New("faults on an external deployment need --allow-faults")

// Options configure the backend.
type Options struct {
	// AllowFaults lets faults act on the deployment; without it every
	// fault is refused (ErrFaultsNotAllowed). Default false.
	AllowFaults bool
	// KeyPrefix heads every key the run writes (default
	// "redisha-sim:<16 random hex digits>:").
	KeyPrefix string
	// Timeout bounds each connection and command to a node or a Sentinel
	// (default 2s).
	Timeout time.Duration
}

// Backend attaches to the deployment a scenario names.
type Backend struct {
	s   *scenario.Scenario
	opt Options
}

// New returns the backend of an external scenario.
func New(s *scenario.Scenario, opt Options) *Backend {
	if opt.KeyPrefix == "" {
		var b [8]byte
		rand.Read(b[:])
		opt.KeyPrefix = "redisha-sim:" + hex.EncodeToString(b[:]) + ":"
	}
	if opt.Timeout == 0 {
		opt.Timeout = 2 * time.Second
	}
	return &Backend{s: s, opt: opt}
}

// Name is "external".
func (*Backend) Name() string { return fault.External }

// State is what Inspect found of a deployment.
type State struct {
	// Master is the node every Sentinel names the master of the first
	// group (the only one, with one master name).
	Master string
	// Masters are every group's master, by group name.
	Masters map[string]string
	// Roles are every node's role as it reports it ("master", "slave").
	Roles map[string]string
	// PIDs are every node's process_id.
	PIDs map[string]string
	// Extra are addresses Sentinel reports as replicas that are no node
	// of the scenario.
	Extra []string
	// Proxy is the user's proxy's stats CSV mapped onto the scenario,
	// nil without external.proxy.stats_csv.
	Proxy *ProxyView
	// Down are the replicas that did not answer, with why, when
	// external.allow_degraded lets the run start without them.
	Down map[string]string
	// Settings are every group's Sentinel settings as the first Sentinel
	// reports them (SENTINEL MASTER), by group name.
	Settings map[string]SentinelSettings
	// Debug is, for every node that answers and that a kill without a
	// command may act on (NativeKillNodes), "" when it allows DEBUG (that
	// kill is DEBUG SEGFAULT), else its refusal of DEBUG HELP.
	Debug map[string]string
}

// SentinelSettings are a master name's settings in a Sentinel.
type SentinelSettings struct {
	Quorum, ParallelSyncs      int
	DownAfter, FailoverTimeout time.Duration
}

func (x SentinelSettings) String() string {
	return fmt.Sprintf("quorum %d, down-after %v, failover-timeout %v, parallel-syncs %d", x.Quorum, x.DownAfter, x.FailoverTimeout, x.ParallelSyncs)
}

// sentinelSettings reads a master name's settings from a Sentinel.
func sentinelSettings(ctx context.Context, addr, password, name string, timeout time.Duration) (SentinelSettings, error) {
	rc := client(addr, password, timeout)
	defer rc.Close()
	qctx, cancel := context.WithTimeout(ctx, 2*timeout)
	defer cancel()
	v, err := rc.Do(qctx, "SENTINEL", "MASTER", name).Result()
	if err != nil {
		return SentinelSettings{}, err
	}
	kv := flat(v)
	num := func(k string) int {
		n, _ := strconv.Atoi(kv[k])
		return n
	}
	return SentinelSettings{Quorum: num("quorum"), ParallelSyncs: num("parallel-syncs"),
		DownAfter: time.Duration(num("down-after-milliseconds")) * time.Millisecond, FailoverTimeout: time.Duration(num("failover-timeout")) * time.Millisecond}, nil
}

// Inspect checks a deployment without changing it, for every group
// (master name): every Sentinel answers and names the same master, that
// master is a node of the group, Sentinel reports every node of the group
// (as the master or a replica), the user's proxy's stats CSV, if given,
// maps onto the nodes (InspectProxy), every node answers as the role
// Sentinel gives it, and every node a kill without a command may act on
// allows DEBUG (DEBUG HELP answers); with external.allow_degraded, a
// replica that does not answer is noted in State.Down instead.
func Inspect(ctx context.Context, s *scenario.Scenario, timeout time.Duration) (*State, error) {
	st, err := inspect(ctx, s, timeout)
	if err != nil {
		return nil, err
	}
	if err := st.nativeKillRefused(); err != nil {
		return nil, err
	}
	return st, nil
}

// NativeKillNodes are the nodes a kill without a command may act on, so
// by DEBUG SEGFAULT: the node a kill names, or every node for a kill of
// master, replica or a name given by as, that has no kill command.
func NativeKillNodes(s *scenario.Scenario) []string {
	var out []string
	add := func(n scenario.ExternalNode) {
		if n.Faults[string(fault.Kill)] == "" && !slices.Contains(out, n.Name) {
			out = append(out, n.Name)
		}
	}
	for _, f := range s.Faults {
		if f.Action != fault.Kill || slices.Contains(s.SentinelNames(), f.Target) {
			continue
		}
		if n, ok := s.ExternalNode(f.Target); ok {
			add(n)
			continue
		}
		for _, n := range s.External.Nodes {
			add(n)
		}
	}
	return out
}

// nativeKillRefused is the refusal of the first node a kill without a
// command may act on that refuses DEBUG, or nil.
func (st *State) nativeKillRefused() error {
	for _, name := range slices.Sorted(maps.Keys(st.Debug)) {
		if why := st.Debug[name]; why != "" {
			return fmt.Errorf("node %s: %s", name, killNeedsCommand(why))
		}
	}
	return nil
}

// killNeedsCommand says why a kill of a node that refuses DEBUG needs a
// command.
func killNeedsCommand(why string) string {
	return fmt.Sprintf("a kill without a command is DEBUG SEGFAULT, which the node refuses (%s): give external.nodes[].faults.kill, or enable-debug-command yes on the node", why)
}

// debugAllowed asks a node for DEBUG HELP, which changes nothing: ""
// when it answers, else its refusal, up to its first sentence (Redis 7:
// "ERR DEBUG command not allowed" unless enable-debug-command allows the
// connection; "NOPERM ..." when the user's ACL denies it).
func debugAllowed(ctx context.Context, addr, password string, timeout time.Duration) string {
	rc := client(addr, password, timeout)
	defer rc.Close()
	qctx, cancel := context.WithTimeout(ctx, 2*timeout)
	defer cancel()
	err := rc.Do(qctx, "DEBUG", "HELP").Err()
	if err == nil {
		return ""
	}
	why, _, _ := strings.Cut(err.Error(), ". ")
	return strings.TrimSuffix(why, ".")
}

// inspect is Inspect without refusing a node that refuses DEBUG.
func inspect(ctx context.Context, s *scenario.Scenario, timeout time.Duration) (*State, error) {
	d := s.External
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	byAddr := map[string]string{}
	for _, n := range d.Nodes {
		byAddr[n.Addr] = n.Name
	}
	st := &State{Masters: map[string]string{}, Roles: map[string]string{}, PIDs: map[string]string{}, Down: map[string]string{}, Settings: map[string]SentinelSettings{}, Debug: map[string]string{}}
	for _, g := range s.ResolvedGroups() {
		name, err := inspectGroup(ctx, s, g, byAddr, timeout, st)
		if err != nil {
			return nil, err
		}
		set, err := sentinelSettings(ctx, d.SentinelAddrs()[0], s.Sentinel.Password, g.MasterName, timeout)
		if err != nil {
			return nil, fmt.Errorf("sentinel %s: SENTINEL MASTER %s: %w", d.SentinelAddrs()[0], g.MasterName, err)
		}
		st.Settings[g.Name] = set
		st.Masters[g.Name] = name
		if st.Master == "" {
			st.Master = name
		}
	}
	groupOf := map[string]scenario.Group{}
	for _, g := range s.ResolvedGroups() {
		for _, n := range groupNodes(s, g) {
			groupOf[n.Name] = g
		}
	}
	for _, n := range d.Nodes {
		g := groupOf[n.Name]
		master := st.Masters[g.Name]
		role, pid, err := nodeInfo(ctx, n.Addr, s.Topology.Password, timeout)
		if err != nil && d.AllowDegraded && n.Name != master && ctx.Err() == nil {
			st.Down[n.Name] = err.Error()
			continue
		}
		if err != nil && d.AllowDegraded && n.Name == master {
			return nil, fmt.Errorf("node %s (%s), the master: %w (external.allow_degraded lets replicas be down, not the master)", n.Name, n.Addr, err)
		}
		if err != nil {
			return nil, fmt.Errorf("node %s (%s): %w (external.allow_degraded: true starts with replicas down)", n.Name, n.Addr, err)
		}
		want := "slave"
		if n.Name == master {
			want = "master"
		}
		if role != want {
			return nil, fmt.Errorf("node %s (%s) says it is a %s, but the Sentinels name %s the master of %s", n.Name, n.Addr, role, master, g.MasterName)
		}
		st.Roles[n.Name], st.PIDs[n.Name] = role, pid
	}
	for _, name := range NativeKillNodes(s) {
		if _, down := st.Down[name]; !down {
			n, _ := s.ExternalNode(name)
			st.Debug[name] = debugAllowed(ctx, n.Addr, s.Topology.Password, timeout)
		}
	}
	var err error
	if st.Proxy, err = InspectProxy(ctx, s, timeout); err != nil {
		return nil, err
	}
	return st, nil
}

// inspectGroup asks every Sentinel for a group's master and replicas,
// and returns the name of the master they agree on; replicas that are no
// node of the scenario go to st.Extra.
func inspectGroup(ctx context.Context, s *scenario.Scenario, g scenario.Group, byAddr map[string]string, timeout time.Duration, st *State) (string, error) {
	var master, masterSaidBy string
	reported := map[string]bool{}
	for _, sa := range s.External.SentinelAddrs() {
		hp, replicas, err := askSentinel(ctx, sa, s.Sentinel.Password, g.MasterName, timeout)
		if err != nil {
			return "", fmt.Errorf("sentinel %s: %w", sa, err)
		}
		if master == "" {
			master, masterSaidBy = hp, sa
		} else if hp != master {
			return "", fmt.Errorf("the Sentinels disagree on the master of %s: %s names %s, %s names %s", g.MasterName, masterSaidBy, master, sa, hp)
		}
		for _, r := range replicas {
			if _, ok := byAddr[r]; ok {
				reported[r] = true
			} else if !slices.Contains(st.Extra, r) {
				st.Extra = append(st.Extra, r)
			}
		}
	}
	nodes := groupNodes(s, g)
	in := func(name string) bool {
		return slices.ContainsFunc(nodes, func(n scenario.ExternalNode) bool { return n.Name == name })
	}
	name, ok := byAddr[master]
	if !ok || !in(name) {
		return "", fmt.Errorf("the Sentinels name %s the master of %s, which is no node of %s (%s)", master, g.MasterName, groupLabel(s, g), nodeList(nodes))
	}
	reported[master] = true
	for _, n := range nodes {
		if !reported[n.Addr] {
			return "", fmt.Errorf("external.nodes %s (%s): the Sentinels do not report it for %s (master %s, replicas they report: %s)",
				n.Name, n.Addr, g.MasterName, master, strings.Join(replicaAddrs(reported, master), ", "))
		}
	}
	return name, nil
}

// groupNodes are the external nodes of a group: all of them with one
// group, else those naming it.
func groupNodes(s *scenario.Scenario, g scenario.Group) []scenario.ExternalNode {
	if len(s.ResolvedGroups()) == 1 {
		return s.External.Nodes
	}
	var out []scenario.ExternalNode
	for _, n := range s.External.Nodes {
		if slices.Contains(g.Nodes, n.Name) {
			out = append(out, n)
		}
	}
	return out
}

// groupOf is the group of a node: the only one, or the one naming it.
func groupOf(s *scenario.Scenario, node string) scenario.Group {
	groups := s.ResolvedGroups()
	if g, ok := s.ExternalGroupOf(node); ok || len(groups) == 1 {
		if !ok {
			return groups[0]
		}
		return g
	}
	return scenario.Group{}
}

// groupLabel names a group's nodes for messages: "external.nodes" with
// one group, "group cache" with several.
func groupLabel(s *scenario.Scenario, g scenario.Group) string {
	if len(s.ResolvedGroups()) == 1 {
		return "external.nodes"
	}
	return "group " + g.Name
}

func replicaAddrs(reported map[string]bool, master string) []string {
	var out []string
	for a := range reported {
		if a != master {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	if len(out) == 0 {
		return []string{"none"}
	}
	return out
}

func nodeList(nodes []scenario.ExternalNode) string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.Name+" "+n.Addr)
	}
	return strings.Join(out, ", ")
}

// askSentinel asks a Sentinel (authenticating with password, its
// requirepass, when not empty) for the master of name and the replicas it
// knows, as host:port.
func askSentinel(ctx context.Context, addr, password, name string, timeout time.Duration) (string, []string, error) {
	rc := client(addr, password, timeout)
	defer rc.Close()
	qctx, cancel := context.WithTimeout(ctx, 2*timeout)
	defer cancel()
	hp, err := rc.Do(qctx, "SENTINEL", "get-master-addr-by-name", name).StringSlice()
	if errors.Is(err, redis.Nil) {
		return "", nil, fmt.Errorf("monitors no master named %s", name)
	}
	if err != nil {
		return "", nil, err
	}
	if len(hp) != 2 {
		return "", nil, fmt.Errorf("get-master-addr-by-name %s: unexpected reply %v", name, hp)
	}
	reps, err := rc.Do(qctx, "SENTINEL", "replicas", name).Slice()
	if err != nil {
		return "", nil, fmt.Errorf("replicas %s: %w", name, err)
	}
	var out []string
	for _, r := range reps {
		kv := flat(r)
		if ip, port := kv["ip"], kv["port"]; ip != "" && port != "" {
			out = append(out, net.JoinHostPort(ip, port))
		}
	}
	return net.JoinHostPort(hp[0], hp[1]), out, nil
}

// flat reads a flat key-value array reply (RESP2) or a map (RESP3).
func flat(v any) map[string]string {
	out := map[string]string{}
	switch x := v.(type) {
	case []any:
		for i := 0; i+1 < len(x); i += 2 {
			out[fmt.Sprint(x[i])] = fmt.Sprint(x[i+1])
		}
	case map[any]any:
		for k, v := range x {
			out[fmt.Sprint(k)] = fmt.Sprint(v)
		}
	}
	return out
}

// processID reads the process id of a node or a Sentinel (INFO server).
func processID(ctx context.Context, addr, password string, timeout time.Duration) (string, error) {
	rc := client(addr, password, timeout)
	defer rc.Close()
	qctx, cancel := context.WithTimeout(ctx, 2*timeout)
	defer cancel()
	info, err := rc.Info(qctx, "server").Result()
	if err != nil {
		return "", err
	}
	for l := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "process_id:"); ok {
			return v, nil
		}
	}
	return "", errors.New("INFO server has no process_id")
}

// nodeInfo reads a node's role and process id.
func nodeInfo(ctx context.Context, addr, password string, timeout time.Duration) (role, pid string, err error) {
	rc := client(addr, password, timeout)
	defer rc.Close()
	qctx, cancel := context.WithTimeout(ctx, 2*timeout)
	defer cancel()
	info, err := rc.Info(qctx, "server", "replication").Result()
	if err != nil {
		return "", "", err
	}
	for l := range strings.SplitSeq(info, "\n") {
		l = strings.TrimSpace(l)
		if v, ok := strings.CutPrefix(l, "role:"); ok {
			role = v
		}
		if v, ok := strings.CutPrefix(l, "process_id:"); ok {
			pid = v
		}
	}
	if role == "" {
		return "", "", errors.New("INFO has no role")
	}
	return role, pid, nil
}

func client(addr, password string, timeout time.Duration) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, Password: password, Protocol: 2, DisableIdentity: true, MaxRetries: -1,
		DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout, PoolSize: 1})
}

// Start checks the deployment (Inspect) and returns it as a cluster; it
// starts nothing.
func (b *Backend) Start(ctx context.Context, t rig.Topology, log *slog.Logger) (rig.Cluster, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := b.s.External
	var names []string
	for _, n := range d.Nodes {
		names = append(names, n.Name)
	}
	if got := slices.Sorted(slices.Values(t.Nodes())); !slices.Equal(got, slices.Sorted(slices.Values(names))) {
		return nil, fmt.Errorf("the topology's nodes %v are not the external nodes %v", t.Nodes(), names)
	}
	st, err := Inspect(ctx, b.s, b.opt.Timeout)
	if err != nil {
		return nil, err
	}
	// The report states the deployment's Sentinel settings, not the
	// scenario's defaults: the first group's, as its first Sentinel has
	// them.
	if set, ok := st.Settings[b.s.ResolvedGroups()[0].Name]; ok && set.Quorum > 0 {
		se := &b.s.Sentinel
		se.Quorum, se.ParallelSyncs, se.DownAfter.D, se.FailoverTimeout.D = set.Quorum, set.ParallelSyncs, set.DownAfter, set.FailoverTimeout
	}
	for n, why := range st.Down {
		log.Warn("a replica is down as the run starts (external.allow_degraded)", "node", n, "err", why)
	}
	if len(st.Extra) > 0 {
		log.Warn("the Sentinels report replicas that are no node of the scenario; their events are not named", "replicas", st.Extra)
	}
	if v := st.Proxy; v != nil && len(v.Unmapped) > 0 {
		log.Warn("the proxy's stats show servers that are no node of the scenario; their states are recorded without a node", "servers", v.Unmapped)
	}
	c := &cluster{b: b, log: log, byAddr: map[string]string{}, pauses: pauseLengths(b.s), pids: st.PIDs, proxy: st.Proxy}
	for _, n := range d.Nodes {
		c.nodes = append(c.nodes, &node{c: c, n: n})
		c.byAddr[n.Addr] = n.Name
	}
	for i, se := range d.Sentinels {
		c.sentinels = append(c.sentinels, &sentinel{c: c, name: t.Sentinels[i], s: se})
	}
	log.Info("attached to the external deployment", "masters", st.Masters, "nodes", len(c.nodes), "sentinels", len(c.sentinels), "key_prefix", b.opt.KeyPrefix)
	return c, nil
}

// pauseLengths is how long each pause of the scenario lasts, in the
// order they fire: until the next unpause of the same target (or of the
// name it was given by as), else to the end of the workload.
func pauseLengths(s *scenario.Scenario) []time.Duration {
	var out []time.Duration
	for i, f := range s.Faults {
		if f.Action != fault.Pause {
			continue
		}
		end := s.Duration.D
		for _, g := range s.Faults[i+1:] {
			if g.Action == fault.Unpause && (g.Target == f.Target || (f.As != "" && g.Target == f.As)) {
				end = g.At.D
				break
			}
		}
		out = append(out, max(end-f.At.D, 100*time.Millisecond))
	}
	return out
}

// cluster is the deployment as the engine sees it.
type cluster struct {
	b         *Backend
	log       *slog.Logger
	nodes     []*node
	sentinels []*sentinel
	byAddr    map[string]string

	mu sync.Mutex
	// pauses are the scenario's pause lengths, in order; npause counts
	// the pauses done.
	pauses []time.Duration
	npause int
	// applied are the faults applied and not undone, in order.
	applied []applied
	// pids are the nodes' process ids as last read, for {pid} when a
	// node does not answer (stopped by an earlier fault).
	pids map[string]string
	// proxy is the user's proxy's stats CSV as Start mapped it, or nil.
	proxy *ProxyView
}

// applied is a fault that left a node or a Sentinel changed.
type applied struct {
	node   member
	action fault.Action
	// until is when a native pause ends.
	until time.Time
}

func (c *cluster) Nodes() []rig.Instance {
	return rig.Instances(c.nodes)
}

func (c *cluster) Sentinels() []rig.Instance {
	return rig.Instances(c.sentinels)
}

func (c *cluster) Hosts() []rig.Instance { return nil }

// NodeByAddr names the node at an address as Sentinel reports it.
func (c *cluster) NodeByAddr(addr string) (string, bool) {
	n, ok := c.byAddr[addr]
	return n, ok
}

// KeyPrefix heads every key of the run.
func (c *cluster) KeyPrefix() string { return c.b.opt.KeyPrefix }

// Close undoes the faults the run applied and did not undo, then deletes
// the run's keys from the master. It touches nothing else.
func (c *cluster) Close(ctx context.Context) error {
	var errs []error
	c.mu.Lock()
	left := slices.Clone(c.applied)
	c.mu.Unlock()
	for i := len(left) - 1; i >= 0; i-- {
		a := left[i]
		undo := fault.Of(a.action).Undo
		if n, native := a.node.(*node); native && a.action == fault.Pause && a.until != (time.Time{}) {
			if err := n.waitAnswers(ctx, time.Until(a.until)+5*time.Second); err != nil {
				errs = append(errs, fmt.Errorf("undo pause %s: %w", a.node.Name(), err))
			}
			continue
		}
		if a.node.commands()[string(undo)] == "" {
			c.log.Warn("a fault is left applied: there is no command to undo it", "target", a.node.Name(), "fault", a.action, "undo", undo)
			continue
		}
		c.log.Info("undoing a fault", "target", a.node.Name(), "fault", a.action, "undo", undo)
		if _, err := a.node.DoReport(ctx, undo); err != nil {
			errs = append(errs, fmt.Errorf("undo %s %s: %w", a.action, a.node.Name(), err))
		}
	}
	if err := c.deleteKeys(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		c.log.Error("close the external deployment", "err", err)
		return err
	}
	return nil
}

// deleteKeys deletes every key under the run's prefix from every
// group's master as the Sentinels name it, a batch at a time (SCAN MATCH,
// UNLINK).
func (c *cluster) deleteKeys(ctx context.Context) error {
	var errs []error
	for _, g := range c.b.s.ResolvedGroups() {
		addr, err := c.masterAddr(ctx, g.MasterName)
		if err != nil {
			errs = append(errs, fmt.Errorf("delete the run's keys: %w", err))
			continue
		}
		n, err := DeleteKeys(ctx, addr, c.b.s.Topology.Password, c.b.opt.KeyPrefix, c.b.opt.Timeout)
		if err != nil {
			errs = append(errs, fmt.Errorf("delete the run's keys on %s: %w", addr, err))
			continue
		}
		c.log.Info("deleted the run's keys", "master", addr, "master_name", g.MasterName, "keys", n, "prefix", c.b.opt.KeyPrefix)
	}
	return errors.Join(errs...)
}

// masterAddr is the address of the master of a master name, as the
// first Sentinel that answers names it.
func (c *cluster) masterAddr(ctx context.Context, masterName string) (string, error) {
	var errs []error
	for _, sa := range c.b.s.External.SentinelAddrs() {
		hp, _, err := askSentinel(ctx, sa, c.b.s.Sentinel.Password, masterName, c.b.opt.Timeout)
		if err == nil {
			return hp, nil
		}
		errs = append(errs, err)
	}
	return "", fmt.Errorf("no Sentinel names the master of %s: %w", masterName, errors.Join(errs...))
}

// maxScans bounds the SCAN calls of DeleteKeys: a million keys at 1000 a
// call, far more than a run writes.
const maxScans = 1000

// DeleteKeys deletes every key under prefix on the node at addr, and
// returns how many it deleted. The prefix must hold no glob characters.
func DeleteKeys(ctx context.Context, addr, password, prefix string, timeout time.Duration) (int, error) {
	if prefix == "" || strings.ContainsAny(prefix, `*?[]\`) {
		return 0, fmt.Errorf("refuse to delete keys under prefix %q", prefix)
	}
	rc := client(addr, password, timeout)
	defer rc.Close()
	var cursor uint64
	deleted := 0
	for range maxScans {
		qctx, cancel := context.WithTimeout(ctx, 2*timeout)
		keys, next, err := rc.Scan(qctx, cursor, prefix+"*", 1000).Result()
		if err == nil && len(keys) > 0 {
			err = rc.Unlink(qctx, keys...).Err()
		}
		cancel()
		if err != nil {
			return deleted, err
		}
		deleted += len(keys)
		if cursor = next; cursor == 0 {
			return deleted, nil
		}
	}
	return deleted, fmt.Errorf("more than %d SCAN calls", maxScans)
}

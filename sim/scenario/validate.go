package scenario

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/fault"
)

var namePattern = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_-]*$`)

// passwordPattern is a password that goes into a config file line
// (sentinel.conf's requirepass) as it is: printable ASCII without spaces
// or quotes.
var passwordPattern = regexp.MustCompile(`^[!#-&(-\[\]-~]+$`)

// passwordProblem says what is wrong with a Sentinel password ("" when
// nothing is).
func passwordProblem(pw string) string {
	if pw == "" || passwordPattern.MatchString(pw) {
		return ""
	}
	return "invalid password: printable ASCII without spaces, quotes or backslashes"
}

// Defaults of a scenario, applied by normalize.
const (
	DefaultDuration        = 30 * time.Second
	DefaultSettle          = 30 * time.Second
	DefaultWarmup          = 30 * time.Second
	DefaultNodes           = 3
	DefaultSentinels       = 3
	DefaultDownAfter       = 5 * time.Second
	DefaultFailoverTimeout = 60 * time.Second
	DefaultWriteRate       = 200
	DefaultReadRate        = 100
	DefaultOpTimeout       = time.Second
)

// Bounds of a scenario: far beyond any real experiment, they keep a typo
// (an extra zero or two) from taking the machine's memory or a day.
const (
	// MaxNodes bounds topology.nodes.
	MaxNodes = 64
	// MaxGroups bounds topology.groups.
	MaxGroups = 16
	// MaxRunNodes bounds the nodes of a run, every group's together.
	MaxRunNodes = 256
	// MaxSentinels bounds sentinel.count.
	MaxSentinels = 9
	// MaxClients bounds each of workload.writers.count and readers.count.
	MaxClients = 1000
	// MaxRate bounds a client's operations per second.
	MaxRate = 100000
	// MaxOperations bounds the operations a run records: duration times
	// the clients' rates, writers and readers together (83 minutes of the
	// default 200 writes a second). Each takes some 200 bytes in a saved
	// run, whose file inputfile.MaxSize must hold to summarize it.
	MaxOperations = 1_000_000
	// MaxDuration bounds every time in a scenario (the run, the waits,
	// the check intervals and timeouts, the faults' times and delays).
	MaxDuration = 24 * time.Hour
	// MaxCheckCount bounds proxy.rise and proxy.fall.
	MaxCheckCount = 1000
	// MaxListLen bounds the lists: faults, expect, check_rules and
	// topology.names (which MaxNodes bounds too).
	MaxListLen = 1000
)

// normalize fills defaults and checks every field; it returns one error per
// problem.
func (s *Scenario) normalize() []fieldError {
	var errs []fieldError
	bad := func(path, format string, args ...any) {
		errs = append(errs, fieldError{path: path, msg: fmt.Sprintf(format, args...)})
	}
	dur := func(path string, d *Duration, def time.Duration, positive bool) {
		if err := d.parse(); err != nil {
			bad(path, "%v", err)
			return
		}
		switch {
		case !d.Set():
			d.D = def
		case positive && d.D <= 0:
			bad(path, "must be greater than zero")
		case d.D > MaxDuration:
			bad(path, "%v is too long: at most %v", d, MaxDuration)
		}
	}
	list := func(path string, n int) {
		if n > MaxListLen {
			bad(path, "%d entries: at most %d", n, MaxListLen)
		}
	}
	list("faults", len(s.Faults))
	list("expect", len(s.Expect))
	list("proxy.check_rules", len(s.Proxy.CheckRules))

	if s.Name == "" {
		base := filepath.Base(s.File)
		s.Name = strings.TrimSuffix(base, filepath.Ext(base))
	}
	switch s.Backend {
	case "":
		s.Backend = "memory"
	case "memory", "docker", fault.External:
	default:
		bad("backend", "unknown backend %q; valid: memory, docker, external", s.Backend)
	}
	dur("duration", &s.Duration, DefaultDuration, true)
	dur("settle", &s.Settle, DefaultSettle, false)
	dur("warmup", &s.Warmup, DefaultWarmup, true)
	errs = append(errs, s.normalizeExternal(dur)...)

	// Topology.
	t := &s.Topology
	switch {
	case t.Nodes < 0 || t.Nodes > MaxNodes:
		bad("topology.nodes", "must be from 2 to %d, got %d", MaxNodes, t.Nodes)
	case len(t.Names) > MaxNodes:
		bad("topology.names", "%d names: at most %d nodes", len(t.Names), MaxNodes)
	case len(t.Names) > 0 && t.Nodes != 0 && t.Nodes != len(t.Names):
		bad("topology.nodes", "%d nodes but %d names: give one or make them agree", t.Nodes, len(t.Names))
	case len(t.Names) > 0:
		t.Nodes = len(t.Names)
	case t.Nodes == 0:
		t.Nodes = DefaultNodes
	}
	if t.Nodes == 1 {
		bad("topology.nodes", "must be at least 2: a failover needs a replica")
	}
	seen := map[string]bool{}
	for i, n := range t.Names {
		if !namePattern.MatchString(n) {
			bad(fmt.Sprintf("topology.names[%d]", i), "invalid name %q: start with a letter, then letters, digits, '-' or '_'", n)
		}
		if seen[n] {
			bad(fmt.Sprintf("topology.names[%d]", i), "name %q used twice", n)
		}
		seen[n] = true
	}
	if t.MinReplicasToWrite < 0 || (t.Nodes > 0 && t.MinReplicasToWrite >= t.Nodes) {
		bad("topology.min_replicas_to_write", "must be from 0 to %d (the number of replicas), got %d", t.Nodes-1, t.MinReplicasToWrite)
	}
	dur("topology.min_replicas_max_lag", &t.MinReplicasMaxLag, 10*time.Second, true)
	dur("topology.replication_lag", &t.ReplicationLag, time.Millisecond, false)

	// Sentinel.
	se := &s.Sentinel
	masterNameGiven := se.MasterName != ""
	if se.Count == 0 {
		se.Count = DefaultSentinels
	}
	countOK := se.Count >= 1 && se.Count <= MaxSentinels
	if !countOK {
		bad("sentinel.count", "must be from 1 to %d, got %d", MaxSentinels, se.Count)
	}
	if se.Quorum == 0 {
		se.Quorum = se.Count/2 + 1
	}
	if countOK && (se.Quorum < 1 || se.Quorum > se.Count) {
		bad("sentinel.quorum", "must be from 1 to the number of Sentinels (%d), got %d", se.Count, se.Quorum)
	}
	dur("sentinel.down_after", &se.DownAfter, DefaultDownAfter, true)
	dur("sentinel.failover_timeout", &se.FailoverTimeout, DefaultFailoverTimeout, true)
	if se.ParallelSyncs == 0 {
		se.ParallelSyncs = 1
	}
	if se.ParallelSyncs < 1 || se.ParallelSyncs > MaxNodes {
		bad("sentinel.parallel_syncs", "must be from 1 to %d, got %d", MaxNodes, se.ParallelSyncs)
	}
	if se.MasterName == "" {
		se.MasterName = "mymaster"
	} else if !namePattern.MatchString(se.MasterName) {
		bad("sentinel.master_name", "invalid name %q: letters, digits, '-' and '_'", se.MasterName)
	}
	if msg := passwordProblem(se.Password); msg != "" && !s.IsExternal() {
		bad("sentinel.password", "%s", msg)
	}
	if se.AnnounceHostnames && s.Backend != "docker" {
		bad("sentinel.announce_hostnames", "the %s backend cannot configure it: only the docker backend names its nodes by host name (a running deployment's Sentinels say what they were configured to)", s.Backend)
	}

	errs = append(errs, s.normalizeGroups(masterNameGiven, countOK)...)

	// Proxy.
	p := &s.Proxy
	if p.Kind == "" {
		p.Kind = "redisha"
	}
	if !slices.Contains(ProxyKinds, p.Kind) {
		bad("proxy.kind", "unknown proxy kind %q; valid: %s", p.Kind, oneOf(ProxyKinds))
	} else if p.Kind != "redisha" && s.Backend != "docker" {
		bad("proxy.kind", "proxy kind %q runs in a container: it needs backend docker", p.Kind)
	}
	if p.Config != "" {
		if _, err := s.ReadFile(p.Config); err != nil {
			bad("proxy.config", "cannot read %s: %v", s.Path(p.Config), errorsUnwrapPath(err))
		}
		if p.Check != "" || len(p.CheckRules) > 0 {
			bad("proxy.check", "give either a config file or a check sequence, not both")
		}
	} else {
		if p.Check == "" {
			p.Check = "seed"
		}
		checks := []string{"seed", "role", "redis", "custom"}
		if !slices.Contains(checks, p.Check) {
			bad("proxy.check", "unknown check %q; valid: %s", p.Check, oneOf(checks))
		}
		if p.Check == "custom" && len(p.CheckRules) == 0 {
			bad("proxy.check_rules", "check 'custom' needs check_rules, e.g. [\"send PING\\r\\n\", \"expect string +PONG\"]")
		}
		if p.Check != "custom" && len(p.CheckRules) > 0 {
			bad("proxy.check_rules", "check_rules need check: custom")
		}
	}
	if p.SentinelAware && p.Kind == "haproxy" {
		bad("proxy.sentinel_aware", "HAProxy has no Sentinel-aware mode; use kind redisha")
	}
	for _, d := range []struct {
		path string
		v    *Duration
	}{{"proxy.inter", &p.Inter}, {"proxy.fastinter", &p.FastInter}, {"proxy.downinter", &p.DownInter}, {"proxy.timeout_check", &p.TimeoutCheck}} {
		dur(d.path, d.v, 0, true)
	}
	dur("proxy.timeout_connect", &p.TimeoutConnect, 4*time.Second, true)
	dur("proxy.timeout_client", &p.TimeoutClient, 15*time.Second, true)
	dur("proxy.timeout_server", &p.TimeoutServer, 15*time.Second, true)
	if p.Rise < 0 || p.Rise > MaxCheckCount {
		bad("proxy.rise", "must be from 1 to %d, got %d", MaxCheckCount, p.Rise)
	}
	if p.Fall < 0 || p.Fall > MaxCheckCount {
		bad("proxy.fall", "must be from 1 to %d, got %d", MaxCheckCount, p.Fall)
	}
	balances := []string{"first", "roundrobin", "leastconn", "source"}
	if p.Balance != "" && !slices.Contains(balances, p.Balance) {
		bad("proxy.balance", "unknown algorithm %q; valid: %s", p.Balance, oneOf(balances))
	}
	for i, port := range []int{p.MasterPort, p.ReplicaPort} {
		if port < 0 || port > 65535 {
			bad([]string{"proxy.master_port", "proxy.replica_port"}[i], "must be from 1 to 65535 (0: any free port), got %d", port)
		}
	}

	// Workload.
	clients := func(path string, c *Clients, count int, rate float64) {
		if c.Count < 0 || c.Count > MaxClients {
			bad(path+".count", "must be from 0 to %d, got %d", MaxClients, c.Count)
		}
		if c.Count == 0 && c.Rate == 0 && !c.Timeout.Set() && c.Connection == "" {
			c.Count = count
		}
		switch {
		case math.IsNaN(c.Rate) || c.Rate < 0:
			bad(path+".rate", "must be greater than zero (operations per second per client), got %v", c.Rate)
		case c.Rate == 0:
			c.Rate = rate
		case c.Rate > MaxRate:
			bad(path+".rate", "at most %d operations per second per client, got %v", MaxRate, c.Rate)
		}
		dur(path+".timeout", &c.Timeout, DefaultOpTimeout, true)
		switch c.Connection {
		case "":
			c.Connection = "per-op"
		case "per-op", "pooled", "persistent":
		default:
			bad(path+".connection", "unknown connection mode %q; valid: per-op, persistent (or its older name pooled)", c.Connection)
		}
	}
	list("workloads", len(s.WorkloadList))
	if len(s.WorkloadList) > 0 {
		s.normalizeWorkloads(bad, dur, clients)
	} else {
		clients("workload.writers", &s.Workload.Writers, 1, DefaultWriteRate)
		clients("workload.readers", &s.Workload.Readers, 0, DefaultReadRate)
	}
	ops := 0.0
	for _, wl := range s.Workloads() {
		w, r := wl.Writers, wl.Readers
		if w.Rate <= MaxRate && r.Rate <= MaxRate && w.Count <= MaxClients && r.Count <= MaxClients {
			ops += float64(w.Count)*w.Rate + float64(r.Count)*r.Rate
		}
	}
	if ops *= s.Duration.D.Seconds(); s.Duration.D <= MaxDuration && ops > MaxOperations {
		bad("duration", "the run would record %.0f operations (duration times each client's rate): at most %d; shorten it or lower the rates", ops, MaxOperations)
	}

	// Faults.
	names, kinds := s.targets()
	for i := range s.Faults {
		f := &s.Faults[i]
		path := fmt.Sprintf("faults[%d]", i)
		fx, known := fault.Lookup(f.Action)
		dur(path+".at", &f.At, 0, false)
		before := len(errs)
		dur(path+".delay", &f.Delay, 0, false)
		dur(path+".jitter", &f.Jitter, 0, false)
		switch {
		case len(errs) > before || !known:
		case fx.Takes("delay") && f.Delay.D == 0 && f.Jitter.D == 0:
			field := ".delay" // or the zero jitter, when only that was given
			if f.Jitter.Set() && !f.Delay.Set() {
				field = ".jitter"
			}
			bad(path+field, "action %s needs delay or jitter greater than zero, e.g. delay: 300ms or jitter: 200ms", f.Action)
		case !fx.Takes("delay") && f.Delay.Set():
			bad(path+".delay", "only action %s takes a delay, not %s: remove it or use action %[1]s", fault.Delay, f.Action)
		case !fx.Takes("jitter") && f.Jitter.Set():
			bad(path+".jitter", "only action %s takes a jitter, not %s: remove it or use action %[1]s", fault.Delay, f.Action)
		}
		if known {
			errs = append(errs, linkParams(s.Backend, path, fx, f)...)
		}
		if f.At.D > s.Duration.D {
			bad(path+".at", "at %v is after the end of the run (duration %v)", f.At, s.Duration)
		}
		if !known {
			bad(path+".action", "unknown action %q; valid: %s", f.Action, oneOf(fault.Actions()))
		}
		f.Kind = kinds[f.Target]
		switch {
		case f.Target == "":
			bad(path+".target", "missing target; valid: %s", oneOf(names))
		case !slices.Contains(names, f.Target):
			bad(path+".target", "%s", s.unknownTarget(f.Target, names))
		case f.Target == "proxy" && p.Kind == "redisha":
			bad(path+".target", "the in-process proxy cannot be faulted: use proxy kind redisha-container or haproxy")
		case known && f.Kind != "" && slices.Contains(fault.Backends, s.Backend) && !fx.Available(s.Backend, f.Kind):
			errs = append(errs, unsupported(s, path, fx, f, kinds))
		case known:
			errs = append(errs, s.checkExternalFault(path, f)...)
		}
		if f.As != "" {
			if !namePattern.MatchString(f.As) || slices.Contains(names, f.As) {
				bad(path+".as", "invalid or taken name %q: pick a new name such as old_master", f.As)
			} else {
				names = append(names, f.As)
				kinds[f.As] = kinds[f.Target]
			}
		}
		if i > 0 && f.At.D < s.Faults[i-1].At.D {
			bad(path+".at", "faults must be in time order: %v is before the previous fault's %v", f.At, s.Faults[i-1].At)
		}
	}
	// Expectations.
	s.Expectations = nil
	groups := s.ResolvedGroups()
	var groupNames, workloadNames []string
	if len(groups) > 1 {
		for _, g := range groups {
			groupNames = append(groupNames, g.Name)
		}
	}
	if len(s.WorkloadList) > 1 {
		for _, w := range s.WorkloadList {
			workloadNames = append(workloadNames, w.Name)
		}
	}
	for i, raw := range s.Expect {
		e, err := ParseExpectation(raw)
		if err != nil {
			bad(fmt.Sprintf("expect[%d]", i), "%v", err)
			continue
		}
		if e.Group != "" {
			if msg := prefixError(e.Group, groupNames, workloadNames, len(s.WorkloadList) == 1 && s.WorkloadList[0].Name == e.Group); msg != "" {
				bad(fmt.Sprintf("expect[%d]", i), "%q: %s", raw, msg)
				continue
			}
			if slices.Contains(workloadNames, e.Group) {
				e.Workload, e.Group = e.Group, ""
			}
		}
		s.Expectations = append(s.Expectations, e)
	}
	return errs
}

// prefixError says why an expectation's prefix names neither one of
// several groups nor one of several workloads ("" when it names one);
// soleWorkload is set when it names a run's only workload.
func prefixError(prefix string, groups, workloads []string, soleWorkload bool) string {
	switch {
	case slices.Contains(groups, prefix) || slices.Contains(workloads, prefix):
		return ""
	case soleWorkload:
		return fmt.Sprintf("a workload prefix needs several workloads: the run's only workload is %s, so write the metric alone", prefix)
	case len(groups) == 0 && len(workloads) == 0:
		return "a group prefix needs several groups (topology.groups), a workload prefix several workloads (workloads)"
	case len(workloads) == 0:
		return fmt.Sprintf("no group %q; groups: %s", prefix, oneOf(groups))
	case len(groups) == 0:
		return fmt.Sprintf("no workload %q; workloads: %s", prefix, oneOf(workloads))
	}
	return fmt.Sprintf("no group or workload %q; groups: %s; workloads: %s", prefix, oneOf(groups), oneOf(workloads))
}

// linkParams checks a fault's link parameters (peers, direction, loss,
// rate): each only on an action that takes it, with a valid value.
func linkParams(backend, path string, fx fault.Entry, f *Fault) []fieldError {
	var errs []fieldError
	bad := func(field, format string, args ...any) {
		errs = append(errs, fieldError{path: path + "." + field, msg: fmt.Sprintf(format, args...)})
	}
	takers := func(param string) string {
		var out []string
		for _, e := range fault.All() {
			if e.Takes(param) {
				out = append(out, string(e.Action))
			}
		}
		return oneOf(out)
	}
	set := map[string]bool{"peers": f.Peers != nil, "direction": f.Direction != "", "loss": f.Loss != nil, "rate": f.Rate != nil}
	for _, p := range []string{"peers", "direction", "loss", "rate"} {
		if set[p] && !fx.Takes(p) {
			bad(p, "action %s takes no %s: remove it (actions that take one: %s)", f.Action, p, takers(p))
			set[p] = false
		}
	}
	if set["peers"] {
		if len(f.Peers) == 0 {
			bad("peers", "an empty list: leave peers out for all, or name some of %s", oneOf(fault.PeerClasses))
		}
		for i, c := range f.Peers {
			if !slices.Contains(fault.PeerClasses, c) {
				bad(fmt.Sprintf("peers[%d]", i), "unknown peer class %q; valid: %s", c, oneOf(fault.PeerClasses))
			}
		}
	}
	if set["direction"] && !slices.Contains(fault.Directions, f.Direction) {
		bad("direction", "unknown direction %q; valid: in (what the target hears), out (what it sends); leave it out for both", f.Direction)
	}
	switch {
	case fx.Takes("loss") && f.Loss == nil:
		bad("action", "action %s needs loss, the fraction of connections that hang, e.g. loss: 0.3", f.Action)
	case set["loss"] && (math.IsNaN(*f.Loss) || *f.Loss < 0 || *f.Loss > 1):
		bad("loss", "must be a fraction from 0 to 1, got %v", *f.Loss)
	}
	switch {
	case fx.Takes("rate") && f.Rate == nil:
		bad("action", "action %s needs rate, in bytes per second, e.g. rate: 65536", f.Action)
	case set["rate"] && (math.IsNaN(*f.Rate) || *f.Rate <= 0 || math.IsInf(*f.Rate, 0)):
		bad("rate", "must be a number of bytes per second greater than zero, got %v", *f.Rate)
	}
	return errs
}

// unsupported is the one error of a fault whose action the scenario's
// backend cannot perform on its target: it names the action, the target,
// the backend and what would be valid.
func unsupported(s *Scenario, path string, fx fault.Entry, f *Fault, kinds map[string]fault.Kind) fieldError {
	kindName := map[fault.Kind]string{fault.KindNode: "a Redis node", fault.KindSentinel: "a Sentinel", fault.KindProxy: "the proxy", fault.KindHost: "a host"}
	msg := fmt.Sprintf("the %s backend cannot %s %q, %s: ", s.Backend, f.Action, f.Target, kindName[f.Kind])
	can := fx.Backends[s.Backend]
	if !fx.Accepts(f.Kind) {
		msg += fmt.Sprintf("action %s acts on %s only", f.Action, fault.KindsText(fx.Targets))
	} else {
		if len(can) == 0 {
			msg += fmt.Sprintf("it cannot %s anything", f.Action)
		} else {
			msg += fmt.Sprintf("it can %s %s only", f.Action, fault.KindsText(can))
		}
		var others []string
		for _, b := range fault.Backends {
			if b != s.Backend && fx.Available(b, f.Kind) {
				others = append(others, b)
			}
		}
		if len(others) > 0 {
			msg += fmt.Sprintf(" (backend %s can)", oneOf(others))
		}
	}
	var valid []string
	all, _ := s.targets()
	for _, n := range all {
		if slices.Contains(can, kinds[n]) {
			valid = append(valid, n)
		}
	}
	if len(valid) == 0 {
		return fieldError{path: path + ".action", msg: msg, backend: true}
	}
	msg += "; valid: " + oneOf(valid) + " or a name given by as to one of them"
	return fieldError{path: path + ".target", msg: msg, backend: true}
}

// Path resolves a path relative to the scenario's directory.
func (s *Scenario) Path(p string) string {
	if filepath.IsAbs(p) || s.File == "" {
		return p
	}
	if s.FS != nil {
		return path.Join(path.Dir(s.File), p)
	}
	return filepath.Join(filepath.Dir(s.File), p)
}

// errorsUnwrapPath drops the path an *fs.PathError repeats.
func errorsUnwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// targets are the names a fault may target, before any given by as, and
// the kind of instance each names: Redis nodes, Sentinels, the proxy and
// hosts.
func (s *Scenario) targets() ([]string, map[string]fault.Kind) {
	names := []string{"master", "replica", "proxy"}
	kinds := map[string]fault.Kind{"master": fault.KindNode, "replica": fault.KindNode, "proxy": fault.KindProxy}
	add := func(n string, k fault.Kind) {
		if _, dup := kinds[n]; !dup {
			names = append(names, n)
			kinds[n] = k
		}
	}
	if groups := s.ResolvedGroups(); len(groups) > 1 {
		for _, g := range groups {
			add(g.Name+".master", fault.KindNode)
			add(g.Name+".replica", fault.KindNode)
		}
	}
	for _, n := range s.NodeNames() {
		add(n, fault.KindNode)
	}
	for _, n := range s.SentinelNames() {
		add(n, fault.KindSentinel)
	}
	for _, h := range s.Topology.Hosts {
		add(HostTarget+h, fault.KindHost)
	}
	return names, kinds
}

// unknownTarget says what is wrong with a target that names nothing:
// a host not declared, a group that does not exist, or any name.
func (s *Scenario) unknownTarget(t string, valid []string) string {
	if h, ok := strings.CutPrefix(t, HostTarget); ok {
		if len(s.Topology.Hosts) == 0 {
			return fmt.Sprintf("unknown host %q: the scenario declares no hosts (topology.hosts)", h)
		}
		return fmt.Sprintf("unknown host %q; declared in topology.hosts: %s", h, oneOf(s.Topology.Hosts))
	}
	if g, role, ok := strings.Cut(t, "."); ok && (role == "master" || role == "replica") {
		var groups []string
		for _, x := range s.ResolvedGroups() {
			groups = append(groups, x.Name)
		}
		if len(groups) == 1 {
			return fmt.Sprintf("unknown target %q: the scenario has one group, whose %s is %q", t, role, role)
		}
		return fmt.Sprintf("unknown group %q in %q; groups: %s", g, t, oneOf(groups))
	}
	return fmt.Sprintf("unknown target %q; valid: %s", t, oneOf(valid))
}

// normalizeGroups checks topology.groups, topology.hosts and the
// placements, after the topology's and the Sentinels' own fields.
func (s *Scenario) normalizeGroups(masterNameGiven, sentinelCountOK bool) []fieldError {
	var errs []fieldError
	bad := func(path, format string, args ...any) {
		errs = append(errs, fieldError{path: path, msg: fmt.Sprintf(format, args...)})
	}
	t := &s.Topology
	g := &t.Groups
	switch {
	case g.bad != "":
		bad("topology.groups", "want %s, got %s", kindOf(groupsType), g.bad)
	case g.raw != "":
		n, err := strconv.Atoi(g.raw)
		switch {
		case err != nil:
			bad("topology.groups", "want a number of groups from 1 to %d (or a list of groups), got %q", MaxGroups, g.raw)
		case n < 1 || n > MaxGroups:
			bad("topology.groups", "must be from 1 to %d, got %d", MaxGroups, n)
		default:
			g.Count = n
		}
		g.raw = ""
	case g.List != nil && len(g.List) == 0:
		bad("topology.groups", "an empty list: give at least one group, or leave groups out for one")
	case len(g.List) > MaxGroups:
		bad("topology.groups", "%d groups: at most %d", len(g.List), MaxGroups)
	}

	// Hosts.
	if len(t.Hosts) > MaxListLen {
		bad("topology.hosts", "%d entries: at most %d", len(t.Hosts), MaxListLen)
	}
	declared := map[string]bool{}
	for i, h := range t.Hosts {
		path := fmt.Sprintf("topology.hosts[%d]", i)
		switch {
		case !namePattern.MatchString(h):
			bad(path, "invalid name %q: start with a letter, then letters, digits, '-' or '_'", h)
		case declared[h]:
			bad(path, "host %q declared twice", h)
		}
		declared[h] = true
	}
	placement := func(path string, hosts []string, n int, what string) {
		if len(hosts) == 0 {
			return
		}
		if len(t.Hosts) == 0 {
			bad(path, "places %s on hosts, but topology.hosts declares none: declare them, e.g. hosts: [%s]", what, oneOf(uniq(hosts)))
			return
		}
		if len(hosts) != 1 && len(hosts) != n {
			bad(path, "%d hosts for %d %s: give the host of each, in order, or one host for all", len(hosts), n, what)
		}
		for i, h := range hosts {
			if !declared[h] {
				bad(fmt.Sprintf("%s[%d]", path, i), "host %q is not declared; declared in topology.hosts: %s", h, oneOf(t.Hosts))
			}
		}
	}

	// Groups.
	groups := s.ResolvedGroups()
	specs := s.specs()
	if masterNameGiven && len(groups) > 1 {
		bad("sentinel.master_name", "%d groups: set master_name per group instead (topology.groups[i].master_name; default the group's name)", len(groups))
	}
	if len(g.List) == 1 && g.List[0].MasterName != "" {
		if masterNameGiven && s.Sentinel.MasterName != g.List[0].MasterName {
			bad("topology.groups[0].master_name", "%q, but sentinel.master_name is %q: give one", g.List[0].MasterName, s.Sentinel.MasterName)
		}
		s.Sentinel.MasterName = g.List[0].MasterName
	}
	groupNames, masterNames := map[string]bool{}, map[string]bool{}
	total := 0
	for i, spec := range specs {
		path := fmt.Sprintf("topology.groups[%d]", i)
		if spec.Name != "" && !namePattern.MatchString(spec.Name) {
			bad(path+".name", "invalid name %q: start with a letter, then letters, digits, '-' or '_'", spec.Name)
		}
		if spec.MasterName != "" && !namePattern.MatchString(spec.MasterName) {
			bad(path+".master_name", "invalid name %q: letters, digits, '-' and '_'", spec.MasterName)
		}
		switch {
		case spec.Nodes < 0 || spec.Nodes == 1 || spec.Nodes > MaxNodes:
			bad(path+".nodes", "must be from 2 to %d, got %d", MaxNodes, spec.Nodes)
		case spec.Nodes > 0 && len(t.Names) > 0 && spec.Nodes != len(t.Names):
			bad(path+".nodes", "%d nodes but topology.names gives %d names for each group: make them agree, or leave names out", spec.Nodes, len(t.Names))
		}
		gr := groups[i]
		if groupNames[gr.Name] {
			bad(path+".name", "group name %q used twice", gr.Name)
		}
		groupNames[gr.Name] = true
		if masterNames[gr.MasterName] {
			bad(path+".master_name", "master name %q used twice: each group's master needs its own", gr.MasterName)
		}
		masterNames[gr.MasterName] = true
		total += len(gr.Nodes)
		if t.MinReplicasToWrite > 0 && t.MinReplicasToWrite >= len(gr.Nodes) && len(gr.Nodes) != t.Nodes {
			bad("topology.min_replicas_to_write", "must be from 0 to %d (the replicas of group %s), got %d", len(gr.Nodes)-1, gr.Name, t.MinReplicasToWrite)
		}
		placement(path+".hosts", spec.Hosts, len(gr.Nodes), "nodes")
	}
	if total > MaxRunNodes {
		bad("topology.groups", "%d groups of nodes make %d nodes: at most %d in a run", len(groups), total, MaxRunNodes)
	}
	if sentinelCountOK {
		placement("sentinel.hosts", s.Sentinel.Hosts, s.Sentinel.Count, "Sentinels")
	}
	return errs
}

// uniq is vals without repeats, in order.
func uniq(vals []string) []string {
	var out []string
	for _, v := range vals {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

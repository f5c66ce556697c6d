package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisha-sim/redisha-sim/sim/rig"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
	"github.com/redisha-sim/redisha-sim/sim/undertest"
	"github.com/redisha-sim/redisha-sim/sim/verdict"
)

// Options configure a run.
type Options struct {
	// Log receives the engine's and the backend's logs; nil discards them.
	Log *slog.Logger
	// StartProxy starts the proxy under test; nil means the in-process
	// redisha proxy.
	StartProxy rig.ProxyStarter
	// Progress, when set, is called a few times per second.
	Progress func(Progress)
	// Cleanup bounds the teardown after the run (default 2m).
	Cleanup time.Duration
	// StartJitter delays the workload by a random time in [0,
	// StartJitter) once the cluster is warm, so that repeated runs fault
	// the master at random phases of the checks and of Sentinel's timers
	// (without it, in-memory runs repeat the same phases).
	StartJitter time.Duration
}

// Progress is what a live progress line shows.
type Progress struct {
	Elapsed  time.Duration
	Stage    string // "starting", "warming up", "running", "settling", "reading back", "done"
	Phase    string // the failover's latest milestone
	OK, Fail int
}

// Result is a finished run.
type Result struct {
	Timeline *timeline.Timeline
	Report   *verdict.Report
	Proxy    string
}

// ErrSetup wraps failures to bring the cluster or the proxy up.
var ErrSetup = errors.New("setup failed")

// Run executes a scenario on a backend: it starts the cluster and the
// proxy, waits until writes reach the master through the proxy, runs the
// workload while firing the faults, lets the cluster settle, reads every
// written key back from the master Sentinel names, and judges the
// timeline. Everything it started is stopped before it returns, also when
// ctx is cancelled.
//
// A scenario with several replication groups runs all of that per group:
// each group has its frontend in the proxy under test (by group name; a
// group without one is a setup error), warms up through it, runs the
// scenario's whole workload through it (tagging its operations and keys
// with the group), and settles and reads back on its own, from the master
// the Sentinels name by the group's master name. The timeline then lists
// the groups (Timeline.Groups, each with its read-back), tags the events
// by group (Event.Group: a Sentinel event by the master name in its
// payload, the others by their node), and its ReadBack sums the groups'
// up (totalReadBack). A run with one group records exactly what it did
// before groups existed: no Groups, no Group tags.
func Run(ctx context.Context, s *scenario.Scenario, b rig.Backend, opt Options) (res *Result, err error) {
	log := opt.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	progress := func(p Progress) {
		if opt.Progress != nil {
			p.Elapsed = time.Since(start)
			opt.Progress(p)
		}
	}
	cleanupLimit := opt.Cleanup
	if cleanupLimit == 0 {
		cleanupLimit = 2 * time.Minute
	}
	var cleanups []func(context.Context)
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), cleanupLimit)
		defer cancel()
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i](cctx)
		}
	}()

	if err := checkFaults(s, b.Name()); err != nil {
		return nil, err
	}
	progress(Progress{Stage: "starting"})
	topo := rig.TopologyOf(s)
	sctx, cancelStart := context.WithTimeout(ctx, s.Warmup.D+time.Minute)
	cluster, err := b.Start(sctx, topo, log)
	cancelStart()
	if err != nil {
		return nil, fmt.Errorf("%w: start the %s cluster: %w", ErrSetup, b.Name(), err)
	}
	cleanups = append(cleanups, func(c context.Context) { cluster.Close(c) })
	startProxy := opt.StartProxy
	if startProxy == nil {
		startProxy = undertest.StartInProcessProxy
	}
	px, err := startProxy(ctx, s, cluster, log)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSetup, err)
	}
	cleanups = append(cleanups, func(c context.Context) { px.Close(c) })
	groups, err := pairGroups(topo, px.Frontends())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSetup, err)
	}
	index := newGroupIndex(groups)

	// Observers start before the warm-up so that they see the steady
	// state; they record from T=0.
	obsCtx, stopObs := context.WithCancel(context.Background())
	var obsWG sync.WaitGroup
	cleanups = append(cleanups, func(context.Context) { stopObs(); obsWG.Wait() })
	ids := &nodeIdentity{}
	poller := newRolePoller(cluster, s.Topology.Password, ids)
	obsWG.Add(1)
	go func() { defer obsWG.Done(); poller.run(obsCtx) }()

	progress(Progress{Stage: "warming up"})
	if err := warmUpGroups(ctx, s, groups, poller, warmupKey(cluster)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSetup, err)
	}

	if opt.StartJitter > 0 {
		select {
		case <-time.After(rand.N(opt.StartJitter)):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}

	rec := timeline.NewRecorder(time.Now())
	rec.Update(func(tl *timeline.Timeline) {
		tl.Scenario, tl.Backend, tl.Proxy = s.Name, b.Name(), px.Describe()
		tl.Nodes = s.NodeNames()
		tl.InitialMaster = groups[0].initial()
		tl.Params = paramsOf(s)
		tl.Settings = s.Settings()
		if len(groups) > 1 {
			for _, g := range groups {
				tl.Groups = append(tl.Groups, timeline.Group{Name: g.Name, MasterName: g.MasterName, Nodes: g.Nodes,
					InitialMaster: g.initial(), MasterAddr: g.fe.MasterAddr, ReplicaAddr: g.fe.ReplicaAddr})
			}
		}
		for _, h := range topo.Hosts {
			tl.Hosts = append(tl.Hosts, timeline.Host{Name: h.Name, Members: h.Members})
		}
	})
	poller.record(rec)
	checksAtStart := readChecks(ctx, px, log)
	waitSentinels := watchSentinels(obsCtx, cluster, s.Sentinel.Password, rec)
	obsWG.Add(2)
	go func() { defer obsWG.Done(); waitSentinels() }()
	go func() { defer obsWG.Done(); watchProxy(obsCtx, px, rec) }()
	rec.Event(timeline.Event{Kind: timeline.KindNote, Source: "engine", Name: "workload-start"})

	// The workload: the same in every group, through the group's ports.
	wctx, stopWork := context.WithCancel(ctx)
	var work sync.WaitGroup
	seed := uint64(s.Seed)
	if seed == 0 {
		seed = rand.Uint64()
	}
	wls := s.Workloads()
	var cmdErr <-chan error
	if len(wls) > 1 {
		rec.Update(func(tl *timeline.Timeline) {
			for _, w := range wls {
				tl.Workloads = append(tl.Workloads, timeline.Workload{Name: w.Name, Client: w.Client, Detail: workloadDetail(w)})
			}
		})
	}
	sp := &spawner{s: s, cluster: cluster, rec: rec, ids: ids, log: log, wg: &work, seed: seed}
	spawnErr := sp.spawnAll(ctx, wctx, wls, groups)
	cleanups = append(cleanups, sp.close)
	cmdErr = sp.failed
	if spawnErr != nil {
		stopWork()
		work.Wait()
		return nil, fmt.Errorf("%w: %w", ErrSetup, spawnErr)
	}

	// Faults, on their schedule; progress meanwhile.
	faultErr := make(chan error, 1)
	go func() { faultErr <- runFaults(wctx, s, cluster, px, poller, rec, log) }()
	ticker := time.NewTicker(250 * time.Millisecond)
	deadline := time.After(s.Duration.D)
	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			runErr = ctx.Err()
			break loop
		case <-deadline:
			break loop
		case err := <-cmdErr:
			runErr = err
			break loop
		case <-ticker.C:
			ok, fail := rec.Counts()
			progress(Progress{Stage: "running", Phase: lastMilestone(rec, index), OK: ok, Fail: fail})
		}
	}
	ticker.Stop()
	stopWork()
	work.Wait()
	if err := <-faultErr; err != nil && runErr == nil {
		runErr = err
	}
	end := rec.Now()
	rec.Event(timeline.Event{T: end, Kind: timeline.KindNote, Source: "engine", Name: "workload-end"})
	if runErr != nil {
		return nil, runErr
	}
	recordCheckLoad(rec, checksAtStart, readChecks(ctx, px, log), log)

	progress(Progress{Stage: "settling"})
	var readers sync.Mutex // one progress call at a time
	settleGroups(ctx, s, cluster, poller, rec, groups, func() {
		readers.Lock()
		defer readers.Unlock()
		ok, fail := rec.Counts()
		progress(Progress{Stage: "reading back", OK: ok, Fail: fail})
	})
	rec.Update(func(tl *timeline.Timeline) {
		tl.End = end
		tl.ReadBack = groups[0].rb
		if len(groups) > 1 {
			for i, g := range groups {
				tl.Groups[i].ReadBack = g.rb
			}
			tl.ReadBack = totalReadBack(groups)
		}
	})
	stopObs()
	obsWG.Wait()
	tl := rec.Timeline()
	resolveRunIDs(tl, ids)
	index.tagEvents(tl)
	report := verdict.Judge(tl, s.Expectations)
	progress(Progress{Stage: "done"})
	return &Result{Timeline: tl, Report: report, Proxy: px.Describe()}, ctx.Err()
}

// groupRun is one replication group's share of a run: its ports in the
// proxy under test, the keys its writers had acknowledged, its read-back.
type groupRun struct {
	rig.Group
	fe rig.Frontend
	// tag is what the group's operations carry as Op.Group: its name
	// when the run has several groups, "" when it has one (whose timeline
	// stays as it was before groups existed).
	tag  string
	keys *keyLog
	rb   *timeline.ReadBack
}

// initial is the group's initial master: its first node.
func (g *groupRun) initial() string { return g.Nodes[0] }

// pairGroups gives every group of the topology its frontend, by group
// name. A group without a frontend, or a frontend of no group, is an
// error: the workload would miss a group or the proxy would serve a group
// the cluster does not have.
func pairGroups(t rig.Topology, fes []rig.Frontend) ([]*groupRun, error) {
	if len(t.Groups) == 0 {
		return nil, errors.New("pair groups with frontends: the topology has no group")
	}
	byGroup := map[string]rig.Frontend{}
	for _, fe := range fes {
		if _, dup := byGroup[fe.Group]; dup {
			return nil, fmt.Errorf("pair groups with frontends: the proxy under test has two frontends for group %q", fe.Group)
		}
		byGroup[fe.Group] = fe
	}
	var out []*groupRun
	var errs []error
	for _, g := range t.Groups {
		fe, ok := byGroup[g.Name]
		if !ok {
			errs = append(errs, fmt.Errorf("pair groups with frontends: group %s has no frontend in the proxy under test", g.Name))
			continue
		}
		delete(byGroup, g.Name)
		if len(g.Nodes) == 0 {
			errs = append(errs, fmt.Errorf("pair groups with frontends: group %s has no node", g.Name))
			continue
		}
		gr := &groupRun{Group: g, fe: fe, keys: &keyLog{}}
		if len(t.Groups) > 1 {
			gr.tag = g.Name
		}
		out = append(out, gr)
	}
	for _, fe := range fes {
		if _, left := byGroup[fe.Group]; left {
			errs = append(errs, fmt.Errorf("pair groups with frontends: the proxy under test has a frontend for group %q, which the topology does not have", fe.Group))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// groupSeed is the workload's seed for the group at index gi: the run's
// seed for the first (so that one-group runs are as before), a different
// one for each other.
func groupSeed(seed uint64, gi int) uint64 {
	return seed ^ uint64(gi)*0x9e3779b97f4a7c15
}

// totalReadBack sums the groups' read-backs up as Timeline.ReadBack of a
// run with several groups: Settled only if every group settled, At the
// latest group's, Err every group's error prefixed by its name and joined
// by "; ", Master the first group's. Per-group detail is in
// Timeline.Groups.
func totalReadBack(groups []*groupRun) *timeline.ReadBack {
	total := &timeline.ReadBack{Settled: true}
	var errs []string
	for i, g := range groups {
		rb := g.rb
		if rb == nil {
			rb = &timeline.ReadBack{Err: "no read-back"}
		}
		if i == 0 {
			total.Master = rb.Master
		}
		total.Settled = total.Settled && rb.Settled
		total.At = max(total.At, rb.At)
		if rb.Err != "" {
			errs = append(errs, g.Name+": "+rb.Err)
		}
	}
	total.Err = strings.Join(errs, "; ")
	return total
}

// groupIndex finds the group an event concerns, for Event.Group.
type groupIndex struct {
	byNode, byMaster map[string]string
}

// newGroupIndex indexes the groups of a run with several; with one, every
// lookup is "" (its timeline carries no group).
func newGroupIndex(groups []*groupRun) groupIndex {
	gi := groupIndex{byNode: map[string]string{}, byMaster: map[string]string{}}
	if len(groups) < 2 {
		return gi
	}
	for _, g := range groups {
		gi.byMaster[g.MasterName] = g.Name
		for _, n := range g.Nodes {
			gi.byNode[n] = g.Name
		}
	}
	return gi
}

// eventGroup is the group an event concerns: for a Sentinel event, the
// group whose master name its payload names; for the others (role, proxy,
// fault), the group of its node. "" when there is none: a host fault, a
// Sentinel's own events (+new-epoch, +vote-for-leader), notes.
func (gi groupIndex) eventGroup(e timeline.Event) string {
	if e.Kind == timeline.KindSentinel {
		return gi.byMaster[sentinelEventMaster(e.Name, e.Detail)]
	}
	return gi.byNode[e.Node]
}

// tagEvents fills in the group of every event that has none.
func (gi groupIndex) tagEvents(tl *timeline.Timeline) {
	if len(gi.byMaster) == 0 {
		return
	}
	for i := range tl.Events {
		if tl.Events[i].Group == "" {
			tl.Events[i].Group = gi.eventGroup(tl.Events[i])
		}
	}
}

// sentinelEventMaster is the master name a Sentinel event's payload names:
// "<master-name> <ip> <port> <ip> <port>" for +switch-master, "master
// <master-name> <ip> <port> ..." for an event about a master, "<type>
// <name> <ip> <port> @ <master-name> <ip> <port> ..." for one about a
// replica or a Sentinel of a master; "" for the others.
func sentinelEventMaster(channel, payload string) string {
	f := strings.Fields(payload)
	switch {
	case channel == "+switch-master" && len(f) >= 1:
		return f[0]
	case len(f) >= 2 && f[0] == "master":
		return f[1]
	}
	if i := slices.Index(f, "@"); i >= 0 && i+1 < len(f) {
		return f[i+1]
	}
	return ""
}

func paramsOf(s *scenario.Scenario) timeline.Params {
	p := timeline.Params{
		DownAfter: s.Sentinel.DownAfter.D, FailoverTimeout: s.Sentinel.FailoverTimeout.D,
		Quorum: s.Sentinel.Quorum, Sentinels: s.Sentinel.Count,
		WriteRate: s.Workload.Writers.Rate * float64(s.Workload.Writers.Count), OpTimeout: s.Workload.Writers.Timeout.D,
		RolePoll: RolePoll, TimeoutCheck: s.Proxy.TimeoutCheck.D,
	}
	// The check parameters of the master backend's first server, as the
	// proxy uses them.
	if c, err := undertest.CheckSettings(s); err == nil {
		p.Inter, p.FastInter, p.DownInter, p.Rise, p.Fall = c.Inter, c.FastInter, c.DownInter, c.Rise, c.Fall
		p.TimeoutCheck = c.TimeoutCheck
	}
	return p
}

// resolveRunIDs names operations attributed to a run id the poller learnt
// only later.
func resolveRunIDs(tl *timeline.Timeline, ids *nodeIdentity) {
	for i := range tl.Ops {
		if id, ok := strings.CutPrefix(tl.Ops[i].Node, "runid:"); ok {
			tl.Ops[i].Node = ids.byRunID(id)
		}
	}
}

// warmUpGroups warms every group up at once (warmUp), and joins the
// errors, each naming its group when there are several.
func warmUpGroups(ctx context.Context, s *scenario.Scenario, groups []*groupRun, poller *rolePoller, key string) error {
	errs := make([]error, len(groups))
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Go(func() {
			err := warmUp(ctx, s, g.fe, poller, g.initial(), key)
			if err != nil && g.tag != "" {
				err = fmt.Errorf("group %s: %w", g.Name, err)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// warmUp waits until writes through a group's master port reach its
// initial master only (the proxy marked the replicas DOWN there), and
// reads through its replica port work.
func warmUp(ctx context.Context, s *scenario.Scenario, fe rig.Frontend, poller *rolePoller, initial, key string) error {
	deadline := time.Now().Add(s.Warmup.D)
	ids := poller.ids
	streak := 0
	var lastErr error
	for streak < 10 {
		if time.Now().After(deadline) {
			return fmt.Errorf("warm-up: writes through the proxy did not reach the master %s within %v (last error: %v)", initial, s.Warmup.D, lastErr)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		node, err := probe(ctx, fe.MasterAddr, s.Topology.Password, key, true, ids)
		if err != nil || node != initial {
			streak, lastErr = 0, err
			if err == nil {
				lastErr = fmt.Errorf("a write reached %s", node)
			}
			continue
		}
		streak++
	}
	if addr := fe.ReplicaAddr; addr != "" && s.Workload.Readers.Count > 0 {
		for {
			if _, err := probe(ctx, addr, s.Topology.Password, key, false, ids); err == nil {
				break
			} else if time.Now().After(deadline) {
				return fmt.Errorf("warm-up: reads through the replica port failed: %w", err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

// warmupKey is the key the warm-up writes: under the cluster's key prefix
// when it has one.
func warmupKey(c rig.Cluster) string {
	if p := rig.KeyPrefixOf(c); p != "" {
		return p + "warmup"
	}
	return "redisha-sim:warmup"
}

// probe does one write (or read) of key on a fresh connection and names
// the node that served it.
func probe(ctx context.Context, addr, password, key string, write bool, ids *nodeIdentity) (string, error) {
	rc := redis.NewClient(&redis.Options{Addr: addr, Password: password, Protocol: 2, DisableIdentity: true, MaxRetries: -1,
		DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second, PoolSize: 1})
	defer rc.Close()
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	info, err := rc.Info(pctx, "server").Result()
	if err != nil {
		return "", err
	}
	if write {
		err = rc.Set(pctx, key, "1", 0).Err()
	} else {
		err = rc.Get(pctx, key).Err()
		if errors.Is(err, redis.Nil) {
			err = nil
		}
	}
	return ids.byRunID(runIDOf(info)), err
}

// lastMilestone is the latest failover event, for the progress line; in a
// run with several groups a Sentinel event names its group.
func lastMilestone(rec *timeline.Recorder, index groupIndex) string {
	tl := rec.Timeline()
	for i := len(tl.Events) - 1; i >= 0; i-- {
		e := tl.Events[i]
		switch {
		case e.Kind == timeline.KindFault:
			return e.Name + " " + e.Target
		case e.Kind == timeline.KindSentinel && (e.Name == "+sdown" || e.Name == "+odown" || e.Name == "+switch-master" || e.Name == "+promoted-slave" || e.Name == "+convert-to-slave"):
			if g := index.eventGroup(e); g != "" {
				return e.Name + " " + g
			}
			return e.Name
		case e.Kind == timeline.KindProxy:
			return "proxy " + e.Name + " " + e.Node
		}
	}
	return ""
}

package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
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
	sctx, cancelStart := context.WithTimeout(ctx, s.Warmup.D+time.Minute)
	cluster, err := b.Start(sctx, rig.TopologyOf(s), log)
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
	initial := cluster.Nodes()[0].Name()
	if err := warmUp(ctx, s, px, poller, initial); err != nil {
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
		tl.InitialMaster = initial
		tl.Params = paramsOf(s)
		tl.Settings = s.Settings()
	})
	poller.record(rec)
	checksAtStart := readChecks(ctx, px, log)
	waitSentinels := watchSentinels(obsCtx, cluster, rec)
	obsWG.Add(2)
	go func() { defer obsWG.Done(); waitSentinels() }()
	go func() { defer obsWG.Done(); watchProxy(obsCtx, px, rec) }()
	rec.Event(timeline.Event{Kind: timeline.KindNote, Source: "engine", Name: "workload-start"})

	// The workload.
	wctx, stopWork := context.WithCancel(ctx)
	var work sync.WaitGroup
	keys := &keyLog{}
	seed := uint64(s.Seed)
	if seed == 0 {
		seed = rand.Uint64()
	}
	spawn := func(kind string, cfg scenario.Clients, addr string) {
		// Watches the context: an interrupt during a long spawn stops it.
		for i := 0; i < cfg.Count && wctx.Err() == nil; i++ {
			c := &client{kind: kind, id: i, addr: addr, password: s.Topology.Password, cfg: cfg, rec: rec, nodes: ids, keys: keys}
			work.Add(1)
			go func() { defer work.Done(); c.run(wctx, seed) }()
		}
	}
	fe := px.Frontends()[0]
	spawn(timeline.OpWrite, s.Workload.Writers, fe.MasterAddr)
	if fe.ReplicaAddr != "" {
		spawn(timeline.OpRead, s.Workload.Readers, fe.ReplicaAddr)
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
		case <-ticker.C:
			ok, fail := rec.Counts()
			progress(Progress{Stage: "running", Phase: lastMilestone(rec), OK: ok, Fail: fail})
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
	rb := settleAndReadBack(ctx, s, cluster, poller, rec, func() {
		ok, fail := rec.Counts()
		progress(Progress{Stage: "reading back", OK: ok, Fail: fail})
	})
	rec.Update(func(tl *timeline.Timeline) {
		tl.End = end
		tl.ReadBack = rb
	})
	stopObs()
	obsWG.Wait()
	tl := rec.Timeline()
	resolveRunIDs(tl, ids)
	report := verdict.Judge(tl, s.Expectations)
	progress(Progress{Stage: "done"})
	return &Result{Timeline: tl, Report: report, Proxy: px.Describe()}, ctx.Err()
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

// warmUp waits until writes through the master port reach the initial
// master only (the proxy marked the replicas DOWN there), and reads through
// the replica port work.
func warmUp(ctx context.Context, s *scenario.Scenario, px rig.ProxyUnderTest, poller *rolePoller, initial string) error {
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
		node, err := probe(ctx, px.Frontends()[0].MasterAddr, s.Topology.Password, true, ids)
		if err != nil || node != initial {
			streak, lastErr = 0, err
			if err == nil {
				lastErr = fmt.Errorf("a write reached %s", node)
			}
			continue
		}
		streak++
	}
	if addr := px.Frontends()[0].ReplicaAddr; addr != "" && s.Workload.Readers.Count > 0 {
		for {
			if _, err := probe(ctx, addr, s.Topology.Password, false, ids); err == nil {
				break
			} else if time.Now().After(deadline) {
				return fmt.Errorf("warm-up: reads through the replica port failed: %w", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// probe does one write (or read) on a fresh connection and names the node
// that served it.
func probe(ctx context.Context, addr, password string, write bool, ids *nodeIdentity) (string, error) {
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
		err = rc.Set(pctx, "redisha-sim:warmup", "1", 0).Err()
	} else {
		err = rc.Get(pctx, "redisha-sim:warmup").Err()
		if errors.Is(err, redis.Nil) {
			err = nil
		}
	}
	return ids.byRunID(runIDOf(info)), err
}

// lastMilestone is the latest failover event, for the progress line.
func lastMilestone(rec *timeline.Recorder) string {
	tl := rec.Timeline()
	for i := len(tl.Events) - 1; i >= 0; i-- {
		e := tl.Events[i]
		switch {
		case e.Kind == timeline.KindFault:
			return e.Name + " " + e.Target
		case e.Kind == timeline.KindSentinel && (e.Name == "+sdown" || e.Name == "+odown" || e.Name == "+switch-master" || e.Name == "+promoted-slave" || e.Name == "+convert-to-slave"):
			return e.Name
		case e.Kind == timeline.KindProxy:
			return "proxy " + e.Name + " " + e.Node
		}
	}
	return ""
}

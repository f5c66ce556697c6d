package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/redisha-sim/redisha-sim/sim/rig"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

// spawner starts a run's workloads: in every group, every workload's
// writers and readers, each workload with its client kind
// (scenario.Spec.Client). A command client's process failing sends its
// error on failed, which ends the run.
type spawner struct {
	s       *scenario.Scenario
	cluster rig.Cluster
	rec     *timeline.Recorder
	ids     *nodeIdentity
	log     *slog.Logger
	wg      *sync.WaitGroup
	seed    uint64

	failed  chan error
	mu      sync.Mutex
	closers []func(context.Context)
}

// spawnAll starts every workload in every group; the clients run until
// wctx is done. A workload that cannot start (a command that never gets
// ready) is an error; what started is stopped by close.
func (sp *spawner) spawnAll(ctx, wctx context.Context, wls []scenario.Spec, groups []*groupRun) error {
	sp.failed = make(chan error, 1)
	for gi, g := range groups {
		for wi, w := range wls {
			tag := ""
			if len(wls) > 1 {
				tag = w.Name
			}
			keys := g.keys
			if wi > 0 {
				keys = &keyLog{}
			}
			seed := workloadSeed(groupSeed(sp.seed, gi), wi)
			if err := sp.spawn(ctx, wctx, g, w, tag, keys, seed); err != nil {
				if len(wls) > 1 {
					err = fmt.Errorf("workload %s: %w", w.Name, err)
				}
				if g.tag != "" {
					err = fmt.Errorf("group %s: %w", g.Name, err)
				}
				return err
			}
		}
	}
	return nil
}

// workloadSeed is the seed of the workload at index wi of a group: the
// group's for the first (so that one-workload runs are as before).
func workloadSeed(seed uint64, wi int) uint64 {
	return seed ^ uint64(wi)*0xbf58476d1ce4e5b9
}

func (sp *spawner) addCloser(f func(context.Context)) {
	sp.mu.Lock()
	sp.closers = append(sp.closers, f)
	sp.mu.Unlock()
}

// close stops what the workloads started (pools, processes).
func (sp *spawner) close(ctx context.Context) {
	sp.mu.Lock()
	cs := sp.closers
	sp.closers = nil
	sp.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i](ctx)
	}
}

func (sp *spawner) spawn(ctx, wctx context.Context, g *groupRun, w scenario.Spec, tag string, keys *keyLog, seed uint64) error {
	password := sp.s.Topology.Password
	start := func(kind string, cfg scenario.Clients, sess func(i int) session) {
		// Watches the context: an interrupt during a long spawn stops it.
		for i := 0; i < cfg.Count && wctx.Err() == nil; i++ {
			c := &client{kind: kind, id: i, group: g.tag, workload: tag, prefix: rig.KeyPrefixOf(sp.cluster), cfg: cfg, rec: sp.rec, keys: keys, sess: sess(i)}
			sp.wg.Add(1)
			go func() { defer sp.wg.Done(); c.run(wctx, seed) }()
		}
	}
	switch w.Client {
	case scenario.ClientProxy:
		for _, side := range []struct {
			kind string
			cfg  scenario.Clients
			addr string
		}{{timeline.OpWrite, w.Writers, g.fe.MasterAddr}, {timeline.OpRead, w.Readers, g.fe.ReplicaAddr}} {
			if side.addr == "" || side.cfg.Count == 0 {
				continue
			}
			if w.Pool > 0 {
				pool := newConnPool(w.Pool, side.addr, password, side.cfg, sp.ids)
				sp.addCloser(func(context.Context) { pool.closeAll() })
				start(side.kind, side.cfg, func(int) session { return pool })
				continue
			}
			start(side.kind, side.cfg, func(int) session {
				return &proxySession{addr: side.addr, password: password, cfg: side.cfg, nodes: sp.ids}
			})
		}
	case scenario.ClientGoRedisSentinel:
		var sentinels []string
		for _, in := range sp.cluster.Sentinels() {
			sentinels = append(sentinels, in.Addr())
		}
		if w.Writers.Count > 0 {
			gs := newGoRedisSentinel(w, sentinels, g.MasterName, password, sp.s.Sentinel.Password, false, sp.ids)
			sp.addCloser(func(context.Context) { gs.rc.Close() })
			start(timeline.OpWrite, w.Writers, func(int) session { return gs })
		}
		if w.Readers.Count > 0 {
			gs := newGoRedisSentinel(w, sentinels, g.MasterName, password, sp.s.Sentinel.Password, true, sp.ids)
			sp.addCloser(func(context.Context) { gs.rc.Close() })
			start(timeline.OpRead, w.Readers, func(int) session { return gs })
		}
	case scenario.ClientCommand, scenario.ClientRedisPySentinel:
		cc, err := sp.startCommand(ctx, w, g)
		if err != nil {
			return err
		}
		start(timeline.OpWrite, w.Writers, func(int) session { return cc })
		start(timeline.OpRead, w.Readers, func(int) session { return cc })
	default:
		return fmt.Errorf("unknown client %q", w.Client)
	}
	return nil
}

// workloadDetail describes a workload for reports.
func workloadDetail(w scenario.Spec) string {
	switch w.Client {
	case scenario.ClientProxy:
		if w.Pool > 0 {
			return fmt.Sprintf("pool of %d", w.Pool)
		}
		return w.Writers.Connection
	case scenario.ClientGoRedisSentinel:
		o := w.GoRedis
		d := fmt.Sprintf("pool_size %d, max_retries %d", o.PoolSize, o.MaxRetries)
		for _, f := range []struct {
			on   bool
			name string
		}{{o.ReplicaOnly, "replica_only"}, {o.RouteByLatency, "route_by_latency"}, {o.RouteRandomly, "route_randomly"}} {
			if f.on {
				d += ", " + f.name
			}
		}
		return d
	case scenario.ClientCommand:
		return strings.Join(w.Command, " ")
	}
	return ""
}

// goRedisSentinel is go-redis's Sentinel-aware client, shared by a
// workload's writers (a FailoverClient to the master) or readers (a
// FailoverClusterClient routed to replicas by the workload's options).
// The node of an operation is the one its client connected to last:
// exact with a pool of one, the latest otherwise.
type goRedisSentinel struct {
	rc   redis.UniversalClient
	ids  *nodeIdentity
	last lastNode
}

// lastNode is the node a client connected to last.
type lastNode struct {
	mu   sync.Mutex
	name string
}

func (l *lastNode) set(n string) { l.mu.Lock(); l.name = n; l.mu.Unlock() }
func (l *lastNode) get() string  { l.mu.Lock(); defer l.mu.Unlock(); return l.name }

func newGoRedisSentinel(w scenario.Spec, sentinels []string, masterName, password, sentinelPassword string, readers bool, ids *nodeIdentity) *goRedisSentinel {
	gs := &goRedisSentinel{ids: ids}
	o := w.GoRedis
	cfg := w.Writers
	if readers {
		cfg = w.Readers
	}
	maxRetries := o.MaxRetries
	if maxRetries == 0 {
		maxRetries = -1 // go-redis: -1 is none, 0 its default of 3
	}
	opt := &redis.FailoverOptions{
		MasterName: masterName, SentinelAddrs: sentinels, Password: password, SentinelPassword: sentinelPassword,
		Protocol: 2, DisableIdentity: true, MaxRetries: maxRetries, PoolSize: o.PoolSize, PoolTimeout: cfg.Timeout.D,
		DialTimeout: o.DialTimeout.D, ReadTimeout: o.ReadTimeout.D, WriteTimeout: o.WriteTimeout.D, ContextTimeoutEnabled: true,
		OnConnect: func(ctx context.Context, cn *redis.Conn) error {
			info, err := cn.Info(ctx, "server").Result()
			if err != nil {
				return nil // the node stays unknown; the command will tell
			}
			gs.last.set(ids.byRunID(runIDOf(info)))
			return nil
		},
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	if !readers {
		gs.rc = redis.NewFailoverClient(opt)
		return gs
	}
	opt.RouteByLatency, opt.RouteRandomly, opt.ReplicaOnly = o.RouteByLatency, o.RouteRandomly, o.ReplicaOnly
	if !o.RouteByLatency && !o.RouteRandomly {
		opt.ReplicaOnly = true
	}
	gs.rc = redis.NewFailoverClusterClient(opt)
	return gs
}

func (gs *goRedisSentinel) do(ctx context.Context, write bool, key string, seq int) opResult {
	res := redisOp(ctx, gs.rc, write, key, seq)
	res.node = gs.last.get()
	if res.err != nil && isRefused(res.err) {
		res.notSent = true
	}
	return res
}

// close does nothing: the workload's client is shared, closed by the
// spawner.
func (gs *goRedisSentinel) close() {}

// isRefused tells a refused dial (nothing was sent).
func isRefused(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// connPool is a pool of n persistent connections through a proxy port,
// shared by a workload's writers (or readers) as an application shares
// its client's pool: an operation takes a free connection (waiting at
// most its timeout), and a connection that failed is redialed by its next
// operation. Each is a go-redis client of one connection, so that the
// node behind it, and whether a failed operation was ever sent, are known.
type connPool struct {
	free chan *proxySession
	all  []*proxySession
}

func newConnPool(n int, addr, password string, cfg scenario.Clients, ids *nodeIdentity) *connPool {
	p := &connPool{free: make(chan *proxySession, n)}
	cfg.Connection = "persistent"
	for range n {
		c := &proxySession{addr: addr, password: password, cfg: cfg, nodes: ids}
		p.all = append(p.all, c)
		p.free <- c
	}
	return p
}

// errPoolTimeout is an operation that found no free connection in time.
var errPoolTimeout = errors.New("pool timeout: no free connection")

func (p *connPool) do(ctx context.Context, write bool, key string, seq int) opResult {
	var c *proxySession
	select {
	case c = <-p.free:
	case <-ctx.Done():
		return opResult{err: errPoolTimeout, notSent: true}
	}
	defer func() { p.free <- c }()
	return c.do(ctx, write, key, seq)
}

// close does nothing: the pool is shared, closed by the spawner.
func (p *connPool) close() {}

// closeAll closes every connection, once the clients have stopped.
func (p *connPool) closeAll() {
	for _, c := range p.all {
		c.close()
	}
}

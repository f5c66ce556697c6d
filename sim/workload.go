package sim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

// client is one workload client: a writer or a reader. It issues
// operations on a fixed schedule (rate per second, no catch-up bursts),
// each bounded by its timeout, and records every one. Its session does
// the operations: through the proxy (proxySession), go-redis's
// FailoverClient (goRedisSession) or a command client (commandSession).
type client struct {
	kind string // timeline.OpWrite or OpRead
	id   int
	// group is what its operations carry as Op.Group ("" in a run with
	// one group); it also prefixes the keys, so that every group's keys
	// differ. workload is Op.Workload ("" in a run with one workload),
	// which prefixes the keys too.
	group, workload string
	// prefix heads every key: the cluster's key prefix (rig.KeyPrefixer),
	// "" for a cluster the run owns.
	prefix string
	cfg    scenario.Clients
	rec    *timeline.Recorder
	keys   *keyLog
	sess   session
}

// session does one client's operations.
type session interface {
	// do runs one operation bounded by ctx; it returns the node that
	// served it when knowable, whether the command was surely never sent
	// (a failure then is definite), and found for a read.
	do(ctx context.Context, write bool, key string, seq int) opResult
	close()
}

// opResult is what a session did.
type opResult struct {
	err     error
	node    string
	notSent bool
	// definite says that the failure is definite though the command may
	// have been sent (a command client's error reply).
	definite bool
	found    bool
	// after, when set, is called with the recorded operation's index
	// (for a late answer).
	after func(i int)
}

// proxySession is a go-redis client through the proxy's port: a new
// connection per operation or one persistent connection (also as one of
// a workload's pool, connPool).
type proxySession struct {
	addr, password string
	cfg            scenario.Clients
	nodes          *nodeIdentity

	// Connection bookkeeping for classifying failures: a dial that did
	// not complete its handshake in this operation means the command was
	// never sent.
	dials, ready atomic.Int64
	node         atomic.Pointer[string]
	rc           *redis.Client
}

// keyLog remembers a group's acknowledged keys for its readers to read
// back.
type keyLog struct {
	mu   sync.Mutex
	keys []string
}

func (k *keyLog) add(key string) {
	k.mu.Lock()
	k.keys = append(k.keys, key)
	k.mu.Unlock()
}

// recent picks one of the last acknowledged keys.
func (k *keyLog) recent(r *rand.Rand) (string, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.keys) == 0 {
		return "", false
	}
	n := min(len(k.keys), 1000)
	return k.keys[len(k.keys)-1-r.IntN(n)], true
}

func (c *proxySession) options() *redis.Options {
	return &redis.Options{
		Addr: c.addr, Password: c.password, Protocol: 2, DisableIdentity: true,
		MaxRetries: -1, PoolSize: 1, MinIdleConns: 0, PoolTimeout: c.cfg.Timeout.D,
		DialTimeout: c.cfg.Timeout.D, ReadTimeout: c.cfg.Timeout.D, WriteTimeout: c.cfg.Timeout.D,
		ContextTimeoutEnabled: true,
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c.dials.Add(1)
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
		OnConnect: func(ctx context.Context, cn *redis.Conn) error {
			info, err := cn.Info(ctx, "server").Result()
			if err != nil {
				return err
			}
			name := c.nodes.byRunID(runIDOf(info))
			c.node.Store(&name)
			c.ready.Add(1)
			return nil
		},
	}
}

func runIDOf(info string) string {
	for _, l := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(l, "run_id:"); ok {
			return v
		}
	}
	return ""
}

// run issues operations until ctx is done.
func (c *client) run(ctx context.Context, seed uint64) {
	rnd := rand.New(rand.NewPCG(seed, uint64(c.id)))
	interval := time.Duration(float64(time.Second) / c.cfg.Rate)
	next := time.Now()
	defer c.sess.close()
	for seq := 0; ; seq++ {
		if wait := time.Until(next); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		} else if ctx.Err() != nil {
			return
		}
		next = next.Add(interval)
		if now := time.Now(); next.Before(now) {
			next = now // behind: no catch-up burst
		}
		c.once(ctx, seq, rnd)
	}
}

// once runs one operation and records it.
func (c *client) once(ctx context.Context, seq int, rnd *rand.Rand) {
	op := timeline.Op{Kind: c.kind, Client: c.id, Group: c.group, Workload: c.workload}
	var key string
	if c.kind == timeline.OpWrite {
		key = c.key(fmt.Sprintf("w%d:%d", c.id, seq))
	} else if k, ok := c.keys.recent(rnd); ok {
		key = k
	} else {
		key = c.key("w0:0")
	}
	op.Key = key
	octx, cancel := context.WithTimeout(ctx, c.cfg.Timeout.D)
	start := time.Now()
	res := c.sess.do(octx, c.kind == timeline.OpWrite, key, seq)
	end := time.Now()
	cancel()
	if ctx.Err() != nil && res.err != nil {
		return // the run ended mid-operation: not an outcome
	}
	op.Start, op.End = c.rec.Since(start), c.rec.Since(end)
	op.Node, op.Found = res.node, res.found
	op.Result = classify(res.err, res.notSent || res.definite)
	if res.err != nil {
		op.Err = shortErr(res.err)
		if op.Result == timeline.ResultFail && res.notSent {
			op.Node = "" // never reached a server
		}
	}
	if op.Result == timeline.ResultOK && c.kind == timeline.OpWrite {
		c.keys.add(key)
	}
	i := c.rec.Op(op)
	if res.after != nil {
		res.after(i)
	}
}

func (c *proxySession) do(ctx context.Context, write bool, key string, seq int) opResult {
	if c.rc == nil || c.cfg.Connection == "per-op" {
		if c.rc != nil {
			c.rc.Close()
		}
		c.rc = redis.NewClient(c.options())
		c.node.Store(nil)
	}
	dials, ready := c.dials.Load(), c.ready.Load()
	res := redisOp(ctx, c.rc, write, key, seq)
	if n := c.node.Load(); n != nil {
		res.node = *n
	}
	res.notSent = c.dials.Load() > dials && c.ready.Load() == ready
	return res
}

func (c *proxySession) close() {
	if c.rc != nil {
		c.rc.Close()
	}
}

// redisOp does one SET or GET with a go-redis client.
func redisOp(ctx context.Context, rc redis.Cmdable, write bool, key string, seq int) opResult {
	var res opResult
	if write {
		res.err = rc.Set(ctx, key, seq, 0).Err()
	} else {
		res.err = rc.Get(ctx, key).Err()
		if res.err == nil {
			res.found = true
		} else if errors.Is(res.err, redis.Nil) {
			res.err = nil
		}
	}
	return res
}

// key names a key of the client's group and workload: "w0:12" with one
// group and one workload, "group2:w0:12" with several groups,
// "app:w0:12" with several workloads, "group2:app:w0:12" with both.
func (c *client) key(k string) string {
	if c.workload != "" {
		k = c.workload + ":" + k
	}
	if c.group != "" {
		k = c.group + ":" + k
	}
	return c.prefix + k
}

// classify sorts an outcome as ok, a definite failure (an error reply, or
// a connection that failed before the command could be sent) or
// indeterminate (timeout or connection lost after sending).
func classify(err error, notSent bool) string {
	if err == nil {
		return timeline.ResultOK
	}
	var rerr redis.Error
	if errors.As(err, &rerr) && !errors.Is(err, context.DeadlineExceeded) {
		return timeline.ResultFail
	}
	if notSent {
		return timeline.ResultFail
	}
	return timeline.ResultInfo
}

func shortErr(err error) string {
	s := err.Error()
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// nodeIdentity maps run ids to node names, fed by the role poller.
type nodeIdentity struct {
	mu    sync.Mutex
	names map[string]string
}

func (ni *nodeIdentity) set(runID, name string) {
	ni.mu.Lock()
	if ni.names == nil {
		ni.names = map[string]string{}
	}
	ni.names[runID] = name
	ni.mu.Unlock()
}

func (ni *nodeIdentity) byRunID(id string) string {
	ni.mu.Lock()
	defer ni.mu.Unlock()
	if n, ok := ni.names[id]; ok {
		return n
	}
	return "runid:" + id
}

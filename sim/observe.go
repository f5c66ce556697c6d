package sim

import (
	"context"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisha-sim/redisha-sim/sim/rig"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

// RolePoll is how often each node's role is sampled (20 Hz).
const RolePoll = 50 * time.Millisecond

// nodeRole is a node's last observed replication state.
type nodeRole struct {
	role   string // timeline.RoleMaster, RoleReplica or RoleUnreachable
	master string // node a replica follows
	linkUp bool
	runID  string
	fails  int
}

// rolePoller samples every node's INFO at 20 Hz, records role changes, and
// keeps the run id to node map the workload uses to name servers.
type rolePoller struct {
	c        rig.Cluster
	password string
	rec      *timeline.Recorder
	ids      *nodeIdentity

	mu      sync.Mutex
	roles   map[string]nodeRole
	started bool // recording to the timeline
}

func newRolePoller(c rig.Cluster, password string, ids *nodeIdentity) *rolePoller {
	return &rolePoller{c: c, password: password, ids: ids, roles: map[string]nodeRole{}}
}

// record starts recording changes to rec, beginning with every node's
// current state.
func (p *rolePoller) record(rec *timeline.Recorder) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rec, p.started = rec, true
	for _, n := range p.c.Nodes() {
		r := p.roles[n.Name()]
		if r.role == "" {
			r.role = timeline.RoleUnreachable
		}
		rec.Event(timeline.Event{T: rec.Now(), Kind: timeline.KindRole, Source: "poller", Name: "role", Node: n.Name(), Role: r.role, Master: r.master})
	}
}

// snapshot returns the current roles.
func (p *rolePoller) snapshot() map[string]nodeRole {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]nodeRole, len(p.roles))
	for k, v := range p.roles {
		out[k] = v
	}
	return out
}

func (p *rolePoller) run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, n := range p.c.Nodes() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.pollNode(ctx, n)
		}()
	}
	wg.Wait()
}

// pollNode polls n's role every RolePoll, at the address n has at each
// poll: a rescheduled node is followed to its new one.
func (p *rolePoller) pollNode(ctx context.Context, n rig.Instance) {
	dial := func(addr string) *redis.Client {
		return redis.NewClient(&redis.Options{Addr: addr, Password: p.password, Protocol: 2, DisableIdentity: true,
			MaxRetries: -1, PoolSize: 1, DialTimeout: 2 * RolePoll, ReadTimeout: 2 * RolePoll, WriteTimeout: 2 * RolePoll,
			ContextTimeoutEnabled: true})
	}
	addr := n.Addr()
	rc := dial(addr)
	defer func() { rc.Close() }()
	t := time.NewTicker(RolePoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if a := n.Addr(); a != addr {
			rc.Close()
			addr, rc = a, dial(a)
		}
		qctx, cancel := context.WithTimeout(ctx, 2*RolePoll)
		info, err := rc.Info(qctx, "server", "replication").Result()
		cancel()
		if ctx.Err() != nil {
			return
		}
		p.update(ctx, n.Name(), info, err)
	}
}

func (p *rolePoller) update(ctx context.Context, name, info string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	prev := p.roles[name]
	cur := prev
	if err != nil {
		// One failed poll is not enough: Sentinel's promotion kills every
		// client connection, the poller's included.
		cur.fails++
		if cur.fails < 2 {
			p.roles[name] = cur
			return
		}
		cur.role, cur.master, cur.linkUp = timeline.RoleUnreachable, "", false
	} else {
		cur = nodeRole{}
		var host, port string
		for _, l := range strings.Split(info, "\r\n") {
			k, v, ok := strings.Cut(l, ":")
			if !ok {
				continue
			}
			switch k {
			case "run_id":
				cur.runID = v
			case "role":
				cur.role = v
			case "master_host":
				host = v
			case "master_port":
				port = v
			case "master_link_status":
				cur.linkUp = v == "up"
			}
		}
		if host != "" {
			if m, ok := nodeByAddr(ctx, p.c, net.JoinHostPort(host, port)); ok {
				cur.master = m
			} else {
				cur.master = net.JoinHostPort(host, port)
			}
		}
		if cur.runID != "" {
			p.ids.set(cur.runID, name)
		}
	}
	p.roles[name] = cur
	if p.started && (cur.role != prev.role || cur.master != prev.master) {
		p.rec.Event(timeline.Event{Kind: timeline.KindRole, Source: "poller", Name: "role", Node: name, Role: cur.role, Master: cur.master})
	}
}

// watchSentinels subscribes to every Sentinel's events (PSUBSCRIBE *),
// authenticating with password when not empty, and returns once the subscriptions are made; the events are then recorded,
// naming the node each is about, until ctx ends. wait waits for the
// recording goroutines.
func watchSentinels(ctx context.Context, c rig.Cluster, password string, rec *timeline.Recorder) (wait func()) {
	var wg sync.WaitGroup
	for _, s := range c.Sentinels() {
		rc := redis.NewClient(&redis.Options{Addr: s.Addr(), Password: password, Protocol: 2, DisableIdentity: true, DialTimeout: time.Second})
		ps := rc.PSubscribe(ctx, "*")
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		ps.Receive(sctx) // the subscription's confirmation; go-redis resubscribes after reconnects
		cancel()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer rc.Close()
			defer ps.Close()
			ch := ps.Channel(redis.WithChannelHealthCheckInterval(time.Second))
			for {
				select {
				case <-ctx.Done():
					return
				case m, ok := <-ch:
					if !ok {
						return
					}
					// The time it arrived, before a host name's look-up.
					at := rec.Now()
					rec.Event(timeline.Event{T: at, Kind: timeline.KindSentinel, Source: s.Name(), Name: m.Channel,
						Node: eventNode(ctx, c, m.Channel, m.Payload), Detail: m.Payload})
				}
			}
		}()
	}
	return wg.Wait
}

// eventNode names the node a Sentinel event is about: the new master of a
// +switch-master, else the instance of "<type> <name> <ip> <port>".
func eventNode(ctx context.Context, c rig.Cluster, channel, payload string) string {
	f := strings.Fields(payload)
	addr := ""
	switch {
	case channel == "+switch-master" && len(f) >= 5:
		addr = net.JoinHostPort(f[3], f[4])
	case len(f) >= 4 && (f[0] == "master" || f[0] == "slave"):
		addr = net.JoinHostPort(f[2], f[3])
	}
	if addr == "" {
		return ""
	}
	name, _ := nodeByAddr(ctx, c, addr)
	return name
}

// watchProxy records the proxy's server state changes.
func watchProxy(ctx context.Context, p rig.ProxyUnderTest, rec *timeline.Recorder) {
	p.Watch(ctx, func(e rig.ProxyEvent) {
		name := "server-down"
		if e.Up {
			name = "server-up"
		}
		rec.Event(timeline.Event{T: rec.Since(e.At), Kind: timeline.KindProxy, Source: "proxy", Name: name,
			Port: e.Port, Node: e.Node, State: e.State, Detail: e.Detail})
	})
}

// hostLookup bounds nodeByAddr's look-up of a host name.
const hostLookup = 300 * time.Millisecond

// nodeByAddr names the node at addr as Redis or Sentinel reports it: the
// cluster's own mapping first (docker maps its container names too), else,
// for a host name (Sentinel with announce-hostnames) the cluster does not
// know, the node at one of the name's addresses, looked up through the
// cluster when it resolves names itself, else the system's resolver,
// bounded by hostLookup.
func nodeByAddr(ctx context.Context, c rig.Cluster, addr string) (string, bool) {
	if name, ok := c.NodeByAddr(addr); ok {
		return name, true
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || net.ParseIP(host) != nil {
		return "", false
	}
	var r interface {
		LookupHost(ctx context.Context, host string) ([]string, error)
	} = net.DefaultResolver
	if cr, ok := c.(interface {
		LookupHost(ctx context.Context, host string) ([]string, error)
	}); ok {
		r = cr
	}
	lctx, cancel := context.WithTimeout(ctx, hostLookup)
	defer cancel()
	addrs, err := r.LookupHost(lctx, host)
	if err != nil {
		return "", false
	}
	for _, a := range addrs {
		if name, ok := c.NodeByAddr(net.JoinHostPort(a, port)); ok {
			return name, true
		}
	}
	return "", false
}

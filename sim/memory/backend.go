// Package memory is the in-memory backend: Redis nodes built on miniredis
// with replication, and Sentinels that run sentinel.c's algorithm and
// timing, all in this process on loopback ports. It needs no Docker and runs
// a scenario in about the scenario's own length.
package memory

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/rig"
)

// Backend starts in-memory clusters.
type Backend struct{}

// Name is "memory".
func (Backend) Name() string { return fault.Memory }

// Cluster is a running in-memory cluster.
type Cluster struct {
	nw        *network
	nodes     []*Node
	sentinels []*Sentinel
	hosts     []rig.Instance
	log       *slog.Logger
	// topo is the topology started: a node's failover reads its group's
	// master name from it.
	topo rig.Topology
}

// Start brings every group's nodes up (the first as master, the others
// replicating from it), then the Sentinels, each monitoring every group's
// master, and waits until every Sentinel knows, for every master, every
// replica and every other Sentinel.
func (Backend) Start(ctx context.Context, t rig.Topology, log *slog.Logger) (rig.Cluster, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := t.Check(); err != nil {
		return nil, err
	}
	seed := uint64(t.Seed)
	if seed == 0 {
		seed = rand.Uint64()
	}
	c := &Cluster{nw: newNetwork(seed), log: log, topo: t}
	opts := nodeOptions{password: t.Password, persistence: t.Persistence, lag: t.ReplicationLag,
		minReplicasToWrite: t.MinReplicasToWrite, minReplicasMaxLag: t.MinReplicasMaxLag}
	cfg := sentinelConfig{quorum: t.Quorum, downAfter: t.DownAfter, failoverTimeout: t.FailoverTimeout, parallelSyncs: t.ParallelSyncs, password: t.SentinelPassword}
	var replicas []*Node
	for _, g := range t.Groups {
		if len(g.Nodes) == 0 {
			c.Close(ctx)
			return nil, fmt.Errorf("start group %s: no node", g.Name)
		}
		var group []*Node
		for _, name := range g.Nodes {
			addr, err := freeAddr()
			if err != nil {
				c.Close(ctx)
				return nil, err
			}
			n := newNode(name, addr, opts, c.nw, log)
			// Locked: the groups started before replicate already.
			c.nw.mu.Lock()
			c.nw.nodes[addr] = n
			c.nw.mu.Unlock()
			c.nodes = append(c.nodes, n)
			group = append(group, n)
			if err := n.start(); err != nil {
				c.Close(ctx)
				return nil, err
			}
		}
		for _, n := range group[1:] {
			n.firstMaster = group[0].Addr()
			n.becomeReplicaOf(n.firstMaster)
		}
		replicas = append(replicas, group[1:]...)
		cfg.masters = append(cfg.masters, monitored{name: g.MasterName, addr: group[0].Addr(), replicas: len(group) - 1})
	}
	if err := waitFor(ctx, 10*time.Second, func() bool { return linksUp(replicas) }); err != nil {
		c.Close(ctx)
		return nil, fmt.Errorf("replicas did not sync: %w", err)
	}
	for i, name := range t.Sentinels {
		addr, err := freeAddr()
		if err != nil {
			c.Close(ctx)
			return nil, err
		}
		s := newSentinel(name, addr, cfg, c.nw, seed+uint64(i)*7919, log)
		c.nw.mu.Lock()
		c.nw.sentinels[addr] = s
		c.nw.mu.Unlock()
		c.sentinels = append(c.sentinels, s)
		if err := s.start(); err != nil {
			c.Close(ctx)
			return nil, err
		}
	}
	if err := waitFor(ctx, 30*time.Second, func() bool {
		for _, s := range c.sentinels {
			ready := false
			s.call(func() {
				ready = len(s.core.Masters) == len(cfg.masters)
				for i, m := range s.core.Masters {
					ready = ready && len(m.Slaves) == cfg.masters[i].replicas && len(m.Sentinels) == len(c.sentinels)-1
				}
			})
			if !ready {
				return false
			}
		}
		return true
	}); err != nil {
		c.Close(ctx)
		return nil, fmt.Errorf("sentinels did not discover the cluster: %w", err)
	}
	hosts, err := c.placeHosts(t.Hosts)
	if err != nil {
		c.Close(ctx)
		return nil, err
	}
	c.hosts = hosts
	return c, nil
}

// placeHosts makes the topology's hosts of the cluster's instances.
func (c *Cluster) placeHosts(hosts []rig.Host) ([]rig.Instance, error) {
	byName := map[string]rig.Stepper{}
	for _, n := range c.nodes {
		byName[n.name] = nodeInstance{n, c}
	}
	for _, s := range c.sentinels {
		byName[s.name] = sentinelInstance{s}
	}
	return rig.PlaceHosts(hosts, fault.Memory, byName)
}

// linksUp reports whether every replica's link to its master is up.
func linksUp(replicas []*Node) bool {
	for _, n := range replicas {
		n.mu.Lock()
		up := n.repl.linkUp
		n.mu.Unlock()
		if !up {
			return false
		}
	}
	return true
}

func waitFor(ctx context.Context, limit time.Duration, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v", limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// freeAddr picks a free loopback port.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Nodes returns the Redis nodes.
func (c *Cluster) Nodes() []rig.Instance {
	out := make([]rig.Instance, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = nodeInstance{n, c}
	}
	return out
}

// Sentinels returns the Sentinels.
func (c *Cluster) Sentinels() []rig.Instance {
	out := make([]rig.Instance, len(c.sentinels))
	for i, s := range c.sentinels {
		out[i] = sentinelInstance{s}
	}
	return out
}

// Hosts returns the hosts: each acts on all its members at once.
func (c *Cluster) Hosts() []rig.Instance { return c.hosts }

// NodeByAddr names the node at addr, or the node that was there before
// a reschedule moved it.
func (c *Cluster) NodeByAddr(addr string) (string, bool) {
	if n := c.nw.nodeNamed(addr); n != nil {
		return n.name, true
	}
	return "", false
}

// Close stops everything.
func (c *Cluster) Close(context.Context) error {
	for _, s := range c.sentinels {
		s.stop()
	}
	for _, n := range c.nodes {
		n.shutdown(false)
	}
	return nil
}

type nodeInstance struct {
	n *Node
	c *Cluster
}

func (i nodeInstance) Name() string   { return i.n.name }
func (i nodeInstance) Kind() rig.Kind { return rig.KindNode }
func (i nodeInstance) Addr() string   { return i.n.Addr() }

// Do performs a fault and verifies it from outside: a stopped node refuses
// connections, a paused one does not answer, a started one answers.
func (i nodeInstance) Do(ctx context.Context, action fault.Action) error {
	_, err := i.DoReport(ctx, action)
	return err
}

// DoReport performs a fault as Do does (rig.Reporter): a failover, which
// acts through the Sentinels (rig.Failover), reports where the master
// moved; a reschedule the addresses the node moved between.
func (i nodeInstance) DoReport(ctx context.Context, action fault.Action) (string, error) {
	if action == fault.Failover {
		return rig.FailoverOf(ctx, i.c, i.c.topo, i.n.name)
	}
	from := i.n.Addr()
	if err := i.do(ctx, action); err != nil {
		return "", err
	}
	if action != fault.Reschedule {
		return "", nil
	}
	return fmt.Sprintf("%s moved from %s to %s", i.n.name, from, i.n.Addr()), nil
}

// do is Act then Verify.
func (i nodeInstance) do(ctx context.Context, action fault.Action) error {
	if err := i.Act(ctx, action); err != nil {
		return err
	}
	return i.Verify(ctx, action)
}

// Act performs the fault (rig.Stepper).
func (i nodeInstance) Act(ctx context.Context, action fault.Action) error {
	if !fault.Of(action).Available(fault.Memory, rig.KindNode) {
		return fmt.Errorf("%s %s: the memory backend cannot %[1]s a Redis node", action, i.n.name)
	}
	return i.n.do(ctx, action)
}

// Verify checks the fault from outside (rig.Stepper); a rescheduled node
// answers on its new address and no longer on any former one.
func (i nodeInstance) Verify(ctx context.Context, action fault.Action) error {
	if err := verify(ctx, i.n.Addr(), i.n.opts.password, action); err != nil {
		return err
	}
	if action == fault.Reschedule {
		for _, old := range i.n.net.formerAddrs(i.n) {
			if c, err := net.DialTimeout("tcp", old, 200*time.Millisecond); err == nil {
				c.Close()
				return fmt.Errorf("reschedule %s: its old address %s still accepts connections", i.n.name, old)
			}
		}
	}
	return nil
}

// Shape slows the node's link (rig.LinkShaper): every reply it sends, on
// TCP to the proxy and clients as on the Sentinels' links and the
// replication stream, leaves delay plus a random extra in [0, jitter]
// late. A running node is checked from outside: with a delay, a PING
// takes at least that long; without, it answers.
func (i nodeInstance) Shape(ctx context.Context, delay, jitter time.Duration) error {
	i.n.setShape(delay, jitter)
	if st, _ := i.n.stateOf(); st != nodeRunning {
		return nil // it answers nothing now; the delay applies once it does
	}
	took, ok := timedPing(i.n.Addr(), i.n.opts.password, delay+jitter+time.Second)
	switch {
	case !ok:
		return fmt.Errorf("delay %s: it does not answer PING within %v", i.n.name, delay+jitter+time.Second)
	case took < delay:
		return fmt.Errorf("delay %s by %v: a PING took %v", i.n.name, delay, took)
	}
	return nil
}

// LinkFault applies a link fault to the node's links with the peer
// classes and directions it names (rig.LinkFaulter), and checks it from
// outside when it touches the clients' links: a blackholed node does not
// answer PING, a reset one resets the connection at once, a delayed one
// answers late, a healed one answers. A fault on other peers only leaves
// PING answered.
func (i nodeInstance) LinkFault(ctx context.Context, f fault.LinkFault) error {
	if !fault.Of(f.Action).Available(fault.Memory, rig.KindNode) {
		return fmt.Errorf("%s %s: the memory backend cannot %[1]s a Redis node", f.Action, i.n.name)
	}
	if err := i.n.applyLinkFault(f); err != nil {
		return err
	}
	if st, _ := i.n.stateOf(); st != nodeRunning {
		return nil // it answers nothing now; the fault applies once it does
	}
	return i.verifyLink(f)
}

// verifyLink checks a link fault's effect by talking to the node as a
// client would.
func (i nodeInstance) verifyLink(f fault.LinkFault) error {
	addr, pw, name := i.n.Addr(), i.n.opts.password, i.n.name
	clients := slices.Contains(f.Classes(), fault.PeersClients)
	held := func() bool {
		return i.n.lf.Rule(classClients, dirIn).Holds() || i.n.lf.Rule(classClients, dirOut).Holds()
	}
	const limit = 300 * time.Millisecond
	switch {
	case f.Action == fault.Heal || f.Action == fault.Undelay && !held():
		if !ping(addr, pw, time.Second) {
			return fmt.Errorf("%s %s: it does not answer PING within 1s", f.Action, name)
		}
	case f.Action == fault.Undelay:
		// Another fault still holds the clients' links.
	case !clients:
		// A fault on other peers leaves clients through.
		if _, ok := timedPing(addr, pw, f.Delay+f.Jitter+time.Second); !ok && f.Action != fault.Delay {
			return fmt.Errorf("%s %s on %v: clients no longer reach it", f.Action, name, f.Classes())
		}
	case f.Action == fault.Blackhole, f.Action == fault.Loss && f.Loss >= 1:
		if ping(addr, pw, limit) {
			return fmt.Errorf("%s %s: it still answers PING", f.Action, name)
		}
	case f.Action == fault.Loss && f.Loss <= 0:
		if !ping(addr, pw, time.Second) {
			return fmt.Errorf("%s %s by %v: it does not answer PING within 1s", f.Action, name, f.Loss)
		}
	case f.Action == fault.Reset:
		if err := resetSeen(addr, limit); err != nil {
			return fmt.Errorf("%s %s: %w", f.Action, name, err)
		}
	case f.Action == fault.Bandwidth && 64/f.Rate < 5:
		if d := time.Second + time.Duration(64/f.Rate*float64(time.Second)); !ping(addr, pw, d) {
			return fmt.Errorf("%s %s to %v bytes/s: it does not answer PING within %v", f.Action, name, f.Rate, d)
		}
	case f.Action == fault.Delay && f.Delay > 0:
		took, ok := timedPing(addr, pw, f.Delay+f.Jitter+time.Second)
		switch {
		case !ok:
			return fmt.Errorf("delay %s: it does not answer PING within %v", name, f.Delay+f.Jitter+time.Second)
		case took < f.Delay:
			return fmt.Errorf("delay %s by %v: a PING took %v", name, f.Delay, took)
		}
	}
	return nil
}

// resetSeen checks that a connection to addr is refused or reset at
// once, rather than answered or left hanging.
func resetSeen(addr string, limit time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, limit)
	if err != nil {
		return nil // refused
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(limit))
	c.Write([]byte("PING\r\n"))
	buf := make([]byte, 64)
	k, err := c.Read(buf)
	var ne net.Error
	switch {
	case err == nil && k > 0:
		return fmt.Errorf("a new connection is answered (%q)", buf[:k])
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("a new connection hangs for %v instead of being reset", limit)
	}
	return nil
}

var (
	_ rig.LinkFaulter = nodeInstance{}
	_ rig.LinkShaper  = nodeInstance{}
	_ rig.Stepper     = nodeInstance{}
	_ rig.Reporter    = nodeInstance{}
	_ rig.Stepper     = sentinelInstance{}
)

type sentinelInstance struct{ s *Sentinel }

func (i sentinelInstance) Name() string   { return i.s.name }
func (i sentinelInstance) Kind() rig.Kind { return rig.KindSentinel }
func (i sentinelInstance) Addr() string   { return i.s.addr }

// Do performs a fault and verifies it from outside.
func (i sentinelInstance) Do(ctx context.Context, action fault.Action) error {
	if err := i.Act(ctx, action); err != nil {
		return err
	}
	return i.Verify(ctx, action)
}

// Act performs the fault (rig.Stepper).
func (i sentinelInstance) Act(_ context.Context, action fault.Action) error {
	if !fault.Of(action).Available(fault.Memory, rig.KindSentinel) {
		return fmt.Errorf("%s %s: the memory backend cannot %[1]s a Sentinel", action, i.s.name)
	}
	var err error
	switch action {
	case fault.Stop, fault.Kill:
		i.s.stop()
	case fault.Start:
		err = i.s.start()
	case fault.Restart:
		i.s.stop()
		err = i.s.start()
	case fault.Pause:
		err = i.s.pause()
	case fault.Unpause:
		err = i.s.unpause()
	case fault.Disconnect:
		i.s.setCut(true)
	case fault.Reconnect:
		i.s.setCut(false)
	default:
		err = fmt.Errorf("sentinel %s: %s is not supported", i.s.name, action)
	}
	return err
}

// Verify checks the fault from outside (rig.Stepper). A disconnected or
// reconnected Sentinel that runs still answers its clients: the cut is
// between it and the nodes and Sentinels only.
func (i sentinelInstance) Verify(ctx context.Context, action fault.Action) error {
	if action == fault.Disconnect || action == fault.Reconnect {
		i.s.mu.Lock()
		running := i.s.state == nodeRunning
		i.s.mu.Unlock()
		if running && !ping(i.s.addr, "", time.Second) {
			return fmt.Errorf("%s %s: its clients no longer reach it (no PONG within 1s)", action, i.s.name)
		}
		return nil
	}
	return verify(ctx, i.s.addr, "", action)
}

// verify checks a fault's effect by talking to addr as a client would.
func verify(ctx context.Context, addr, password string, action fault.Action) error {
	answers := ping(addr, password, 300*time.Millisecond)
	switch action {
	case fault.Stop, fault.Kill:
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return fmt.Errorf("%s: %s still accepts connections", action, addr)
		}
	case fault.Pause:
		if answers {
			return fmt.Errorf("pause: %s still answers", addr)
		}
	case fault.Start, fault.Restart, fault.Reschedule, fault.Unpause:
		if !answers {
			return fmt.Errorf("%s: %s does not answer PING", action, addr)
		}
	}
	return nil
}

// ping reports whether addr answers PING within limit.
func ping(addr, password string, limit time.Duration) bool {
	_, ok := timedPing(addr, password, limit)
	return ok
}

// timedPing sends PING (after AUTH) to addr and reports how long the PONG
// took from the request, if it came within limit.
func timedPing(addr, password string, limit time.Duration) (time.Duration, bool) {
	c, err := net.DialTimeout("tcp", addr, limit)
	if err != nil {
		return 0, false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(limit))
	cmd := "PING\r\n"
	if password != "" {
		cmd = "AUTH " + password + "\r\n" + cmd
	}
	start := time.Now()
	if _, err := c.Write([]byte(cmd)); err != nil {
		return 0, false
	}
	rd := bufio.NewReader(c)
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			return 0, false
		}
		if strings.HasPrefix(line, "+PONG") {
			return time.Since(start), true
		}
	}
}

package memory

import (
	"bufio"
	"io"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/alicebob/miniredis/v2/server"
)

// replicationClient names the internal client that applies the replication
// stream on a replica: the only client a replica lets write.
const replicationClient = "__redisha_replication__"

type role int

const (
	roleMaster role = iota
	roleReplica
)

// replState is a node's replication state, guarded by the node's lock.
type replState struct {
	role         role
	replID       string
	replID2      string
	offset       int64
	secondOffset int64
	// backlog is repl_backlog_active: a master that has had replicas, or a
	// replica that has synced.
	backlog bool

	// Replica side.
	masterAddr string
	linkUp     bool
	syncing    bool
	// downSince is when the link to the master went down (zero: never up
	// yet, Redis's -1).
	downSince time.Time
	lastIO    time.Time
	// gen changes whenever the node changes masters; stale stream data is
	// dropped.
	gen int

	// Master side.
	replicas map[*Node]*replicaLink
}

// replicaLink is a master's stream to one replica.
type replicaLink struct {
	node    *Node
	gen     int // the replica's gen when it synced
	acked   int64
	lastAck time.Time
	queue   []streamEntry
	wake    chan struct{}
	closed  chan struct{}
	once    sync.Once

	// u is the link's draw for action loss: u[dirOut] for the stream
	// (the master's out, the replica's in), u[dirIn] for the
	// acknowledgements.
	u connDraw
	// acks carries the replica's acknowledgements back, in order, late by
	// the replica's link delay.
	acks outbox
	// cronAcked is the offset the replica's last periodic REPLCONF ACK
	// reported and cronAckAt when it came: a Redis replica sends one from
	// its replication cron, once a second on its own clock (TIMING.md §4).
	// A graceful stop waits for these, not for the per-write acks above.
	cronAcked int64
	cronAckAt time.Time
}

func (rl *replicaLink) close() { rl.once.Do(func() { close(rl.closed) }) }

type streamEntry struct {
	args   []string
	at     time.Time
	offset int64
}

// respSize is the size of a command in the replication stream, as offsets
// count it.
func respSize(args []string) int64 {
	n := 1 + len(strconv.Itoa(len(args))) + 2
	for _, a := range args {
		n += 1 + len(strconv.Itoa(len(a))) + 2 + len(a) + 2
	}
	return int64(n)
}

// replicate queues a write for every replica, lag after now.
func (n *Node) replicate(cmd string, args []string) {
	full := append([]string{cmd}, args...)
	now := time.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	n.repl.offset += respSize(full)
	for _, rl := range n.repl.replicas {
		rl.queue = append(rl.queue, streamEntry{args: full, at: now, offset: n.repl.offset})
		select {
		case rl.wake <- struct{}{}:
		default:
		}
	}
}

func (n *Node) sortedReplicasLocked() []*replicaLink {
	out := make([]*replicaLink, 0, len(n.repl.replicas))
	for _, rl := range n.repl.replicas {
		out = append(out, rl)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].node.Addr() < out[j].node.Addr() })
	return out
}

// goodReplicasLocked counts replicas whose last acknowledgement is within
// min-replicas-max-lag.
func (n *Node) goodReplicasLocked() int {
	good := 0
	for _, rl := range n.repl.replicas {
		if time.Since(rl.lastAck) <= n.opts.minReplicasMaxLag {
			good++
		}
	}
	return good
}

// dropReplicationLocked breaks the node's links to its replicas (and marks
// them down on the replicas' side, done after the lock by the pumps).
func (n *Node) dropReplicationLocked() {
	for r, rl := range n.repl.replicas {
		rl.close()
		delete(n.repl.replicas, r)
	}
	if n.repl.role == roleReplica && n.repl.linkUp {
		n.repl.linkUp = false
		n.repl.downSince = n.net.now()
	}
}

// pump delivers the stream to one replica, each write lag (plus the
// master's link delay) after it was accepted, while both ends are up and
// can reach each other.
func (n *Node) pump(rl *replicaLink) {
	r := rl.node
	defer func() {
		n.mu.Lock()
		if n.repl.replicas[r] == rl {
			delete(n.repl.replicas, r)
		}
		n.mu.Unlock()
		r.linkDown(rl.gen)
	}()
	for {
		n.mu.Lock()
		var e streamEntry
		have := len(rl.queue) > 0
		if have {
			e = rl.queue[0]
		}
		n.mu.Unlock()
		if !have {
			select {
			case <-rl.wake:
				continue
			case <-rl.closed:
				return
			}
		}
		if wait := time.Until(e.at.Add(n.opts.lag + n.linkDelay(classNodes, dirOut) + r.linkDelay(classNodes, dirIn))); wait > 0 {
			select {
			case <-time.After(wait):
			case <-rl.closed:
				return
			}
		}
		if !n.waitIfPaused() || !r.waitIfPaused() {
			return
		}
		// Across a partition the stream stalls (Redis notices only after
		// repl-timeout); acknowledgements stop, so min-replicas-to-write
		// sees the replica lag.
		for n.net.cutBetween(n, r) {
			select {
			case <-time.After(20 * time.Millisecond):
			case <-rl.closed:
				return
			}
		}
		// A held stream (blackhole, loss) stalls the same way until
		// healed; a bandwidth paces it. Either end's faults act.
		size := int(respSize(e.args))
		down := connDraw{rl.u[dirOut], rl.u[dirOut]}
		if !n.pass(rl.closed, classNodes, dirOut, down, size) || !r.pass(rl.closed, classNodes, dirIn, down, size) {
			return
		}
		select {
		case <-rl.closed:
			return
		default:
		}
		if !r.apply(rl.gen, e) {
			return
		}
		n.mu.Lock()
		rl.queue = rl.queue[1:]
		n.mu.Unlock()
		rl.acks.push(time.Now().Add(r.linkDelay(classNodes, dirOut)+n.linkDelay(classNodes, dirIn)), func() {
			// An acknowledgement on a held way back is lost; the next
			// one carries the offset.
			if ackHeld(n, r, rl.u) {
				return
			}
			n.mu.Lock()
			rl.acked, rl.lastAck = e.offset, time.Now()
			n.mu.Unlock()
		})
	}
}

// apply runs a replicated write on the replica; false when the replica no
// longer follows that stream.
func (r *Node) apply(gen int, e streamEntry) bool {
	r.mu.Lock()
	if r.state == nodeStopped || r.repl.role != roleReplica || r.repl.gen != gen || r.m == nil {
		r.mu.Unlock()
		return false
	}
	m := r.m
	r.mu.Unlock()
	dispatch(m, e.args)
	r.mu.Lock()
	if r.repl.gen == gen {
		r.repl.offset = e.offset
		r.repl.lastIO = time.Now()
	}
	r.mu.Unlock()
	return true
}

// dispatch runs a command on m as the replication client.
func dispatch(m *miniredis.Miniredis, args []string) {
	peer := server.NewPeer(bufio.NewWriter(io.Discard))
	peer.ClientName = replicationClient
	m.Server().Dispatch(peer, args)
}

// linkDown marks the replica's link down if it still follows gen.
func (r *Node) linkDown(gen int) {
	r.mu.Lock()
	if r.repl.role == roleReplica && r.repl.gen == gen && r.repl.linkUp {
		r.repl.linkUp = false
		r.repl.downSince = r.net.now()
	}
	r.mu.Unlock()
	r.net.nodeChanged(r)
}

// follows reports whether the node already replicates from addr.
func (n *Node) follows(addr string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.repl.role == roleReplica && n.repl.masterAddr == addr
}

// becomeMaster is REPLICAOF NO ONE: the node keeps its data and starts a
// new replication history (its old id becomes replid2).
func (n *Node) becomeMaster() {
	n.mu.Lock()
	if n.repl.role == roleMaster {
		n.mu.Unlock()
		return
	}
	n.repl.gen++
	n.repl.role = roleMaster
	n.repl.replID2, n.repl.replID = n.repl.replID, newRunID()
	n.repl.secondOffset = n.repl.offset + 1
	n.repl.masterAddr, n.repl.linkUp, n.repl.syncing = "", false, false
	n.mu.Unlock()
	n.log.Debug("promoted to master")
	n.net.nodeChanged(n)
}

// becomeReplicaOf is REPLICAOF host port: the node drops its replicas and
// follows addr, syncing in the background and retrying every second as
// Redis's replication cron does.
func (n *Node) becomeReplicaOf(addr string) {
	n.mu.Lock()
	n.repl.gen++
	gen := n.repl.gen
	n.dropReplicationLocked()
	n.repl.role = roleReplica
	n.repl.masterAddr = addr
	n.repl.linkUp, n.repl.syncing = false, false
	n.repl.downSince = time.Time{}
	n.mu.Unlock()
	n.log.Debug("following", "master", addr)
	n.net.nodeChanged(n)
	go n.follow(gen)
}

// follow keeps a replica's link to its master up while gen is current.
func (n *Node) follow(gen int) {
	for {
		n.mu.Lock()
		current := n.repl.gen == gen && n.repl.role == roleReplica && n.state != nodeStopped
		up := n.repl.linkUp
		addr := n.repl.masterAddr
		n.mu.Unlock()
		if !current {
			return
		}
		if !up {
			n.trySync(gen, addr)
		}
		time.Sleep(time.Second)
	}
}

// trySync connects to the master and copies its data (a full sync), then
// registers for its stream.
func (n *Node) trySync(gen int, addr string) {
	m := n.net.node(addr)
	if m == nil || m == n {
		return
	}
	if st, _ := n.stateOf(); st != nodeRunning {
		return
	}
	if ms, _ := m.stateOf(); ms != nodeRunning || n.net.cutBetween(n, m) {
		return
	}
	// A reset refuses the connection; a held one (blackhole, or lost
	// for this attempt's draw) hangs: either way the attempt fails and
	// is retried a second later.
	u := n.net.draw()
	if n.resetting(classNodes) || m.resetting(classNodes) || syncHeld(m, n, u) {
		return
	}
	n.mu.Lock()
	if n.repl.gen != gen {
		n.mu.Unlock()
		return
	}
	n.repl.syncing = true
	n.mu.Unlock()
	time.Sleep(n.linkDelay(classNodes, dirOut) + m.linkDelay(classNodes, dirIn)) // PSYNC on the replica's link

	m.mu.Lock()
	if m.state != nodeRunning || m.m == nil || m.repl.role != roleMaster && m.repl.role != roleReplica {
		m.mu.Unlock()
		return
	}
	data := dump(m.m)
	replID, offset := m.repl.replID, m.repl.offset
	// The replica acknowledges as soon as it has loaded the payload.
	rl := &replicaLink{node: n, gen: gen, u: u, acked: offset, lastAck: time.Now(), cronAcked: offset, cronAckAt: time.Now(),
		wake: make(chan struct{}, 1), closed: make(chan struct{})}
	if m.repl.replicas == nil {
		m.repl.replicas = map[*Node]*replicaLink{}
	}
	if old := m.repl.replicas[n]; old != nil {
		old.close()
	}
	m.repl.replicas[n] = rl
	m.repl.backlog = true
	m.mu.Unlock()
	time.Sleep(m.linkDelay(classNodes, dirOut) + n.linkDelay(classNodes, dirIn)) // the payload on the master's link

	n.mu.Lock()
	if n.repl.gen != gen || n.state == nodeStopped {
		n.mu.Unlock()
		rl.close()
		return
	}
	target := n.m
	n.mu.Unlock()
	target.FlushAll()
	restore(target, data)
	n.mu.Lock()
	if n.repl.gen == gen {
		n.repl.replID, n.repl.offset = replID, offset
		n.repl.linkUp, n.repl.syncing, n.repl.backlog = true, false, true
		n.repl.lastIO = time.Now()
	}
	cronBase := n.cronBase
	n.mu.Unlock()
	go m.pump(rl)
	go m.periodicAcks(rl, cronBase)
	n.net.nodeChanged(n)
}

// replicaAckPeriod is how often a Redis replica sends REPLCONF ACK on its
// own: replicationCron runs once a second, on the replica's cron phase.
const replicaAckPeriod = time.Second

// periodicAcks records the replica's once-a-second REPLCONF ACK on link rl
// of master m, on the replica's cron phase (its cronBase).
func (m *Node) periodicAcks(rl *replicaLink, replicaCron time.Time) {
	for {
		wait := replicaAckPeriod - time.Since(replicaCron)%replicaAckPeriod
		select {
		case <-time.After(wait):
		case <-rl.closed:
			return
		}
		if ackHeld(m, rl.node, rl.u) {
			continue
		}
		m.mu.Lock()
		rl.cronAcked, rl.cronAckAt = rl.acked, time.Now()
		m.mu.Unlock()
	}
}

// keyDump is one key of a snapshot.
type keyDump struct {
	key  string
	typ  string
	str  string
	hash map[string]string
	list []string
	set  []string
	zset map[string]float64
	ttl  time.Duration
}

// dump copies the strings, hashes, lists, sets and sorted sets of db 0.
func dump(m *miniredis.Miniredis) []keyDump {
	var out []keyDump
	for _, k := range m.Keys() {
		d := keyDump{key: k, typ: m.Type(k), ttl: m.TTL(k)}
		switch d.typ {
		case "string":
			d.str, _ = m.Get(k)
		case "hash":
			d.hash = map[string]string{}
			fields, _ := m.HKeys(k)
			for _, f := range fields {
				d.hash[f] = m.HGet(k, f)
			}
		case "list":
			d.list, _ = m.List(k)
		case "set":
			d.set, _ = m.Members(k)
		case "zset":
			d.zset, _ = m.SortedSet(k)
		default:
			continue
		}
		out = append(out, d)
	}
	return out
}

func restore(m *miniredis.Miniredis, data []keyDump) {
	for _, d := range data {
		switch d.typ {
		case "string":
			m.Set(d.key, d.str)
		case "hash":
			for f, v := range d.hash {
				m.HSet(d.key, f, v)
			}
		case "list":
			for _, v := range d.list {
				m.Push(d.key, v)
			}
		case "set":
			m.SetAdd(d.key, d.set...)
		case "zset":
			for member, score := range d.zset {
				m.ZAdd(d.key, score, member)
			}
		}
		if d.ttl > 0 {
			m.SetTTL(d.key, d.ttl)
		}
	}
}

// cronPeriod is the period of Redis's serverCron at the default hz 10: a
// shutdown requested by SIGTERM starts, and its wait for the replicas is
// checked, only on these ticks.
const cronPeriod = 100 * time.Millisecond

// untilTick is how long until the node's next serverCron tick.
func (n *Node) untilTick() time.Duration {
	n.mu.Lock()
	base := n.cronBase
	n.mu.Unlock()
	return cronPeriod - time.Since(base)%cronPeriod
}

// shutdownWait does what Redis 7 does between SIGTERM and its final save
// (TIMING.md §4): at the next cron tick, if every replica's periodic ACK
// already reports the master's offset, nothing; otherwise it pauses writes
// (they wait, PING and reads are answered) and, on each later tick, checks
// whether every replica has sent a periodic ACK since the pause reporting
// the paused offset, giving up after timeout (shutdown-timeout). The ACK a
// replica sends in answer to the master's REPLCONF GETACK never counts: it
// reports the offset before the GETACK itself.
func (n *Node) shutdownWait(timeout time.Duration) {
	time.Sleep(n.untilTick())
	n.mu.Lock()
	if n.replicasAckedLocked(time.Time{}) {
		n.mu.Unlock()
		return
	}
	n.stopping = true
	paused := time.Now()
	n.mu.Unlock()
	deadline := paused.Add(timeout)
	for time.Now().Before(deadline) {
		time.Sleep(n.untilTick())
		n.mu.Lock()
		done := n.replicasAckedLocked(paused)
		n.mu.Unlock()
		if done {
			return
		}
	}
}

// replicasAckedLocked reports whether every replica's last periodic ACK,
// sent after since, reports the master's offset.
func (n *Node) replicasAckedLocked(since time.Time) bool {
	for _, rl := range n.repl.replicas {
		if rl.cronAcked < n.repl.offset || !rl.cronAckAt.After(since) {
			return false
		}
	}
	return true
}

// ackHeld reports whether replica r's acknowledgements to master m are
// held now: r's out or m's in to the nodes blackholed or lost.
func ackHeld(m, r *Node, u connDraw) bool {
	// The stream's draw is u[dirOut]; the acknowledgements go the other
	// way, the master's in and the replica's out, drawn u[dirIn].
	back := connDraw{u[dirIn], u[dirIn]}
	return m.held(classNodes, dirIn, back) || r.held(classNodes, dirOut, back)
}

// syncHeld reports whether a replica n's new connection to master m
// (draw u) is held either way.
func syncHeld(m, n *Node, u connDraw) bool {
	down := connDraw{u[dirOut], u[dirOut]}
	return m.held(classNodes, dirOut, down) || n.held(classNodes, dirIn, down) || ackHeld(m, n, u)
}

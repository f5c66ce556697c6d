package model

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy/health"
	"github.com/redisha-sim/redisha-sim/sim/fault"
)

// reach is how a node answers a connection from one side.
type reach int

const (
	reachOK      reach = iota // answers
	reachRefused              // connection refused or reset at once
	reachHang                 // nothing answers: connect or read waits for its timeout
)

// node is one Redis node.
type node struct {
	// id is the node's index in the world's nodes; g its group.
	id       int
	g        *group
	master   bool
	dead     bool // killed or stopped (process gone)
	stopping bool // SIGTERM received: answers PING, writes hang
	paused   bool
	// hangsAt is when a dead node's address stops refusing and hangs
	// (DeadHangs).
	hangsAt time.Duration
	cut     bool // disconnected from the other nodes and the Sentinels
	backlog bool // repl_backlog_active:1
	// replicaOf is the node a replica follows (a world index), its link
	// up from syncedAt.
	replicaOf int
	syncedAt  time.Duration
	// onReset are called when the node closes every connection (a kill,
	// the end of a stop, CLIENT KILL at promotion).
	onReset []func()
	// onResume are called when a hanging node answers again.
	onResume []func()
	// runID is the run_id its INFO reports ("" unless a test sets it:
	// the core then takes equally good replicas in address order).
	runID string
	// goneAt is when a dead node's process exited.
	goneAt time.Duration
}

func (n *node) deadReach(w *world) reach {
	if w.p.DeadHangs && w.q.now >= n.hangsAt {
		return reachHang
	}
	return reachRefused
}

// forProxy is how the node answers the proxy (checks and clients).
func (n *node) forProxy(w *world) reach {
	switch {
	case n.dead:
		return n.deadReach(w)
	case n.paused:
		return reachHang
	}
	return reachOK
}

// forSentinel is how the node answers Sentinels and the other nodes.
func (n *node) forSentinel(w *world) reach {
	switch {
	case n.dead:
		return n.deadReach(w)
	case n.paused || n.cut:
		return reachHang
	}
	return reachOK
}

// linkUp is a replica's master_link_status.
func (n *node) linkUp(w *world) bool {
	if n.master || n.replicaOf < 0 || w.q.now < n.syncedAt {
		return false
	}
	m := w.nodes[n.replicaOf]
	return m.master && m.forSentinel(w) == reachOK
}

// masterLinkDownTime is a replica's master_link_down_since_seconds: -1
// while it syncs with a master it never had a link to, whole seconds since
// its master went away (a dead master at its exit, a frozen or cut one at
// the fault), zero with the link up.
func (n *node) masterLinkDownTime(w *world) time.Duration {
	if n.master || n.replicaOf < 0 {
		return 0
	}
	if w.q.now < n.syncedAt {
		return -time.Second
	}
	m := w.nodes[n.replicaOf]
	if m.master && m.forSentinel(w) == reachOK {
		return 0
	}
	since := w.fault
	if m.dead {
		since = m.goneAt
	}
	return (w.q.now - since).Truncate(time.Second)
}

func (n *node) reset() {
	fs := n.onReset
	n.onReset = nil
	for _, f := range fs {
		f()
	}
}

func (n *node) resume() {
	fs := n.onResume
	n.onResume = nil
	for _, f := range fs {
		f()
	}
}

// world is one trial.
type world struct {
	p   Params
	q   queue
	rng *rand.Rand

	// nodes are every group's nodes, group by group.
	nodes     []*node
	groups    []*group
	sentinels []*sentinel
	// fault time.
	fault time.Duration
	// targets are the nodes the fault acts on; deadSentinels the
	// Sentinels it kills.
	targets       []*node
	deadSentinels []*sentinel
}

// group is one replication group: its nodes, its master backend, its
// writers' log and its results.
type group struct {
	id   int
	name string
	// nodes[0] is the initial master.
	nodes   []*node
	servers []*server
	t       Trial
	// promoted is the node the leader promoted, -1 before.
	promoted int
	// acked writes, per node, with their completion times.
	writes []write
	// firstSwitch is the first +switch-master of any Sentinel.
	firstSwitch time.Duration
	switched    bool
	// gate is the master a quorum of Sentinels names (Sentinel-aware
	// routing), -1 when they disagree.
	gate int
	// rr is the master backend's round-robin position.
	rr int
}

// initial is the group's initial master.
func (g *group) initial() *node { return g.nodes[0] }

type write struct {
	end  time.Duration
	node int
	ok   bool
}

func (w *world) uniform(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(w.rng.Int64N(int64(d)))
}

// scratch is what one worker's trials reuse: the write logs (one per
// group) and the event queue's storage (a trial logs thousands of writes).
type scratch struct {
	writes [][]write
	events []event
}

// groupName is the Sentinel master name of group g of n: "mymaster" for
// a single group, as the scenarios name it, else group1..groupN.
func groupName(g, n int) string {
	if n == 1 {
		return "mymaster"
	}
	return "group" + strconv.Itoa(g+1)
}

// addGroups creates the groups and their nodes: node 0 of each group is
// its master, the others replicate it.
func (w *world) addGroups(runIDs []string) {
	p := w.p
	groups := max(1, p.Groups)
	for g := range groups {
		gr := &group{id: g, name: groupName(g, groups), promoted: -1, gate: g * p.Nodes}
		w.groups = append(w.groups, gr)
		base := len(w.nodes)
		for i := range p.Nodes {
			n := &node{id: base + i, g: gr, master: i == 0, backlog: true, replicaOf: -1}
			if i > 0 {
				n.replicaOf = base
			}
			if i < len(runIDs) {
				n.runID = runIDs[i]
			}
			gr.nodes = append(gr.nodes, n)
			w.nodes = append(w.nodes, n)
		}
	}
}

// simulate runs one trial into out (one Trial per group). Time 0 is the
// workload's start; the steady state's phases are drawn at random.
func simulate(p Params, rng *rand.Rand, sc *scratch, out []Trial) {
	if p.RTT == 0 {
		p.RTT = 500 * time.Microsecond
	}
	if p.Balance == "" {
		p.Balance = "roundrobin"
	}
	w := &world{p: p, rng: rng, fault: p.Fault.At}
	w.addGroups(nil)
	for len(sc.writes) < len(w.groups) {
		sc.writes = append(sc.writes, nil)
	}
	perGroup := int(p.Duration.Seconds()*p.WriteRate*float64(p.Writers)) + 16
	for i, g := range w.groups {
		// The round-robin position is whatever earlier sessions left.
		g.rr = rng.IntN(1 << 20)
		g.writes = slices.Grow(sc.writes[i][:0], perGroup)
	}
	w.q.h = sc.events[:0]
	defer func() {
		clear(w.q.h[:cap(w.q.h)])
		sc.events = w.q.h[:0]
		for i, g := range w.groups {
			sc.writes[i] = g.writes
		}
	}()
	for _, g := range w.groups {
		for _, n := range g.nodes {
			g.servers = append(g.servers, newServer(w, n))
		}
	}
	for i := range p.Sentinels {
		w.sentinels = append(w.sentinels, newSentinel(w, i))
	}
	for _, s := range w.sentinels {
		s.start()
	}
	for _, g := range w.groups {
		for range p.Writers {
			c := &client{w: w, g: g, due: w.uniform(time.Duration(float64(time.Second) / p.WriteRate))}
			c.nextF = c.next
			w.q.at(c.due, c.nextF)
		}
	}
	if h := p.Fault.Host; h != nil {
		for g, ids := range h.Nodes {
			for _, i := range ids {
				w.targets = append(w.targets, w.groups[g].nodes[i])
			}
		}
		for _, i := range h.Sentinels {
			w.deadSentinels = append(w.deadSentinels, w.sentinels[i])
		}
	} else {
		w.targets = append(w.targets, w.groups[0].initial())
	}
	w.q.at(p.Fault.At, w.doFault)
	if p.Fault.Undo > 0 {
		w.q.at(p.Fault.Undo, w.undoFault)
	}
	w.q.run(p.Duration)
	for i, g := range w.groups {
		w.judge(g)
		out[i] = g.t
	}
}

// doFault acts on every target at the same instant (a host fault), and
// kills the Sentinels placed with them when their process dies.
func (w *world) doFault() {
	exit := func() {
		for _, n := range w.targets {
			w.exit(n)
		}
		for _, s := range w.deadSentinels {
			w.killSentinel(s)
		}
	}
	switch w.p.Fault.Action {
	case fault.Kill:
		if w.p.KillDelay > 0 {
			w.q.after(w.p.KillDelay, exit)
		} else {
			exit()
		}
	case fault.Stop, fault.Restart:
		// A Sentinel exits at once on SIGTERM; a node holds writes and
		// keeps answering PING until its replicas have acknowledged
		// (gracefulStop).
		for _, s := range w.deadSentinels {
			w.killSentinel(s)
		}
		var last time.Duration
		for _, n := range w.targets {
			last = max(last, w.gracefulStop(n))
		}
		if w.p.Fault.Action == fault.Restart {
			w.q.after(last+time.Second, w.undoFault)
		}
	case fault.Pause, fault.Blackhole:
		for _, n := range w.targets {
			n.paused = true
		}
	case fault.Disconnect:
		for _, n := range w.targets {
			n.cut = true
		}
	case fault.Failover:
		// SENTINEL FAILOVER on the first Sentinel for the first group,
		// as rig.Failover sends it: the core starts a forced failover
		// (or refuses, as sentinel.c does; then nothing happens).
		s := w.sentinels[0]
		_ = s.core.ForceFailover(s.watches[0].m, w.q.now)
	}
}

// Redis 7's shutdown timing (TIMING.md §4): SIGTERM is acted on at the
// next serverCron tick (hz 10); a replica sends REPLCONF ACK once a second
// on its own clock; the wait is capped by shutdown-timeout.
const (
	cronPeriod       = 100 * time.Millisecond
	replicaAckPeriod = time.Second
	shutdownTimeout  = 10 * time.Second
)

// gracefulStop schedules what Redis 7 does on SIGTERM and returns when the
// node exits, from now. At its next cron tick (a random phase) a node whose
// replicas have acknowledged everything exits; under writes they have not,
// so it holds writes (PING still answered) until each replica's next
// periodic ACK (each a random phase; the ACK answering the master's GETACK
// never counts), seen at the tick after the last one, or until the
// timeout. Without GracefulStop the node exits at once.
func (w *world) gracefulStop(n *node) time.Duration {
	if !w.p.GracefulStop {
		w.exit(n)
		return 0
	}
	tick := w.uniform(cronPeriod)
	var wait time.Duration
	if w.p.Writers > 0 && w.p.WriteRate > 0 {
		for _, r := range w.nodes {
			if r.dead || r.master || r.replicaOf != n.id || w.q.now < r.syncedAt {
				continue
			}
			ack := w.uniform(replicaAckPeriod)
			if r.cut || r.paused || n.cut {
				ack = shutdownTimeout
			}
			wait = max(wait, ack)
		}
	}
	if wait > 0 {
		wait = min(shutdownTimeout, (wait/cronPeriod+1)*cronPeriod)
		w.q.after(tick, func() {
			if !n.dead {
				n.stopping = true
			}
		})
	}
	w.q.after(tick+wait, func() {
		if !n.dead {
			w.exit(n)
		}
	})
	return tick + wait
}

func (w *world) exit(n *node) {
	n.stopping, n.dead, n.goneAt = false, true, w.q.now
	n.hangsAt = w.q.now + w.p.RefuseWindow
	w.reset(n)
}

// reset is the node closing every connection: checks in flight fail, the
// Sentinels' links drop.
func (w *world) reset(n *node) {
	n.reset()
	for _, s := range w.sentinels {
		s.linkReset(n)
	}
}

func (w *world) undoFault() {
	for _, n := range w.targets {
		switch {
		case n.dead:
			n.dead = false
			n.backlog = w.p.Persistence
			// A restarted node is what it was: a master, until Sentinel
			// converts it.
		case n.paused:
			n.paused = false
		case n.cut:
			n.cut = false
		}
		n.resume()
	}
}

// promote is SLAVEOF NO ONE on n: CLIENT KILL drops every connection, and
// the node answers role:master PromoteDelay later.
func (w *world) promote(n *node) {
	if n.dead || n.paused || n.cut {
		return
	}
	n.reset()
	w.q.after(w.p.PromoteDelay, func() {
		if n.master {
			return
		}
		n.master = true
		n.backlog = true
		if t := &n.g.t; t.Promotion == 0 && w.q.now >= w.fault {
			t.Promotion = w.q.now - w.fault
		}
	})
}

// replicate is SLAVEOF on n: it follows to, its link up after the sync.
func (w *world) replicate(n, to *node) {
	if n.dead || n.paused || n.cut {
		return
	}
	n.master = false
	n.replicaOf = to.id
	n.syncedAt = w.q.now + w.p.SyncDelay
}

// judge computes the trial's measures from the writes, as the verdict does
// from a timeline.
func (w *world) judge(g *group) {
	f := w.fault
	t := &g.t
	writes := g.writes
	slices.SortFunc(writes, func(a, b write) int { return cmp.Compare(a.end, b.end) })
	// The interruption: from the last ok before the first failure at or
	// after the fault to the first ok after it.
	firstFail := -1
	for i, x := range writes {
		if !x.ok && x.end >= f {
			firstFail = i
			break
		}
	}
	if firstFail < 0 {
		t.Recovered = true
	} else {
		t.Interrupted = true
		last := time.Duration(0)
		for i := firstFail - 1; i >= 0; i-- {
			if writes[i].ok {
				last = writes[i].end
				break
			}
		}
		for _, x := range writes[firstFail:] {
			if x.ok {
				t.Recovered = true
				t.Interruption = x.end - last
				if g.switched {
					t.ProxyShare = max(0, x.end-g.firstSwitch)
				}
				break
			}
		}
	}
	t.Switched = g.switched
	// Two-master window: acknowledged writes to a node a majority of
	// Sentinels did not name, joined when less than a second apart.
	const join = time.Second
	var total, from, to time.Duration
	open := false
	var named majorityCursor
	for _, x := range writes {
		if !x.ok {
			continue
		}
		if m := named.at(w, g, x.end); m < 0 || m == x.node {
			continue
		}
		if open && x.end-to <= join {
			to = x.end
			continue
		}
		if open {
			total += to - from
		}
		open, from, to = true, x.end, x.end
	}
	if open {
		total += to - from
	}
	t.TwoMaster = total
}

// majorityCursor answers majorityAt for times that do not go back,
// computing it again only past the next +switch-master.
type majorityCursor struct {
	valid bool
	node  int
	until time.Duration
}

func (c *majorityCursor) at(w *world, g *group, t time.Duration) int {
	if c.valid && t < c.until {
		return c.node
	}
	c.valid, c.node, c.until = true, w.majorityAt(g, t), time.Duration(math.MaxInt64)
	for _, s := range w.sentinels {
		for _, sw := range s.watches[g.id].switches {
			if sw.at > t && sw.at < c.until {
				c.until = sw.at
			}
		}
	}
	return c.node
}

// majorityAt is the node of group g a majority of Sentinels named at
// time t, -1 when none has a majority.
func (w *world) majorityAt(g *group, t time.Duration) int {
	var votes [16]int
	base := g.initial().id
	named := func(s *sentinel) int {
		m := base
		for _, sw := range s.watches[g.id].switches {
			if sw.at <= t {
				m = sw.node
			}
		}
		return m - base
	}
	for _, s := range w.sentinels {
		if m := named(s); m >= 0 && m < len(votes) {
			votes[m]++
		}
	}
	for m, v := range votes {
		if 2*v > len(w.sentinels) {
			return base + m
		}
	}
	return -1
}

// sentinelSwitched records a Sentinel's +switch-master of group g and
// updates the group's Sentinel-aware gate (the master a quorum names).
func (w *world) sentinelSwitched(s *sentinel, g *group, to int) {
	s.watches[g.id].switches = append(s.watches[g.id].switches, switchEvent{at: w.q.now, node: to})
	if !g.switched {
		g.switched, g.firstSwitch = true, w.q.now
		if w.q.now >= w.fault {
			g.t.Switch = w.q.now - w.fault
		}
	}
	votes := 0
	for _, x := range w.sentinels {
		if x.watches[g.id].masterNode == to {
			votes++
		}
	}
	if votes >= w.p.Quorum && g.gate != to {
		g.gate = to
		if w.p.SentinelAware {
			// The fast path: check the new master now; one pass puts it UP.
			if n := w.nodes[to]; n.g == g {
				g.servers[to-g.initial().id].kick()
			}
		}
	}
}

// server is the proxy's master-backend server for one node, with the
// proxy's own health counter.
type server struct {
	w *world
	n *node
	c health.Counter
	// gen invalidates a check in flight when it ends early.
	gen      int
	inFlight bool
	// fast: a kicked check marks the server UP on one pass.
	fast bool
	// next is the pending start of the next check, to cancel on a kick.
	nextGen int
}

func newServer(w *world, n *node) *server {
	s := &server{w: w, n: n}
	s.c = health.NewCounter(w.p.Check.Rise, w.p.Check.Fall, health.StartFullyDown)
	if n.master {
		s.c = health.NewCounter(w.p.Check.Rise, w.p.Check.Fall, health.StartFullyUp)
	}
	// Steady state: the next check starts somewhere in one period.
	period := s.c.Interval(w.p.Check) + s.duration()
	w.q.at(w.uniform(period), func() { s.start(s.nextGen) })
	return s
}

// duration is how long a check of the node takes now, and whether it
// passes.
func (s *server) outcome() (time.Duration, bool) {
	p := s.w.p
	switch s.n.forProxy(s.w) {
	case reachRefused:
		return p.RTT, false
	case reachHang:
		if s.n.dead {
			return p.ConnectTimeout, false
		}
		return p.ReadTimeout, false
	}
	if s.n.master {
		if p.BacklogGuard && !s.n.backlog {
			return p.ReadTimeout, false
		}
		return 4 * p.RTT, true
	}
	switch p.ReplicaCheck {
	case "pass":
		return 4 * p.RTT, true
	case "fail":
		return 3 * p.RTT, false
	}
	return p.ReadTimeout, false
}

func (s *server) duration() time.Duration { d, _ := s.outcome(); return d }

func (s *server) start(gen int) {
	if gen != s.nextGen || s.inFlight {
		return
	}
	w := s.w
	s.inFlight = true
	s.gen++
	g := s.gen
	d, pass := s.outcome()
	end := func(passed bool) {
		if s.gen != g || !s.inFlight {
			return
		}
		s.gen++
		s.inFlight = false
		s.record(passed)
	}
	w.q.after(d, func() { end(pass) })
	// A check in flight fails when the node closes its connections, and
	// completes when a hanging node answers again.
	s.n.onReset = append(s.n.onReset, func() { end(false) })
	if !pass && d > 4*w.p.RTT {
		s.n.onResume = append(s.n.onResume, func() {
			if _, ok := s.outcome(); ok {
				w.q.after(4*w.p.RTT, func() { end(true) })
			}
		})
	}
}

func (s *server) record(passed bool) {
	w := s.w
	var tr health.Transition
	if passed && s.fast {
		tr = s.c.Set(true)
	} else {
		tr = s.c.Record(passed)
	}
	s.fast = false
	switch tr {
	case health.WentDown:
		if t := &s.n.g.t; s.n == s.n.g.initial() && !t.Detected && w.q.now >= w.fault {
			t.Detected, t.Detection = true, w.q.now-w.fault
		}
	case health.WentUp:
		if t := &s.n.g.t; s.n.id == s.n.g.promoted && t.ProxyUp == 0 && w.q.now >= w.fault {
			t.ProxyUp = w.q.now - w.fault
		}
	}
	s.nextGen++
	gen := s.nextGen
	w.q.after(s.c.Interval(w.p.Check), func() { s.start(gen) })
}

// kick starts a check now (Sentinel-aware fast path); one pass marks the
// server UP.
func (s *server) kick() {
	s.fast = true
	if s.inFlight {
		return
	}
	s.nextGen++
	gen := s.nextGen
	s.w.q.after(0, func() { s.start(gen) })
}

// routable reports whether the proxy sends new sessions to the server.
func (s *server) routable() bool {
	if !s.c.Up() {
		return false
	}
	if s.w.p.SentinelAware {
		return s.n.g.gate == s.n.id
	}
	return true
}

package model

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
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
	id       int
	master   bool
	dead     bool // killed or stopped (process gone)
	stopping bool // SIGTERM received: answers PING, writes hang
	paused   bool
	// hangsAt is when a dead node's address stops refusing and hangs
	// (DeadHangs).
	hangsAt time.Duration
	cut     bool // disconnected from the other nodes and the Sentinels
	backlog bool // repl_backlog_active:1
	// replicaOf is the node a replica follows, its link up from syncedAt.
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

	nodes     []*node
	servers   []*server
	sentinels []*sentinel
	// fault time, and the trial's results.
	fault time.Duration
	t     Trial
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

// scratch is what one worker's trials reuse: the write log and the event
// queue's storage (a trial logs thousands of writes).
type scratch struct {
	writes []write
	events []event
}

// simulate runs one trial. Time 0 is the workload's start; the steady
// state's phases are drawn at random.
func simulate(p Params, rng *rand.Rand, sc *scratch) Trial {
	if p.RTT == 0 {
		p.RTT = 500 * time.Microsecond
	}
	if p.Balance == "" {
		p.Balance = "roundrobin"
	}
	w := &world{p: p, rng: rng, promoted: -1, gate: 0, fault: p.Fault.At}
	// The round-robin position is whatever earlier sessions left.
	w.rr = rng.IntN(1 << 20)
	w.writes = slices.Grow(sc.writes[:0], int(p.Duration.Seconds()*p.WriteRate*float64(p.Writers))+16)
	w.q.h = sc.events[:0]
	defer func() {
		clear(w.q.h[:cap(w.q.h)])
		sc.writes, sc.events = w.writes, w.q.h[:0]
	}()
	for i := range p.Nodes {
		w.nodes = append(w.nodes, &node{id: i, master: i == 0, backlog: true, replicaOf: min(i, 1) - 1})
	}
	for _, n := range w.nodes {
		w.servers = append(w.servers, newServer(w, n))
	}
	for i := range p.Sentinels {
		w.sentinels = append(w.sentinels, newSentinel(w, i))
	}
	for _, s := range w.sentinels {
		s.start()
	}
	for range p.Writers {
		c := &client{w: w, due: w.uniform(time.Duration(float64(time.Second) / p.WriteRate))}
		c.nextF = c.next
		w.q.at(c.due, c.nextF)
	}
	w.q.at(p.Fault.At, w.doFault)
	if p.Fault.Undo > 0 {
		w.q.at(p.Fault.Undo, w.undoFault)
	}
	w.q.run(p.Duration)
	w.judge()
	return w.t
}

func (w *world) old() *node { return w.nodes[0] }

func (w *world) doFault() {
	n := w.old()
	switch w.p.Fault.Action {
	case fault.Kill:
		if w.p.KillDelay > 0 {
			w.q.after(w.p.KillDelay, func() { w.exit(n) })
		} else {
			w.exit(n)
		}
	case fault.Stop, fault.Restart:
		if w.p.StopGrace > 0 {
			n.stopping = true
			w.q.after(w.p.StopGrace, func() { w.exit(n) })
		} else {
			w.exit(n)
		}
		if w.p.Fault.Action == fault.Restart {
			w.q.after(w.p.StopGrace+time.Second, w.undoFault)
		}
	case fault.Pause:
		n.paused = true
	case fault.Disconnect:
		n.cut = true
	}
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
	n := w.old()
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
		if w.t.Promotion == 0 && w.q.now >= w.fault {
			w.t.Promotion = w.q.now - w.fault
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
func (w *world) judge() {
	f := w.fault
	slices.SortFunc(w.writes, func(a, b write) int { return cmp.Compare(a.end, b.end) })
	// The interruption: from the last ok before the first failure at or
	// after the fault to the first ok after it.
	firstFail := -1
	for i, x := range w.writes {
		if !x.ok && x.end >= f {
			firstFail = i
			break
		}
	}
	if firstFail < 0 {
		w.t.Recovered = true
	} else {
		w.t.Interrupted = true
		last := time.Duration(0)
		for i := firstFail - 1; i >= 0; i-- {
			if w.writes[i].ok {
				last = w.writes[i].end
				break
			}
		}
		for _, x := range w.writes[firstFail:] {
			if x.ok {
				w.t.Recovered = true
				w.t.Interruption = x.end - last
				if w.switched {
					w.t.ProxyShare = max(0, x.end-w.firstSwitch)
				}
				break
			}
		}
	}
	w.t.Switched = w.switched
	// Two-master window: acknowledged writes to a node a majority of
	// Sentinels did not name, joined when less than a second apart.
	const join = time.Second
	var total, from, to time.Duration
	open := false
	var named majorityCursor
	for _, x := range w.writes {
		if !x.ok {
			continue
		}
		if m := named.at(w, x.end); m < 0 || m == x.node {
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
	w.t.TwoMaster = total
}

// majorityCursor answers majorityAt for times that do not go back,
// computing it again only past the next +switch-master.
type majorityCursor struct {
	valid bool
	node  int
	until time.Duration
}

func (c *majorityCursor) at(w *world, t time.Duration) int {
	if c.valid && t < c.until {
		return c.node
	}
	c.valid, c.node, c.until = true, w.majorityAt(t), time.Duration(math.MaxInt64)
	for _, s := range w.sentinels {
		for _, sw := range s.switches {
			if sw.at > t && sw.at < c.until {
				c.until = sw.at
			}
		}
	}
	return c.node
}

// majorityAt is the node a majority of Sentinels named at time t, -1 when
// none has a majority.
func (w *world) majorityAt(t time.Duration) int {
	var votes [16]int
	named := func(s *sentinel) int {
		m := 0
		for _, sw := range s.switches {
			if sw.at <= t {
				m = sw.node
			}
		}
		return m
	}
	for _, s := range w.sentinels {
		if m := named(s); m < len(votes) {
			votes[m]++
		}
	}
	for m, v := range votes {
		if 2*v > len(w.sentinels) {
			return m
		}
	}
	return -1
}

// sentinelSwitched records a Sentinel's +switch-master and updates the
// Sentinel-aware gate (the master a quorum names).
func (w *world) sentinelSwitched(s *sentinel, to int) {
	s.switches = append(s.switches, switchEvent{at: w.q.now, node: to})
	if !w.switched {
		w.switched, w.firstSwitch = true, w.q.now
		if w.q.now >= w.fault {
			w.t.Switch = w.q.now - w.fault
		}
	}
	votes := 0
	for _, x := range w.sentinels {
		if x.masterNode == to {
			votes++
		}
	}
	if votes >= w.p.Quorum && w.gate != to {
		w.gate = to
		if w.p.SentinelAware {
			// The fast path: check the new master now; one pass puts it UP.
			w.servers[to].kick()
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
		if s.n.id == 0 && !w.t.Detected && w.q.now >= w.fault {
			w.t.Detected, w.t.Detection = true, w.q.now-w.fault
		}
	case health.WentUp:
		if s.n.id == w.promoted && w.t.ProxyUp == 0 && w.q.now >= w.fault {
			w.t.ProxyUp = w.q.now - w.fault
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
		return s.w.gate == s.n.id
	}
	return true
}

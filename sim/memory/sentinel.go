package memory

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/redisha-sim/redisha-sim/sim/sentinel"
)

// sentinelConfig is what the "sentinel monitor" lines and their settings
// give: every master with the same settings.
type sentinelConfig struct {
	masters         []monitored
	quorum          int
	downAfter       time.Duration
	failoverTimeout time.Duration
	parallelSyncs   int
	// password is the Sentinel's requirepass: its RESP front refuses
	// commands before AUTH (none when empty).
	password string
}

// monitored is one "sentinel monitor" line: a master's name and address
// (and, for the backend's readiness check, how many replicas it has).
type monitored struct {
	name, addr string
	replicas   int
}

// Sentinel is an in-memory Redis Sentinel: a RESP server answering the
// SENTINEL commands and publishing Sentinel's events, running sentinel.c's
// algorithm (package sentinel) in real time over the in-process network.
// This file holds its lifecycle and loop; sentinel_links.go its
// connections and hellos, sentinel_election.go the requests to and from
// the other Sentinels, sentinel_info.go the INFO it reads,
// sentinel_events.go the events it publishes, sentinel_server.go its RESP
// front.
type Sentinel struct {
	name string
	addr string
	myid string
	cfg  sentinelConfig
	nw   *network
	log  *slog.Logger
	rnd  *mrand.Rand
	// base is the monotonic origin of the core's times.
	base time.Time
	// Test hooks, set before start: clock replaces the monotonic clock,
	// manualTicks stops the timer (the test posts the ticks), onEvent sees
	// every event in the loop.
	clock       func() time.Duration
	manualTicks bool
	onEvent     func(sentinel.Event)

	// The loop's mailbox and lifecycle.
	mu      sync.Mutex
	queue   []func()
	wake    chan struct{}
	state   nodeState
	resumed chan struct{}
	quit    chan struct{}
	done    chan struct{}
	// cut: disconnected from the nodes and the other Sentinels (action
	// disconnect) until reconnected; it lasts across stop and start, as a
	// container's network does. inbound are the other Sentinels'
	// connections to this one, reset when it is reconnected.
	cut     bool
	inbound map[*link]struct{}

	// Algorithm state, touched by the loop goroutine only.
	core  *sentinel.Sentinel
	links map[*sentinel.Instance]*instanceLinks
	peers map[string]*sharedConn

	// RESP front.
	m     *miniredis.Miniredis
	ln    net.Listener
	conns map[net.Conn]struct{}
}

func newSentinel(name, addr string, cfg sentinelConfig, nw *network, seed uint64, log *slog.Logger) *Sentinel {
	id := make([]byte, 20)
	rand.Read(id)
	return &Sentinel{
		name: name, addr: addr, myid: hex.EncodeToString(id), cfg: cfg, nw: nw,
		log: log.With("sentinel", name), rnd: mrand.New(mrand.NewPCG(seed, seed+1)), base: time.Now(),
		wake: make(chan struct{}, 1), conns: map[net.Conn]struct{}{}, links: map[*sentinel.Instance]*instanceLinks{}, peers: map[string]*sharedConn{},
		inbound: map[*link]struct{}{},
	}
}

// now is the core's time: since the Sentinel was created, on the
// monotonic clock.
func (s *Sentinel) now() time.Duration {
	if s.clock != nil {
		return s.clock()
	}
	return time.Since(s.base)
}

func (s *Sentinel) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state != nodeStopped
}

func (s *Sentinel) isCut() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cut
}

// setCut disconnects the Sentinel from the nodes and the other Sentinels,
// as docker's disconnect from the cluster network does, or reconnects it.
// Its RESP front stays reachable: the harness's subscriptions and
// queries, on the clients side, keep working. While cut, what it sends
// and what is sent to it on its links is lost, and it does not hear of a
// connection closed by the other end. Like a node's, the connections
// that hung through the partition are reset when it heals (its own and
// the other Sentinels' to it); everyone reconnects.
func (s *Sentinel) setCut(cut bool) {
	s.mu.Lock()
	if s.cut == cut {
		s.mu.Unlock()
		return
	}
	s.cut = cut
	var inbound []*link
	if !cut {
		for l := range s.inbound {
			inbound = append(inbound, l)
		}
		clear(s.inbound)
	}
	s.mu.Unlock()
	s.log.Debug("cut", "cut", cut)
	if cut {
		return
	}
	for _, l := range inbound {
		l.closedByPeer()
	}
	s.post(s.resetLinks)
}

// resetLinks closes every connection of the Sentinel and tells the core,
// in the loop: the reset it hears once reconnected, including of those
// the other end closed meanwhile.
func (s *Sentinel) resetLinks() {
	seen := map[*link]bool{}
	for _, ls := range s.links {
		for _, c := range []*link{ls.cc, ls.pc} {
			if c != nil {
				seen[c] = true
			}
		}
	}
	for _, sc := range s.peers {
		seen[sc.c] = true
	}
	for c := range seen {
		c.close()
		s.linkClosed(c)
	}
}

// post runs f in the Sentinel's loop.
func (s *Sentinel) post(f func()) {
	s.mu.Lock()
	if s.state == nodeStopped {
		s.mu.Unlock()
		return
	}
	s.queue = append(s.queue, f)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// call runs f in the loop and waits for it; it reports false when the
// Sentinel stopped first.
func (s *Sentinel) call(f func()) bool {
	done := make(chan struct{})
	s.post(func() { f(); close(done) })
	s.mu.Lock()
	quit := s.quit
	s.mu.Unlock()
	select {
	case <-done:
		return true
	case <-quit:
		return false
	}
}

// start runs the Sentinel: its RESP server and its timer loop.
func (s *Sentinel) start() error {
	s.mu.Lock()
	if s.state != nodeStopped {
		s.mu.Unlock()
		return fmt.Errorf("start %s: already %s", s.name, s.state)
	}
	s.mu.Unlock()
	if err := s.startServer(); err != nil {
		return err
	}
	s.mu.Lock()
	s.state = nodeRunning
	s.quit, s.done = make(chan struct{}), make(chan struct{})
	now := s.now()
	if s.core == nil {
		s.core = sentinel.New(s.myid, s.addr, (*coreDriver)(s), s.rnd)
		for _, m := range s.cfg.masters {
			s.core.Monitor(now, sentinel.MasterConfig{Name: m.name, Addr: m.addr,
				Quorum: s.cfg.quorum, DownAfter: s.cfg.downAfter, FailoverTimeout: s.cfg.failoverTimeout, ParallelSyncs: s.cfg.parallelSyncs})
		}
	} else {
		// A restarted Sentinel keeps what its config file kept: the
		// master, its replicas and the other Sentinels, with fresh links.
		s.core.Restart(now)
	}
	s.mu.Unlock()
	go s.loop(s.quit, s.done)
	return nil
}

// stop kills the Sentinel: its server closes, its links close.
func (s *Sentinel) stop() {
	s.mu.Lock()
	if s.state == nodeStopped {
		s.mu.Unlock()
		return
	}
	if s.state == nodePaused {
		close(s.resumed)
	}
	s.state = nodeStopped
	quit, done := s.quit, s.done
	s.queue = nil
	s.mu.Unlock()
	close(quit)
	<-done
	s.closeAllLinks()
	s.stopServer()
}

func (s *Sentinel) pause() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != nodeRunning {
		return fmt.Errorf("pause %s: it is %s", s.name, s.state)
	}
	s.state = nodePaused
	s.resumed = make(chan struct{})
	return nil
}

func (s *Sentinel) unpause() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != nodePaused {
		return fmt.Errorf("unpause %s: it is %s", s.name, s.state)
	}
	s.state = nodeRunning
	close(s.resumed)
	return nil
}

// loop runs timer ticks at sentinel.c's randomised 10-19 Hz and the
// mailbox in between.
func (s *Sentinel) loop(quit, done chan struct{}) {
	defer close(done)
	timer := time.NewTimer(0)
	defer timer.Stop()
	ticks := timer.C
	if s.manualTicks {
		ticks = nil
	}
	for {
		select {
		case <-quit:
			return
		case <-s.wake:
		case <-ticks:
			s.waitResumed(quit)
			s.runQueue()
			s.core.Tick(s.now())
			timer.Reset(sentinel.NextTick(s.rnd))
			continue
		}
		s.waitResumed(quit)
		s.runQueue()
	}
}

// waitResumed blocks while the Sentinel is paused (a frozen process).
func (s *Sentinel) waitResumed(quit chan struct{}) {
	s.mu.Lock()
	st, ch := s.state, s.resumed
	s.mu.Unlock()
	if st == nodePaused {
		select {
		case <-ch:
		case <-quit:
		}
	}
}

func (s *Sentinel) runQueue() {
	for {
		s.mu.Lock()
		q := s.queue
		s.queue = nil
		s.mu.Unlock()
		if len(q) == 0 {
			return
		}
		for _, f := range q {
			f()
		}
	}
}

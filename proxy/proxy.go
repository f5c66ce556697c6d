// Package proxy is an HAProxy-compatible TCP proxy for Redis: it reads
// HAProxy's configuration (package config), checks servers with HAProxy's
// tcp-check semantics and timing (packages tcpcheck and health), balances
// sessions over the servers that are UP, and reports what it does as events,
// a stats page, a runtime API and Prometheus metrics.
//
// A Proxy is built from a configuration by New, which binds every listener
// before returning, and is stopped by Shutdown (graceful) or Close.
package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/redisha-sim/redisha-sim/proxy/config"
	"github.com/redisha-sim/redisha-sim/proxy/health"
	"github.com/redisha-sim/redisha-sim/proxy/tcpcheck"
)

// Version is reported by the stats page and the runtime API.
const Version = "redisha-sim proxy 0.1"

// Options tune a Proxy beyond its configuration.
type Options struct {
	// Logger receives HAProxy-worded log lines; nil discards them.
	Logger *slog.Logger
	// Registerer, when set, receives the proxy's Prometheus metrics.
	Registerer prometheus.Registerer
	// Dialer opens server and check connections; nil means a net.Dialer.
	Dialer tcpcheck.Dialer
	// Rand draws the spread-checks jitter; nil means math/rand/v2.
	Rand func() float64
	// Resolver looks up the host names a Sentinel-aware backend compares:
	// the addresses Sentinel names (with announce-hostnames) and the
	// servers' own; nil means net.DefaultResolver.
	Resolver Resolver
	// DataPath chooses how routed sessions move their bytes:
	// DataPathLoop (the proxy's own epoll loops, Linux only) or
	// DataPathGoroutine (a goroutine per direction). Empty means the
	// environment variable REDISHA_PROXY_DATAPATH (same values), else the
	// loop on Linux and goroutines elsewhere.
	DataPath string
}

// Resolver looks up a host name's addresses, as *net.Resolver does.
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// Proxy is a running proxy.
type Proxy struct {
	cfg      *config.Config
	log      *slog.Logger
	events   *Bus
	dialer   tcpcheck.Dialer
	resolver Resolver
	start    time.Time
	frontMap map[string]*Frontend
	fronts   []*Frontend
	backMap  map[string]*Backend
	backs    []*Backend
	stats    []*statsServer
	sockets  []*runtimeSocket
	// evloops are the loop data path's event loops; nil on the goroutine
	// path.
	evloops *loopSet
	metrics *metrics
	// ids are HAProxy's proxy ids ("fe:name", "be:name"), for the stats.
	ids map[string]int

	// slots caps the process's concurrent sessions (global maxconn).
	slots chan struct{}
	// cliSlots caps the runtime API's concurrent connections (global
	// stats maxconn).
	cliSlots chan struct{}

	nextID    atomic.Uint64
	done      chan struct{}
	closeOnce sync.Once
	// cancel ends the context of the proxy's goroutines (accept loops,
	// sessions, checks, Sentinel watchers), which New hands to each.
	cancel context.CancelFunc
	// loops counts accept loops and checkers; sessions counts sessions.
	loops    sync.WaitGroup
	sessions sync.WaitGroup

	mu       sync.Mutex
	live     map[*session]struct{}
	draining bool
}

// New builds a proxy from cfg (which it normalizes), binds its listeners and
// starts its health checks. It returns the first listen error.
func New(cfg *config.Config, opts Options) (*Proxy, error) {
	if err := cfg.Normalize(); err != nil {
		return nil, err
	}
	dataPath, err := resolveDataPath(opts.DataPath)
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		cfg:      cfg,
		log:      opts.Logger,
		dialer:   opts.Dialer,
		resolver: opts.Resolver,
		start:    time.Now(),
		frontMap: map[string]*Frontend{},
		backMap:  map[string]*Backend{},
		done:     make(chan struct{}),
		live:     map[*session]struct{}{},
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.resolver == nil {
		p.resolver = net.DefaultResolver
	}
	if p.dialer == nil {
		p.dialer = &net.Dialer{}
	}
	rnd := opts.Rand
	if rnd == nil {
		rnd = rand.Float64
	}
	if cfg.Global.MaxConn > 0 {
		p.slots = make(chan struct{}, cfg.Global.MaxConn)
	}
	p.events = NewBus(p.start)
	p.ids = proxyIDs(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	for _, bc := range cfg.Backends {
		b, err := newBackend(p, bc)
		if err != nil {
			return nil, err
		}
		p.backs = append(p.backs, b)
		p.backMap[b.Name] = b
	}
	p.metrics = newMetrics(p, opts.Registerer)
	if err := p.listen(); err != nil {
		p.closeListeners()
		return nil, err
	}
	for _, b := range p.backs {
		b.logStartHazard(p.log)
	}
	if dataPath == DataPathLoop {
		set, err := startLoops(p, runtime.GOMAXPROCS(0))
		if err != nil {
			p.log.Warn("event loops unavailable: moving data with goroutines", "err", err)
		}
		p.evloops = set
	}
	p.startChecks(ctx, rnd)
	for _, b := range p.backs {
		if b.cfg.Sentinel != nil {
			p.loops.Add(1)
			go func() {
				defer p.loops.Done()
				b.watchSentinel(ctx)
			}()
		}
	}
	for _, f := range p.fronts {
		for _, ln := range f.listeners {
			p.loops.Add(1)
			go p.acceptLoop(ctx, f, ln)
		}
	}
	for _, s := range p.stats {
		p.loops.Add(1)
		go s.serve(&p.loops)
	}
	for _, s := range p.sockets {
		p.loops.Add(1)
		go s.serve(&p.loops)
	}
	p.events.Publish(Event{Type: EventStart, Message: "Proxy started."})
	p.log.Info("proxy started", "frontends", len(p.fronts), "backends", len(p.backs))
	return p, nil
}

// listen binds every frontend, stats page and runtime socket.
func (p *Proxy) listen() error {
	for _, fc := range p.cfg.Frontends {
		if fc.Mode == config.ModeHTTP {
			s, err := newStatsServer(p, fc)
			if err != nil {
				return err
			}
			p.stats = append(p.stats, s)
			continue
		}
		f := &Frontend{Name: fc.Name, cfg: fc, p: p, backend: p.backMap[fc.DefaultBackend]}
		if fc.MaxConn > 0 {
			f.slots = make(chan struct{}, fc.MaxConn)
		}
		for _, b := range fc.Binds {
			ln, err := net.Listen("tcp", b.Addr)
			if err != nil {
				return fmt.Errorf("frontend %s: bind %s: %w", fc.Name, b.Addr, err)
			}
			f.listeners = append(f.listeners, ln)
		}
		p.fronts = append(p.fronts, f)
		p.frontMap[f.Name] = f
	}
	for _, sc := range p.cfg.Global.StatsSockets {
		s, err := newRuntimeSocket(p, sc)
		if err != nil {
			return err
		}
		p.sockets = append(p.sockets, s)
	}
	return nil
}

// startChecks schedules every server's first check HAProxy's way: spread
// evenly over the smallest interval of at least one second, in
// configuration order across all backends.
func (p *Proxy) startChecks(ctx context.Context, rnd func() float64) {
	type job struct {
		b *Backend
		s *Server
	}
	var jobs []job
	var minInter time.Duration
	for _, b := range p.backs {
		for _, s := range b.servers {
			if !s.checked {
				continue
			}
			jobs = append(jobs, job{b, s})
			if in := s.health.Interval(s.params); in >= health.StaggerThreshold && (minInter == 0 || in < minInter) {
				minInter = in
			}
		}
	}
	var mu sync.Mutex
	locked := func() float64 {
		mu.Lock()
		defer mu.Unlock()
		return rnd()
	}
	for i, j := range jobs {
		p.loops.Add(1)
		go func() {
			defer p.loops.Done()
			j.b.runChecks(ctx, j.s, health.FirstCheckDelay(minInter, i, len(jobs)), p.dialer, locked)
		}()
	}
}

// Events is the proxy's event bus.
func (p *Proxy) Events() *Bus { return p.events }

// Start is when the proxy started; event times count from it.
func (p *Proxy) Start() time.Time { return p.start }

// Config is the proxy's normalized configuration.
func (p *Proxy) Config() *config.Config { return p.cfg }

// Backend returns the named backend, or nil.
func (p *Proxy) Backend(name string) *Backend { return p.backMap[name] }

// Backends returns the backends in configuration order.
func (p *Proxy) Backends() []*Backend { return p.backs }

// Frontend returns the named frontend, or nil.
func (p *Proxy) Frontend(name string) *Frontend { return p.frontMap[name] }

// Frontends returns the TCP frontends in configuration order.
func (p *Proxy) Frontends() []*Frontend { return p.fronts }

// StatsAddrs returns the addresses the stats pages listen on.
func (p *Proxy) StatsAddrs() []net.Addr {
	var out []net.Addr
	for _, s := range p.stats {
		out = append(out, s.ln.Addr())
	}
	return out
}

// RuntimeAddrs returns the addresses the runtime API listens on.
func (p *Proxy) RuntimeAddrs() []net.Addr {
	var out []net.Addr
	for _, s := range p.sockets {
		out = append(out, s.ln.Addr())
	}
	return out
}

func (p *Proxy) closeListeners() {
	for _, f := range p.fronts {
		for _, ln := range f.listeners {
			ln.Close()
		}
	}
	for _, s := range p.stats {
		s.close()
	}
	for _, s := range p.sockets {
		s.close()
	}
}

// Shutdown stops accepting, lets sessions finish until ctx is done, then
// closes what remains. It returns ctx's error if sessions had to be cut.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	p.draining = true
	n := len(p.live)
	p.mu.Unlock()
	for _, f := range p.fronts {
		for _, ln := range f.listeners {
			ln.Close()
		}
	}
	if n > 0 {
		p.log.Info(fmt.Sprintf("Stopping: waiting for %d sessions to finish.", n))
	}
	idle := make(chan struct{})
	go func() { p.sessions.Wait(); close(idle) }()
	var err error
	select {
	case <-idle:
	case <-ctx.Done():
		err = ctx.Err()
	}
	p.Close()
	return err
}

// Close stops the proxy at once: listeners, checks and every session.
func (p *Proxy) Close() error {
	p.closeOnce.Do(func() {
		close(p.done)
		p.cancel()
		p.closeListeners()
		p.mu.Lock()
		for s := range p.live {
			s.kill(termProxyStop)
		}
		p.mu.Unlock()
		p.loops.Wait()
		p.sessions.Wait()
		if p.evloops != nil {
			p.evloops.stop()
		}
		p.metrics.unregister()
		p.events.Publish(Event{Type: EventStop, Message: "Proxy stopped."})
	})
	return nil
}

// Done is closed when the proxy starts closing.
func (p *Proxy) Done() <-chan struct{} { return p.done }

// track registers a live session; it reports false when the proxy is
// stopping.
func (p *Proxy) track(s *session) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.done:
		return false
	default:
	}
	p.live[s] = struct{}{}
	p.sessions.Add(1)
	return true
}

func (p *Proxy) untrack(s *session) {
	p.mu.Lock()
	delete(p.live, s)
	p.mu.Unlock()
	p.sessions.Done()
}

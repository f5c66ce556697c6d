package proxy

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy/config"
	"github.com/redisha-sim/redisha-sim/proxy/health"
	"github.com/redisha-sim/redisha-sim/proxy/sentinel"
	"github.com/redisha-sim/redisha-sim/proxy/tcpcheck"
)

// Backend is a pool of servers at run time.
type Backend struct {
	Name string
	cfg  *config.Backend
	p    *Proxy
	prog *tcpcheck.Program

	mu      sync.Mutex
	servers []*Server
	sel     Selector
	// changed is closed and replaced whenever a server slot frees up or a
	// server changes state, to wake sessions waiting in the queue.
	changed chan struct{}
	queued  int
	// available tracks whether any server is usable, for backend-up/-down
	// events.
	available  bool
	lastChange time.Time
	downSince  time.Time
	downtime   time.Duration
	downTrans  uint64
	cur, max   int
	total      uint64
	denied     uint64 // sessions refused: no server, queue timeout

	bytesIn  atomic.Int64
	bytesOut atomic.Int64

	// Sentinel-aware routing (sentinelroute.go): the last view, when it
	// came, and whether none has been announced yet.
	sview      sentinel.View
	sviewAt    time.Time
	sviewFirst bool
	// hosts are the addresses of the host names in the Sentinel view and
	// the servers' addresses, looked up as each view arrives (sameAddr).
	hosts map[string][]string
}

func newBackend(p *Proxy, cfg *config.Backend) (*Backend, error) {
	b := &Backend{Name: cfg.Name, cfg: cfg, p: p, sel: NewSelector(cfg.Balance), changed: make(chan struct{}), lastChange: p.start, sviewFirst: true}
	kind := tcpcheck.KindConnect
	switch cfg.CheckKind {
	case config.CheckTCP:
		kind = tcpcheck.KindTCPCheck
	case config.CheckRedis:
		kind = tcpcheck.KindRedis
	}
	prog, err := tcpcheck.NewProgram(kind, cfg.CheckRules)
	if err != nil {
		return nil, fmt.Errorf("backend %s: %w", cfg.Name, err)
	}
	b.prog = prog
	for i, sc := range cfg.Servers {
		s := &Server{
			Name: sc.Name, ID: i + 1, Addr: sc.Addr, cfg: sc, backend: b,
			params: health.Params{
				Inter: sc.Inter, FastInter: sc.FastInter, DownInter: sc.DownInter,
				Rise: sc.Rise, Fall: sc.Fall,
			},
			health:     health.NewCounter(sc.Rise, sc.Fall, startOf(sc.InitState)),
			checked:    sc.Check,
			checksOn:   sc.Check,
			weight:     sc.EffectiveWeight(),
			sessions:   map[*session]struct{}{},
			lastChange: p.start,
			kick:       make(chan struct{}, 1),
		}
		if sc.Disabled {
			s.admin = AdminMaint
		}
		if !s.usable() {
			s.downSince = p.start
		}
		b.servers = append(b.servers, s)
	}
	b.available = b.countUsable(false)+b.countUsable(true) > 0
	if !b.available {
		b.downSince = p.start
	}
	return b, nil
}

func startOf(s config.InitState) health.Start {
	switch s {
	case config.InitFullyUp:
		return health.StartFullyUp
	case config.InitDown:
		return health.StartDown
	case config.InitFullyDown:
		return health.StartFullyDown
	}
	return health.StartUp
}

// Server returns the named server, or nil.
func (b *Backend) Server(name string) *Server {
	for _, s := range b.servers {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// countUsable counts usable active (backup=false) or backup servers; a
// server with weight 0 does not count, as in HAProxy.
func (b *Backend) countUsable(backup bool) int {
	n := 0
	for _, s := range b.servers {
		if s.cfg.Backup == backup && s.usable() && s.weight > 0 {
			n++
		}
	}
	return n
}

// logStartHazard warns when servers will take traffic before any check has
// run: HAProxy starts checked servers UP.
func (b *Backend) logStartHazard(log *slog.Logger) {
	var names []string
	for _, s := range b.servers {
		if s.checked && s.cfg.InitState == config.InitUp && s.admin != AdminMaint {
			names = append(names, s.Name)
		}
	}
	if len(names) > 1 {
		log.Warn(fmt.Sprintf("backend '%s': servers %v start UP before their first check and take sessions until a check fails (HAProxy's default); 'init-state down' avoids routing to unchecked servers", b.Name, names), "backend", b.Name)
	}
}

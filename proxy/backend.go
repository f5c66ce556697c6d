package proxy

import (
	"context"
	"errors"
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

// Errors of server selection.
var (
	// ErrNoServer: the backend has no usable server.
	ErrNoServer = errors.New("no server available")
	// ErrQueueTimeout: every usable server stayed at its maxconn for the
	// whole queue timeout.
	ErrQueueTimeout = errors.New("queue timeout")
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

// Servers returns snapshots of the backend's servers in configuration order.
func (b *Backend) Servers() []ServerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	out := make([]ServerState, len(b.servers))
	for i, s := range b.servers {
		out[i] = s.snapshot(now)
	}
	return out
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

// candidates returns the servers a new session may go to now, and whether
// any server would qualify but for maxconn (then the session should queue).
// Backups serve only when no active server is eligible: all of them when
// "option allbackups" is set, else the first one.
func (b *Backend) candidates(buf []*Server, exclude *Server) ([]*Server, bool) {
	anyEligible, queue := false, false
	collect := func(backup bool, onlyFirst bool) {
		for _, s := range b.servers {
			if s.cfg.Backup != backup || !s.eligible() || s == exclude || !b.sentinelAllowsLocked(s) {
				continue
			}
			anyEligible = true
			if s.full() {
				queue = true
				continue
			}
			buf = append(buf, s)
			if onlyFirst {
				return
			}
		}
	}
	collect(false, false)
	if !anyEligible {
		collect(true, !b.cfg.AllBackups)
	}
	return buf, queue
}

// assign picks the server of a new session and reserves a slot on it,
// waiting in the queue while every eligible server is full. exclude, when
// set, is left out (redispatch).
func (b *Backend) assign(ctx context.Context, sess *session, exclude *Server) (*Server, error) {
	var buf [8]*Server
	var timer *time.Timer
	for {
		b.mu.Lock()
		cands, queue := b.candidates(buf[:0], exclude)
		if len(cands) > 0 {
			s := b.sel.Select(cands, sess.clientAddr)
			b.attach(s, sess)
			b.mu.Unlock()
			if timer != nil {
				timer.Stop()
			}
			return s, nil
		}
		if !queue {
			b.denied++
			b.mu.Unlock()
			return nil, ErrNoServer
		}
		if timer == nil {
			wait := b.cfg.Timeouts.Queue
			if wait == 0 {
				wait = b.cfg.Timeouts.Connect
			}
			if wait == 0 {
				wait = 24 * time.Hour
			}
			timer = time.NewTimer(wait)
		}
		ch := b.changed
		b.queued++
		b.mu.Unlock()
		select {
		case <-ch:
			b.mu.Lock()
			b.queued--
			b.mu.Unlock()
		case <-timer.C:
			b.mu.Lock()
			b.queued--
			b.denied++
			b.mu.Unlock()
			return nil, ErrQueueTimeout
		case <-ctx.Done():
			timer.Stop()
			b.mu.Lock()
			b.queued--
			b.mu.Unlock()
			return nil, ctx.Err()
		}
	}
}

// attach counts sess on s; the lock must be held.
func (b *Backend) attach(s *Server, sess *session) {
	s.cur++
	s.total++
	s.maxCur = max(s.maxCur, s.cur)
	s.sessions[sess] = struct{}{}
	b.cur++
	b.total++
	b.max = max(b.max, b.cur)
	sess.srv = s
}

// detach releases sess's slot on its server.
func (b *Backend) detach(sess *session) {
	b.mu.Lock()
	s := sess.srv
	if s != nil {
		if _, ok := s.sessions[sess]; ok {
			delete(s.sessions, sess)
			s.cur--
			b.cur--
		}
	}
	b.wakeLocked()
	b.mu.Unlock()
}

// wakeLocked wakes the sessions waiting in the queue.
func (b *Backend) wakeLocked() {
	if b.queued > 0 {
		close(b.changed)
		b.changed = make(chan struct{})
	}
}

// applyCheck records a check result on s and acts on the transition it
// causes.
func (b *Backend) applyCheck(s *Server, res tcpcheck.Result, at time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s.checking = false
	if s.admin == AdminMaint || !s.checksOn {
		return // maintenance or checks disabled while it ran
	}
	prevStatus, prevHealth := s.lastCheck.Status, s.health.Health
	s.lastCheck, s.lastCheckAt = res, at
	if !res.Passed() && s.health.Health > 0 {
		s.checkFails++
	}
	tr := s.health.Record(res.Passed())
	cause := "check"
	if res.Passed() && s.sentinelFast {
		// Sentinel names this server master: one passing check is enough.
		// The UP is Sentinel's doing even when this check also completes
		// the rise: without Sentinel it would not have run now.
		s.sentinelFast = false
		if !s.health.Up() {
			tr = s.health.Set(true)
		}
		if tr == health.WentUp {
			cause = "sentinel"
		}
	}
	ev := Event{
		Type: EventCheck, Backend: b.Name, Server: s.Name, State: s.status(), Cause: "check",
		Check: checkInfo(res),
	}
	if b.cfg.LogHealthChecks && (res.Status != prevStatus || s.health.Health != prevHealth) {
		verdict := "succeeded"
		if !res.Passed() {
			verdict = "failed"
		}
		ev.Message = fmt.Sprintf("Health check for %sserver %s/%s %s, %s, status: %s.", backupWord(s), b.Name, s.Name, verdict, res.Describe(), s.checkStatusWord())
		b.p.log.Warn(ev.Message, "backend", b.Name, "server", s.Name)
	}
	b.p.events.Publish(ev)
	if tr == health.NoChange {
		return
	}
	detail := ""
	if !b.cfg.LogHealthChecks {
		detail = ", " + res.Describe()
	}
	up := tr == health.WentUp
	if cause == "sentinel" {
		detail = ", Sentinel's master" + detail
	}
	b.transitionLocked(s, up, cause, map[bool]string{true: "is UP", false: "is DOWN"}[up], detail, &res, at)
}

func backupWord(s *Server) string {
	if s.cfg.Backup {
		return "backup "
	}
	return ""
}

func checkInfo(res tcpcheck.Result) *CheckInfo {
	return &CheckInfo{
		Code: res.Status.Code(), Reason: res.Status.Description(), Info: res.Info,
		Step: res.Step, Duration: res.Duration, Passed: res.Passed(),
	}
}

// stateLineLocked words a server's change as HAProxy does:
// "[Backup ]Server B/S <what><detail>. <counts>." where the counts are of the
// servers left (down) or online (up) after the change.
func (b *Backend) stateLineLocked(s *Server, up bool, what, detail string) string {
	prefix := "Server"
	if s.cfg.Backup {
		prefix = "Backup Server"
	}
	active, backup := b.countUsable(false), b.countUsable(true)
	onBackup := ""
	if active == 0 && backup > 0 {
		onBackup = " Running on backup."
	}
	if up {
		return fmt.Sprintf("%s %s/%s %s%s. %d active and %d backup servers online.%s 0 sessions requeued, %d total in queue.",
			prefix, b.Name, s.Name, what, detail, active, backup, onBackup, b.queued)
	}
	return fmt.Sprintf("%s %s/%s %s%s. %d active and %d backup servers left.%s %d sessions active, 0 requeued, %d remaining in queue.",
		prefix, b.Name, s.Name, what, detail, active, backup, onBackup, s.cur, b.queued)
}

// transitionLocked publishes and logs a server going UP or DOWN and runs
// its on-marked-down / on-marked-up actions. res is the check that caused
// it, if any. The lock must be held.
func (b *Backend) transitionLocked(s *Server, up bool, cause, what, detail string, res *tcpcheck.Result, at time.Time) {
	s.lastChange = at
	if up {
		if !s.downSince.IsZero() {
			s.downtime += at.Sub(s.downSince)
			s.downSince = time.Time{}
		}
	} else {
		s.downTrans++
		s.downSince = at
	}
	ev := Event{Backend: b.Name, Server: s.Name, State: s.status(), Cause: cause,
		Active: b.countUsable(false), Backup: b.countUsable(true),
		Message: b.stateLineLocked(s, up, what, detail)}
	if res != nil {
		ev.Check = checkInfo(*res)
	}
	if up {
		ev.Type = EventServerUp
		b.p.log.Info(ev.Message, "backend", b.Name, "server", s.Name)
	} else {
		ev.Type = EventServerDown
		b.p.log.Warn(ev.Message, "backend", b.Name, "server", s.Name)
	}
	b.p.events.Publish(ev)
	if !up && s.cfg.ShutdownSessions {
		for sess := range s.sessions {
			sess.kill(termServerDown)
		}
	}
	if up && !s.cfg.Backup && s.cfg.ShutdownBackupSessions && s.weight > 0 {
		for _, bs := range b.servers {
			if bs.cfg.Backup {
				for sess := range bs.sessions {
					sess.kill(termBackupKilled)
				}
			}
		}
	}
	b.updateAvailabilityLocked(at)
	b.wakeLocked()
}

// updateAvailabilityLocked emits backend-down/up when the backend loses its
// last usable server or gets one back.
func (b *Backend) updateAvailabilityLocked(at time.Time) {
	avail := b.countUsable(false)+b.countUsable(true) > 0
	if avail == b.available {
		return
	}
	b.available = avail
	b.lastChange = at
	kind := "backend"
	if b.cfg.Listen {
		kind = "proxy"
	}
	if avail {
		if !b.downSince.IsZero() {
			b.downtime += at.Sub(b.downSince)
			b.downSince = time.Time{}
		}
		b.p.events.Publish(Event{Type: EventBackendUp, Backend: b.Name, Message: fmt.Sprintf("%s '%s' has a server available again.", kind, b.Name)})
		return
	}
	b.downTrans++
	b.downSince = at
	msg := fmt.Sprintf("%s '%s' has no server available!", kind, b.Name)
	b.p.events.Publish(Event{Type: EventBackendDown, Backend: b.Name, Message: msg})
	b.p.log.Error(msg, "backend", b.Name)
}

// Via names who asked for an administrative change, for log lines ("changed
// from CLI", "changed from Web interface").
type Via string

const (
	ViaCLI Via = "CLI"
	ViaWeb Via = "Web interface"
	ViaAPI Via = "API"
)

// server looks up a server for an administrative action.
func (b *Backend) server(name string) (*Server, error) {
	s := b.Server(name)
	if s == nil {
		return nil, fmt.Errorf("%w: %s/%s", ErrNoSuchServer, b.Name, name)
	}
	return s, nil
}

// SetAdmin puts a server in a new administrative state, with HAProxy's
// effects: maintenance zeroes the health and stops checks; leaving it, a
// checked server restarts UP but falls at its first failed check.
func (b *Backend) SetAdmin(name string, st AdminState, via Via) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := b.server(name)
	if err != nil {
		return err
	}
	prev := s.admin
	if prev == st {
		return nil
	}
	now := time.Now()
	wasUsable := s.usable()
	s.admin = st
	if s.checked {
		switch {
		case st == AdminMaint:
			s.health.Health = 0
		case prev == AdminMaint:
			s.health = health.NewCounter(s.params.Rise, s.params.Fall, startOf(s.cfg.InitState))
			s.lastCheck = tcpcheck.Result{}
		}
	}
	isUsable := s.usable()
	switch {
	case st == AdminMaint && wasUsable:
		b.transitionLocked(s, false, "maint", "is going DOWN for maintenance", "", nil, now)
	case st == AdminMaint:
		b.adminEventLocked(s, fmt.Sprintf("Server %s/%s was DOWN and now enters maintenance.", b.Name, s.Name))
	case prev == AdminMaint:
		word := map[bool]string{true: "UP", false: "DOWN"}[isUsable] + "/" + map[bool]string{true: "DRAIN", false: "READY"}[st == AdminDrain]
		line := fmt.Sprintf("Server %s/%s is %s (leaving forced maintenance).", b.Name, s.Name, word)
		if isUsable {
			s.lastChange = now
			if !s.downSince.IsZero() {
				s.downtime += now.Sub(s.downSince)
				s.downSince = time.Time{}
			}
			ev := Event{Type: EventServerUp, Backend: b.Name, Server: s.Name, State: s.status(), Cause: "admin",
				Active: b.countUsable(false), Backup: b.countUsable(true), Message: line}
			b.p.events.Publish(ev)
			b.p.log.Info(line, "backend", b.Name, "server", s.Name)
			b.updateAvailabilityLocked(now)
		} else {
			b.adminEventLocked(s, line)
		}
	case st == AdminDrain:
		b.adminEventLocked(s, b.stateLineLocked(s, true, "enters drain state", ""))
	default: // drain to ready
		b.adminEventLocked(s, fmt.Sprintf("Server %s/%s is UP (leaving forced drain).", b.Name, s.Name))
	}
	b.wakeLocked()
	return nil
}

func (b *Backend) adminEventLocked(s *Server, msg string) {
	b.p.events.Publish(Event{Type: EventServerAdmin, Backend: b.Name, Server: s.Name, State: s.status(), Cause: "admin",
		Active: b.countUsable(false), Backup: b.countUsable(true), Message: msg})
	b.p.log.Info(msg, "backend", b.Name, "server", s.Name)
}

// SetChecks enables or disables a server's health checks. A server whose
// checks are disabled counts as UP ("no check"), as in HAProxy.
func (b *Backend) SetChecks(name string, on bool, via Via) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := b.server(name)
	if err != nil {
		return err
	}
	if !s.checked {
		return fmt.Errorf("%w: %s/%s", ErrNoChecks, b.Name, name)
	}
	if s.checksOn == on {
		return nil
	}
	wasUsable := s.usable()
	s.checksOn = on
	word := map[bool]string{true: "enabled", false: "disabled"}[on]
	b.adminEventLocked(s, fmt.Sprintf("Health checks of server %s/%s %s, changed from %s.", b.Name, s.Name, word, via))
	if isUsable := s.usable(); isUsable != wasUsable {
		b.transitionLocked(s, isUsable, "admin", map[bool]string{true: "is UP", false: "is DOWN"}[isUsable], ", changed from "+string(via), nil, time.Now())
	}
	return nil
}

// SetHealth forces a server's health fully up or down ("set server B/S
// health up|down"); its checks then carry on from there.
func (b *Backend) SetHealth(name string, up bool, via Via) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := b.server(name)
	if err != nil {
		return err
	}
	wasUsable := s.usable()
	if s.checked {
		s.health.Set(up)
	}
	s.forcedDown = !up && !s.checked
	if isUsable := s.usable(); isUsable != wasUsable {
		b.transitionLocked(s, isUsable, "forced", map[bool]string{true: "is UP", false: "is DOWN"}[isUsable], ", changed from "+string(via), nil, time.Now())
	}
	return nil
}

// SetWeight changes a server's weight (0-256).
func (b *Backend) SetWeight(name string, w int) error {
	if w < 0 || w > config.MaxWeight {
		return fmt.Errorf("%w: weight %d, want 0 to %d", ErrBadValue, w, config.MaxWeight)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := b.server(name)
	if err != nil {
		return err
	}
	if s.weight == w {
		return nil
	}
	s.weight = w
	b.adminEventLocked(s, fmt.Sprintf("Server %s/%s weight set to %d (initial %d).", b.Name, s.Name, w, s.cfg.EffectiveWeight()))
	b.updateAvailabilityLocked(time.Now())
	b.wakeLocked()
	return nil
}

// Weight returns a server's current and initial weights.
func (b *Backend) Weight(name string) (cur, initial int, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := b.server(name)
	if err != nil {
		return 0, 0, err
	}
	return s.weight, s.cfg.EffectiveWeight(), nil
}

// ShutdownSessions closes every session of a server and reports how many.
func (b *Backend) ShutdownSessions(name string) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := b.server(name)
	if err != nil {
		return 0, err
	}
	n := len(s.sessions)
	for sess := range s.sessions {
		sess.kill(termKilled)
	}
	return n, nil
}

// Errors of administrative actions.
var (
	ErrNoSuchServer  = errors.New("no such server")
	ErrNoSuchBackend = errors.New("no such backend")
	ErrNoChecks      = errors.New("server has no health checks")
	ErrBadValue      = errors.New("invalid value")
)

// checkTimeouts are the check's timeouts for server s.
func (b *Backend) checkTimeouts(s *Server) tcpcheck.Timeouts {
	return tcpcheck.Timeouts{Inter: s.params.Inter, Connect: b.cfg.Timeouts.Connect, Check: b.cfg.Timeouts.Check}
}

// runChecks checks s until ctx is done: the first check after delay, then
// each one an interval after the previous one completed.
func (b *Backend) runChecks(ctx context.Context, s *Server, delay time.Duration, dialer tcpcheck.Dialer, rnd func() float64) {
	timer := time.NewTimer(delay)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-s.kick:
			// Sentinel named this server master: check it now.
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
		b.mu.Lock()
		run := s.checksOn && s.admin != AdminMaint
		s.checking = run
		if run {
			s.checksStarted++
		}
		b.mu.Unlock()
		if run {
			res := b.prog.Run(ctx, dialer, s.cfg.CheckAddress(), b.checkTimeouts(s))
			if ctx.Err() != nil {
				b.countCheck(s, res, false)
				return
			}
			b.countCheck(s, res, true)
			b.applyCheck(s, res, time.Now())
		}
		b.mu.Lock()
		next := health.Spread(s.health.Interval(s.params), b.p.cfg.Global.SpreadChecks, rnd())
		b.mu.Unlock()
		timer.Reset(next)
	}
}

// countCheck adds a check's bytes to s's counters and, when it completed
// (reached a result), counts it done.
func (b *Backend) countCheck(s *Server, res tcpcheck.Result, completed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if completed {
		s.checksDone++
	}
	s.checkSent += res.Sent
	s.checkReceived += res.Received
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

// BackendState is a snapshot of a backend.
type BackendState struct {
	Name string
	// Up is true when at least one server is usable.
	Up             bool
	Active, Backup int
	Sessions       int
	MaxSess        int
	TotalSess      uint64
	Queued         int
	Denied         uint64
	DownTrans      uint64
	Downtime       time.Duration
	LastChange     time.Time
	BytesIn        int64
	BytesOut       int64
	// TotalWeight is the summed weight of the servers in use.
	TotalWeight int
}

// State returns a snapshot of the backend.
func (b *Backend) State() BackendState {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := BackendState{
		// HAProxy shows a backend without servers as UP.
		Name: b.Name, Up: b.available || len(b.servers) == 0, Active: b.countUsable(false), Backup: b.countUsable(true),
		Sessions: b.cur, MaxSess: b.max, TotalSess: b.total, Queued: b.queued, Denied: b.denied,
		DownTrans: b.downTrans, Downtime: b.downtime, LastChange: b.lastChange,
		BytesIn: b.bytesIn.Load(), BytesOut: b.bytesOut.Load(),
	}
	if !b.downSince.IsZero() {
		st.Downtime += time.Since(b.downSince)
	}
	for _, s := range b.servers {
		if s.eligible() && (!s.cfg.Backup || st.Active == 0) {
			st.TotalWeight += s.weight
		}
	}
	return st
}

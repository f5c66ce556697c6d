package proxy

import (
	"errors"
	"fmt"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy/config"
	"github.com/redisha-sim/redisha-sim/proxy/health"
	"github.com/redisha-sim/redisha-sim/proxy/tcpcheck"
)

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

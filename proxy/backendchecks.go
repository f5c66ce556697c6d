package proxy

import (
	"context"
	"fmt"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy/health"
	"github.com/redisha-sim/redisha-sim/proxy/tcpcheck"
)

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

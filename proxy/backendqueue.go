package proxy

import (
	"context"
	"errors"
	"time"
)

// Errors of server selection.
var (
	// ErrNoServer: the backend has no usable server.
	ErrNoServer = errors.New("no server available")
	// ErrQueueTimeout: every usable server stayed at its maxconn for the
	// whole queue timeout.
	ErrQueueTimeout = errors.New("queue timeout")
)

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

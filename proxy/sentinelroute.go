package proxy

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy/sentinel"
)

// Sentinel-aware routing (the redis-sentinel keyword, a redisha-sim
// extension). A backend that follows Sentinel routes new sessions only to
// the servers Sentinel allows, among those its checks find UP:
//
//   - role master: the server at the address a quorum of Sentinels names.
//     A node that says role:master but is not Sentinel's master (an old
//     master back from a restart or an unpause) takes no writes. When the
//     master changes, the sessions of every other server are closed at once
//     and the new master is checked at once: one passing check puts it UP,
//     without waiting for rise checks.
//   - role replica: the servers Sentinel lists as replicas of that master,
//     not down and with their master link up (not still resyncing).
//
// When the Sentinels disagree or cannot be reached, the backend falls back
// to its checks alone, as HAProxy would route, and says so in an event,
// in the log and on the stats page.

// EventSentinel: the Sentinel view of a backend changed.
const EventSentinel EventType = "sentinel"

// termSentinel ends sessions on a server Sentinel no longer allows.
const termSentinel = "SS"

// SentinelState is a backend's Sentinel view, for the stats page and Go
// callers.
type SentinelState struct {
	// Following is set when the backend follows Sentinel.
	Following bool
	// Agreed is set when the routing follows an agreed view; when false the
	// backend routes by its checks alone.
	Agreed    bool
	Master    string
	Reachable int
	Total     int
	// Reason says why there is no agreement.
	Reason string
	Since  time.Time
}

// sameAddr compares host:port addresses, tolerating "localhost" against
// 127.0.0.1 and other spellings that resolve to the same literal.
func sameAddr(a, b string) bool {
	if a == b {
		return true
	}
	ah, ap, err1 := net.SplitHostPort(a)
	bh, bp, err2 := net.SplitHostPort(b)
	if err1 != nil || err2 != nil || ap != bp {
		return false
	}
	norm := func(h string) string {
		if h == "localhost" {
			return "127.0.0.1"
		}
		if ip := net.ParseIP(h); ip != nil {
			return ip.String()
		}
		return strings.ToLower(h)
	}
	return norm(ah) == norm(bh)
}

// sentinelAllowsLocked reports whether Sentinel lets s take new sessions:
// always when the backend does not follow Sentinel or has no agreed view.
func (b *Backend) sentinelAllowsLocked(s *Server) bool {
	sc := b.cfg.Sentinel
	if sc == nil || !b.sview.Agreed {
		return true
	}
	if sc.Role == "replica" {
		for _, r := range b.sview.Replicas {
			if sameAddr(r.Addr, s.Addr) {
				return !r.Down && r.LinkOK
			}
		}
		return false
	}
	return sameAddr(b.sview.Master, s.Addr)
}

// applySentinel takes a new Sentinel view.
func (b *Backend) applySentinel(v sentinel.View) {
	b.mu.Lock()
	defer b.mu.Unlock()
	prev := b.sview
	b.sview, b.sviewAt = v, time.Now()
	if prev.Agreed != v.Agreed || prev.Master != v.Master || prev.Reason != v.Reason || b.sviewFirst {
		b.sviewFirst = false
		var msg string
		switch {
		case v.Agreed:
			msg = fmt.Sprintf("backend '%s' follows Sentinel: master %s named by %d of %d Sentinels (%s).",
				b.Name, v.Master, v.Votes[v.Master], len(b.cfg.Sentinel.Addrs), v.Cause)
			b.p.log.Info(msg, "backend", b.Name)
		default:
			msg = fmt.Sprintf("backend '%s': no Sentinel agreement (%s); routing by health checks only.", b.Name, v.Reason)
			b.p.log.Warn(msg, "backend", b.Name)
		}
		b.p.events.Publish(Event{Type: EventSentinel, Backend: b.Name, Cause: "sentinel", Message: msg})
	}
	if !v.Agreed {
		// Checks alone decide again, rise included.
		for _, s := range b.servers {
			s.sentinelFast = false
		}
		b.wakeLocked()
		return
	}
	// Close the sessions Sentinel no longer allows; check the new master
	// at once.
	for _, s := range b.servers {
		if !b.sentinelAllowsLocked(s) {
			for sess := range s.sessions {
				sess.kill(termSentinel)
			}
			s.sentinelFast = false
			continue
		}
		if b.cfg.Sentinel.Role != "replica" && (!prev.Agreed || !sameAddr(prev.Master, v.Master)) && s.checked && !s.health.Up() {
			s.sentinelFast = true
			select {
			case s.kick <- struct{}{}:
			default:
			}
		}
	}
	b.wakeLocked()
}

// Sentinel returns the backend's Sentinel view.
func (b *Backend) Sentinel() SentinelState {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cfg.Sentinel == nil {
		return SentinelState{}
	}
	return SentinelState{Following: true, Agreed: b.sview.Agreed, Master: b.sview.Master, Reachable: b.sview.Reachable,
		Total: len(b.cfg.Sentinel.Addrs), Reason: b.sview.Reason, Since: b.sviewAt}
}

// watchSentinel follows the backend's Sentinels until the proxy closes.
func (b *Backend) watchSentinel(ctx context.Context) {
	sc := b.cfg.Sentinel
	err := sentinel.Watch(ctx, sentinel.Options{
		MasterName: sc.MasterName, Addrs: sc.Addrs, Password: sc.Password, Quorum: sc.Quorum,
		Logger: b.p.log.With("backend", b.Name),
	}, b.applySentinel)
	if err != nil && ctx.Err() == nil {
		b.p.log.Error(fmt.Sprintf("backend '%s': cannot follow Sentinel: %v; routing by health checks only.", b.Name, err), "backend", b.Name)
	}
}

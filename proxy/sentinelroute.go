package proxy

import (
	"context"
	"fmt"
	"net"
	"slices"
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

// sameAddr compares host:port addresses: the same port, and hosts that
// are the same literal (an IP in any spelling, "localhost" as 127.0.0.1,
// a name in any case) or that share an address once the host names among
// them are looked up in hosts (name → addresses: Sentinel with
// announce-hostnames names masters and replicas by DNS name, which a
// server's address may give as an IP, or as another name of the same
// node).
func sameAddr(a, b string, hosts map[string][]string) bool {
	if a == b {
		return true
	}
	ah, ap, err1 := net.SplitHostPort(a)
	bh, bp, err2 := net.SplitHostPort(b)
	if err1 != nil || err2 != nil || ap != bp {
		return false
	}
	na, nb := normHost(ah), normHost(bh)
	if na == nb {
		return true
	}
	as, bs := addrsOf(na, hosts), addrsOf(nb, hosts)
	for _, x := range as {
		if slices.Contains(bs, x) {
			return true
		}
	}
	return false
}

// normHost is a host as sameAddr compares it: an IP in its canonical
// form, "localhost" as 127.0.0.1, a name in lower case.
func normHost(h string) string {
	if h == "localhost" {
		return "127.0.0.1"
	}
	if ip := net.ParseIP(h); ip != nil {
		return ip.String()
	}
	return strings.ToLower(h)
}

// addrsOf is a normalised host's addresses: itself for an IP, else what
// hosts holds for the name (normalised).
func addrsOf(h string, hosts map[string][]string) []string {
	if net.ParseIP(h) != nil {
		return []string{h}
	}
	return hosts[h]
}

// resolveTimeout bounds the look-up of one host name.
const resolveTimeout = time.Second

// lookupHosts looks up every host name (not an IP, not localhost) among
// the view's master and replicas and the backend's servers, each bounded
// by resolveTimeout; a name that fails keeps the addresses prev had for
// it (a DNS hiccup must not flip the routing), and the failure is logged.
// It runs outside the backend's lock.
func (b *Backend) lookupHosts(ctx context.Context, v sentinel.View, servers []string, prev map[string][]string) map[string][]string {
	names := map[string]bool{}
	add := func(addr string) {
		if h, _, err := net.SplitHostPort(addr); err == nil {
			if n := normHost(h); net.ParseIP(n) == nil {
				names[n] = true
			}
		}
	}
	add(v.Master)
	for _, r := range v.Replicas {
		add(r.Addr)
	}
	for _, a := range servers {
		add(a)
	}
	if len(names) == 0 {
		return nil
	}
	// Looked up together: one slow name costs resolveTimeout, not one
	// per name.
	type result struct {
		name  string
		addrs []string
		err   error
	}
	results := make(chan result, len(names))
	for n := range names {
		go func() {
			lctx, cancel := context.WithTimeout(ctx, resolveTimeout)
			defer cancel()
			addrs, err := b.p.resolver.LookupHost(lctx, n)
			results <- result{n, addrs, err}
		}()
	}
	out := make(map[string][]string, len(names))
	for range names {
		r := <-results
		if r.err != nil || len(r.addrs) == 0 {
			b.p.log.Warn(fmt.Sprintf("backend '%s': cannot resolve '%s' (%v); comparing Sentinel's addresses with the last addresses known.", b.Name, r.name, r.err), "backend", b.Name)
			out[r.name] = prev[r.name]
			continue
		}
		for i, a := range r.addrs {
			r.addrs[i] = normHost(a)
		}
		out[r.name] = r.addrs
	}
	return out
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
			if sameAddr(r.Addr, s.Addr, b.hosts) {
				return !r.Down && r.LinkOK
			}
		}
		return false
	}
	return sameAddr(b.sview.Master, s.Addr, b.hosts)
}

// applySentinel takes a new Sentinel view, with the host names in it and
// in the servers' addresses looked up first.
func (b *Backend) applySentinel(ctx context.Context, v sentinel.View) {
	b.mu.Lock()
	servers := make([]string, len(b.servers))
	for i, s := range b.servers {
		servers[i] = s.Addr
	}
	prevHosts := b.hosts
	b.mu.Unlock()
	hosts := b.lookupHosts(ctx, v, servers, prevHosts)
	b.mu.Lock()
	defer b.mu.Unlock()
	prev := b.sview
	b.sview, b.sviewAt, b.hosts = v, time.Now(), hosts
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
		if b.cfg.Sentinel.Role != "replica" && (!prev.Agreed || !sameAddr(prev.Master, v.Master, b.hosts)) && s.checked && !s.health.Up() {
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
	}, func(v sentinel.View) { b.applySentinel(ctx, v) })
	if err != nil && ctx.Err() == nil {
		b.p.log.Error(fmt.Sprintf("backend '%s': cannot follow Sentinel: %v; routing by health checks only.", b.Name, err), "backend", b.Name)
	}
}

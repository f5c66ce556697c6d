package proxy

import (
	"time"
)

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

// Package link holds the link faults' rules (blackhole, reset, loss,
// bandwidth, delay with jitter) as one state that both the in-memory
// backend (sim/memory, on its own links) and the containers' relay (Relay,
// on the TCP connections it forwards) consult, so both backends give the
// same semantics from the same code.
//
// A link is seen from one instance (the target of the fault) and is of
// one of three peer classes, each in two directions:
//
//   - clients: clients, the proxy and its checks, the harness's pollers;
//   - nodes: the replication links with the other Redis nodes;
//   - sentinels: the Sentinels' command and pub/sub links.
//
// "in" is what the instance hears on them, "out" what it sends. Every
// fault acts on a connection as TCP would show it: held bytes (a
// blackhole, a lost connection) are delivered, in order, once the fault
// is healed; a reset closes the connections at once and resets new ones
// as they open; a loss hangs a fraction of the connections (each draws a
// number per direction when it opens, and hangs while the loss exceeds
// it); a bandwidth paces what passes, shared by the class's connections
// in that direction; a delay holds each message delay plus a uniform
// extra in [0, jitter], in order.
package link

import (
	"fmt"
	"sync"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/fault"
)

// Class indexes the peer classes.
type Class int

// The peer classes.
const (
	Clients Class = iota
	Nodes
	Sentinels
	NumClasses
)

// Dir indexes the two directions of a link as the target sees it.
type Dir int

// The directions.
const (
	In Dir = iota
	Out
)

// Mirror is the direction as the peer sees it.
func (d Dir) Mirror() Dir { return 1 - d }

func (c Class) String() string { return fault.PeerClasses[c] }

func (d Dir) String() string { return fault.Directions[d] }

// ClassOf is a peer class by its scenario name.
func ClassOf(name string) (Class, bool) {
	for i, n := range fault.PeerClasses {
		if n == name {
			return Class(i), true
		}
	}
	return 0, false
}

// DirOf is a direction by its scenario name.
func DirOf(name string) (Dir, bool) {
	for i, n := range fault.Directions {
		if n == name {
			return Dir(i), true
		}
	}
	return 0, false
}

// Draw is one connection's draw for action loss, per direction: the
// connection hangs in a direction while the loss there exceeds it. A
// connection keeps its draw, so a loss set later takes the same fraction
// of the connections already open.
type Draw [2]float64

// Rule is the faults on one peer class in one direction.
type Rule struct {
	Blackhole bool
	// Reset is set on both directions of a class.
	Reset bool
	// Loss is the fraction of connections that hang in this direction:
	// those whose draw is below it.
	Loss float64
	// Rate paces what passes, in bytes per second (0: unlimited).
	Rate float64
	// Delay and Jitter: each message leaves Delay plus a uniform extra in
	// [0, Jitter] late.
	Delay, Jitter time.Duration

	// next is when the bytes already admitted at Rate have passed.
	next time.Time
}

// Holds reports whether the rule holds or paces anything (a delay
// aside).
func (r Rule) Holds() bool { return r.Blackhole || r.Reset || r.Loss > 0 || r.Rate > 0 }

// Rules are an instance's link faults. The zero value has none and is
// ready to use; it is safe for concurrent use.
type Rules struct {
	mu sync.Mutex
	r  [NumClasses][2]Rule
	// changed is closed and replaced at every change, waking what waits
	// on a held link.
	changed chan struct{}
}

// Classes resolves a fault's peer classes and directions.
func Classes(f fault.LinkFault) ([]Class, []Dir, error) {
	var classes []Class
	for _, c := range f.Classes() {
		pc, ok := ClassOf(c)
		if !ok {
			return nil, nil, fmt.Errorf("unknown peer class %q", c)
		}
		classes = append(classes, pc)
	}
	var dirs []Dir
	for _, d := range f.Dirs() {
		dd, ok := DirOf(d)
		if !ok {
			return nil, nil, fmt.Errorf("unknown direction %q", d)
		}
		dirs = append(dirs, dd)
	}
	return classes, dirs, nil
}

// Apply changes the rules as f says and returns the classes it acts on.
// It does not close anything: a reset's caller closes the connections of
// those classes it holds.
func (rs *Rules) Apply(f fault.LinkFault) ([]Class, error) {
	classes, dirs, err := Classes(f)
	if err != nil {
		return nil, err
	}
	switch f.Action {
	case fault.Blackhole, fault.Reset, fault.Loss, fault.Bandwidth, fault.Delay, fault.Undelay, fault.Heal:
	default:
		return nil, fmt.Errorf("%s is not a link fault", f.Action)
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, c := range classes {
		for _, d := range dirs {
			r := &rs.r[c][d]
			switch f.Action {
			case fault.Blackhole:
				r.Blackhole = true
			case fault.Reset:
				r.Reset = true
			case fault.Loss:
				r.Loss = f.Loss
			case fault.Bandwidth:
				r.Rate, r.next = f.Rate, time.Time{}
			case fault.Delay:
				r.Delay, r.Jitter = f.Delay, f.Jitter
			case fault.Undelay:
				r.Delay, r.Jitter = 0, 0
			case fault.Heal:
				*r = Rule{}
			}
		}
	}
	if rs.changed != nil {
		close(rs.changed)
	}
	rs.changed = make(chan struct{})
	return classes, nil
}

// Rule is a copy of the rule on class c in direction d.
func (rs *Rules) Rule(c Class, d Dir) Rule {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.r[c][d]
}

// Resetting reports whether connections with class c are reset.
func (rs *Rules) Resetting(c Class) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.r[c][In].Reset || rs.r[c][Out].Reset
}

// Delay draws how late a message on class c in direction d is: the delay
// plus uniform(jitter), a uniform draw in [0, jitter] (the caller's
// random source).
func (rs *Rules) Delay(c Class, d Dir, uniform func(max time.Duration) time.Duration) time.Duration {
	r := rs.Rule(c, d)
	if r.Jitter > 0 {
		r.Delay += uniform(r.Jitter)
	}
	return r.Delay
}

func (rs *Rules) heldLocked(c Class, d Dir, u Draw) bool {
	r := rs.r[c][d]
	return r.Blackhole || u[d] < r.Loss
}

// Held reports whether a connection with draw u on class c is held in
// direction d now: blackholed, or lost.
func (rs *Rules) Held(c Class, d Dir, u Draw) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.heldLocked(c, d, u)
}

// Pass waits until size bytes may pass on a connection (draw u) with
// class c in direction d: while the direction is held, then as long as
// its bandwidth takes for them. It reports false when done closes first.
func (rs *Rules) Pass(done <-chan struct{}, c Class, d Dir, u Draw, size int) bool {
	for {
		rs.mu.Lock()
		held := rs.heldLocked(c, d, u)
		changed := rs.changed
		var wait time.Duration
		if !held {
			wait = rs.r[c][d].reserve(time.Now(), size)
		}
		rs.mu.Unlock()
		if !held {
			if wait <= 0 {
				return true
			}
			t := time.NewTimer(wait)
			defer t.Stop()
			select {
			case <-t.C:
				return true
			case <-done:
				return false
			}
		}
		if changed == nil {
			// No fault was ever applied, so nothing can be held.
			return true
		}
		select {
		case <-changed:
		case <-done:
			return false
		}
	}
}

// reserve admits size bytes at the rule's rate and returns how long until
// they have passed; zero without a rate.
func (r *Rule) reserve(now time.Time, size int) time.Duration {
	if r.Rate <= 0 {
		return 0
	}
	start := r.next
	if start.Before(now) {
		start = now
	}
	r.next = start.Add(time.Duration(float64(size) / r.Rate * float64(time.Second)))
	return r.next.Sub(now)
}

package model

import "time"

// connectRetries and turnAround are the proxy's connection retries
// (HAProxy's "retries 3" default and its turn-around of min(timeout
// connect, 1s) between attempts on a refused connection).
const (
	connectRetries = 3
	turnAround     = time.Second
)

// client is one writer, as the engine's: one write at a time on a fixed
// schedule (no catch-up bursts), a new connection through the proxy's
// master port for each, bounded by the operation timeout.
type client struct {
	w *world
	// g is the group whose master port it writes to.
	g   *group
	due time.Duration
	// nextF is next as a func value, made once (a method value allocates).
	nextF func()
}

func (c *client) next() {
	w := c.w
	start := w.q.now
	interval := time.Duration(float64(time.Second) / w.p.WriteRate)
	c.due += interval
	if c.due < start {
		c.due = start
	}
	// A write's fate is sealed when it starts (an acknowledged one takes
	// two round trips), so one event per write is enough.
	end, ok, nodeID := c.write(start)
	c.g.writes = append(c.g.writes, write{end: end, node: nodeID, ok: ok})
	w.q.at(max(c.due, end), c.nextF)
}

// write decides where the write goes and how it ends.
func (c *client) write(start time.Duration) (end time.Duration, ok bool, nodeID int) {
	w, g := c.w, c.g
	p := w.p
	up := 0
	for _, s := range g.servers {
		if s.routable() {
			up++
		}
	}
	if up == 0 {
		// No server: the proxy closes the connection at once.
		return start + p.RTT, false, g.initial().id
	}
	pick := 0
	if p.Balance != "first" {
		pick = g.rr % up
		g.rr++
	}
	var s *server
	for _, x := range g.servers {
		if x.routable() {
			if pick == 0 {
				s = x
				break
			}
			pick--
		}
	}
	n := s.n
	switch n.forProxy(w) {
	case reachRefused:
		// Retried after the turn-around, then given up.
		return start + min(p.OpTimeout, connectRetries*min(turnAround, p.ConnectTimeout)), false, n.id
	case reachHang:
		return start + p.OpTimeout, false, n.id
	}
	if n.stopping {
		// Redis pauses writes during its shutdown; the connection closes
		// when it exits.
		return start + p.OpTimeout, false, n.id
	}
	return start + 2*p.RTT, n.master, n.id
}

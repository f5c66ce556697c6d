package proxy

import (
	"encoding/binary"
	"net"

	"github.com/redisha-sim/redisha-sim/proxy/config"
)

// Selector picks the server of a new session among candidates: the servers
// that may take it now (UP, ready, weight above zero, below maxconn), in
// configuration order, never empty. Selectors are called with the backend's
// lock held and may keep state between calls.
type Selector interface {
	Select(candidates []*Server, client net.Addr) *Server
}

// NewSelector returns the selector of a balance algorithm.
func NewSelector(b config.Balance) Selector {
	switch b {
	case config.BalanceFirst:
		return first{}
	case config.BalanceLeastConn:
		return &leastConn{rr: newRoundRobin()}
	case config.BalanceSource:
		return source{}
	default:
		return newRoundRobin()
	}
}

// first takes the server with the lowest id that has a free slot: with
// maxconn, it fills servers one after the other.
type first struct{}

func (first) Select(c []*Server, _ net.Addr) *Server { return c[0] }

// roundRobin is smooth weighted round-robin: each server is picked in
// proportion to its weight, spread evenly.
type roundRobin struct {
	current map[*Server]int
}

func newRoundRobin() *roundRobin { return &roundRobin{current: map[*Server]int{}} }

func (r *roundRobin) Select(c []*Server, _ net.Addr) *Server {
	total := 0
	var best *Server
	for _, s := range c {
		w := s.weight
		total += w
		r.current[s] += w
		if best == nil || r.current[s] > r.current[best] {
			best = s
		}
	}
	r.current[best] -= total
	if len(r.current) > 4*len(c)+16 {
		// Forget servers that left the candidate set long ago.
		keep := make(map[*Server]int, len(c))
		for _, s := range c {
			keep[s] = r.current[s]
		}
		r.current = keep
	}
	return best
}

// leastConn takes the server with the fewest sessions per unit of weight,
// round-robin among equals.
type leastConn struct {
	rr *roundRobin
}

func (l *leastConn) Select(c []*Server, addr net.Addr) *Server {
	var ties []*Server
	for _, s := range c {
		if len(ties) == 0 {
			ties = append(ties, s)
			continue
		}
		// Compare cur/weight without division: a.cur*b.w vs b.cur*a.w.
		a, b := s, ties[0]
		switch l, r := a.cur*b.weight, b.cur*a.weight; {
		case l < r:
			ties = append(ties[:0], s)
		case l == r:
			ties = append(ties, s)
		}
	}
	if len(ties) == 1 {
		return ties[0]
	}
	return l.rr.Select(ties, addr)
}

// source hashes the client's address over the candidates' weights with
// HAProxy's map-based hashing: h is the IPv4 address as a number (the XOR
// of the four 32-bit words for IPv6), and the server is map[h % total
// weight], the map being filled by a weighted spread in declaration order. A
// client keeps its server while the set of servers does not change.
type source struct{}

func (source) Select(c []*Server, addr net.Addr) *Server {
	if len(c) == 1 {
		return c[0]
	}
	var h uint32
	if ta, ok := addr.(*net.TCPAddr); ok {
		ip := ta.IP
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		for i := 0; i+4 <= len(ip); i += 4 {
			h ^= binary.BigEndian.Uint32(ip[i:])
		}
	}
	total := 0
	for _, s := range c {
		total += s.weight
	}
	slot := int(h % uint32(total))
	// Fill the map up to slot as recalc_server_map does: each round, every
	// server gains its weight and the one with the highest (score+total)/total
	// takes the slot and pays total.
	scores := make([]int, len(c))
	var pick *Server
	for o := 0; o <= slot; o++ {
		best, max := -1, 0
		for i, s := range c {
			scores[i] += s.weight
			if v := (scores[i] + total) / total; best < 0 || v > max {
				best, max = i, v
			}
		}
		scores[best] -= total
		pick = c[best]
	}
	return pick
}

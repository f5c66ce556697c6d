package verdict

import (
	"sort"

	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

// checkLoadNotMeasured is why check_rate and check_bytes_rate are unknown.
const checkLoadNotMeasured = "check load not measured: the proxy under test did not report its health checks (HAProxy's statistics count none)"

// CheckLoad is the load the proxy's health checks put on each node over
// the workload, the master and replica backends summed.
type CheckLoad struct {
	// Measured is false when the timeline has no check counts: the proxy
	// under test does not report them (HAProxy). The load
	// is then unknown, not zero.
	Measured bool
	// Nodes are in the timeline's node order.
	Nodes []NodeCheckLoad
}

// NodeCheckLoad is the check load on one node.
type NodeCheckLoad struct {
	Node string
	// Checks counts the completed checks; BytesOut and BytesIn the bytes
	// they wrote to the node and read from it.
	Checks            uint64
	BytesOut, BytesIn int64
	// ChecksPerSec and BytesPerSec (in and out) are the rates over the
	// time the counts were taken.
	ChecksPerSec float64
	BytesPerSec  float64
}

// MaxChecksPerSec is the highest check rate on a node.
func (c CheckLoad) MaxChecksPerSec() float64 {
	m := 0.0
	for _, n := range c.Nodes {
		m = max(m, n.ChecksPerSec)
	}
	return m
}

// MaxBytesPerSec is the highest check traffic (in and out) on a node.
func (c CheckLoad) MaxBytesPerSec() float64 {
	m := 0.0
	for _, n := range c.Nodes {
		m = max(m, n.BytesPerSec)
	}
	return m
}

// checkLoad sums the timeline's per-backend check counts by node. Each
// backend's rate is taken over its own span, so that spans may differ.
func checkLoad(tl *timeline.Timeline) CheckLoad {
	if len(tl.CheckLoad) == 0 {
		return CheckLoad{}
	}
	byNode := map[string]*NodeCheckLoad{}
	for _, l := range tl.CheckLoad {
		n := byNode[l.Node]
		if n == nil {
			n = &NodeCheckLoad{Node: l.Node}
			byNode[l.Node] = n
		}
		n.Checks += l.Checks
		n.BytesOut += l.BytesOut
		n.BytesIn += l.BytesIn
		if l.Seconds > 0 {
			n.ChecksPerSec += float64(l.Checks) / l.Seconds
			n.BytesPerSec += float64(l.BytesOut+l.BytesIn) / l.Seconds
		}
	}
	order := map[string]int{}
	for i, n := range tl.Nodes {
		order[n] = i
	}
	cl := CheckLoad{Measured: true}
	for _, n := range byNode {
		cl.Nodes = append(cl.Nodes, *n)
	}
	sort.Slice(cl.Nodes, func(i, j int) bool {
		a, b := cl.Nodes[i].Node, cl.Nodes[j].Node
		oa, ka := order[a]
		ob, kb := order[b]
		if ka != kb {
			return ka // known nodes first
		}
		if oa != ob {
			return oa < ob
		}
		return a < b
	})
	return cl
}

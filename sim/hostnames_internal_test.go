package sim

import (
	"context"
	"errors"
	"testing"

	"github.com/redisha-sim/redisha-sim/sim/rig"
)

// namedCluster knows its nodes by IP only, and resolves host names as a
// cluster that names its nodes itself does (docker's LookupHost).
type namedCluster struct {
	rig.Cluster
	byIP  map[string]string
	names map[string][]string
}

func (c namedCluster) NodeByAddr(addr string) (string, bool) {
	n, ok := c.byIP[addr]
	return n, ok
}

func (c namedCluster) LookupHost(_ context.Context, host string) ([]string, error) {
	if a, ok := c.names[host]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

// Sentinel with announce-hostnames names nodes by host name: the
// observers map them to nodes through the name's addresses.
func TestObserversNameANodeSentinelReportsByHostName(t *testing.T) {
	c := namedCluster{byIP: map[string]string{"10.0.0.11:6379": "redis1", "10.0.0.12:6379": "redis2"},
		names: map[string][]string{"redis-node-1.headless": {"10.0.9.9", "10.0.0.12"}}}
	for _, tc := range []struct {
		addr, want string
	}{
		{"10.0.0.11:6379", "redis1"},
		{"redis-node-1.headless:6379", "redis2"},
		{"redis-node-1.headless:6380", ""},
		{"unknown.headless:6379", ""},
		{"10.0.0.13:6379", ""},
	} {
		if got, _ := nodeByAddr(t.Context(), c, tc.addr); got != tc.want {
			t.Errorf("nodeByAddr(%q): got %q, want %q", tc.addr, got, tc.want)
		}
	}
	if got := eventNode(t.Context(), c, "+switch-master", "mymaster 10.0.0.11 6379 redis-node-1.headless 6379"); got != "redis2" {
		t.Errorf("+switch-master to a host name: got node %q, want redis2", got)
	}
	if got := eventNode(t.Context(), c, "+sdown", "slave redis-node-1.headless:6379 redis-node-1.headless 6379 @ mymaster 10.0.0.11 6379"); got != "redis2" {
		t.Errorf("+sdown of a replica by host name: got node %q, want redis2", got)
	}
}

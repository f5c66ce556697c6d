package proxy

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/redisha-sim/redisha-sim/proxy/sentinel"
)

// fakeResolver answers from a table and records what it was asked.
type fakeResolver struct {
	mu    sync.Mutex
	table map[string][]string
	asked []string
}

func (r *fakeResolver) LookupHost(_ context.Context, host string) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asked = append(r.asked, host)
	if a, ok := r.table[host]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

func TestSameAddrComparesHostNamesByTheirAddresses(t *testing.T) {
	hosts := map[string][]string{
		"redis-node-0.redis-headless": {"10.0.0.5"},
		"redis1":                      {"172.20.0.11", "172.21.0.11"},
		"alias-of-redis1":             {"172.21.0.11"},
		"v6":                          {"2001:db8::1"},
	}
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"redis-node-0.redis-headless:6379", "10.0.0.5:6379", true},
		{"10.0.0.5:6379", "redis-node-0.redis-headless:6379", true},
		{"Redis-Node-0.redis-headless:6379", "10.0.0.5:6379", true},
		{"redis-node-0.redis-headless:6379", "10.0.0.5:6380", false},
		{"redis-node-0.redis-headless:6379", "10.0.0.6:6379", false},
		{"redis1:6379", "172.21.0.11:6379", true},
		{"redis1:6379", "alias-of-redis1:6379", true},
		{"redis1:6379", "redis-node-0.redis-headless:6379", false},
		{"unknown:6379", "10.0.0.5:6379", false},
		{"unknown:6379", "UNKNOWN:6379", true},
		{"v6:6379", "[2001:db8:0::1]:6379", true},
		{"localhost:6379", "127.0.0.1:6379", true},
		{"not-an-address", "10.0.0.5:6379", false},
	} {
		if got := sameAddr(c.a, c.b, hosts); got != c.want {
			t.Errorf("sameAddr(%q, %q): got %v, want %v", c.a, c.b, got, c.want)
		}
	}
	// Without look-ups, a name never equals an IP.
	if sameAddr("redis-node-0.redis-headless:6379", "10.0.0.5:6379", nil) {
		t.Error("sameAddr with no host table: got true for a name against an IP, want false")
	}
}

func TestSentinelBackendLooksUpOnlyNamesAndKeepsTheLastAddressesWhenALookUpFails(t *testing.T) {
	r := &fakeResolver{table: map[string][]string{"redis1": {"172.20.0.11"}, "redis2": {"172.20.0.12"}}}
	b := &Backend{Name: "be", p: &Proxy{resolver: r, log: slog.New(slog.DiscardHandler)}}
	v := sentinel.View{Master: "redis1:6379", Agreed: true, Replicas: []sentinel.Replica{{Addr: "redis2:6379"}, {Addr: "172.20.0.13:6379"}}}
	hosts := b.lookupHosts(t.Context(), v, []string{"172.20.0.11:6379", "localhost:6380"}, nil)
	slices.Sort(r.asked)
	if !slices.Equal(r.asked, []string{"redis1", "redis2"}) {
		t.Errorf("looked up %v, want [redis1 redis2] (IPs and localhost need none)", r.asked)
	}
	if !sameAddr(v.Master, "172.20.0.11:6379", hosts) || !sameAddr("redis2:6379", "172.20.0.12:6379", hosts) {
		t.Errorf("after the look-ups %v: Sentinel's names do not match the servers' IPs", hosts)
	}
	// redis1 no longer resolves: its last addresses stay.
	delete(r.table, "redis1")
	hosts = b.lookupHosts(t.Context(), v, nil, hosts)
	if !sameAddr(v.Master, "172.20.0.11:6379", hosts) {
		t.Errorf("a failed look-up dropped redis1's last addresses: %v", hosts)
	}
	// A name that never resolved matches nothing.
	v.Master = "redis9:6379"
	hosts = b.lookupHosts(t.Context(), v, nil, hosts)
	if sameAddr(v.Master, "172.20.0.11:6379", hosts) {
		t.Errorf("an unresolved name matched a server: %v", hosts)
	}
}

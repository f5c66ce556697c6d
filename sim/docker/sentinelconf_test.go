package docker

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/redisha-sim/redisha-sim/sim/rig"
)

// The Sentinels get the Sentinel password as requirepass (and nothing
// without one), the nodes' password as auth-pass.
func TestSentinelConfHasTheSentinelPasswordAsRequirepass(t *testing.T) {
	topo := rig.Topology{Groups: []rig.Group{{Name: "g", MasterName: "mymaster", Nodes: []string{"redis1", "redis2"}}},
		Quorum: 2, Password: "nodepw", SentinelPassword: "sentpw"}
	ips := []netip.Addr{netip.MustParseAddr("172.28.0.10")}
	conf := sentinelConf(topo, ips)
	for _, want := range []string{"\nrequirepass sentpw\n", "\nsentinel monitor mymaster 172.28.0.10 6379 2\n", "\nsentinel auth-pass mymaster nodepw\n"} {
		if !strings.Contains(conf, want) {
			t.Errorf("sentinel.conf lacks %q:\n%s", strings.TrimSpace(want), conf)
		}
	}
	topo.SentinelPassword = ""
	if conf := sentinelConf(topo, ips); strings.Contains(conf, "requirepass") {
		t.Errorf("sentinel.conf without a Sentinel password has requirepass:\n%s", conf)
	}
}

// With announce_hostnames the Sentinels resolve and announce host names
// and monitor the master by its container name, as Kubernetes charts run
// them; without, they monitor its IP and resolve nothing.
func TestSentinelConfMonitorsTheMasterByNameWithAnnounceHostnames(t *testing.T) {
	topo := rig.Topology{Groups: []rig.Group{{Name: "g", MasterName: "mymaster", Nodes: []string{"redis1", "redis2"}}}, Quorum: 2}
	ips := []netip.Addr{netip.MustParseAddr("172.28.0.10")}
	topo.AnnounceHostnames = true
	conf := sentinelConf(topo, ips)
	for _, want := range []string{"\nsentinel resolve-hostnames yes\n", "\nsentinel announce-hostnames yes\n", "\nsentinel monitor mymaster redis1 6379 2\n"} {
		if !strings.Contains(conf, want) {
			t.Errorf("sentinel.conf with announce_hostnames lacks %q:\n%s", strings.TrimSpace(want), conf)
		}
	}
	topo.AnnounceHostnames = false
	conf = sentinelConf(topo, ips)
	if !strings.Contains(conf, "\nsentinel resolve-hostnames no\n") || strings.Contains(conf, "announce-hostnames") || !strings.Contains(conf, "monitor mymaster 172.28.0.10 6379") {
		t.Errorf("sentinel.conf without announce_hostnames:\n%s", conf)
	}
}

package e2e

import (
	"net"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

var _ = Describe("Sentinel host names and planned failover on containers", Label("docker"), func() {
	It("announce-hostnames: events, roles and the Sentinel-aware proxy follow a master kill named by host name", Label("hostnames"), func(ctx SpecContext) {
		res := runScenario(ctx, "docker", "master-kill-hostnames.yaml")
		kill := faultOf(res, fault.Kill)
		newMaster := res.Timeline.ReadBack.Master
		Expect(newMaster).NotTo(Equal(kill.Target))
		// Sentinel named the nodes by host name, and the harness mapped
		// them: a +switch-master whose payload has names, not IPs, and
		// names the read-back master as its node.
		switched := false
		for _, e := range res.Timeline.Events {
			if e.Kind != timeline.KindSentinel || e.Name != "+switch-master" {
				continue
			}
			f := strings.Fields(e.Detail)
			Expect(f).To(HaveLen(5), "+switch-master %q", e.Detail)
			Expect(net.ParseIP(f[1])).To(BeNil(), "+switch-master names the old master by IP: %q", e.Detail)
			Expect(net.ParseIP(f[3])).To(BeNil(), "+switch-master names the new master by IP: %q", e.Detail)
			Expect(e.Node).To(Equal(newMaster), "+switch-master %q", e.Detail)
			switched = true
		}
		Expect(switched).To(BeTrue(), "no +switch-master on the timeline")
		// The replicas' master_host is the new master's name, mapped.
		var other string
		for _, n := range []string{"redis1", "redis2", "redis3"} {
			if n != kill.Target && n != newMaster {
				other = n
			}
		}
		e, ok := roleEventAfter(res.Timeline, other, kill.T, timeline.RoleReplica)
		Expect(ok).To(BeTrue(), "%s never became a replica after the kill", other)
		Expect(e.Master).To(Equal(newMaster))
		// The proxy matched Sentinel's name with its server's IP: the
		// Sentinel fast path, no two masters.
		r := res.Report
		Expect(r.Failovers).To(Equal(1))
		Expect(r.ProxyShare).To(BeNumerically("<", 100*time.Millisecond))
		Expect(r.TwoMaster.Total).To(BeZero())
		Expect(r.Passed()).To(BeTrue())
	}, SpecTimeout(runTimeout))

	It("failover: SENTINEL FAILOVER moves the master without it going down; the seed's checks write to both for a while", Label("planned-failover"), func(ctx SpecContext) {
		res := runScenario(ctx, "docker", "master-failover.yaml")
		f := faultOf(res, fault.Failover)
		Expect(f.Detail).To(ContainSubstring("SENTINEL FAILOVER mymaster"))
		Expect(res.Timeline.ReadBack.Master).NotTo(Equal(f.Target))
		for _, e := range res.Timeline.Events {
			if e.Kind == timeline.KindSentinel && (e.Name == "+sdown" || e.Name == "+odown") {
				Expect(e.Detail).NotTo(HavePrefix("master "), "the master was never down: %s %s", e.Name, e.Detail)
			}
		}
		// The old master is demoted only at Sentinel's next INFO to it
		// (+convert-to-slave): the seed's role:master checks send it
		// writes until then, which its resync from the new master drops.
		Expect(roleAfter(res.Timeline, f.Target, f.T, timeline.RoleReplica)).To(BeTrue(), "the old master never became a replica")
		r := res.Report
		Expect(r.Failovers).To(Equal(1))
		Expect(r.Lost.Checked).To(BeTrue(), r.Lost.Reason)
		Expect(r.Lost.LostOn[f.Target]).To(BeNumerically(">", 0))
		Expect(r.TwoMaster.Total).To(BeNumerically(">", 5*time.Second))
	}, SpecTimeout(runTimeout))
})

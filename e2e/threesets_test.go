package e2e

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
	"github.com/redisha-sim/redisha-sim/sim/verdict"
)

var _ = Describe("The seed's three sets on containers", Label("docker", "three-sets"), func() {
	It("a host failure taking the three masters and a Sentinel fails every set over through HAProxy with the seed's six-frontend configuration",
		Label("haproxy", "host-kill"), func(ctx SpecContext) {
			res := runScenario(ctx, "docker", "three-sets-host-kill.yaml", "proxy.kind=haproxy")
			tl, r := res.Timeline, res.Report
			f := faultOf(res, fault.Kill)
			Expect(f.Target).To(Equal("h1"))
			Expect(tl.Hosts).To(ContainElement(timeline.Host{Name: "h1",
				Members: []string{"group1.redis1", "group2.redis1", "group3.redis1", "sentinel1"}}))
			Expect(tl.Groups).To(HaveLen(3))
			Expect(r.Groups).To(HaveLen(3))
			Expect(r.Failovers).To(Equal(3))
			for i, g := range tl.Groups {
				gr := r.Groups[i].Report
				Expect(r.Groups[i].Name).To(Equal(g.Name))
				// Every member of the host went away, at the fault.
				Expect(roleAfter(tl, g.InitialMaster, f.T, timeline.RoleUnreachable)).To(BeTrue(), "%s never became unreachable", g.InitialMaster)
				Expect(gr.Failovers).To(Equal(1), g.Name)
				Expect(g.ReadBack).NotTo(BeNil(), g.Name)
				Expect(g.ReadBack.Master).NotTo(BeElementOf("", g.InitialMaster), "%s: Sentinel's master at the end", g.Name)
				Expect(g.ReadBack.Master).To(BeElementOf(g.Nodes), g.Name)
				Expect(gr.Lost.Checked).To(BeTrue(), "%s: %s", g.Name, gr.Lost.Reason)
				Expect(gr.Lost.Lost).To(BeZero(), g.Name)
				wi := gr.WriteInterruption
				Expect(wi.Recovered).To(BeTrue(), "%s: writes never recovered", g.Name)
				// A single master's kill is within TIMING.md §6's band;
				// a group whose election waited for a second round of
				// votes (TIMING.md §2) may take up to a second more.
				lo, hi := verdict.PredictWriteInterruption(tl.Params)
				Expect(wi.Duration).To(BeNumerically(">=", lo), g.Name)
				Expect(wi.Duration).To(BeNumerically("<=", hi+time.Second), g.Name)
				first := firstOKWrite(verdict.GroupTimeline(tl, g), wi.LastOK)
				Expect(first).NotTo(BeNil(), g.Name)
				Expect(first.Node).To(Equal(g.ReadBack.Master), "%s: the first write after the interruption", g.Name)
			}
			var lines string
			for _, d := range r.ElectionDelays {
				lines += d.String() + "\n"
			}
			AddReportEntry("three sets after a host kill", fmt.Sprintf("%s\n%s", summary("three-sets-host-kill via haproxy", res), lines))
		}, SpecTimeout(runTimeout))
})

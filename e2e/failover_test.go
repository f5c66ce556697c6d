package e2e

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/redisha-sim/redisha-sim/sim"
	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/stats"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

// runTimeout bounds one scenario run on containers: start, run, settle,
// read back and clean up.
const runTimeout = 4 * time.Minute

var _ = Describe("A master failure on containers", Ordered, Label("docker", "failover"), func() {
	results := map[string]*sim.Result{}

	for _, px := range []struct{ kind, label string }{{"redisha", "redisha"}, {"haproxy", "haproxy"}} {
		It("kill through "+px.kind+": the master port reaches the promoted replica in the time sim/model/TIMING.md §6 predicts",
			Label(px.label, "kill"), func(ctx SpecContext) {
				res := runScenario(ctx, "docker", "master-kill.yaml", "proxy.kind="+px.kind)
				results["master-kill via "+px.kind] = res
				f := faultOf(res, fault.Kill)
				Expect(f.Target).To(Equal(res.Timeline.InitialMaster))
				Expect(failoverProblems(res, f.Target)).To(BeEmpty())
				Expect(res.Report.Passed()).To(BeTrue(), "the scenario's expectations")
			}, SpecTimeout(runTimeout))

		It("stop/start through "+px.kind+": failover, then the old master rejoins as a replica and serves reads again",
			Label(px.label, "stop-start"), func(ctx SpecContext) {
				res := runScenario(ctx, "docker", "master-stop-start.yaml", "proxy.kind="+px.kind)
				results["master-stop-start via "+px.kind] = res
				stop := faultOf(res, fault.Stop)
				start := faultOf(res, fault.Start)
				Expect(start.Target).To(Equal(stop.Target))
				Expect(failoverProblems(res, stop.Target)).To(BeEmpty())
				Expect(rejoinProblems(res, stop.Target, start.T)).To(BeEmpty())
			}, SpecTimeout(runTimeout))
	}

	It("stop/start with Sentinel-aware routing: no write lost, none to the returned old master", Label("redisha", "sentinel-aware", "stop-start"), func(ctx SpecContext) {
		res := runScenario(ctx, "docker", "master-stop-start-sentinel.yaml")
		results["master-stop-start via redisha, Sentinel-aware"] = res
		stop := faultOf(res, fault.Stop)
		start := faultOf(res, fault.Start)
		r := res.Report
		Expect(r.Failovers).To(Equal(1))
		Expect(res.Timeline.ReadBack.Master).NotTo(Equal(stop.Target))
		Expect(r.Lost.Checked).To(BeTrue(), r.Lost.Reason)
		Expect(r.Lost.Lost).To(BeZero())
		Expect(r.TwoMaster.Total).To(BeZero())
		Expect(r.TwoMaster.WrongWrites).To(BeZero())
		// The old master did come back saying role:master: the window was
		// there to be closed.
		Expect(roleAfter(res.Timeline, stop.Target, start.T, timeline.RoleMaster)).To(BeTrue(), "the old master came back as master")
		Expect(r.ProxyShare).To(BeNumerically("<", 100*time.Millisecond))
		Expect(rejoinProblems(res, stop.Target, start.T)).To(BeEmpty())
	}, SpecTimeout(runTimeout))

	// Not a spec (it asserts nothing): the runs of this container, side by
	// side in the suite's report.
	AfterAll(func() {
		var table string
		for _, sc := range []string{"master-kill", "master-stop-start"} {
			for _, px := range []string{"redisha", "haproxy", "redisha, Sentinel-aware"} {
				if res, ok := results[sc+" via "+px]; ok {
					table += summary(sc+" via "+px, res) + "\n"
				}
			}
		}
		if table != "" {
			AddReportEntry("our proxy and HAProxy, side by side", table)
			GinkgoWriter.Print(table)
		}
	})
})

var _ = Describe("Other faults on containers", Label("docker"), func() {
	It("pause: the frozen master is failed over, and rejoins as a replica after unpause", Label("pause"), func(ctx SpecContext) {
		// With a reader, to see the replica port serve the old master again.
		res := runScenario(ctx, "docker", "master-pause.yaml", "workload.readers.count=1", "workload.readers.rate=50")
		pause := faultOf(res, fault.Pause)
		unpause := faultOf(res, fault.Unpause)
		Expect(failoverProblems(res, pause.Target)).To(BeEmpty())
		Expect(rejoinProblems(res, pause.Target, unpause.T)).To(BeEmpty())
	}, SpecTimeout(runTimeout))

	It("partition: the isolated master keeps taking writes through the proxy, and they are lost", Label("partition"), func(ctx SpecContext) {
		res := runScenario(ctx, "docker", "partition.yaml")
		cut := faultOf(res, fault.Disconnect)
		faultOf(res, fault.Reconnect)
		r := res.Report
		Expect(r.Failovers).To(Equal(1))
		Expect(res.Timeline.ReadBack.Master).NotTo(Equal(cut.Target))
		Expect(r.Lost.Checked).To(BeTrue(), r.Lost.Reason)
		Expect(r.Lost.LostOn[cut.Target]).To(BeNumerically(">", 0), "writes acknowledged by the isolated master are lost")
		Expect(r.TwoMaster.Total).To(BeNumerically(">", 0))
	}, SpecTimeout(runTimeout))

	It("Sentinel quorum lost: no failover, and writes do not come back", Label("quorum"), func(ctx SpecContext) {
		res := runScenario(ctx, "docker", "sentinel-quorum-lost.yaml")
		var stopped []string
		for _, e := range res.Timeline.Events {
			if e.Kind == timeline.KindFault && fault.Action(e.Name) == fault.Stop {
				Expect(e.Err).To(BeEmpty())
				stopped = append(stopped, e.Target)
			}
		}
		Expect(stopped).To(ConsistOf("sentinel2", "sentinel3"))
		faultOf(res, fault.Kill)
		Expect(res.Report.Failovers).To(Equal(0))
		for _, e := range res.Timeline.Events {
			Expect(e.Name).NotTo(Equal("+switch-master"))
		}
		Expect(res.Report.WriteInterruption.Recovered).To(BeFalse())
		Expect(res.Report.Passed()).To(BeTrue())
	}, SpecTimeout(runTimeout))

	It("replica kill: the master port is not affected", Label("replica"), func(ctx SpecContext) {
		res := runScenario(ctx, "docker", "replica-kill.yaml")
		f := faultOf(res, fault.Kill)
		Expect(f.Target).NotTo(Equal(res.Timeline.InitialMaster))
		Expect(res.Report.WriteInterruption.Interrupted).To(BeFalse())
		Expect(res.Report.Failovers).To(Equal(0))
		Expect(res.Report.Passed()).To(BeTrue())
	}, SpecTimeout(runTimeout))

	It("our proxy in a container fails over like the in-process one", Label("redisha-container", "kill"), func(ctx SpecContext) {
		res := runScenario(ctx, "docker", "master-kill.yaml", "proxy.kind=redisha-container")
		f := faultOf(res, fault.Kill)
		Expect(failoverProblems(res, f.Target)).To(BeEmpty())
		// Its check counters come through its metrics: the seed's checks
		// (inter 1s, on both ports) put one to two checks a second on
		// each node, fewer on the dead master, whose checks wait for
		// the connect timeout.
		load := res.Report.CheckLoad
		Expect(load.Measured).To(BeTrue(), "the check load of our proxy in a container")
		Expect(load.Nodes).To(HaveLen(3))
		for _, n := range load.Nodes {
			Expect(n.ChecksPerSec).To(BeNumerically(">=", 0.3), n.Node)
			Expect(n.ChecksPerSec).To(BeNumerically("<=", 2.5), n.Node)
			Expect(n.BytesPerSec).To(BeNumerically(">", 0), n.Node)
		}
	}, SpecTimeout(runTimeout))

	It("a broken check sequence is caught: the failover never reaches clients", Label("broken-check"), func(ctx SpecContext) {
		res := runScenario(ctx, "docker", "testdata/master-kill-broken-check.yaml")
		f := faultOf(res, fault.Kill)
		Expect(res.Report.Failovers).To(Equal(1), "Redis did fail over")
		Expect(failoverProblems(res, f.Target)).To(ContainElement("writes never recovered"))
	}, SpecTimeout(runTimeout))
})

var _ = Describe("The memory and container backends", Label("agreement"), func() {
	// Several runs each: the medians of the write interruption on
	// master-kill must agree within tolerance.
	const runs = 3
	const tolerance = 1500 * time.Millisecond

	It("agree on master-kill", func(ctx SpecContext) {
		got := map[string][]time.Duration{}
		for i := 0; i < runs; i++ {
			for _, b := range []string{"memory", "docker"} {
				res := runScenario(ctx, b, "master-kill.yaml", "duration=22s")
				faultOf(res, fault.Kill)
				Expect(res.Report.WriteInterruption.Recovered).To(BeTrue())
				got[b] = append(got[b], res.Report.WriteInterruption.Duration)
			}
		}
		mem, dock := stats.Median(got["memory"]), stats.Median(got["docker"])
		AddReportEntry("write interruption on master-kill", map[string]any{"memory": got["memory"], "docker": got["docker"]})
		GinkgoWriter.Printf("memory %v (median %v), docker %v (median %v)\n", got["memory"], mem, got["docker"], dock)
		Expect(mem - dock).To(BeNumerically("~", 0, tolerance))
	}, SpecTimeout(2*runs*runTimeout))
})

package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/redisha-sim/redisha-sim/proxy/redistest"
	"github.com/redisha-sim/redisha-sim/sim"
	"github.com/redisha-sim/redisha-sim/sim/external"
	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/report"
	"github.com/redisha-sim/redisha-sim/sim/rig"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/stats"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
	"github.com/redisha-sim/redisha-sim/sim/undertest"
)

// The embedded scenarios' runs as backend external: their workload,
// duration and faults (a kill by a shell command that kills the process,
// a pause and unpause by SIGSTOP and SIGCONT, the freeze the memory
// backend's pause is, and a failover by SENTINEL FAILOVER, which needs
// no command).
const (
	externalMasterKillBody = "name: master-kill\nduration: 22s\nsettle: 30s\n" +
		"workload:\n  writers: {count: 1, rate: 200, timeout: 1s, connection: per-op}\n  readers: {count: 1, rate: 100, timeout: 1s, connection: per-op}\n" +
		"faults:\n  - {at: 10s, action: kill, target: master}\n"
	externalMasterPauseBody = "name: master-pause\nduration: 30s\nsettle: 30s\n" +
		"workload:\n  writers: {count: 1, rate: 200, timeout: 1s, connection: per-op}\n" +
		"faults:\n  - {at: 5s, action: pause, target: master, as: old_master}\n  - {at: 20s, action: unpause, target: old_master}\n"
	externalMasterFailoverBody = "name: master-failover\nduration: 30s\nsettle: 30s\n" +
		"workload:\n  writers: {count: 1, rate: 200, timeout: 1s, connection: per-op}\n  readers: {count: 1, rate: 100, timeout: 1s, connection: per-op}\n" +
		"faults:\n  - {at: 10s, action: failover, target: master}\n"
)

// externalScenario describes a deployment of real redis-server and
// redis-sentinel processes as backend external, with the seed's proxy
// configuration, body's name, duration, workload and faults, and the
// Sentinel settings the deployment runs with (redistest: quorum 2,
// down-after 1s, failover-timeout 5s).
func externalScenario(c *redistest.Cluster, body, proxyMaster, proxyReplica string) string {
	cfg, err := filepath.Abs(filepath.Join("..", "scenarios", "haproxy-seed.cfg"))
	Expect(err).NotTo(HaveOccurred())
	var b strings.Builder
	b.WriteString(body)
	fmt.Fprintf(&b, "backend: external\ntopology: {password: password1234}\nproxy: {config: %q}\n", cfg)
	fmt.Fprintf(&b, "external:\n  master_name: %s\n  command_timeout: 5s\n  sentinels:\n", redistest.MasterName)
	for _, s := range c.Sentinels {
		fmt.Fprintf(&b, "    - %s\n", s.Addr)
	}
	b.WriteString("  nodes:\n")
	for i, n := range c.Nodes() {
		fmt.Fprintf(&b, "    - {name: redis%d, addr: %q, faults: {kill: \"kill -9 {pid}\", pause: \"kill -STOP {pid}\", unpause: \"kill -CONT {pid}\"}}\n", i+1, n.Addr)
	}
	if proxyMaster != "" {
		fmt.Fprintf(&b, "  proxy: {master: %q, replica: %q}\n", proxyMaster, proxyReplica)
	}
	return b.String()
}

// loadText loads a scenario from text written to a temporary file.
func loadText(text string) *scenario.Scenario {
	GinkgoHelper()
	path := filepath.Join(GinkgoT().TempDir(), "external.yaml")
	Expect(os.WriteFile(path, []byte(text), 0o644)).To(Succeed())
	s, err := scenario.Load(path, nil)
	Expect(err).NotTo(HaveOccurred(), "load:\n%s", text)
	return s
}

// runExternal starts a fresh deployment of real processes, this
// project's proxy in front of it as a user would run it (apart from the
// run, with the seed's configuration), and runs body on it as backend
// external; the first fault must be action on redis1.
func runExternal(ctx context.Context, body string, action fault.Action) *sim.Result {
	GinkgoHelper()
	c := redistest.StartCluster(GinkgoT(), 2, "password1234")
	c.WaitDiscovered(GinkgoT())
	plain := loadText(externalScenario(c, body, "", ""))
	cl, err := external.New(plain, external.Options{}).Start(ctx, rig.TopologyOf(plain), nil)
	Expect(err).NotTo(HaveOccurred())
	px, err := undertest.StartInProcessProxy(ctx, plain, cl, nil)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { px.Close(context.Background()) })
	fe := px.Frontends()[0]

	s := loadText(externalScenario(c, body, fe.MasterAddr, fe.ReplicaAddr))
	log := slog.New(slog.NewTextHandler(GinkgoWriter, &slog.HandlerOptions{Level: slog.LevelWarn}))
	res, err := sim.Run(ctx, s, external.New(s, external.Options{AllowFaults: true}), sim.Options{Log: log, StartProxy: external.StartProxy})
	Expect(err).NotTo(HaveOccurred(), "run %s on the external deployment", s.Name)
	var out strings.Builder
	report.Text(&out, res.Timeline, res.Report)
	GinkgoWriter.Println(out.String())

	// The fault happened: its command ran on the master with exit 0, a
	// Sentinel then saw redis1 down, and a killed master answers nothing
	// (a paused one was thawed by its unpause before the run returned); a
	// failover was taken by a Sentinel and the master switched.
	var ev *timeline.Event
	sdown, switched := false, false
	for i, e := range res.Timeline.Events {
		if e.Kind == timeline.KindFault && e.Name == string(action) && ev == nil {
			ev = &res.Timeline.Events[i]
		}
		if ev != nil && e.Kind == timeline.KindSentinel && e.Name == "+sdown" && e.Node == "redis1" {
			sdown = true
		}
		if ev != nil && e.Kind == timeline.KindSentinel && e.Name == "+switch-master" {
			switched = true
		}
	}
	Expect(ev).NotTo(BeNil(), "no %s recorded", action)
	Expect(ev.Err).To(BeEmpty())
	Expect(ev.Target).To(Equal("redis1"))
	if action == fault.Failover {
		Expect(ev.Detail).To(ContainSubstring("SENTINEL FAILOVER " + redistest.MasterName + " on "))
		Expect(switched).To(BeTrue(), "no +switch-master after the failover")
	} else {
		Expect(ev.Detail).To(ContainSubstring("exit 0"))
		Expect(sdown).To(BeTrue(), "no Sentinel saw redis1 down after the %s", action)
	}
	if action == fault.Kill {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err = c.Master.Do(pctx, "PING")
		Expect(err).To(HaveOccurred(), "the master still answers after its kill command")
	}
	Expect(res.Proxy).To(HavePrefix("the deployment's proxy at " + fe.MasterAddr))
	return res
}

var _ = Describe("The memory backend and an external deployment", Label("agreement", "external"), func() {
	// As the memory and container backends' agreement: several runs
	// each, the medians of the write interruption on master-kill within
	// tolerance. The deployment is real redis-server and redis-sentinel
	// processes, described as backend external, behind this project's
	// proxy started apart from the run; the memory runs take the same
	// Sentinel settings.
	const runs = 3
	const tolerance = 1500 * time.Millisecond

	// agree runs a scenario on memory and its external description runs
	// times each and compares the medians of the write interruption.
	agree := func(ctx SpecContext, scenario, duration, externalBody string, action fault.Action) {
		got := map[string][]time.Duration{}
		for i := 0; i < runs; i++ {
			res := runScenario(ctx, "memory", scenario+".yaml", "duration="+duration, "sentinel.down_after=1s", "sentinel.failover_timeout=5s")
			faultOf(res, action)
			Expect(res.Report.WriteInterruption.Recovered).To(BeTrue())
			got["memory"] = append(got["memory"], res.Report.WriteInterruption.Duration)

			res = runExternal(ctx, externalBody, action)
			Expect(res.Report.WriteInterruption.Recovered).To(BeTrue())
			got["external"] = append(got["external"], res.Report.WriteInterruption.Duration)
		}
		mem, ext := stats.Median(got["memory"]), stats.Median(got["external"])
		AddReportEntry("write interruption on "+scenario, map[string]any{"memory": got["memory"], "external": got["external"]})
		GinkgoWriter.Printf("memory %v (median %v), external %v (median %v)\n", got["memory"], mem, got["external"], ext)
		Expect(mem - ext).To(BeNumerically("~", 0, tolerance))
	}

	It("agree on master-kill", func(ctx SpecContext) {
		agree(ctx, "master-kill", "22s", externalMasterKillBody, fault.Kill)
	}, SpecTimeout(2*runs*runTimeout))

	It("agree on master-pause (SIGSTOP, then SIGCONT)", func(ctx SpecContext) {
		agree(ctx, "master-pause", "30s", externalMasterPauseBody, fault.Pause)
	}, SpecTimeout(2*runs*runTimeout))

	It("agree on a planned failover (SENTINEL FAILOVER)", func(ctx SpecContext) {
		agree(ctx, "master-failover", "30s", externalMasterFailoverBody, fault.Failover)
	}, SpecTimeout(2*runs*runTimeout))
})

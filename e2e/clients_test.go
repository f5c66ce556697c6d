package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
	"github.com/redisha-sim/redisha-sim/sim/verdict"
)

// children lists this process's child processes ("pid comm state"), from
// /proc: a command client the run did not stop (or did not wait for, a
// zombie) is one.
func children() []string {
	GinkgoHelper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	Expect(err).NotTo(HaveOccurred())
	me := strconv.Itoa(os.Getpid())
	var out []string
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		s := string(b)
		end := strings.LastIndexByte(s, ')')
		if end < 0 {
			continue
		}
		fields := strings.Fields(s[end+1:])
		if len(fields) >= 2 && fields[1] == me {
			out = append(out, s[:end+1]+" "+fields[0])
		}
	}
	return out
}

var _ = Describe("Client libraries on containers", Label("docker", "clients"), func() {
	It("master kill: the proxy's clients, go-redis's FailoverClient and redis-py's Sentinel client all recover, the Sentinel clients on the new master",
		func(ctx SpecContext) {
			py := "/usr/bin/python3"
			if _, err := os.Stat(py); err != nil {
				py = "python3"
			}
			out, err := exec.CommandContext(ctx, py, "-c", "import redis").CombinedOutput()
			Expect(err).NotTo(HaveOccurred(), "%s has no redis module: install python3-redis (make deps): %s", py, out)
			// The redis-py driver is written to a temporary directory the run
			// removes: give it one of its own to check.
			tmp := GinkgoT().TempDir()
			GinkgoT().Setenv("TMPDIR", tmp)
			before := children()

			res := runScenario(ctx, "docker", "clients-master-kill.yaml")
			tl, r := res.Timeline, res.Report

			kill := faultOf(res, fault.Kill)
			Expect(kill.Target).To(Equal(tl.InitialMaster))
			Expect(r.Failovers).To(Equal(1))
			newMaster := tl.ReadBack.Master
			Expect(newMaster).NotTo(BeEmpty())
			Expect(newMaster).NotTo(Equal(kill.Target))
			switched := time.Duration(-1)
			for _, e := range tl.Events {
				if e.Kind == timeline.KindSentinel && e.Name == "+switch-master" && e.T > kill.T {
					switched = e.T
					break
				}
			}
			Expect(switched).To(BeNumerically(">", 0), "no +switch-master after the kill")

			var names []string
			for _, w := range r.Workloads {
				names = append(names, w.Name)
			}
			Expect(names).To(Equal([]string{"proxy-per-op", "proxy-pool", "go-redis-sentinel", "redis-py-sentinel"}))
			for _, w := range r.Workloads {
				wr := w.Report
				Expect(wr.Writes.OK).To(BeNumerically(">", 0), "%s: acknowledged writes", w.Name)
				Expect(wr.Reads.OK).To(BeNumerically(">", 0), "%s: successful reads", w.Name)
				it := wr.WriteInterruption
				Expect(it.Interrupted).To(BeTrue(), "%s: the kill interrupted its writes", w.Name)
				Expect(it.Recovered).To(BeTrue(), "%s: its writes recovered", w.Name)
				GinkgoWriter.Printf("%-18s write interruption %v, share after +switch-master %v, errors %v, old master %+v\n",
					w.Name, it.Duration.Round(time.Millisecond), wr.ProxyShare.Round(time.Millisecond), w.Errors, w.OldMaster)
			}

			// The Sentinel clients find the new master at the addresses the
			// Sentinels announce (the cluster network): every write they had
			// acknowledged after the switch went there, and the harness knew
			// the node of each.
			for _, name := range []string{"go-redis-sentinel", "redis-py-sentinel"} {
				after := 0
				for _, op := range verdict.WorkloadTimeline(tl, name).Ops {
					if op.Kind != timeline.OpWrite || op.Result != timeline.ResultOK || op.Start <= switched {
						continue
					}
					Expect(op.Node).To(Equal(newMaster), "%s: write %s at %v acknowledged by %q, not the new master", name, op.Key, op.Start, op.Node)
					after++
				}
				Expect(after).To(BeNumerically(">", 0), "%s: no write acknowledged after +switch-master at %v", name, switched)
			}
			Expect(r.Passed()).To(BeTrue(), "the scenario's expectations")

			// Nothing left behind: the driver's process (waited for, no
			// zombie) and its temporary directory.
			Eventually(children).WithTimeout(5*time.Second).WithPolling(100*time.Millisecond).
				Should(ConsistOf(toAny(before)...), "child processes left by the run")
			left, err := os.ReadDir(tmp)
			Expect(err).NotTo(HaveOccurred())
			Expect(left).To(BeEmpty(), "files left in %s", tmp)
		}, SpecTimeout(runTimeout))
})

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/redisha-sim/redisha-sim/scenarios"
	"github.com/redisha-sim/redisha-sim/sim"
	"github.com/redisha-sim/redisha-sim/sim/docker"
	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/memory"
	"github.com/redisha-sim/redisha-sim/sim/report"
	"github.com/redisha-sim/redisha-sim/sim/rig"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
	"github.com/redisha-sim/redisha-sim/sim/undertest"
	"github.com/redisha-sim/redisha-sim/sim/verdict"
)

// runScenario runs an embedded scenario (or a file of testdata/) on a
// backend and prints its report to the spec's output.
func runScenario(ctx context.Context, backend, file string, sets ...string) *sim.Result {
	GinkgoHelper()
	sets = append([]string{"backend=" + backend}, sets...)
	var (
		s   *scenario.Scenario
		err error
	)
	if strings.HasPrefix(file, "testdata/") {
		s, err = scenario.Load(file, sets)
	} else {
		s, err = scenario.LoadFS(scenarios.FS, file, sets)
	}
	Expect(err).NotTo(HaveOccurred())
	log := slog.New(slog.NewTextHandler(GinkgoWriter, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var b rig.Backend = docker.Backend{}
	starter := docker.StartProxy
	if backend == "memory" {
		b, starter = memory.Backend{}, undertest.StartInProcessProxy
	}
	res, err := sim.Run(ctx, s, b, sim.Options{Log: log, StartProxy: starter})
	Expect(err).NotTo(HaveOccurred(), "run %s on %s", file, backend)
	var out strings.Builder
	report.Text(&out, res.Timeline, res.Report)
	GinkgoWriter.Println(out.String())
	return res
}

// faultOf returns the first fault with an action and checks that it was
// injected and verified (the backend checks the container's state) and,
// for a node that went away, that the role poller saw it unreachable.
func faultOf(res *sim.Result, action fault.Action) timeline.Event {
	GinkgoHelper()
	for _, e := range res.Timeline.Events {
		if e.Kind != timeline.KindFault || fault.Action(e.Name) != action {
			continue
		}
		Expect(e.Err).To(BeEmpty(), "the %s of %s failed", action, e.Target)
		if action == fault.Kill || action == fault.Stop || action == fault.Pause {
			if strings.HasPrefix(e.Target, "redis") {
				Expect(roleAfter(res.Timeline, e.Target, e.T, timeline.RoleUnreachable)).To(BeTrue(),
					"%s %s: the node never became unreachable", action, e.Target)
			}
		}
		return e
	}
	Fail(fmt.Sprintf("no %s fault on the timeline", action))
	return timeline.Event{}
}

// roleAfter reports whether the poller saw node in role after t.
func roleAfter(tl *timeline.Timeline, node string, t time.Duration, role string) bool {
	_, ok := roleEventAfter(tl, node, t, role)
	return ok
}

func roleEventAfter(tl *timeline.Timeline, node string, t time.Duration, role string) (timeline.Event, bool) {
	for _, e := range tl.Events {
		if e.Kind == timeline.KindRole && e.Node == node && e.T >= t && e.Role == role {
			return e, true
		}
	}
	return timeline.Event{}, false
}

// failoverProblems lists what went wrong with a failover away from old, as
// the issue defines a good one: one failover; the master port reaches the
// master Sentinel names at the end; the write interruption recovered
// inside the range sim/model/TIMING.md §6 predicts. Empty means none.
func failoverProblems(res *sim.Result, old string) []string {
	var p []string
	tl, r := res.Timeline, res.Report
	if r.Failovers != 1 {
		p = append(p, fmt.Sprintf("%d failovers, want 1", r.Failovers))
	}
	newMaster := tl.ReadBack.Master
	if newMaster == "" || newMaster == old {
		p = append(p, fmt.Sprintf("Sentinel's master at the end is %q (old master %s)", newMaster, old))
	}
	wi := r.WriteInterruption
	if !wi.Recovered {
		p = append(p, "writes never recovered")
	} else {
		lo, hi := verdict.PredictWriteInterruption(tl.Params)
		if wi.Duration < lo || wi.Duration > hi {
			p = append(p, fmt.Sprintf("write interruption %v outside sim/model/TIMING.md §6's [%v, %v]", wi.Duration, lo, hi))
		}
		if first := firstOKWrite(tl, wi.LastOK); first == nil {
			p = append(p, "no acknowledged write after the interruption")
		} else if first.Node != newMaster {
			p = append(p, fmt.Sprintf("the first write after the interruption reached %s, not the new master %s", first.Node, newMaster))
		}
	}
	return p
}

// firstOKWrite is the first acknowledged write that completed after t.
func firstOKWrite(tl *timeline.Timeline, t time.Duration) *timeline.Op {
	var first *timeline.Op
	for i := range tl.Ops {
		op := &tl.Ops[i]
		if op.Kind == timeline.OpWrite && op.Result == timeline.ResultOK && op.End > t && (first == nil || op.End < first.End) {
			first = op
		}
	}
	return first
}

// rejoinProblems checks that the old master, back at `back`, became a
// replica of the new master and that the replica port served it again.
func rejoinProblems(res *sim.Result, old string, back time.Duration) []string {
	var p []string
	tl := res.Timeline
	e, ok := roleEventAfter(tl, old, back, timeline.RoleReplica)
	if !ok {
		return append(p, fmt.Sprintf("%s never became a replica after %v", old, back))
	}
	if e.Master != tl.ReadBack.Master {
		p = append(p, fmt.Sprintf("%s became a replica of %s, not of the new master %s", old, e.Master, tl.ReadBack.Master))
	}
	served := false
	for _, op := range tl.Ops {
		if op.Kind == timeline.OpRead && op.Result == timeline.ResultOK && op.Node == old && op.Start > e.T {
			served = true
			break
		}
	}
	if !served {
		p = append(p, fmt.Sprintf("the replica port never served a read from %s after it rejoined at %v", old, e.T))
	}
	return p
}

// summary is one line of a side-by-side table.
func summary(name string, res *sim.Result) string {
	r := res.Report
	share := "-"
	if r.ProxyShare > 0 {
		share = r.ProxyShare.Round(time.Millisecond).String()
	}
	return fmt.Sprintf("%-34s interruption %-8v proxy share %-8s lost %d/%d  two-master %v  failovers %d",
		name, r.WriteInterruption.Duration.Round(time.Millisecond), share, r.Lost.Lost, r.Lost.Acked,
		r.TwoMaster.Total.Round(time.Millisecond), r.Failovers)
}

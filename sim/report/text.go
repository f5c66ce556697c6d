// Package report renders a run's verdict for people: a summary, the
// interruption broken into phases, lost writes, the two-master window, the
// expectations, and a compact timeline. For pipelines it writes the same
// verdict as JUnit XML (JUnit) and as the versioned summary of the --json
// file (JSON, Summary), whose JSON Schema it embeds (Schema, Validate);
// SCHEMA.md documents both.
package report

import (
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/timeline"
	"github.com/redisha-sim/redisha-sim/sim/verdict"
)

// secs formats a timeline time or duration in seconds with milliseconds.
func secs(d time.Duration) string { return fmt.Sprintf("%.3fs", d.Seconds()) }

// Text writes the report of a run. A run with several groups gets the
// total first (the worst group's interruption and phases, the counts
// summed, the longest two-master window), then a section per group as a
// run of that group alone would have it.
func Text(w io.Writer, tl *timeline.Timeline, r *verdict.Report) {
	p := tl.Params
	backend := tl.Backend
	if tl.DockerMode != "" {
		backend += " (" + tl.DockerMode + " mode)"
	}
	fmt.Fprintf(w, "Scenario %s on the %s backend, through %s\n", tl.Scenario, backend, tl.Proxy)
	fmt.Fprintf(w, "  Sentinel: %d, quorum %d, down-after %v, failover-timeout %v\n", p.Sentinels, p.Quorum, p.DownAfter, p.FailoverTimeout)
	fmt.Fprintf(w, "  Proxy checks: inter %v, fastinter %v, downinter %v, rise %d, fall %d", p.Inter, p.FastInter, p.DownInter, p.Rise, p.Fall)
	if p.TimeoutCheck > 0 {
		fmt.Fprintf(w, ", timeout check %v", p.TimeoutCheck)
	}
	fmt.Fprintf(w, "\n  Workload: %s of writes (%.0f/s), %s of reads\n", secs(tl.End), p.WriteRate, secs(tl.End))
	if len(r.Groups) == 0 {
		fmt.Fprintln(w)
		body(w, tl, r)
	} else {
		total(w, tl, r)
	}
	if len(r.Workloads) > 0 {
		workloads(w, tl, r)
	}
	expectations(w, r)
	fmt.Fprintln(w, "\nTimeline:")
	Timeline(w, tl)
}

// total writes the total of a run with several groups, then each group.
func total(w io.Writer, tl *timeline.Timeline, r *verdict.Report) {
	if len(tl.Hosts) > 0 {
		var hs []string
		for _, h := range tl.Hosts {
			hs = append(hs, h.Name+" ("+strings.Join(h.Members, " ")+")")
		}
		fmt.Fprintf(w, "  Hosts: %s\n", strings.Join(hs, ", "))
	}
	fmt.Fprintf(w, "\nAll %d groups:\n", len(r.Groups))
	fmt.Fprintf(w, "Writes: %d (ok %d, failed %d, indeterminate %d)   Reads: %d (ok %d, failed %d, indeterminate %d)\n",
		r.Writes.Total, r.Writes.OK, r.Writes.Failed, r.Writes.Indeterminate, r.Reads.Total, r.Reads.OK, r.Reads.Failed, r.Reads.Indeterminate)
	if r.Fault != nil {
		fmt.Fprintf(w, "Worst group: %s, write interruption ", r.Worst)
		writeInterruption(w, tl, r)
		if ri := r.ReadInterruption; ri.Interrupted {
			fmt.Fprintf(w, "Longest read interruption: %s", secs(ri.Duration))
			if !ri.Recovered {
				fmt.Fprint(w, " (not recovered)")
			}
			fmt.Fprintln(w)
		}
	}
	if g := r.LongestWriteGap; g.Duration() > 0 {
		fmt.Fprintf(w, "Longest time without an acknowledged write in a group: %s (%s to %s)\n", secs(g.Duration()), secs(g.From), secs(g.To))
	}
	var per []string
	for _, g := range r.Groups {
		if g.Report.Lost.Checked {
			per = append(per, fmt.Sprintf("%s %d", g.Name, g.Report.Lost.Lost))
		} else {
			per = append(per, g.Name+" not checked")
		}
	}
	if lw := r.Lost; lw.Checked {
		fmt.Fprintf(w, "Lost acknowledged writes: %d of %d (%s)\n", lw.Lost, lw.Acked, strings.Join(per, ", "))
	} else {
		fmt.Fprintf(w, "Lost writes: not checked in every group (%s)\n", strings.Join(per, ", "))
	}
	fmt.Fprintf(w, "Two-master window: longest %s, in %s", secs(r.TwoMaster.Total), r.TwoMasterGroup)
	if r.TwoMaster.Total == 0 {
		fmt.Fprintf(w, " (none in any group)")
	}
	fmt.Fprintln(w)
	per = per[:0]
	for _, g := range r.Groups {
		per = append(per, fmt.Sprintf("%s %d", g.Name, g.Report.Failovers))
	}
	fmt.Fprintf(w, "Failovers: %d (%s)   Stale reads: %d\n", r.Failovers, strings.Join(per, ", "), r.Stale.Count)
	electionDelays(w, r)
	for _, g := range r.Groups {
		gtl := tl
		for _, tg := range tl.Groups {
			if tg.Name == g.Name {
				gtl = verdict.GroupTimeline(tl, tg)
			}
		}
		fmt.Fprintf(w, "\nGroup %s (master name %s; nodes %s; initial master %s):\n",
			g.Name, g.MasterName, strings.Join(gtl.Nodes, " "), gtl.InitialMaster)
		body(w, gtl, g.Report)
	}
}

// electionDelays writes a line per failover that needed several elections.
func electionDelays(w io.Writer, r *verdict.Report) {
	for _, d := range r.ElectionDelays {
		fmt.Fprintf(w, "Election: %s\n", d)
	}
}

// writeInterruption ends the write interruption's line.
func writeInterruption(w io.Writer, tl *timeline.Timeline, r *verdict.Report) {
	it := r.WriteInterruption
	switch {
	case !it.Interrupted:
		fmt.Fprintf(w, "none (no write failed after the fault at %s)\n", secs(r.Fault.T))
	case !it.Recovered:
		fmt.Fprintf(w, "%s and NOT RECOVERED: no write succeeded after %s until the end (%s)\n", secs(it.Duration), secs(it.LastOK), secs(tl.End))
	default:
		fmt.Fprintf(w, "%s (last ok write %s, first ok write %s, %d failed in between)\n", secs(it.Duration), secs(it.LastOK), secs(it.FirstOK), it.Failed)
	}
}

// body writes the verdict on one group.
func body(w io.Writer, tl *timeline.Timeline, r *verdict.Report) {
	fmt.Fprintf(w, "Writes: %d (ok %d, failed %d, indeterminate %d)   Reads: %d (ok %d, failed %d, indeterminate %d)\n",
		r.Writes.Total, r.Writes.OK, r.Writes.Failed, r.Writes.Indeterminate, r.Reads.Total, r.Reads.OK, r.Reads.Failed, r.Reads.Indeterminate)

	if r.Fault != nil {
		fmt.Fprintf(w, "\nWrite interruption: ")
		writeInterruption(w, tl, r)
		if ri := r.ReadInterruption; ri.Interrupted {
			fmt.Fprintf(w, "Read interruption:  %s", secs(ri.Duration))
			if !ri.Recovered {
				fmt.Fprint(w, " (not recovered)")
			}
			fmt.Fprintln(w)
		}
		phases(w, r)
	}
	if g := r.LongestWriteGap; g.Duration() > 0 {
		fmt.Fprintf(w, "Longest time without an acknowledged write: %s (%s to %s)\n", secs(g.Duration()), secs(g.From), secs(g.To))
	}

	fmt.Fprintln(w)
	lw := r.Lost
	if !lw.Checked {
		fmt.Fprintf(w, "Lost writes: not checked (%s)\n", lw.Reason)
	} else {
		fmt.Fprintf(w, "Lost acknowledged writes: %d of %d", lw.Lost, lw.Acked)
		if lw.Lost > 0 {
			var on []string
			for n, c := range lw.LostOn {
				on = append(on, fmt.Sprintf("%d acknowledged by %s", c, n))
			}
			sort.Strings(on)
			fmt.Fprintf(w, " (%s; e.g. %s)", strings.Join(on, ", "), strings.Join(lw.Examples, " "))
		}
		fmt.Fprintf(w, "\n  read back from %s", tl.ReadBack.Master)
		if !tl.ReadBack.Settled {
			fmt.Fprint(w, " before the cluster settled")
		}
		fmt.Fprintf(w, "; failed but present: %d; indeterminate: %d present, %d absent\n", lw.Unexpected, lw.IndeterminatePresent, lw.IndeterminateAbsent)
	}
	tm := r.TwoMaster
	fmt.Fprintf(w, "Two-master window: %s", secs(tm.Total))
	if tm.WrongWrites > 0 {
		fmt.Fprintf(w, " (%d acknowledged writes went to a node Sentinel did not name)", tm.WrongWrites)
	}
	if tm.RoleOverlap > 0 {
		fmt.Fprintf(w, "; two nodes said role:master for %s", secs(tm.RoleOverlap))
	}
	fmt.Fprintln(w)
	for _, win := range tm.Windows {
		switch win.Why {
		case "writes":
			fmt.Fprintf(w, "  %s-%s writes acknowledged by %s (%d)\n", secs(win.From), secs(win.To), win.Node, win.Writes)
		default:
			fmt.Fprintf(w, "  %s-%s two reachable nodes said role:master\n", secs(win.From), secs(win.To))
		}
	}
	fmt.Fprintf(w, "Failovers: %d   Stale reads: %d", r.Failovers, r.Stale.Count)
	if r.Stale.Count > 0 {
		fmt.Fprintf(w, " (worst %s behind)", secs(r.Stale.Worst))
	}
	fmt.Fprintln(w)
	if len(r.Groups) == 0 {
		electionDelays(w, r)
	}
}

// expectations writes the expectations and whether they held.
func expectations(w io.Writer, r *verdict.Report) {
	if len(r.Expectations) == 0 {
		return
	}
	fmt.Fprintln(w, "\nExpectations:")
	for _, e := range r.Expectations {
		mark := "ok  "
		if !e.Held {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "  %s %-32s (measured %s)\n", mark, e.Raw, measured(e))
	}
}

func phases(w io.Writer, r *verdict.Report) {
	total := r.WriteInterruption.Duration
	fmt.Fprintln(w, "Phases, from the fault:")
	for _, p := range r.Phases {
		if p.Name == "fault" {
			fmt.Fprintf(w, "  %-16s %9s                  %s\n", p.Name, secs(p.At), p.What)
			continue
		}
		if !p.Found {
			fmt.Fprintf(w, "  %-16s %9s                  %s\n", p.Name, "-", "did not happen")
			continue
		}
		share := ""
		if total > 0 {
			share = fmt.Sprintf("%3.0f%%", 100*p.Since.Seconds()/total.Seconds())
		}
		// A step can precede the one before it by a little: a proxy in a
		// container is followed by polling its statistics.
		since := "+" + secs(p.Since)
		if p.Since < 0 {
			since = secs(p.Since)
		}
		fmt.Fprintf(w, "  %-16s %9s  %-9s %4s  %s\n", p.Name, secs(p.At), since, share, p.What)
	}
	if r.ProxyShare > 0 {
		fmt.Fprintf(w, "  The proxy's share (+switch-master to the first ok write): %s\n", secs(r.ProxyShare))
	}
}

// notable reports whether an event belongs in the compact timeline.
func notable(e timeline.Event) bool {
	switch e.Kind {
	case timeline.KindFault, timeline.KindRole, timeline.KindNote:
		return true
	case timeline.KindProxy:
		return true
	case timeline.KindSentinel:
		switch e.Name {
		case "+sdown", "-sdown", "+odown", "-odown", "+try-failover", "+elected-leader", "+promoted-slave",
			"+switch-master", "+convert-to-slave", "+failover-end", "-failover-abort-not-elected",
			"-failover-abort-no-good-slave", "-failover-abort-slave-timeout", "+tilt", "-tilt":
			return true
		}
	}
	return false
}

// Timeline writes the notable events, merging the same event from several
// Sentinels into one line.
func Timeline(w io.Writer, tl *timeline.Timeline) {
	type key struct{ name, node, detail string }
	last := map[key]time.Duration{}
	for _, e := range tl.Events {
		if !notable(e) {
			continue
		}
		var line string
		switch e.Kind {
		case timeline.KindFault:
			line = fmt.Sprintf("fault     %s %s", e.Name, e.Target)
			if e.Took > 100*time.Millisecond {
				line += fmt.Sprintf(" (took %s)", secs(e.Took))
			}
			if e.Detail != "" {
				// What an external node's fault ran (command, exit
				// code, output, duration).
				line += ": " + e.Detail
			}
			if e.Err != "" {
				line += " FAILED: " + e.Err
			}
		case timeline.KindSentinel:
			k := key{e.Name, e.Node, e.Detail}
			if t, ok := last[k]; ok && e.T-t < 2*time.Second {
				continue // the same event from another Sentinel
			}
			last[k] = e.T
			kind, who := "", e.Node
			f := strings.Fields(e.Detail)
			switch {
			case len(f) > 0 && (f[0] == "master" || f[0] == "slave"):
				kind = f[0] + " "
			case len(f) >= 4 && f[0] == "sentinel" && who == "":
				// Another Sentinel: "sentinel <runid> <ip> <port> @ ...".
				kind, who = "sentinel ", net.JoinHostPort(f[2], f[3])
			}
			line = fmt.Sprintf("sentinel  %-16s %s%s (%s)", e.Name, kind, who, e.Source)
			if e.Name == "+switch-master" {
				line = fmt.Sprintf("sentinel  %-16s new master %s (%s)", e.Name, e.Node, e.Source)
			}
		case timeline.KindProxy:
			line = fmt.Sprintf("proxy     %-16s %s on the %s port (%s)", e.Name, e.Node, e.Port, e.State)
		case timeline.KindRole:
			line = fmt.Sprintf("role      %-16s %s", e.Node, e.Role)
			if e.Master != "" {
				line += " of " + e.Master
			}
		case timeline.KindNote:
			line = "engine    " + e.Name
		}
		fmt.Fprintf(w, "  %9s  %s\n", secs(e.T), line)
	}
}

// workloads writes the workloads of a run with several side by side, then
// a section per workload as a run of it alone would have it, with its
// errors by kind, its writes to the old master and its late answers.
func workloads(w io.Writer, tl *timeline.Timeline, r *verdict.Report) {
	fmt.Fprintf(w, "\nWorkloads side by side (the durations above are the worst's, %s):\n", r.WorstWorkload)
	fmt.Fprintf(w, "  %-20s %-18s %12s %13s %10s %15s %6s %6s  %s\n", "workload", "client", "write int.", "after switch", "read int.", "to old master", "lost", "indet.", "errors")
	for _, wr := range r.Workloads {
		rep := wr.Report
		lost := "-"
		if rep.Lost.Checked {
			lost = fmt.Sprint(rep.Lost.Lost)
		}
		fmt.Fprintf(w, "  %-20s %-18s %12s %13s %10s %15s %6s %6d  %s\n", wr.Name, wr.Client,
			interruptionCell(rep.WriteInterruption), secs(rep.ProxyShare), interruptionCell(rep.ReadInterruption),
			fmt.Sprintf("%d, %s", wr.OldMaster.Ops, secs(wr.OldMaster.For)), lost, rep.Writes.Indeterminate, errorKinds(wr.Errors))
	}
	for _, wr := range r.Workloads {
		wtl := verdict.WorkloadTimeline(tl, wr.Name)
		fmt.Fprintf(w, "\nWorkload %s (%s", wr.Name, wr.Client)
		if wr.Detail != "" {
			fmt.Fprintf(w, ", %s", wr.Detail)
		}
		fmt.Fprintln(w, "):")
		if len(wr.Report.Groups) > 0 {
			fmt.Fprintf(w, "Writes: %d (ok %d, failed %d, indeterminate %d), worst group %s, write interruption ",
				wr.Report.Writes.Total, wr.Report.Writes.OK, wr.Report.Writes.Failed, wr.Report.Writes.Indeterminate, wr.Report.Worst)
			if wr.Report.Fault != nil {
				writeInterruption(w, wtl, wr.Report)
			} else {
				fmt.Fprintln(w, "not measured (no fault)")
			}
		} else {
			body(w, wtl, wr.Report)
		}
		fmt.Fprintf(w, "Errors by kind: %s\n", errorKinds(wr.Errors))
		fmt.Fprintf(w, "Writes to a node Sentinel no longer named master: %d, until %s after the switch\n", wr.OldMaster.Ops, secs(wr.OldMaster.For))
		if l := wr.Late; l.Count > 0 {
			fmt.Fprintf(w, "Late answers (after their timeout): %d (%d ok), the latest %s after its timeout\n", l.Count, l.OK, secs(l.Max))
		}
	}
}

// interruptionCell is an interruption in a table cell.
func interruptionCell(it verdict.Interruption) string {
	switch {
	case !it.Interrupted:
		return "none"
	case !it.Recovered:
		return secs(it.Duration) + "+"
	}
	return secs(it.Duration)
}

// errorKinds lists the error counts in ErrorKinds' order: "timeout 12,
// READONLY 3", or "none".
func errorKinds(errs map[string]int) string {
	var out []string
	for _, k := range verdict.ErrorKinds {
		if n := errs[k]; n > 0 {
			out = append(out, fmt.Sprintf("%s %d", k, n))
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

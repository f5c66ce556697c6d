package verdict

import (
	"slices"
	"strings"

	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

// GroupTimeline is the timeline of one replication group of a run with
// several, as a run with that group alone would have recorded it: the
// group's operations, its events and the cluster-wide ones (Group ""), its
// nodes, initial master and read-back. A cluster-wide event that names a
// node of another group (an untagged +switch-master, say) is left out, one
// naming a Sentinel or nothing kept; a
// host fault is kept and acts on the group's members of the host. Hosts are
// kept (a host fault's target is resolved through them); Groups are not, so
// the result judges as a one-group run.
func GroupTimeline(tl *timeline.Timeline, g timeline.Group) *timeline.Timeline {
	out := *tl
	out.Groups = nil
	out.Nodes = slices.Clone(g.Nodes)
	out.InitialMaster = g.InitialMaster
	out.ReadBack = g.ReadBack
	mine, others := map[string]bool{}, map[string]bool{}
	for _, n := range g.Nodes {
		mine[n] = true
	}
	for _, og := range tl.Groups {
		for _, n := range og.Nodes {
			others[n] = !mine[n]
		}
	}
	out.Ops = nil
	for _, op := range tl.Ops {
		if op.Group == g.Name {
			out.Ops = append(out.Ops, op)
		}
	}
	for i := range out.Ops {
		out.Ops[i].ID = i
	}
	out.Events = nil
	for _, e := range tl.Events {
		switch {
		case e.Group == g.Name:
		case e.Group != "":
			continue
		case others[e.Node]:
			continue
		}
		out.Events = append(out.Events, e)
	}
	out.CheckLoad = nil
	for _, l := range tl.CheckLoad {
		if mine[l.Node] {
			out.CheckLoad = append(out.CheckLoad, l)
		}
	}
	return &out
}

// hostPrefix is how a fault's target names a host ("host:h1").
const hostPrefix = "host:"

// faultNodes returns what a fault event acted on: its target or node, or,
// for a host, the host's members (a host's Sentinels among them).
func faultNodes(tl *timeline.Timeline, e timeline.Event) []string {
	target := e.Target
	if target == "" {
		target = e.Node
	}
	name, isHost := strings.CutPrefix(target, hostPrefix)
	for _, h := range tl.Hosts {
		if h.Name == name && (isHost || e.Node == "") {
			return h.Members
		}
	}
	return []string{target}
}

// GroupReport is the verdict on one group of a run with several.
type GroupReport struct {
	Name       string
	MasterName string
	Report     *Report
}

// judgeGroups judges each group of a run with several and makes r the
// total: counts summed, and for every duration the worst group's.
func (r *Report) judgeGroups(tl *timeline.Timeline) {
	runids := sentinelRunIDs(tl)
	for _, g := range tl.Groups {
		gtl := GroupTimeline(tl, g)
		gr := judge(gtl)
		gr.ElectionDelays = electionDelays(gtl, g.Name, runids)
		r.Groups = append(r.Groups, GroupReport{Name: g.Name, MasterName: g.MasterName, Report: gr})
	}
	r.Writes, r.Reads = OpStats{}, OpStats{}
	r.Lost = LostWrites{Checked: true, LostOn: map[string]int{}}
	r.TwoMaster, r.Stale, r.Failovers = TwoMaster{}, StaleReads{}, 0
	r.FalseDown = FalseDown{Checked: true}
	r.ElectionDelays = nil
	var reasons []string
	worst := -1
	for i, gr := range r.Groups {
		g := gr.Report
		r.Writes = r.Writes.add(g.Writes)
		r.Reads = r.Reads.add(g.Reads)
		if worst < 0 || worseInterruption(g.WriteInterruption, r.Groups[worst].Report.WriteInterruption) {
			worst = i
		}
		if worseInterruption(g.ReadInterruption, r.ReadInterruption) {
			r.ReadInterruption = g.ReadInterruption
		}
		if g.LongestWriteGap.Duration() > r.LongestWriteGap.Duration() {
			r.LongestWriteGap = g.LongestWriteGap
		}
		if g.Lost.Checked {
			r.Lost.Acked += g.Lost.Acked
			r.Lost.Lost += g.Lost.Lost
			r.Lost.Unexpected += g.Lost.Unexpected
			r.Lost.IndeterminatePresent += g.Lost.IndeterminatePresent
			r.Lost.IndeterminateAbsent += g.Lost.IndeterminateAbsent
			for n, c := range g.Lost.LostOn {
				r.Lost.LostOn[n] += c
			}
			for _, k := range g.Lost.Examples {
				if len(r.Lost.Examples) < 5 {
					r.Lost.Examples = append(r.Lost.Examples, k)
				}
			}
		} else {
			r.Lost.Checked = false
			reasons = append(reasons, gr.Name+": "+g.Lost.Reason)
		}
		if tm := g.TwoMaster; r.TwoMasterGroup == "" || tm.Total > r.TwoMaster.Total ||
			tm.Total == r.TwoMaster.Total && tm.RoleOverlap > r.TwoMaster.RoleOverlap {
			r.TwoMaster, r.TwoMasterGroup = tm, gr.Name
		}
		r.Stale.Count += g.Stale.Count
		r.Stale.Worst = max(r.Stale.Worst, g.Stale.Worst)
		r.Failovers += g.Failovers
		if g.FalseDown.Checked {
			r.FalseDown.Marks = append(r.FalseDown.Marks, g.FalseDown.Marks...)
			r.FalseDown.Count += g.FalseDown.Count
		} else if r.FalseDown.Checked {
			r.FalseDown = FalseDown{Reason: gr.Name + ": " + g.FalseDown.Reason}
		}
		r.ElectionDelays = append(r.ElectionDelays, g.ElectionDelays...)
	}
	if !r.Lost.Checked {
		r.Lost = LostWrites{LostOn: map[string]int{}, Reason: strings.Join(reasons, "; ")}
	}
	if !r.FalseDown.Checked {
		r.FalseDown.Marks, r.FalseDown.Count = nil, 0
	}
	slices.SortStableFunc(r.FalseDown.Marks, func(a, b DownMark) int { return int(a.T - b.T) })
	if worst >= 0 {
		w := r.Groups[worst]
		r.Worst = w.Name
		r.WriteInterruption = w.Report.WriteInterruption
		r.Phases = w.Report.Phases
		r.ProxyShare = w.Report.ProxyShare
		if w.Report.Fault != nil {
			r.Fault = w.Report.Fault
		}
	}
}

func (s OpStats) add(o OpStats) OpStats {
	return OpStats{s.Total + o.Total, s.OK + o.OK, s.Failed + o.Failed, s.Indeterminate + o.Indeterminate}
}

// worseInterruption reports whether a cut clients off longer than b: one
// that did not recover is worse than any that did.
func worseInterruption(a, b Interruption) bool {
	ua, ub := a.Interrupted && !a.Recovered, b.Interrupted && !b.Recovered
	if ua != ub {
		return ua
	}
	return a.Duration > b.Duration
}

// group returns the report of the named group, if the run has it.
func (r *Report) group(name string) (*Report, bool) {
	for _, g := range r.Groups {
		if g.Name == name {
			return g.Report, true
		}
	}
	return nil, false
}

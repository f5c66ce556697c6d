// Package verdict judges a recorded timeline: how long clients were cut
// off and why (the phases of the failover), what acknowledged writes were
// lost, whether two masters took writes, and whether the scenario's
// expectations hold. Every checker is a pure function of the timeline.
package verdict

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

// OpStats counts operations by result.
type OpStats struct {
	Total, OK, Failed, Indeterminate int
}

func countOps(tl *timeline.Timeline, kind string) OpStats {
	var s OpStats
	for _, op := range tl.Ops {
		if op.Kind != kind {
			continue
		}
		s.Total++
		switch op.Result {
		case timeline.ResultOK:
			s.OK++
		case timeline.ResultFail:
			s.Failed++
		default:
			s.Indeterminate++
		}
	}
	return s
}

// Interruption is the time clients were cut off around the first fault:
// from the last acknowledged operation before the failures began to the
// first acknowledged one after them.
type Interruption struct {
	// Interrupted is false when no operation failed after the fault.
	Interrupted bool
	// Recovered is false when no operation succeeded after the failures.
	Recovered bool
	// LastOK and FirstOK are completion times; FirstOK is the run's end
	// when not recovered.
	LastOK, FirstOK time.Duration
	Duration        time.Duration
	// Failed counts the failed and indeterminate operations in between.
	Failed int
}

// Gap is the longest stretch without an acknowledged operation.
type Gap struct {
	From, To time.Duration
}

func (g Gap) Duration() time.Duration { return g.To - g.From }

// okTimes returns the completion times of acknowledged operations of kind.
func okTimes(tl *timeline.Timeline, kind string) []time.Duration {
	var out []time.Duration
	for _, op := range tl.Ops {
		if op.Kind == kind && op.Result == timeline.ResultOK {
			out = append(out, op.End)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// interruption finds, from the gap between acknowledged operations that
// holds the fault onwards, the first gap in which an operation failed.
func interruption(tl *timeline.Timeline, kind string, fault time.Duration) Interruption {
	oks := okTimes(tl, kind)
	var fails []time.Duration // starts of failed operations at or after the fault
	for _, op := range tl.Ops {
		if op.Kind == kind && op.Result != timeline.ResultOK && op.End >= fault {
			fails = append(fails, op.Start)
		}
	}
	sort.Slice(fails, func(i, j int) bool { return fails[i] < fails[j] })
	if len(fails) == 0 {
		return Interruption{Recovered: true}
	}
	// The interruption begins at the last success before the first failure
	// and ends at the first success after it.
	first := fails[0]
	var it Interruption
	it.Interrupted = true
	i := sort.Search(len(oks), func(i int) bool { return oks[i] > first })
	if i > 0 {
		it.LastOK = oks[i-1]
	}
	if i < len(oks) {
		it.FirstOK, it.Recovered = oks[i], true
	} else {
		it.FirstOK = tl.End
	}
	it.Duration = it.FirstOK - it.LastOK
	for _, f := range fails {
		if f >= it.LastOK && f < it.FirstOK {
			it.Failed++
		}
	}
	return it
}

// longestGap is the longest time between acknowledged operations of kind,
// from the first to the end of the run.
func longestGap(tl *timeline.Timeline, kind string) Gap {
	oks := okTimes(tl, kind)
	var g Gap
	for i := 1; i < len(oks); i++ {
		if d := oks[i] - oks[i-1]; d > g.Duration() {
			g = Gap{oks[i-1], oks[i]}
		}
	}
	if n := len(oks); n > 0 && tl.End-oks[n-1] > g.Duration() {
		g = Gap{oks[n-1], tl.End}
	}
	return g
}

// Phase is one step of a failover, timed from the fault.
type Phase struct {
	Name string
	// At is the step's time; Found is false when it did not happen.
	At    time.Duration
	Found bool
	// Since is the time from the previous step that happened.
	Since time.Duration
	What  string
}

// phases times the failover's steps after the first fault: Sentinel's
// detection (+sdown, +odown), the promotion, +switch-master, the proxy
// marking the new master UP, the first acknowledged write.
func phases(tl *timeline.Timeline, fault timeline.Event, it Interruption) []Phase {
	first := func(pred func(timeline.Event) bool) (timeline.Event, bool) {
		for _, e := range tl.Events {
			if e.T >= fault.T && pred(e) {
				return e, true
			}
		}
		return timeline.Event{}, false
	}
	sentinel := func(name string) func(timeline.Event) bool {
		return func(e timeline.Event) bool {
			return e.Kind == timeline.KindSentinel && e.Name == name && strings.HasPrefix(e.Detail, "master ")
		}
	}
	ps := []Phase{{Name: "fault", At: fault.T, Found: true, What: fault.Name + " " + fault.Target}}
	add := func(name, what string, e timeline.Event, ok bool) {
		ps = append(ps, Phase{Name: name, At: e.T, Found: ok, What: what})
	}
	e, ok := first(sentinel("+sdown"))
	add("+sdown", "first Sentinel sees the master down (down-after)", e, ok)
	e, ok = first(sentinel("+odown"))
	add("+odown", "a quorum agrees", e, ok)
	promo, ok := first(func(e timeline.Event) bool {
		return e.Kind == timeline.KindSentinel && e.Name == "+promoted-slave" ||
			e.Kind == timeline.KindRole && e.Role == timeline.RoleMaster && e.Node != tl.InitialMaster && e.Node != ""
	})
	add("promotion", "a replica answers role:master", promo, ok)
	sw, ok := first(func(e timeline.Event) bool { return e.Kind == timeline.KindSentinel && e.Name == "+switch-master" })
	add("+switch-master", "first Sentinel switches", sw, ok)
	newMaster := sw.Node
	if newMaster == "" {
		newMaster = promo.Node
	}
	up, ok := first(func(e timeline.Event) bool {
		return e.Kind == timeline.KindProxy && e.Port == timeline.PortMaster && e.Name == "server-up" && (newMaster == "" || e.Node == newMaster)
	})
	add("proxy UP", "the proxy marks the new master UP", up, ok)
	ps = append(ps, Phase{Name: "first ok write", At: it.FirstOK, Found: it.Interrupted && it.Recovered, What: "clients write again"})
	prev := fault.T
	for i := range ps {
		if ps[i].Found {
			ps[i].Since = ps[i].At - prev
			prev = ps[i].At
		}
	}
	return ps
}

// LostWrites is the set-test verdict (sim/model/TIMING.md §5).
type LostWrites struct {
	// Checked is false when writes could not be read back; Reason says
	// why.
	Checked bool
	Reason  string
	// Acked writes and those of them missing at the end.
	Acked, Lost int
	// Unexpected failed writes that are present.
	Unexpected int
	// Indeterminate writes found present or absent.
	IndeterminatePresent, IndeterminateAbsent int
	// LostOn counts lost writes by the node that acknowledged them.
	LostOn map[string]int
	// Examples are a few lost keys.
	Examples []string
}

func lostWrites(tl *timeline.Timeline) LostWrites {
	lw := LostWrites{LostOn: map[string]int{}}
	if tl.ReadBack == nil || tl.ReadBack.Err != "" {
		lw.Reason = "no read-back"
		if tl.ReadBack != nil {
			lw.Reason = tl.ReadBack.Err
		}
		return lw
	}
	lw.Checked = true
	for _, op := range tl.Ops {
		if op.Kind != timeline.OpWrite {
			continue
		}
		present := op.Final == "present"
		switch op.Result {
		case timeline.ResultOK:
			lw.Acked++
			if !present {
				lw.Lost++
				lw.LostOn[op.Node]++
				if len(lw.Examples) < 5 {
					lw.Examples = append(lw.Examples, op.Key)
				}
			}
		case timeline.ResultFail:
			if present {
				lw.Unexpected++
			}
		default:
			if present {
				lw.IndeterminatePresent++
			} else {
				lw.IndeterminateAbsent++
			}
		}
	}
	return lw
}

// Window is an interval of a two-master window.
type Window struct {
	From, To time.Duration
	Node     string
	// Why is "writes" (writes went to a node Sentinel did not name) or
	// "roles" (two reachable nodes said role:master).
	Why    string
	Writes int
}

// TwoMaster is the two-master window verdict.
type TwoMaster struct {
	Windows []Window
	// Total is the two-master window as clients live it: the length of the
	// union of the "writes" windows, when acknowledged writes went to a
	// node that was not Sentinel's master.
	Total time.Duration
	// RoleOverlap is the length of the union of the "roles" windows, when
	// two reachable nodes said role:master at once: Redis's own window,
	// which no proxy can shorten; what matters is whether writes reached
	// the wrong one (Total).
	RoleOverlap time.Duration
	// WrongWrites counts acknowledged writes to a node that was not
	// Sentinel's master.
	WrongWrites int
}

// sentinelMaster returns, for time t, the master named by a majority of
// Sentinels ("" when they disagree): each starts with the initial master and
// follows its own +switch-master events (and, as the leader of a failover,
// names the promoted replica from the reconf-slaves step on).
type masterView struct {
	initial  string
	switches map[string][]timeline.Event // per Sentinel
	n        int
}

func newMasterView(tl *timeline.Timeline) *masterView {
	mv := &masterView{initial: tl.InitialMaster, switches: map[string][]timeline.Event{}, n: tl.Params.Sentinels}
	promoted := map[string]string{} // per Sentinel, the replica it promoted
	for _, e := range tl.Events {
		if e.Kind != timeline.KindSentinel {
			continue
		}
		switch e.Name {
		case "+promoted-slave":
			promoted[e.Source] = e.Node
		case "+failover-state-reconf-slaves":
			// The failover's leader already names the promoted replica
			// from this step on: sentinelGetCurrentMasterAddress answers
			// it once the state reaches reconf-slaves, before the leader's
			// own +switch-master (TIMING.md §2), and a Sentinel-aware proxy
			// counts that answer.
			if p := promoted[e.Source]; p != "" {
				sw := e
				sw.Node = p
				mv.switches[e.Source] = append(mv.switches[e.Source], sw)
			}
		case "+switch-master":
			mv.switches[e.Source] = append(mv.switches[e.Source], e)
		}
	}
	if mv.n == 0 {
		mv.n = len(mv.switches)
	}
	return mv
}

func (mv *masterView) at(t time.Duration) string {
	votes := map[string]int{}
	named := 0
	for _, sw := range mv.switches {
		m := mv.initial
		for _, e := range sw {
			if e.T <= t {
				m = e.Node
			}
		}
		votes[m]++
		named++
	}
	// Sentinels without switches still name the initial master.
	votes[mv.initial] += mv.n - named
	for m, v := range votes {
		if v*2 > mv.n {
			return m
		}
	}
	return ""
}

// twoMaster finds when writes went to a node Sentinel did not name as
// master, and when two reachable nodes reported role:master at once.
func twoMaster(tl *timeline.Timeline) TwoMaster {
	var tm TwoMaster
	mv := newMasterView(tl)
	const join = time.Second
	var cur *Window
	for _, op := range tl.Ops {
		if op.Kind != timeline.OpWrite || op.Result != timeline.ResultOK || op.Node == "" {
			continue
		}
		m := mv.at(op.End)
		if m == "" || m == op.Node {
			continue
		}
		tm.WrongWrites++
		if cur != nil && cur.Node == op.Node && op.End-cur.To <= join {
			cur.To = op.End
			cur.Writes++
			continue
		}
		tm.Windows = append(tm.Windows, Window{From: op.Start, To: op.End, Node: op.Node, Why: "writes", Writes: 1})
		cur = &tm.Windows[len(tm.Windows)-1]
	}
	// Role overlap from the poller's samples.
	roles := map[string]string{}
	var since time.Duration
	overlap := false
	for _, e := range tl.Events {
		if e.Kind != timeline.KindRole {
			continue
		}
		roles[e.Node] = e.Role
		n := 0
		for _, r := range roles {
			if r == timeline.RoleMaster {
				n++
			}
		}
		switch {
		case n >= 2 && !overlap:
			overlap, since = true, e.T
		case n < 2 && overlap:
			overlap = false
			tm.Windows = append(tm.Windows, Window{From: since, To: e.T, Why: "roles"})
		}
	}
	if overlap {
		tm.Windows = append(tm.Windows, Window{From: since, To: tl.End, Why: "roles"})
	}
	var byWrites, byRoles []Window
	for _, w := range tm.Windows {
		if w.Why == "writes" {
			byWrites = append(byWrites, w)
		} else {
			byRoles = append(byRoles, w)
		}
	}
	tm.Total, tm.RoleOverlap = unionLength(byWrites), unionLength(byRoles)
	return tm
}

func unionLength(ws []Window) time.Duration {
	iv := make([][2]time.Duration, len(ws))
	for i, w := range ws {
		iv[i] = [2]time.Duration{w.From, w.To}
	}
	sort.Slice(iv, func(i, j int) bool { return iv[i][0] < iv[j][0] })
	var total, end time.Duration
	started := false
	var start time.Duration
	for _, x := range iv {
		if !started || x[0] > end {
			if started {
				total += end - start
			}
			start, end, started = x[0], x[1], true
			continue
		}
		end = max(end, x[1])
	}
	if started {
		total += end - start
	}
	return total
}

// StaleReads counts reads through the replica port that missed a key whose
// write had been acknowledged before the read began and that is present in
// the end (a key that was lost counts as a lost write, not a stale read).
type StaleReads struct {
	Count int
	// Worst is the longest time between such a write's acknowledgement
	// and the read that missed it.
	Worst time.Duration
}

func staleReads(tl *timeline.Timeline) StaleReads {
	acked := map[string]time.Duration{}
	for _, op := range tl.Ops {
		if op.Kind == timeline.OpWrite && op.Result == timeline.ResultOK && op.Final != "absent" {
			acked[op.Key] = op.End
		}
	}
	var s StaleReads
	for _, op := range tl.Ops {
		if op.Kind != timeline.OpRead || op.Result != timeline.ResultOK || op.Found {
			continue
		}
		if at, ok := acked[op.Key]; ok && at < op.Start {
			s.Count++
			s.Worst = max(s.Worst, op.Start-at)
		}
	}
	return s
}

// failovers counts the changes of the master the Sentinels agree on.
func failovers(tl *timeline.Timeline) int {
	mv := newMasterView(tl)
	var times []time.Duration
	for _, sw := range mv.switches {
		for _, e := range sw {
			times = append(times, e.T)
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	n, prev := 0, mv.initial
	for _, t := range times {
		if m := mv.at(t); m != "" && m != prev {
			n++
			prev = m
		}
	}
	return n
}

// Report is the verdict on a run.
type Report struct {
	Writes, Reads     OpStats
	Fault             *timeline.Event
	WriteInterruption Interruption
	ReadInterruption  Interruption
	LongestWriteGap   Gap
	Phases            []Phase
	// ProxyShare runs from the first +switch-master to the first
	// acknowledged write; zero without a switch.
	ProxyShare   time.Duration
	Lost         LostWrites
	TwoMaster    TwoMaster
	Stale        StaleReads
	Failovers    int
	Expectations []ExpectResult
	// CheckLoad is the health checks' load on each node.
	CheckLoad CheckLoad
	// FalseDown lists the proxy's DOWN marks of healthy nodes.
	FalseDown FalseDown

	// ElectionDelays are the failovers that needed more than one
	// election (in a run with several groups, every group's).
	ElectionDelays []ElectionDelay `json:",omitempty"`

	// Groups are the verdicts of each group of a run with several, in
	// topology order; a run with one group has none, its report being
	// the group's. With several, the report above is the total: counts
	// (operations, lost writes, failovers, stale reads, false DOWN marks)
	// are summed over the groups, durations (the interruptions, the
	// longest gap, the phases and the proxy's share) are the worst
	// group's, and the two-master window is the longest group's.
	Groups []GroupReport `json:",omitempty"`
	// Worst is the group with the longest write interruption (one that
	// did not recover first), whose phases the total shows.
	Worst string `json:",omitempty"`
	// TwoMasterGroup is the group whose two-master window the total
	// shows.
	TwoMasterGroup string `json:",omitempty"`

	// Workloads are the verdicts of each workload of a run with several
	// (WorkloadTimeline), in the scenario's order; a run with one has
	// none. With several, the durations above (the interruptions, the
	// longest gap, the phases and the share after +switch-master) are the
	// worst workload's (WorstWorkload), the counts every operation's.
	Workloads     []WorkloadReport `json:",omitempty"`
	WorstWorkload string           `json:",omitempty"`
}

// ExpectResult is an expectation with the measured value.
type ExpectResult struct {
	scenario.Expectation
	// Measured is the metric's value in the run (seconds for durations);
	// the expectation's own Value is the bound it was tested against.
	Measured float64
	Held     bool
	// Unknown is set when the value could not be measured (e.g. no
	// read-back): the expectation then fails.
	Unknown string
}

// Judge computes the verdict of a timeline and tests the expectations. A
// timeline with several groups is judged group by group (GroupTimeline),
// and the report is the total (Report.Groups).
func Judge(tl *timeline.Timeline, exps []scenario.Expectation) *Report {
	var r *Report
	if len(tl.Groups) == 0 {
		r = judge(tl)
		r.ElectionDelays = electionDelays(tl, "", sentinelRunIDs(tl))
	} else {
		r = &Report{CheckLoad: checkLoad(tl)}
		if f, ok := tl.FirstFault(); ok {
			r.Fault = &f
		}
		r.judgeGroups(tl)
	}
	if len(tl.Workloads) > 0 {
		r.judgeWorkloads(tl)
	}
	for _, e := range exps {
		r.Expectations = append(r.Expectations, r.check(e))
	}
	return r
}

// judge computes the verdict of a timeline as one group.
func judge(tl *timeline.Timeline) *Report {
	r := &Report{Writes: countOps(tl, timeline.OpWrite), Reads: countOps(tl, timeline.OpRead)}
	if f, ok := tl.FirstFault(); ok {
		r.Fault = &f
		r.WriteInterruption = interruption(tl, timeline.OpWrite, f.T)
		r.ReadInterruption = interruption(tl, timeline.OpRead, f.T)
		r.Phases = phases(tl, f, r.WriteInterruption)
		for _, p := range r.Phases {
			if p.Name == "+switch-master" && p.Found && r.WriteInterruption.Recovered && r.WriteInterruption.Interrupted {
				r.ProxyShare = max(0, r.WriteInterruption.FirstOK-p.At)
			}
		}
	}
	r.LongestWriteGap = longestGap(tl, timeline.OpWrite)
	r.Lost = lostWrites(tl)
	r.TwoMaster = twoMaster(tl)
	r.Stale = staleReads(tl)
	r.Failovers = failovers(tl)
	r.CheckLoad = checkLoad(tl)
	r.FalseDown = falseDowns(tl)
	return r
}

// Passed reports whether every expectation held.
func (r *Report) Passed() bool {
	for _, e := range r.Expectations {
		if !e.Held {
			return false
		}
	}
	return true
}

// Metric returns the measured value of a metric (seconds for durations)
// and, when it cannot be measured, why.
//
// In a run with several groups a metric is the total's (the worst group's
// durations, the counts summed: see Report.Groups), and
// "<group>.<metric>" (group2.write_interruption) is one group's. In a run
// with several workloads the durations are the worst workload's (see
// Report.Workloads), and "<workload>.<metric>" (app.write_interruption) is
// one workload's (its own report, by group if it has several). Scenarios
// never give a group and a workload one name.
func (r *Report) Metric(name string) (float64, string) {
	if p, m, ok := strings.Cut(name, "."); ok {
		if gr, found := r.group(p); found {
			return gr.Metric(m)
		}
		if wr, found := r.workload(p); found {
			return wr.Metric(m)
		}
		return 0, fmt.Sprintf("no group or workload %q in the run", p)
	}
	sec := func(d time.Duration) float64 { return d.Seconds() }
	switch name {
	case "write_interruption":
		if r.Fault == nil {
			return 0, "no fault in the run"
		}
		return sec(r.WriteInterruption.Duration), ""
	case "read_interruption":
		if r.Fault == nil {
			return 0, "no fault in the run"
		}
		return sec(r.ReadInterruption.Duration), ""
	case "longest_write_gap":
		return sec(r.LongestWriteGap.Duration()), ""
	case "proxy_share":
		return sec(r.ProxyShare), ""
	case "two_master_window":
		return sec(r.TwoMaster.Total), ""
	case "role_overlap":
		return sec(r.TwoMaster.RoleOverlap), ""
	case "lost_writes":
		if !r.Lost.Checked {
			return 0, "writes were not read back: " + r.Lost.Reason
		}
		return float64(r.Lost.Lost), ""
	case "unexpected_writes":
		if !r.Lost.Checked {
			return 0, "writes were not read back: " + r.Lost.Reason
		}
		return float64(r.Lost.Unexpected), ""
	case "indeterminate_writes":
		return float64(r.Writes.Indeterminate), ""
	case "ok_writes":
		return float64(r.Writes.OK), ""
	case "failovers":
		return float64(r.Failovers), ""
	case "stale_reads":
		return float64(r.Stale.Count), ""
	case "check_rate":
		if !r.CheckLoad.Measured {
			return 0, checkLoadNotMeasured
		}
		return r.CheckLoad.MaxChecksPerSec(), ""
	case "check_bytes_rate":
		if !r.CheckLoad.Measured {
			return 0, checkLoadNotMeasured
		}
		return r.CheckLoad.MaxBytesPerSec(), ""
	case "false_down_marks":
		if !r.FalseDown.Checked {
			return 0, "false DOWN marks not judged: " + r.FalseDown.Reason
		}
		return float64(r.FalseDown.Count), ""
	}
	return 0, fmt.Sprintf("unknown metric %q", name)
}

func (r *Report) check(e scenario.Expectation) ExpectResult {
	v, unknown := r.Metric(e.Metric)
	res := ExpectResult{Expectation: e, Measured: v, Unknown: unknown}
	res.Held = unknown == "" && e.Holds(v)
	return res
}

package verdict

import (
	"strings"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

// WorkloadTimeline is the timeline of one workload of a run with several,
// as a run of that workload alone would have recorded it: its operations,
// every event, and no Workloads, so that it judges as a one-workload run
// (by group, if the run has several).
func WorkloadTimeline(tl *timeline.Timeline, name string) *timeline.Timeline {
	out := *tl
	out.Workloads = nil
	out.Ops = nil
	for _, op := range tl.Ops {
		if op.Workload == name {
			out.Ops = append(out.Ops, op)
		}
	}
	for i := range out.Ops {
		out.Ops[i].ID = i
	}
	return &out
}

// Error kinds of ClientStats.Errors.
const (
	ErrRefused    = "refused"
	ErrTimeout    = "timeout"
	ErrReadonly   = "READONLY"
	ErrLoading    = "LOADING"
	ErrMasterDown = "MASTERDOWN"
	ErrNoAuth     = "NOAUTH"
	ErrOther      = "other"
)

// ErrorKinds lists the error kinds in report order.
var ErrorKinds = []string{ErrRefused, ErrTimeout, ErrReadonly, ErrLoading, ErrMasterDown, ErrNoAuth, ErrOther}

// ErrorKind sorts a failed or indeterminate operation's error: a Redis
// error reply by its code (READONLY, LOADING, MASTERDOWN, NOAUTH), a
// refused connection, a timeout (an indeterminate operation whose error
// says so, or a command client's request with no answer), or other.
func ErrorKind(op timeline.Op) string {
	e := op.Err
	lower := strings.ToLower(e)
	for _, code := range []string{ErrReadonly, ErrLoading, ErrMasterDown, ErrNoAuth} {
		if strings.HasPrefix(e, code) || strings.Contains(e, " "+code+" ") || strings.Contains(e, ": "+code) {
			return code
		}
	}
	switch {
	case strings.Contains(lower, "refused"):
		return ErrRefused
	case strings.Contains(lower, "timeout") || strings.Contains(lower, "timed out") ||
		strings.Contains(lower, "deadline exceeded") || strings.Contains(lower, "no answer"):
		return ErrTimeout
	}
	return ErrOther
}

// ClientStats are what a workload's client did that the report of a
// one-workload run does not show.
type ClientStats struct {
	// Errors counts the failed and indeterminate operations (writes and
	// reads) by kind (ErrorKinds); kinds with none are absent.
	Errors map[string]int
	// OldMaster are the writes sent to a node that had been Sentinel's
	// master and no longer was.
	OldMaster OldMaster
	// Late are a command client's answers after their timeout.
	Late LateAnswers
}

// OldMaster is what a client kept sending to a node Sentinel no longer
// named as master.
type OldMaster struct {
	// Ops counts the writes (any outcome) that started after Sentinel's
	// majority had named another master.
	Ops int
	// For runs from the first Sentinel switch away from the node to the
	// end of the last such write; zero without any.
	For time.Duration
}

// LateAnswers are answers that came after their request's timeout.
type LateAnswers struct {
	Count int
	// Max is the longest an answer came after its request's timeout.
	Max time.Duration
	// OK counts the late answers that said ok.
	OK int
}

// clientStats measures a workload's timeline, group by group when it has
// several.
func clientStats(tl *timeline.Timeline) ClientStats {
	cs := ClientStats{Errors: map[string]int{}}
	for _, op := range tl.Ops {
		if op.Result != timeline.ResultOK {
			cs.Errors[ErrorKind(op)]++
		}
		if l := op.Late; l != nil {
			cs.Late.Count++
			cs.Late.Max = max(cs.Late.Max, l.At-op.End)
			if l.Result == timeline.ResultOK {
				cs.Late.OK++
			}
		}
	}
	if len(tl.Groups) == 0 {
		cs.OldMaster = oldMaster(tl)
		return cs
	}
	for _, g := range tl.Groups {
		om := oldMaster(GroupTimeline(tl, g))
		cs.OldMaster.Ops += om.Ops
		cs.OldMaster.For = max(cs.OldMaster.For, om.For)
	}
	return cs
}

// oldMaster finds the writes of a one-group timeline that went to a node
// which had been Sentinel's master and no longer was when they started.
func oldMaster(tl *timeline.Timeline) OldMaster {
	var om OldMaster
	mv := newMasterView(tl)
	was := map[string]time.Duration{} // former masters, and when they stopped being it
	cur := mv.initial
	var times []time.Duration
	for _, e := range tl.Events {
		if e.Kind == timeline.KindSentinel && e.Name == "+switch-master" {
			times = append(times, e.T)
		}
	}
	for _, t := range times {
		if m := mv.at(t); m != "" && m != cur {
			if _, ok := was[cur]; !ok && cur != "" {
				was[cur] = t
			}
			cur = m
		}
	}
	for _, op := range tl.Ops {
		if op.Kind != timeline.OpWrite || op.Node == "" {
			continue
		}
		since, ok := was[op.Node]
		if !ok || op.Start < since {
			continue
		}
		if m := mv.at(op.Start); m == op.Node || m == "" {
			continue
		}
		om.Ops++
		om.For = max(om.For, op.End-since)
	}
	return om
}

// WorkloadReport is the verdict on one workload of a run with several.
type WorkloadReport struct {
	Name   string
	Client string
	Detail string `json:",omitempty"`
	// Report is the workload judged as a run of its own.
	Report *Report
	ClientStats
}

// judgeWorkloads judges each workload of a run with several, and makes
// the durations of r (the interruptions, the longest gap, the phases and
// the share after +switch-master) the worst workload's; counts stay
// summed over every operation.
func (r *Report) judgeWorkloads(tl *timeline.Timeline) {
	worst := -1
	for _, w := range tl.Workloads {
		wtl := WorkloadTimeline(tl, w.Name)
		wr := WorkloadReport{Name: w.Name, Client: w.Client, Detail: w.Detail, Report: Judge(wtl, nil), ClientStats: clientStats(wtl)}
		r.Workloads = append(r.Workloads, wr)
		i := len(r.Workloads) - 1
		if worst < 0 || worseInterruption(wr.Report.WriteInterruption, r.Workloads[worst].Report.WriteInterruption) {
			worst = i
		}
	}
	if worst < 0 {
		return
	}
	r.WriteInterruption, r.ReadInterruption, r.LongestWriteGap = Interruption{}, Interruption{}, Gap{}
	for _, w := range r.Workloads {
		if worseInterruption(w.Report.ReadInterruption, r.ReadInterruption) {
			r.ReadInterruption = w.Report.ReadInterruption
		}
		if w.Report.LongestWriteGap.Duration() > r.LongestWriteGap.Duration() {
			r.LongestWriteGap = w.Report.LongestWriteGap
		}
	}
	w := r.Workloads[worst].Report
	r.WorstWorkload = r.Workloads[worst].Name
	r.WriteInterruption, r.Phases, r.ProxyShare = w.WriteInterruption, w.Phases, w.ProxyShare
}

// workload is the report of the named workload of a run with several.
func (r *Report) workload(name string) (*Report, bool) {
	for _, w := range r.Workloads {
		if w.Name == name {
			return w.Report, true
		}
	}
	return nil, false
}

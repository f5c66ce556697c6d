package model

import (
	"fmt"
	"io"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/timeline"
	"github.com/redisha-sim/redisha-sim/sim/verdict"
)

// Comparison is one measured figure against the model's distribution.
type Comparison struct {
	Name string
	// Measured is the run's figure; Known is false when the run did not
	// have it (no switch, not recovered...), Why says why.
	Measured time.Duration
	Known    bool
	Why      string
	Dist     Dist
	// Outside is set when the figure lies outside the predicted p5-p95
	// band.
	Outside bool
}

// Compare sets a judged run against the prediction.
func Compare(pred *Prediction, tl *timeline.Timeline, r *verdict.Report) []Comparison {
	cs := []Comparison{
		{Name: "write interruption", Dist: pred.Interruption},
		{Name: "proxy share", Dist: pred.ProxyShare},
		{Name: "dead master marked DOWN", Dist: pred.Detection},
		{Name: "two-master window", Dist: pred.TwoMaster},
	}
	set := func(i int, d time.Duration, ok bool, why string) {
		cs[i].Measured, cs[i].Known, cs[i].Why = d, ok, why
	}
	it := r.WriteInterruption
	switch {
	case r.Fault == nil:
		set(0, 0, false, "no fault")
	case !it.Interrupted:
		set(0, 0, true, "")
	case !it.Recovered:
		set(0, 0, false, "writes never recovered")
	default:
		set(0, it.Duration, true, "")
	}
	switched := false
	for _, p := range r.Phases {
		if p.Name == "+switch-master" && p.Found {
			switched = true
		}
	}
	if switched && it.Recovered && it.Interrupted {
		set(1, r.ProxyShare, true, "")
	} else {
		set(1, 0, false, "no switch, or writes did not recover after one")
	}
	if d, ok := Detection(tl, r); ok {
		set(2, d, true, "")
	} else {
		set(2, 0, false, "the proxy did not mark it DOWN")
	}
	set(3, r.TwoMaster.Total, true, "")
	for i := range cs {
		c := &cs[i]
		if c.Known && c.Dist.N > 0 {
			c.Outside = !c.Dist.Within(c.Measured)
		}
	}
	return cs
}

// Detection is the time from the fault to the proxy marking the initial
// master DOWN on the master port, as measured in a run; ok is false
// without a fault or a DOWN mark after it.
func Detection(tl *timeline.Timeline, r *verdict.Report) (time.Duration, bool) {
	if r.Fault == nil {
		return 0, false
	}
	for _, e := range tl.Events {
		if e.T >= r.Fault.T && e.Kind == timeline.KindProxy && e.Port == timeline.PortMaster &&
			e.Name == "server-down" && e.Node == tl.InitialMaster {
			return e.T - r.Fault.T, true
		}
	}
	return 0, false
}

// WriteComparison prints the comparisons as a table; a figure outside the
// band is flagged.
func WriteComparison(w io.Writer, trials int, cs []Comparison) {
	fmt.Fprintf(w, "Measured against the timing model (%d trials, p5-p95 band):\n", trials)
	fmt.Fprintf(w, "  %-26s %10s   %8s %8s %8s %8s\n", "", "measured", "p5", "p50", "p95", "max")
	for _, c := range cs {
		m := "-"
		if c.Known {
			m = secs(c.Measured)
		}
		flag := ""
		switch {
		case c.Outside:
			flag = "  OUTSIDE the predicted band"
		case !c.Known && c.Why != "":
			flag = "  (" + c.Why + ")"
		case c.Dist.N == 0:
			flag = "  (the model has no such trials)"
		}
		fmt.Fprintf(w, "  %-26s %10s   %8s %8s %8s %8s%s\n", c.Name, m, secs(c.Dist.P5), secs(c.Dist.P50), secs(c.Dist.P95), secs(c.Dist.Max), flag)
	}
}

// describeBackend says how the backend's nodes die and change roles.
func describeBackend(p Params) string {
	dead := "a dead node refuses connections"
	if p.DeadHangs {
		dead = fmt.Sprintf("a dead node's address refuses connections for %v, then hangs", p.RefuseWindow)
	}
	s := dead
	if p.KillDelay > 0 {
		s += fmt.Sprintf("; a kill takes effect %v after it is issued", p.KillDelay)
	}
	if p.GracefulStop {
		s += "; a stopped master under writes holds them and answers PING until its replicas' next periodic ACK (0-1.1 s)"
	}
	if p.PromoteDelay > 0 {
		s += fmt.Sprintf("; role:master %v after SLAVEOF NO ONE", p.PromoteDelay)
	}
	return s
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

// WritePrediction prints a prediction for people.
func WritePrediction(w io.Writer, name, backend string, pred *Prediction) {
	p := pred.Params
	fmt.Fprintf(w, "Timing model of %s on the %s backend: %d trials\n", name, backend, pred.Trials)
	if h := p.Fault.Host; h != nil {
		fmt.Fprintf(w, "  Groups: %d of %d nodes; fault: %s a host at %v (its nodes: %v by group, from 0; its Sentinels: %v)",
			max(1, p.Groups), p.Nodes, p.Fault.Action, p.Fault.At, h.Nodes, h.Sentinels)
	} else {
		fmt.Fprintf(w, "  Fault: %s the master at %v", p.Fault.Action, p.Fault.At)
	}
	if p.Fault.Undo > 0 {
		fmt.Fprintf(w, ", undone at %v", p.Fault.Undo)
	}
	fmt.Fprintf(w, "\n  Proxy checks: inter %v, fastinter %v, downinter %v, rise %d, fall %d, check timeout %v (connect %v); a replica %s the master check\n",
		p.Check.Inter, orInter(p.Check.FastInter, p.Check.Inter), orInter(p.Check.DownInter, p.Check.Inter), p.Check.Rise, p.Check.Fall,
		p.ReadTimeout, p.ConnectTimeout, map[string]string{"timeout": "fails by timeout in", "fail": "fails at once in", "pass": "passes"}[p.ReplicaCheck])
	fmt.Fprintf(w, "  Sentinel: %d, quorum %d, down-after %v, failover-timeout %v", p.Sentinels, p.Quorum, p.DownAfter, p.FailoverTimeout)
	if p.SentinelAware {
		fmt.Fprint(w, "; the proxy follows Sentinel")
	}
	fmt.Fprintf(w, "\n  Backend: %s\n", describeBackend(p))
	if p.Fault.Host == nil {
		fmt.Fprintf(w, "  The faulted master's checks: %s\n", FaultedCheck(p).Why)
	}
	fmt.Fprintf(w, "\n  %-34s %8s %8s %8s %8s\n", "", "p5", "p50", "p95", "max")
	row := func(name string, d Dist, note string) {
		if d.N == 0 {
			fmt.Fprintf(w, "  %-34s %8s %8s %8s %8s  %s\n", name, "-", "-", "-", "-", note)
			return
		}
		fmt.Fprintf(w, "  %-34s %8s %8s %8s %8s  %s\n", name, secs(d.P5), secs(d.P50), secs(d.P95), secs(d.Max), note)
	}
	note := ""
	if pred.Unrecovered > 0 {
		note = fmt.Sprintf("(%d of %d trials never recovered)", pred.Unrecovered, pred.Trials)
	}
	row("write interruption", pred.Interruption, note)
	row("proxy share (+switch-master to ok)", pred.ProxyShare, "")
	row("dead master marked DOWN", pred.Detection, detectionNote(pred))
	row("two-master window", pred.TwoMaster, "")
	fmt.Fprintln(w, "\n  Phases, from the fault:")
	row("  first +sdown", pred.SDown, "")
	row("  first +odown", pred.ODown, "")
	row("  promoted replica says role:master", pred.Promotion, "")
	row("  first +switch-master", pred.Switch, "")
	row("  proxy marks the new master UP", pred.ProxyUp, "")
	if pred.CascadingFailovers > 0 {
		fmt.Fprintf(w, "\n  %d of %d trials promoted more than once (a split vote or a cascading failover).\n", pred.CascadingFailovers, pred.Trials)
	}
	if len(pred.Groups) < 2 {
		return
	}
	fmt.Fprintln(w, "\n  By group (the figures above are the first group's):")
	for _, g := range append(pred.Groups, pred.Worst) {
		note := ""
		if g.Unrecovered > 0 {
			note = fmt.Sprintf("(%d of %d trials never recovered)", g.Unrecovered, pred.Trials)
		}
		row(g.Name+" write interruption", g.Interruption, note)
		row(g.Name+" first +switch-master", g.Switch, "")
		row(g.Name+" first leader elected", g.Elected, "")
		if g.ElectionDelayed > 0 {
			fmt.Fprintf(w, "    %s: an election failed or was blocked in %d of %d trials (split vote %d, vote refused for a lower epoch %d, vote for a past epoch %d, aborted %d, retried %d)\n",
				g.Name, g.ElectionDelayed, pred.Trials, g.Split, g.Refused, g.Stale, g.NotElected, g.Retried)
		}
	}
}

func detectionNote(pred *Prediction) string {
	if n := pred.Trials - pred.Detection.N; n > 0 {
		return fmt.Sprintf("(not marked DOWN in %d trials)", n)
	}
	return ""
}

func orInter(d, inter time.Duration) time.Duration {
	if d == 0 {
		return inter
	}
	return d
}

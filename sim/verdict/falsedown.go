package verdict

import (
	"math"
	"strings"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

// FalseDown counts the proxy's false DOWN marks: a server marked DOWN
// while its node was healthy for the server's port. A node is healthy for
// the replica port when it is alive and a replica, for the master port
// when it is alive, the master, and the master a majority of Sentinels
// name. Alive means no fault that takes it away (kill, stop, restart,
// pause, disconnect) is in effect; a slowed link (delay) does not count,
// so DOWN marks caused by slow replies are false ones. Roles are the role
// poller's; it cannot tell a slow node from an unreachable one, so while a
// node's link is slowed its "unreachable" reports are not believed.
type FalseDown struct {
	// Checked is false when the timeline has no role events to judge by;
	// Reason says so.
	Checked bool
	Reason  string
	Count   int
	Marks   []DownMark
}

// DownMark is one false DOWN mark.
type DownMark struct {
	T          time.Duration
	Port, Node string
	// State and Detail are the proxy's, as recorded.
	State, Detail string
}

// Margins of the false DOWN judgement.
const (
	// eventLag is how late a proxy's change may be recorded (a proxy in a
	// container is polled every 50ms).
	eventLag = 100 * time.Millisecond
	// defaultInter is HAProxy's inter, for timelines without it.
	defaultInter = 2 * time.Second
	// defaultRolePoll is the role poller's period, for timelines without
	// it.
	defaultRolePoll = 50 * time.Millisecond
	// rolePolls is how many poll periods a role event may trail the change
	// it reports: a node is unreachable only after two failed polls, each
	// bounded by two periods.
	rolePolls = 4
)

// interval is a stretch of timeline time.
type interval struct{ from, to time.Duration }

// overlaps reports whether iv meets [from, to].
func (iv interval) overlaps(from, to time.Duration) bool {
	return iv.from <= to && iv.to >= from
}

const forever = time.Duration(math.MaxInt64)

// faultWindows returns, per node, when a fault that takes it away was in
// effect: from the action's start to the end of the action that undoes it
// (the fault table's undo: start, unpause, reconnect). An action that
// failed is taken to have acted, and a failed undo to have left the fault
// in place, so that a DOWN mark is never counted false on a guess. Actions
// on the link are slowWindows'.
func faultWindows(tl *timeline.Timeline) map[string][]interval {
	type key struct {
		node string
		undo fault.Action
	}
	open := map[key]time.Duration{}
	out := map[string][]interval{}
	begin := func(node string, undo fault.Action, at time.Duration) {
		if _, ok := open[key{node, undo}]; !ok {
			open[key{node, undo}] = at
		}
	}
	end := func(node string, undo fault.Action, at time.Duration) {
		k := key{node, undo}
		if from, ok := open[k]; ok {
			out[node] = append(out[node], interval{from, at})
			delete(open, k)
		}
	}
	for _, e := range tl.Events {
		if e.Kind != timeline.KindFault {
			continue
		}
		done := e.T + e.Took
		fx := fault.Of(fault.Action(e.Name))
		for _, node := range faultNodes(tl, e) {
			switch {
			case fx.Link:
			case fx.Undo != "":
				begin(node, fx.Undo, e.T)
			case fx.Action == fault.Reschedule:
				// Back on another address: the one the proxy's server
				// line names stays dead for the rest of the run.
				begin(node, fault.Start, e.T)
			case fx.Action == fault.Restart:
				// Stop then start: the node is away while it acts.
				begin(node, fault.Start, e.T)
				if e.Err == "" {
					end(node, fault.Start, done)
				}
			case e.Err == "":
				// An undo ends what the actions it undoes began.
				end(node, fx.Action, done)
			}
		}
	}
	for k, from := range open {
		out[k.node] = append(out[k.node], interval{from, forever})
	}
	return out
}

// slowWindows returns, per node, when its link was slowed (delay, until
// undelay), extended by tail: replies sent before the undelay still come
// late. A delay that failed opens no window.
func slowWindows(tl *timeline.Timeline, tail time.Duration) map[string][]interval {
	open := map[string]time.Duration{}
	out := map[string][]interval{}
	for _, e := range tl.Events {
		if e.Kind != timeline.KindFault {
			continue
		}
		for _, node := range faultNodes(tl, e) {
			switch fault.Action(e.Name) {
			case fault.Delay:
				if _, ok := open[node]; !ok && e.Err == "" {
					open[node] = e.T
				}
			case fault.Undelay:
				if from, ok := open[node]; ok {
					out[node] = append(out[node], interval{from, e.T + e.Took + tail})
					delete(open, node)
				}
			}
		}
	}
	for node, from := range open {
		out[node] = append(out[node], interval{from, forever})
	}
	return out
}

// roleSpan is a node's role, as polled, from a time on.
type roleSpan struct {
	from time.Duration
	role string
}

// roleHistory returns each node's role events in time order. The poller
// gives up on a node after a short timeout, so a slowed link makes it
// report the node unreachable while the node is alive: those reports are
// left out, and the node keeps the role last seen.
func roleHistory(tl *timeline.Timeline, slow map[string][]interval) map[string][]roleSpan {
	out := map[string][]roleSpan{}
	for _, e := range tl.Events {
		if e.Kind != timeline.KindRole || e.Node == "" {
			continue
		}
		if e.Role == timeline.RoleUnreachable && during(slow[e.Node], e.T) {
			continue
		}
		out[e.Node] = append(out[e.Node], roleSpan{e.T, e.Role})
	}
	return out
}

// during reports whether t falls in one of ivs.
func during(ivs []interval, t time.Duration) bool {
	for _, iv := range ivs {
		if iv.overlaps(t, t) {
			return true
		}
	}
	return false
}

// roleHeld reports whether the node's polled role was want throughout
// [from, to]: the last role seen at from was want and none other came
// until to. A node with no role seen by from is not known to hold it.
func roleHeld(spans []roleSpan, want string, from, to time.Duration) bool {
	held := false
	for _, s := range spans {
		switch {
		case s.from <= from:
			held = s.role == want
		case s.from <= to:
			if s.role != want {
				return false
			}
		}
	}
	return held
}

// namedMaster reports whether a majority of Sentinels named node master
// throughout [from, to].
func namedMaster(mv *masterView, node string, from, to time.Duration) bool {
	at := func(t time.Duration) string {
		if mv.n == 0 {
			return mv.initial // no Sentinel recorded: the initial master
		}
		return mv.at(t)
	}
	if at(from) != node {
		return false
	}
	for _, sw := range mv.switches {
		for _, e := range sw {
			if e.T > from && e.T <= to && at(e.T) != node {
				return false
			}
		}
	}
	return true
}

// falseDowns finds the DOWN marks of servers whose nodes were healthy for
// their port. A mark at t is judged on a window: it is not false if the
// node was faulted during the last check that could have decided it (from
// t minus one check's longest run, inter plus timeout check, and the
// recording lag), or if its role, as polled, was not the port's at any
// time from then to a few poll periods after t (the poller sees a change
// late).
func falseDowns(tl *timeline.Timeline) FalseDown {
	inter := tl.Params.Inter
	if inter <= 0 {
		inter = defaultInter
	}
	poll := tl.Params.RolePoll
	if poll <= 0 {
		poll = defaultRolePoll
	}
	before := inter + tl.Params.TimeoutCheck + eventLag
	after := rolePolls * poll
	roles := roleHistory(tl, slowWindows(tl, before+after))
	if len(roles) == 0 {
		return FalseDown{Reason: "no node roles were recorded"}
	}
	faults := faultWindows(tl)
	mv := newMasterView(tl)
	fd := FalseDown{Checked: true}
	for _, e := range tl.Events {
		if e.Kind != timeline.KindProxy || e.Name != "server-down" || e.Node == "" || strings.HasPrefix(e.State, "MAINT") {
			continue
		}
		var want string
		switch e.Port {
		case timeline.PortMaster:
			want = timeline.RoleMaster
		case timeline.PortReplica:
			want = timeline.RoleReplica
		default:
			continue
		}
		from, to := e.T-before, e.T+after
		faulted := false
		for _, iv := range faults[e.Node] {
			if iv.overlaps(from, e.T) {
				faulted = true
				break
			}
		}
		if faulted || !roleHeld(roles[e.Node], want, from, to) {
			continue
		}
		if e.Port == timeline.PortMaster && !namedMaster(mv, e.Node, from, to) {
			continue
		}
		fd.Marks = append(fd.Marks, DownMark{T: e.T, Port: e.Port, Node: e.Node, State: e.State, Detail: e.Detail})
	}
	fd.Count = len(fd.Marks)
	return fd
}

// Package sentineltest is the scripted run that both drivers of the
// Sentinel core (sim/memory in real time, sim/model in virtual time) replay,
// and the log of decisions they are compared on.
//
// The core is shared, so comparing its decisions is only worth something
// where the drivers differ: how each turns its world into the core's
// inputs (INFO text or a node's state, hello strings or structs, a refused
// connection reported at once or as a later disconnect, replies on a
// connection that was replaced) and each clock. Both drivers start the
// script with Sentinels that know only the master and discover the
// replicas (from INFO) and each other (from hellos) on their own, so every
// phase the core sees comes from the driver; then the master fails.
// Each driver's test writes the decisions it saw, per tick, and compares
// them with one golden file: the two agree when both match it.
package sentineltest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/sentinel"
)

// Script is the scripted run.
type Script struct {
	// Name names the golden log, testdata/<Name>.log in package sentinel.
	Name string
	// Nodes: node 0 is the master, the others replicate it. NodeRunIDs
	// are the nodes' run ids (INFO's run_id), which break the tie between
	// equally good replicas.
	Nodes      int
	NodeRunIDs []string
	// Sentinels, each monitoring the master as "mymaster".
	Sentinels       int
	Quorum          int
	DownAfter       time.Duration
	FailoverTimeout time.Duration
	ParallelSyncs   int
	// Tick: every Sentinel ticks every Tick, Sentinel j at j·Offset past
	// the instant (a multiple of Resolution, so that the first Sentinel to
	// see the master down is the one to ask the others). Between two
	// instants every request is answered: the drivers' round trips are
	// far shorter than Resolution.
	Tick, Offset time.Duration
	// Fault is what happens to node 0 at FaultAt: "kill" (its
	// connections reset, new ones refused) or "pause" (connections
	// accepted, nothing answered until it resumes at UndoAt, when what
	// was asked meanwhile is answered).
	Fault           fault.Action
	FaultAt, UndoAt time.Duration
	// End is the last tick.
	End time.Duration
}

// Scripts are the scripts the drivers' tests replay: a master killed,
// and a master frozen long enough to be replaced, then resumed (and
// converted into a replica).
var Scripts = []Script{
	{Name: "master-kill", Nodes: 3, NodeRunIDs: []string{"c0ffee00", "c0ffee02", "c0ffee01"},
		Sentinels: 3, Quorum: 2, DownAfter: time.Second, FailoverTimeout: 10 * time.Second, ParallelSyncs: 1,
		Tick: 100 * time.Millisecond, Offset: 30 * time.Millisecond, Fault: fault.Kill, FaultAt: 12 * time.Second, End: 20 * time.Second},
	{Name: "master-pause", Nodes: 3, NodeRunIDs: []string{"c0ffee00", "c0ffee01", "c0ffee02"},
		Sentinels: 3, Quorum: 2, DownAfter: time.Second, FailoverTimeout: 10 * time.Second, ParallelSyncs: 1,
		Tick: 100 * time.Millisecond, Offset: 30 * time.Millisecond, Fault: fault.Pause, FaultAt: 12 * time.Second,
		UndoAt: 16 * time.Second, End: 30 * time.Second},
}

// Resolution is the log's time step: a decision is logged at the instant
// of the tick or the fault that led to it.
const Resolution = 10 * time.Millisecond

// Ticks are the instants Sentinel j ticks at.
func (s Script) Ticks(j int) []time.Duration {
	var out []time.Duration
	for t := time.Duration(j) * s.Offset; t <= s.End; t += s.Tick {
		out = append(out, t)
	}
	return out
}

// Config is the master's configuration, at addr.
func (s Script) Config(addr string) sentinel.MasterConfig {
	return sentinel.MasterConfig{Name: "mymaster", Addr: addr, Quorum: s.Quorum, DownAfter: s.DownAfter,
		FailoverTimeout: s.FailoverTimeout, ParallelSyncs: s.ParallelSyncs}
}

// Log is the decisions of a run, per tick and Sentinel.
type Log struct {
	s     Script
	lines []line
	// Node and Sentinel names the driver's addresses and run ids for
	// the log: "n<i>" for node i, "s<j>" for Sentinel j.
	node     func(addr string) int
	sentinel func(runID string) int
}

type line struct {
	tick, sentinel, seq int
	text                string
}

// NewLog starts a log; node and sentinel map the driver's node addresses
// and Sentinel run ids to their indexes (-1 for unknown).
func NewLog(s Script, node func(addr string) int, sentinel func(runID string) int) *Log {
	return &Log{s: s, node: node, sentinel: sentinel}
}

func (l *Log) name(addr string) string {
	if i := l.node(addr); i >= 0 {
		return fmt.Sprintf("n%d", i)
	}
	if i := l.sentinel(addr); i >= 0 {
		return fmt.Sprintf("s%d", i)
	}
	return "?" + addr
}

// Record logs an event Sentinel j published at now. Discovery (+slave,
// +sentinel) is left out: its order within a tick depends on reply
// order, and what it leads to shows in the rest.
func (l *Log) Record(now time.Duration, j int, e sentinel.Event) {
	var b strings.Builder
	b.WriteString(string(e.Type))
	switch e.Type {
	case sentinel.EventSlave, sentinel.EventSentinel:
		return
	case sentinel.EventSwitchMaster:
		fmt.Fprintf(&b, " %s -> %s", l.name(e.From), l.name(e.To))
	case sentinel.EventVoteForLeader:
		fmt.Fprintf(&b, " s%d epoch %d", l.sentinel(e.Leader), e.Epoch)
	case sentinel.EventNewEpoch:
		fmt.Fprintf(&b, " %d", e.Epoch)
	}
	if e.Inst != nil {
		name := l.name(e.Inst.Addr)
		if e.Inst.Is(sentinel.FlagSentinel) {
			name = fmt.Sprintf("s%d", l.sentinel(e.Inst.RunID))
		}
		fmt.Fprintf(&b, " %s %s", e.Inst.Type(), name)
	}
	switch e.Type {
	case sentinel.EventODown:
		fmt.Fprintf(&b, " #quorum %d/%d", e.Count, e.Quorum)
	case sentinel.EventRoleChange, sentinel.EventRoleChangeWrong:
		b.WriteString(" " + e.Detail())
	}
	tick := int((now + Resolution/2) / Resolution)
	l.lines = append(l.lines, line{tick: tick, sentinel: j, seq: len(l.lines), text: b.String()})
}

// String is the log: one line per decision, "t=<tick time> s<j> <what>",
// in tick order, then Sentinel order, then the order seen.
func (l *Log) String() string {
	ls := slices.Clone(l.lines)
	slices.SortStableFunc(ls, func(a, b line) int {
		if a.tick != b.tick {
			return a.tick - b.tick
		}
		return a.sentinel - b.sentinel
	})
	var b strings.Builder
	for _, x := range ls {
		fmt.Fprintf(&b, "t=%v s%d %s\n", time.Duration(x.tick)*Resolution, x.sentinel, x.text)
	}
	return b.String()
}

// Compare compares the log with the script's golden file in dir
// (rewriting it when update is set) and returns what differs, "" when
// nothing does.
func (l *Log) Compare(dir string, update bool) (string, error) {
	path := filepath.Join(dir, l.s.Name+".log")
	got := l.String()
	if update {
		return "", os.WriteFile(path, []byte(got), 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read golden log: %w", err)
	}
	return diff(string(want), got), nil
}

// diff lists the lines of the first difference and around it.
func diff(want, got string) string {
	if want == got {
		return ""
	}
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	i := 0
	for i < len(w) && i < len(g) && w[i] == g[i] {
		i++
	}
	lo := max(0, i-3)
	var b strings.Builder
	fmt.Fprintf(&b, "first difference at line %d\n", i+1)
	for k := lo; k < min(len(w), i+6); k++ {
		fmt.Fprintf(&b, "  want %s\n", w[k])
	}
	for k := lo; k < min(len(g), i+6); k++ {
		fmt.Fprintf(&b, "  got  %s\n", g[k])
	}
	return b.String()
}

// Package fault is the table of fault actions: each action a scenario can
// fire is declared once here, with its undo, the kinds of instance it acts
// on, the backends that can perform it and on which kinds, whether the
// timing model predicts it, and its help text. Scenario validation, the
// engine, the model, the verdicts and the backends read the table; none of
// them names an action by a string of its own.
//
// The table is an explicit list (All); nothing registers itself.
package fault

import (
	"slices"
	"strings"
)

// Action is a fault action as a scenario names it.
type Action string

// The fault actions.
const (
	Stop       Action = "stop"
	Kill       Action = "kill"
	Start      Action = "start"
	Restart    Action = "restart"
	Pause      Action = "pause"
	Unpause    Action = "unpause"
	Disconnect Action = "disconnect"
	Reconnect  Action = "reconnect"
	Delay      Action = "delay"
	Undelay    Action = "undelay"
)

// Kind is a kind of instance a fault acts on.
type Kind string

// The kinds of instance.
const (
	KindNode     Kind = "node"
	KindSentinel Kind = "sentinel"
	KindProxy    Kind = "proxy"
	// KindHost is a named host (a failure domain): an action on it acts
	// on every node and Sentinel placed there at the same instant.
	KindHost Kind = "host"
)

// Backends, as scenarios name them.
const (
	Memory = "memory"
	Docker = "docker"
)

// Backends are the backends the table knows.
var Backends = []string{Memory, Docker}

// Entry is one fault action.
type Entry struct {
	Action Action
	// Undo is the action that brings the instance back; empty when the
	// action is an undo itself or undoes itself (restart).
	Undo Action
	// Targets are the kinds of instance the action can act on at all.
	Targets []Kind
	// Backends are the backends that can perform the action, each with
	// the kinds of instance it can perform it on (a subset of Targets).
	Backends map[string][]Kind
	// Link marks an action on the instance's network link: the engine
	// has it shaped (delay and jitter) rather than done.
	Link bool
	// Params are the scenario fields the action takes besides at, target
	// and as.
	Params []string
	// Model reports whether the timing model predicts a run with this
	// fault on the master (then followed by its undo, or not).
	Model bool
	// Help says what the action does, for help texts.
	Help string
}

var (
	allKinds       = []Kind{KindNode, KindSentinel, KindProxy}
	withHosts      = []Kind{KindNode, KindSentinel, KindProxy, KindHost}
	nodes          = []Kind{KindNode}
	nodesSentinels = []Kind{KindNode, KindSentinel}
	// everywhere is an action both backends perform on every kind they
	// run: the in-memory backend's proxy runs in-process, where it cannot
	// be faulted.
	everywhere = map[string][]Kind{Memory: nodesSentinels, Docker: allKinds}
	// everywhereAndHosts is everywhere, and on hosts: every member of a
	// host at the same instant.
	everywhereAndHosts = map[string][]Kind{Memory: {KindNode, KindSentinel, KindHost}, Docker: withHosts}
)

// all is the table, in the order help texts list it.
var all = []Entry{
	{Action: Stop, Undo: Start, Targets: withHosts, Backends: everywhereAndHosts, Model: true,
		Help: "graceful stop (SIGTERM, Redis saves and exits); start brings it back on the same address"},
	{Action: Kill, Undo: Start, Targets: withHosts, Backends: everywhereAndHosts, Model: true,
		Help: "SIGKILL: connections close at once, unreplicated writes are gone"},
	{Action: Start, Targets: withHosts, Backends: everywhereAndHosts,
		Help: "start a stopped or killed instance on the same address"},
	{Action: Restart, Targets: allKinds, Backends: everywhere, Model: true,
		Help: "stop then start"},
	{Action: Pause, Undo: Unpause, Targets: withHosts, Backends: everywhereAndHosts, Model: true,
		Help: "freeze (docker pause): connections stay open, nothing answers"},
	{Action: Unpause, Targets: withHosts, Backends: everywhereAndHosts,
		Help: "thaw a paused instance"},
	// The memory backend implements disconnect for its nodes only, so
	// not for hosts, which may hold Sentinels.
	{Action: Disconnect, Undo: Reconnect, Targets: withHosts, Backends: map[string][]Kind{Memory: nodes, Docker: withHosts}, Model: true,
		Help: "cut from the other nodes and the Sentinels; clients still reach it"},
	{Action: Reconnect, Targets: withHosts, Backends: map[string][]Kind{Memory: nodes, Docker: withHosts},
		Help: "join a disconnected instance to its network again"},
	// Only Redis nodes are delayed: the docker backend's node containers
	// have tc and CAP_NET_ADMIN; the memory backend delays a node's
	// replies itself.
	{Action: Delay, Undo: Undelay, Targets: nodes, Backends: map[string][]Kind{Memory: nodes, Docker: nodes}, Link: true, Params: []string{"delay", "jitter"},
		Help: "slow link (nodes only): every reply the node sends, to the proxy's checks, clients, Sentinels and replicas, leaves delay plus a random extra uniform in [0, jitter] late, in order per connection (fields delay, jitter)"},
	{Action: Undelay, Targets: nodes, Backends: map[string][]Kind{Memory: nodes, Docker: nodes}, Link: true,
		Help: "remove a delay"},
}

// All returns the table, in the order help texts list it.
func All() []Entry { return slices.Clone(all) }

// Actions returns every action's name, in the table's order.
func Actions() []string {
	out := make([]string, len(all))
	for i, e := range all {
		out[i] = string(e.Action)
	}
	return out
}

// Lookup finds an action's entry.
func Lookup(a Action) (Entry, bool) {
	for _, e := range all {
		if e.Action == a {
			return e, true
		}
	}
	return Entry{}, false
}

// Of is an action's entry; an unknown action has the zero Entry, which
// no backend supports and the model does not predict.
func Of(a Action) Entry {
	e, _ := Lookup(a)
	return e
}

// Accepts reports whether the action can act on an instance of kind.
func (e Entry) Accepts(kind Kind) bool { return slices.Contains(e.Targets, kind) }

// Available reports whether backend can perform the action on an
// instance of kind.
func (e Entry) Available(backend string, kind Kind) bool {
	return slices.Contains(e.Backends[backend], kind)
}

// Takes reports whether the action takes the scenario field param (e.g.
// "delay").
func (e Entry) Takes(param string) bool { return slices.Contains(e.Params, param) }

// KindsText lists kinds for messages: "Redis nodes and Sentinels".
func KindsText(kinds []Kind) string {
	names := map[Kind]string{KindNode: "Redis nodes", KindSentinel: "Sentinels", KindProxy: "the proxy", KindHost: "hosts"}
	var out []string
	for _, k := range kinds {
		out = append(out, names[k])
	}
	switch len(out) {
	case 0:
		return "nothing"
	case 1:
		return out[0]
	}
	return strings.Join(out[:len(out)-1], ", ") + " and " + out[len(out)-1]
}

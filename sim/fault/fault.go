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
	"time"
)

// Action is a fault action as a scenario names it.
type Action string

// The fault actions.
const (
	Stop       Action = "stop"
	Kill       Action = "kill"
	Start      Action = "start"
	Restart    Action = "restart"
	Reschedule Action = "reschedule"
	Pause      Action = "pause"
	Unpause    Action = "unpause"
	Disconnect Action = "disconnect"
	Reconnect  Action = "reconnect"
	Delay      Action = "delay"
	Undelay    Action = "undelay"
	Blackhole  Action = "blackhole"
	Reset      Action = "reset"
	Loss       Action = "loss"
	Bandwidth  Action = "bandwidth"
	Heal       Action = "heal"
	Failover   Action = "failover"
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
	// External is a running deployment the harness does not own
	// (sim/external): it acts on a node through the node's command
	// template for the action, or natively through Redis and Sentinel.
	External = "external"
)

// Backends are the backends the table knows.
var Backends = []string{Memory, Docker, External}

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
	// The external backend acts on its nodes and Sentinels (by their
	// command templates, or natively for a node's pause and unpause).
	everywhere = map[string][]Kind{Memory: nodesSentinels, Docker: allKinds, External: nodesSentinels}
	// everywhereAndHosts is everywhere, and on hosts: every member of a
	// host at the same instant.
	everywhereAndHosts = map[string][]Kind{Memory: {KindNode, KindSentinel, KindHost}, Docker: withHosts, External: nodesSentinels}
	// linkFaults are the user-space link faults: the memory backend
	// applies them on its nodes' own links, the docker backend through
	// the relay in each node and Sentinel container (sim/link).
	linkFaults     = map[string][]Kind{Memory: nodes, Docker: nodesSentinels}
	peersDirection = []string{"peers", "direction"}
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
	// A rescheduled pod: the docker backend moves the container's
	// endpoints to another host number of both /24s while it is stopped;
	// the memory backend listens on another loopback port. The node
	// starts as its first start did (the initial master as a master, a
	// replica with replicaof its first master's first address), as a new
	// pod reads the configuration it was deployed with.
	{Action: Reschedule, Targets: nodes, Backends: map[string][]Kind{Memory: nodes, Docker: nodes},
		Help: "a rescheduled pod: a graceful stop if the node runs, then a start on a new address (docker: another host number on the same networks; memory: another port), with its first configuration (the initial master as a master, a replica replicating its first master's first address) and the restart's data rules (its snapshot with persistence, else empty); the old address stays dead and the harness names the node by both"},
	{Action: Pause, Undo: Unpause, Targets: withHosts, Backends: everywhereAndHosts, Model: true,
		Help: "freeze (docker pause): connections stay open, nothing answers"},
	{Action: Unpause, Targets: withHosts, Backends: everywhereAndHosts,
		Help: "thaw a paused instance"},
	// A disconnect cuts nodes and Sentinels from the cluster network
	// (replication, Sentinel traffic) and leaves them on the clients one;
	// the docker backend cuts its proxy container from the clients
	// network.
	{Action: Disconnect, Undo: Reconnect, Targets: withHosts, Backends: everywhereAndHosts, Model: true,
		Help: "cut a node or Sentinel from the other nodes and Sentinels (replication, pings, hellos, votes); clients, the proxy and the harness still reach it (a proxy container, on docker: cut from its clients and the nodes)"},
	{Action: Reconnect, Targets: withHosts, Backends: everywhereAndHosts,
		Help: "join a disconnected instance to its network again"},
	// The link faults act in user space on both backends: the memory
	// backend on its nodes' own links, the docker backend through the
	// relay in each node and Sentinel container (sim/link), the same
	// rules in both. The timing model runs a blackhole of every peer both
	// ways (as a pause: sim/model's faultOf) but no narrower one, so the
	// entry is not Model.
	{Action: Delay, Undo: Undelay, Targets: nodesSentinels, Backends: linkFaults, Link: true, Params: []string{"delay", "jitter", "peers", "direction"},
		Help: "slow link: every message the target sends (direction out, the default) or hears (in), with the peers (default all: the proxy's checks, clients, Sentinels and replicas), leaves delay plus a random extra uniform in [0, jitter] late, in order per connection (fields delay, jitter, peers, direction)"},
	{Action: Undelay, Targets: nodesSentinels, Backends: linkFaults, Link: true,
		Help: "remove a delay"},
	{Action: Blackhole, Undo: Heal, Targets: nodesSentinels, Backends: linkFaults, Link: true, Params: peersDirection,
		Help: "silent drop: bytes to (in) or from (out) the target are held, connections stay open and hang, new ones are accepted and never answered (fields peers, direction)"},
	{Action: Reset, Undo: Heal, Targets: nodesSentinels, Backends: linkFaults, Link: true, Params: []string{"peers"},
		Help: "connections with the peers are reset (RST) at once and new ones are reset as they open; a reset cuts a connection both ways, so it takes no direction (field peers)"},
	{Action: Loss, Undo: Heal, Targets: nodesSentinels, Backends: linkFaults, Link: true, Params: []string{"loss", "peers", "direction"},
		Help: "a fraction (loss, 0..1) of the connections with the peers hangs in the direction as a blackholed one does, the others pass: TCP retransmits a lost packet, so what an application sees of loss is a connection that stalls, not missing bytes (fields loss, peers, direction)"},
	{Action: Bandwidth, Undo: Heal, Targets: nodesSentinels, Backends: linkFaults, Link: true, Params: []string{"rate", "peers", "direction"},
		Help: "a slow link: what passes in the direction to or from the peers is paced to rate bytes per second, shared by their connections (fields rate, peers, direction)"},
	{Action: Heal, Targets: nodesSentinels, Backends: linkFaults, Link: true,
		Help: "clear every link fault of the target (blackhole, reset, loss, bandwidth and a delay): held bytes flow again"},
	// A failover acts through the Sentinels (rig.Failover; the memory
	// backend's Sentinels take SENTINEL FAILOVER as sentinel.c does), not
	// on the node itself: nodes only, never a host.
	{Action: Failover, Targets: nodes, Backends: map[string][]Kind{Memory: nodes, Docker: nodes, External: nodes}, Model: true,
		Help: "planned switchover: SENTINEL FAILOVER <master-name> on a Sentinel, for the group of the target (a node, usually master); it returns once the Sentinels name another master"},
}

// Link fault parameters: which peers and which direction.
const (
	// PeersClients are clients and the proxy, its checks included.
	PeersClients = "clients"
	// PeersNodes are the other Redis nodes: replication.
	PeersNodes = "nodes"
	// PeersSentinels are the Sentinels.
	PeersSentinels = "sentinels"
	// In is what the target hears, Out what it sends.
	In  = "in"
	Out = "out"
)

// PeerClasses are the peer classes a link fault can name, and Directions
// its directions.
var (
	PeerClasses = []string{PeersClients, PeersNodes, PeersSentinels}
	Directions  = []string{In, Out}
)

// LinkFault is a link action with its parameters, as the engine hands it
// to a backend (rig.LinkFaulter).
type LinkFault struct {
	Action Action
	// Peers are the peer classes it acts on; empty means all.
	Peers []string
	// Direction is In or Out; empty means both.
	Direction string
	// Delay and Jitter are action delay's.
	Delay, Jitter time.Duration
	// Loss is action loss's fraction of connections, in [0, 1].
	Loss float64
	// Rate is action bandwidth's bytes per second.
	Rate float64
}

// Classes are the peer classes the fault acts on: Peers, or all.
func (l LinkFault) Classes() []string {
	if len(l.Peers) == 0 {
		return PeerClasses
	}
	return l.Peers
}

// Dirs are the directions the fault acts on: Direction, or both (a
// delay: out, what the node sends, as it always was).
func (l LinkFault) Dirs() []string {
	if l.Direction == "" && l.Action == Delay {
		return []string{Out}
	}
	if l.Direction == "" {
		return Directions
	}
	return []string{l.Direction}
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

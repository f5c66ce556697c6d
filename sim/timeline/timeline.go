// Package timeline is the record of one run: every operation, fault,
// Sentinel event, proxy event and role change, timed from one monotonic
// base. Runs record first and are judged later (package verdict), so a saved
// timeline can be judged again.
package timeline

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"
)

// Event kinds.
const (
	KindFault    = "fault"    // a fault the engine injected
	KindSentinel = "sentinel" // a Sentinel pub/sub event
	KindProxy    = "proxy"    // a server of the proxy under test changed state
	KindRole     = "role"     // a node's role changed, as polled
	KindNote     = "note"     // the engine's own milestones
)

// Port names for proxy events.
const (
	PortMaster  = "master"
	PortReplica = "replica"
)

// Roles in role events.
const (
	RoleMaster      = "master"
	RoleReplica     = "slave"
	RoleUnreachable = "unreachable"
)

// Event is one thing that happened.
type Event struct {
	T    time.Duration `json:"t"`
	Kind string        `json:"kind"`
	// Source is who reported it: "sentinel2", "proxy", "poller", "engine".
	Source string `json:"source,omitempty"`
	// Name is what happened: "kill", "+sdown", "server-up", "role".
	Name string `json:"name"`
	// Node is the node concerned, resolved from addresses, if any.
	Node string `json:"node,omitempty"`
	// Group is the replication group the event concerns (by its node or
	// its Sentinel master name); "" for the whole cluster (a host fault, a
	// Sentinel's own events) and in runs with one group.
	Group string `json:"group,omitempty"`
	// Target is what a fault acted on (node, sentinel or proxy).
	Target string `json:"target,omitempty"`
	// Port is the proxy port a proxy event is about.
	Port string `json:"port,omitempty"`
	// State is a proxy server's state after the event ("UP", "DOWN 1/2").
	State string `json:"state,omitempty"`
	// Role is a role event's role; Master is the master a replica follows.
	Role   string `json:"role,omitempty"`
	Master string `json:"master,omitempty"`
	// Detail is the raw payload or message.
	Detail string `json:"detail,omitempty"`
	// Err is set when a fault failed.
	Err string `json:"err,omitempty"`
	// Took is how long a fault action took.
	Took time.Duration `json:"took,omitempty"`
}

// Operation results (sim/model/TIMING.md §5).
const (
	ResultOK   = "ok"   // acknowledged
	ResultFail = "fail" // definitely not applied (error reply, refused dial)
	ResultInfo = "info" // indeterminate (timeout, EOF after sending)
)

// Op is one client operation.
type Op struct {
	ID     int           `json:"id"`
	Kind   string        `json:"kind"` // "write" or "read"
	Client int           `json:"client"`
	Key    string        `json:"key"`
	Start  time.Duration `json:"start"`
	End    time.Duration `json:"end"`
	Result string        `json:"result"`
	Err    string        `json:"err,omitempty"`
	// Node is the node that served it, when known.
	Node string `json:"node,omitempty"`
	// Group is the group whose ports the client used; "" in runs with one
	// group.
	Group string `json:"group,omitempty"`
	// Found tells, for a read that succeeded, whether the key existed.
	Found bool `json:"found,omitempty"`
	// Final is a write's presence when read back: "present" or "absent".
	Final string `json:"final,omitempty"`
	// Workload is the workload whose client issued it; "" in runs with
	// one workload.
	Workload string `json:"workload,omitempty"`
	// Late is the answer of a command client that came after the
	// operation's timeout (the operation stays indeterminate).
	Late *Late `json:"late,omitempty"`
}

// Late is an answer that came after its operation's timeout.
type Late struct {
	// At is when it came, on the timeline.
	At time.Duration `json:"at"`
	// Result is ResultOK or ResultFail (an error answer).
	Result string `json:"result"`
	Err    string `json:"err,omitempty"`
}

// Workload is one workload of a run with several.
type Workload struct {
	Name string `json:"name"`
	// Client is its client kind: proxy, go-redis-sentinel,
	// redis-py-sentinel or command.
	Client string `json:"client"`
	// Detail says more: the connection mode, the pool, the command.
	Detail string `json:"detail,omitempty"`
}

// Op kinds.
const (
	OpWrite = "write"
	OpRead  = "read"
)

// Params are the settings the checkers and the report need. WriteRate is
// the writes per second of one group's workload (every writer's rate
// summed): a run with several groups runs that workload in each group.
type Params struct {
	DownAfter       time.Duration `json:"down_after"`
	FailoverTimeout time.Duration `json:"failover_timeout"`
	Quorum          int           `json:"quorum"`
	Sentinels       int           `json:"sentinels"`
	Inter           time.Duration `json:"inter"`
	FastInter       time.Duration `json:"fastinter"`
	DownInter       time.Duration `json:"downinter"`
	Rise            int           `json:"rise"`
	Fall            int           `json:"fall"`
	TimeoutCheck    time.Duration `json:"timeout_check,omitempty"`
	WriteRate       float64       `json:"write_rate"`
	OpTimeout       time.Duration `json:"op_timeout"`
	RolePoll        time.Duration `json:"role_poll"`
}

// ReadBack is the final read of every written key. Timeline.ReadBack of a
// run with several groups sums up its groups' (Group.ReadBack): Settled
// only if every group settled, At the latest, Err every group's error
// prefixed by the group's name and joined by "; ", Master the first
// group's.
type ReadBack struct {
	// Master is the node Sentinel named when the cluster settled.
	Master  string        `json:"master,omitempty"`
	At      time.Duration `json:"at"`
	Settled bool          `json:"settled"`
	// Err says why the writes could not be read back.
	Err string `json:"err,omitempty"`
}

// Timeline is a whole run.
type Timeline struct {
	Scenario string `json:"scenario"`
	Backend  string `json:"backend"`
	// DockerMode is where a docker run's engine ran: "direct" (this
	// process, reaching the containers at their bridge addresses) or
	// "runner" (a runner container on the run's networks); "" on the
	// other backends.
	DockerMode string `json:"docker_mode,omitempty"`
	Proxy      string `json:"proxy"`
	// Start is the wall-clock instant of T=0, for people.
	Start         time.Time     `json:"start"`
	End           time.Duration `json:"end"`
	Params        Params        `json:"params"`
	Nodes         []string      `json:"nodes"`
	InitialMaster string        `json:"initial_master"`
	// Groups are the replication groups of a run with several; runs with
	// one group (and runs saved before groups existed) have none, Nodes
	// and InitialMaster describing their only group.
	Groups []Group `json:"groups,omitempty"`
	// Workloads are the workloads of a run with several (each operation
	// names its own); runs with one have none.
	Workloads []Workload `json:"workloads,omitempty"`
	// Hosts are the failure domains of a run that declares them.
	Hosts    []Host    `json:"hosts,omitempty"`
	Events   []Event   `json:"events"`
	Ops      []Op      `json:"ops"`
	ReadBack *ReadBack `json:"read_back,omitempty"`
	// CheckLoad is the health-check load the proxy put on each node, per
	// backend, over the workload. It is empty when the proxy under test
	// does not count its checks (HAProxy): not measured,
	// which is not zero.
	CheckLoad []CheckLoad `json:"check_load,omitempty"`

	// Settings are every setting of the scenario as run, defaults filled
	// in, keyed as --set takes them ("topology.min_replicas_to_write":
	// "1"), so that runs of one file with different settings are told
	// apart. Runs saved before it have none.
	Settings map[string]string `json:"settings,omitempty"`
}

// Group is one replication group of a run.
type Group struct {
	Name       string   `json:"name"`
	MasterName string   `json:"master_name"`
	Nodes      []string `json:"nodes"`
	// InitialMaster is the group's master when the workload started.
	InitialMaster string `json:"initial_master"`
	// MasterAddr and ReplicaAddr are the proxy ports its clients used.
	MasterAddr  string `json:"master_addr,omitempty"`
	ReplicaAddr string `json:"replica_addr,omitempty"`
	// ReadBack is the final read of the group's writes.
	ReadBack *ReadBack `json:"read_back,omitempty"`
}

// Host is a failure domain of a run and what was placed on it.
type Host struct {
	Name    string   `json:"name"`
	Members []string `json:"members"`
}

// CheckLoad is what the health checks of one proxy backend did to one node
// between two readings of the proxy's counters.
type CheckLoad struct {
	Node string `json:"node"`
	// Port is the backend's port: PortMaster or PortReplica.
	Port string `json:"port"`
	// Checks counts the checks completed (passed or failed).
	Checks uint64 `json:"checks"`
	// BytesOut and BytesIn are the bytes the checks wrote to the node and
	// read from it.
	BytesOut int64 `json:"bytes_out"`
	BytesIn  int64 `json:"bytes_in"`
	// From and To are the timeline times of the two readings; Seconds is
	// the time between them.
	From    time.Duration `json:"from"`
	To      time.Duration `json:"to"`
	Seconds float64       `json:"seconds"`
}

// FirstFault returns the first fault event.
func (tl *Timeline) FirstFault() (Event, bool) {
	for _, e := range tl.Events {
		if e.Kind == KindFault {
			return e, true
		}
	}
	return Event{}, false
}

// Recorder builds a timeline from concurrent observers.
type Recorder struct {
	base time.Time
	mu   sync.Mutex
	tl   Timeline
}

// NewRecorder starts a timeline at base.
func NewRecorder(base time.Time) *Recorder {
	return &Recorder{base: base, tl: Timeline{Start: base}}
}

// Base is T=0.
func (r *Recorder) Base() time.Time { return r.base }

// Since is the timeline time of t.
func (r *Recorder) Since(t time.Time) time.Duration { return t.Sub(r.base) }

// Now is the current timeline time.
func (r *Recorder) Now() time.Duration { return time.Since(r.base) }

// Event records e; a zero T means now.
func (r *Recorder) Event(e Event) {
	if e.T == 0 {
		e.T = r.Now()
	}
	r.mu.Lock()
	r.tl.Events = append(r.tl.Events, e)
	r.mu.Unlock()
}

// Op records an operation and returns its index, for Late.
func (r *Recorder) Op(op Op) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	op.ID = len(r.tl.Ops)
	r.tl.Ops = append(r.tl.Ops, op)
	return op.ID
}

// Late records a late answer to the operation Op returned i for.
func (r *Recorder) Late(i int, l Late) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i >= 0 && i < len(r.tl.Ops) {
		r.tl.Ops[i].Late = &l
	}
}

// Update changes the timeline's header fields under the lock.
func (r *Recorder) Update(f func(*Timeline)) {
	r.mu.Lock()
	f(&r.tl)
	r.mu.Unlock()
}

// Counts returns the number of ok and failed (including indeterminate)
// writes so far, for progress lines.
func (r *Recorder) Counts() (ok, failed int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, op := range r.tl.Ops {
		if op.Kind != OpWrite {
			continue
		}
		if op.Result == ResultOK {
			ok++
		} else {
			failed++
		}
	}
	return ok, failed
}

// Timeline returns a copy, events and operations sorted by time.
func (r *Recorder) Timeline() *Timeline {
	r.mu.Lock()
	tl := r.tl
	tl.Events = append([]Event(nil), r.tl.Events...)
	tl.Ops = append([]Op(nil), r.tl.Ops...)
	r.mu.Unlock()
	tl.Sort()
	return &tl
}

// Sort orders events by time and operations by start (ids renumbered).
func (tl *Timeline) Sort() {
	sort.SliceStable(tl.Events, func(i, j int) bool { return tl.Events[i].T < tl.Events[j].T })
	sort.SliceStable(tl.Ops, func(i, j int) bool { return tl.Ops[i].Start < tl.Ops[j].Start })
	for i := range tl.Ops {
		tl.Ops[i].ID = i
	}
}

// Save writes the timeline as indented JSON.
func (tl *Timeline) Save(path string) error {
	b, err := json.MarshalIndent(tl, "", " ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("save timeline: %w", err)
	}
	return nil
}

// Load reads a saved timeline.
func Load(path string) (*Timeline, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load timeline: %w", err)
	}
	var tl Timeline
	if err := json.Unmarshal(b, &tl); err != nil {
		return nil, fmt.Errorf("load timeline %s: %w", path, err)
	}
	tl.Sort()
	return &tl, nil
}

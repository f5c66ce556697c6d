// Package model predicts a failover's timing in virtual time: a
// discrete-event simulation of the proxy's health checks (driven by the
// proxy's own state machine, proxy/health) and of Sentinel's failure
// detection, election, promotion and reconfiguration (the Sentinel core,
// sim/sentinel, that the memory backend runs too, here in virtual time),
// with the workload's writes going through the proxy. Thousands of trials, each with its own random phases, give the
// distribution of what a run measures: the write interruption, the proxy's
// share of it, the time the proxy takes to mark the dead master DOWN, and
// the two-master window.
//
// The model covers one fault on the initial master (kill, stop, pause,
// disconnect, restart), optionally undone later on the same node, or the
// same fault on a host: every node placed there (in any of several
// replication groups the same Sentinels monitor) at the same instant, and
// optionally the Sentinels placed there; anything else is reported as not
// modelled rather than guessed.
package model

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy/health"
	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/stats"
)

// Fault is the modelled fault on the initial master, or on a host.
type Fault struct {
	// Action is one the fault table says the model predicts
	// (fault.Entry.Model): kill, stop, pause, disconnect or restart; or
	// blackhole of every peer both ways, run as a pause (nothing answers
	// any side, connections are accepted and hang, heal delivers).
	Action fault.Action
	// At is when it happens, from the workload's start.
	At time.Duration
	// Undo is when start, unpause or reconnect brings the node back; zero
	// means never.
	Undo time.Duration
	// Host, when set, is the failure domain the fault acts on: every node
	// and Sentinel placed there, at the same instant. Nil: the first
	// group's initial master alone.
	Host *Host
}

// Host is a failure domain: what is placed on it.
type Host struct {
	// Nodes lists, for each group in order, the nodes on the host, by
	// index in the group (0 is the group's initial master); a missing or
	// empty entry places none of that group's nodes there.
	Nodes [][]int
	// Sentinels lists the Sentinels on the host, by index. A Sentinel on
	// the host dies with it (kill or stop only).
	Sentinels []int
}

// DefaultHost is host i (from 0) of the default placement: node i of
// every one of groups groups on host i, and Sentinel i with them when
// withSentinel. Host 0 holds every group's initial master.
func DefaultHost(groups, i int, withSentinel bool) *Host {
	h := &Host{Nodes: make([][]int, groups)}
	for g := range h.Nodes {
		h.Nodes[g] = []int{i}
	}
	if withSentinel {
		h.Sentinels = []int{i}
	}
	return h
}

// MaxGroups bounds the replication groups the model simulates.
const MaxGroups = 8

// Params are the settings of one modelled run.
type Params struct {
	// Check is the master backend's check interval and thresholds.
	Check health.Params
	// ReadTimeout bounds a check that connected but gets no matching
	// answer: timeout check, else inter.
	ReadTimeout time.Duration
	// ConnectTimeout bounds a check's connect to an address nobody
	// answers: min(timeout connect, inter) with timeout check, else inter.
	ConnectTimeout time.Duration
	// ReplicaCheck is how a replica fares in the master backend's check:
	// "timeout" (expect role:master waits for more data until the
	// timeout), "fail" (a mismatch fails at once), "pass" (the check does
	// not test the role).
	ReplicaCheck string
	// CheckReplies is how many replies a check waits for (one per send
	// rule): a node whose replies are each late by up to some delay takes
	// that many times as long to pass.
	CheckReplies int
	// BacklogGuard: the check expects repl_backlog_active:1, which a
	// master restarted without data fails (by timeout).
	BacklogGuard bool
	// Balance is the master backend's algorithm: roundrobin or first.
	Balance string
	// SentinelAware gates the master port on the master a quorum of
	// Sentinels names, with the one-check fast path.
	SentinelAware bool

	// Groups is how many replication groups the Sentinels monitor, each
	// of Nodes nodes with its own master backend (the same check
	// settings) and its own Writers; 0 means 1.
	Groups int

	Nodes           int
	Sentinels       int
	Quorum          int
	DownAfter       time.Duration
	FailoverTimeout time.Duration
	ParallelSyncs   int
	// Persistence: a stopped node restarts with its data (and a
	// replication backlog).
	Persistence bool

	Fault Fault
	// Duration is the workload's length.
	Duration time.Duration

	// Writers (in each group, through its master port), each WriteRate
	// operations per second, one at a time, a new connection each,
	// bounded by OpTimeout.
	Writers   int
	WriteRate float64
	OpTimeout time.Duration

	// Backend effects. DeadHangs: a dead node's address stops answering
	// (a container's IP goes away) rather than refusing connections, after
	// RefuseWindow in which it refuses them (the process is gone, its
	// network namespace not yet).
	DeadHangs    bool
	RefuseWindow time.Duration
	// KillDelay is from the kill being issued to the process dying.
	KillDelay time.Duration
	// GracefulStop: a stopped node does what Redis 7 does on SIGTERM
	// (TIMING.md §4): under writes it holds them and answers PING until
	// its replicas' next periodic ACK, 0-1.1 s; without, it exits at its
	// next cron tick. Off, it exits at once.
	GracefulStop bool
	// PromoteDelay is from SLAVEOF NO ONE to role:master; SyncDelay from
	// SLAVEOF to a replica's link being up.
	PromoteDelay time.Duration
	SyncDelay    time.Duration
	// RTT is one request/reply on the network (checks, writes).
	RTT time.Duration
}

// ErrNotModelled says the scenario is outside what the model covers.
var ErrNotModelled = errors.New("not modelled")

func (p *Params) validate() error {
	switch {
	case p.Check.Inter <= 0 || p.Check.Rise < 1 || p.Check.Fall < 1:
		return fmt.Errorf("check parameters: inter %v, rise %d, fall %d", p.Check.Inter, p.Check.Rise, p.Check.Fall)
	case p.Nodes > 16:
		return fmt.Errorf("%w: %d nodes (at most 16)", ErrNotModelled, p.Nodes)
	case p.Nodes < 2:
		return fmt.Errorf("%w: %d nodes: a failover needs a replica", ErrNotModelled, p.Nodes)
	case p.Sentinels < 1 || p.Quorum < 1 || p.Quorum > p.Sentinels:
		return fmt.Errorf("sentinels %d with quorum %d", p.Sentinels, p.Quorum)
	case p.DownAfter <= 0:
		return fmt.Errorf("down-after %v", p.DownAfter)
	case p.Groups < 0 || p.Groups > MaxGroups:
		return fmt.Errorf("%w: %d groups (at most %d)", ErrNotModelled, p.Groups, MaxGroups)
	case p.Sentinels > 16:
		return fmt.Errorf("%w: %d sentinels (at most 16)", ErrNotModelled, p.Sentinels)
	case p.WriteRate <= 0 || p.Writers < 1:
		return fmt.Errorf("%w: no writers", ErrNotModelled)
	}
	if w := p.Duration.Seconds() * p.WriteRate * float64(p.Writers*max(1, p.Groups)); w > MaxWrites {
		return fmt.Errorf("%w: %.0f writes per trial (duration times writers times rate times groups); the model simulates each, at most %d", ErrNotModelled, w, MaxWrites)
	}
	if !fault.Of(p.Fault.Action).Model && p.Fault.Action != fault.Blackhole {
		return fmt.Errorf("%w: fault %q on the master", ErrNotModelled, p.Fault.Action)
	}
	if p.Fault.Host != nil {
		return p.validateHost()
	}
	return nil
}

// validateHost checks the faulted host's placement.
func (p *Params) validateHost() error {
	h := p.Fault.Host
	groups := max(1, p.Groups)
	if len(h.Nodes) > groups {
		return fmt.Errorf("host: nodes of %d groups placed, but %d groups", len(h.Nodes), groups)
	}
	masters := 0
	for g, ids := range h.Nodes {
		seen := 0
		for _, i := range ids {
			if i < 0 || i >= p.Nodes {
				return fmt.Errorf("host: group %d node %d: want 0..%d", g+1, i, p.Nodes-1)
			}
			if seen&(1<<i) != 0 {
				return fmt.Errorf("host: group %d node %d placed twice", g+1, i)
			}
			seen |= 1 << i
			if i == 0 {
				masters++
			}
		}
	}
	seen := 0
	for _, i := range h.Sentinels {
		if i < 0 || i >= p.Sentinels {
			return fmt.Errorf("host: sentinel %d: want 0..%d", i, p.Sentinels-1)
		}
		if seen&(1<<i) != 0 {
			return fmt.Errorf("host: sentinel %d placed twice", i)
		}
		seen |= 1 << i
	}
	if masters == 0 {
		return fmt.Errorf("%w: no initial master on the faulted host (nothing fails over)", ErrNotModelled)
	}
	if len(h.Sentinels) > 0 && (p.Fault.Action != fault.Kill && p.Fault.Action != fault.Stop || p.Fault.Undo > 0) {
		// A frozen or cut off Sentinel comes back (in TILT for a paused
		// one) and a restarted one with its state: not modelled.
		return fmt.Errorf("%w: a Sentinel on the host with %s%s (only kill or stop, never undone)", ErrNotModelled, p.Fault.Action, undoNote(p.Fault.Undo))
	}
	return nil
}

func undoNote(undo time.Duration) string {
	if undo > 0 {
		return fmt.Sprintf(" undone at %v", undo)
	}
	return ""
}

// MaxWrites bounds the writes a trial simulates, so that a prediction
// of 2000 trials stays within minutes: the default scenario has 6,000.
const MaxWrites = 200_000

// Trial is what one simulated run measured, times from the fault.
type Trial struct {
	// Interruption runs from the last acknowledged write before the
	// failures to the first after them; Recovered is false when writes
	// never came back before the end.
	Interruption time.Duration
	Interrupted  bool
	Recovered    bool
	// ProxyShare runs from the first +switch-master to the first
	// acknowledged write after the failures (zero when writes came back
	// first).
	ProxyShare time.Duration
	Switched   bool
	// Detection is when the proxy marked the failed master DOWN.
	Detection time.Duration
	Detected  bool
	// TwoMaster is how long acknowledged writes went to a node that a
	// majority of Sentinels did not name (the verdict's
	// two_master_window).
	TwoMaster time.Duration
	// Phases, from the fault: first +sdown, first +odown, the promoted
	// replica answering role:master, first +switch-master, the proxy
	// marking the new master UP.
	SDown, ODown, Promotion, Switch, ProxyUp time.Duration
	// Failovers counts the elected leaders' promotions.
	Failovers int
	// Elections is the record of the group's failover elections.
	Elections Elections
}

// Election is an elected failover leader: the Sentinel (by index), the
// epoch of its failover (the failover_epoch its +try-failover took) and
// when it was elected, from the fault.
type Election struct {
	Sentinel int
	Epoch    uint64
	At       time.Duration
}

// Elections is how a group's failover elections went in one trial. The
// counters run until the group's first elected leader.
type Elections struct {
	// Tries counts +try-failover of the group's master, by any Sentinel.
	Tries int
	// NotElected counts -failover-abort-not-elected.
	NotElected int
	// Split counts vote requests a Sentinel answered with another leader
	// in the epoch asked for (it had voted already in that epoch).
	Split int
	// Refused counts vote requests refused because the voter's
	// current_epoch was already above the epoch asked for (another
	// master's failover had raised it).
	Refused int
	// Stale counts votes granted for an epoch the asking Sentinel had
	// left before they came back (a later failover of another master
	// raised its current_epoch): sentinelGetLeader counts only the votes
	// of the current epoch, so the Sentinel asks again a second later.
	Stale int
	// Retried: a Sentinel tried again after an aborted election, which
	// the Sentinels that voted for the failed leader do only 2 x
	// failover-timeout after their vote.
	Retried bool
	// Leaders are the first elected leaders, in order (a cascading
	// failover adds one); NLeaders counts them all. An array, not a
	// slice: a Trial without pointers keeps the trials out of the
	// garbage collector's scans.
	Leaders  [4]Election
	NLeaders int
	// FirstTry is the first +try-failover, from the fault.
	FirstTry time.Duration
}

// Elected is the leaders kept in Leaders.
func (e *Elections) Elected() []Election { return e.Leaders[:min(e.NLeaders, len(e.Leaders))] }

// Delayed reports whether an election failed or was blocked before the
// group's first leader: a split vote, a vote refused for a lower epoch, a
// stale vote, an aborted election or a retry after one.
func (e *Elections) Delayed() bool {
	return e.NotElected > 0 || e.Split > 0 || e.Refused > 0 || e.Stale > 0 || e.Retried
}

// Dist is a distribution of one measure over the trials that had it.
type Dist struct {
	N                 int
	P5, P50, P95, Max time.Duration
	Min               time.Duration
}

func distOf(xs []time.Duration) Dist {
	if len(xs) == 0 {
		return Dist{}
	}
	s := stats.Sorted(xs)
	q := func(p float64) time.Duration { return stats.QuantileSorted(s, p) }
	return Dist{N: len(s), P5: q(0.05), P50: q(0.50), P95: q(0.95), Max: s[len(s)-1], Min: s[0]}
}

// Within reports whether d lies in the p5-p95 band.
func (d Dist) Within(x time.Duration) bool { return d.N > 0 && x >= d.P5 && x <= d.P95 }

// Prediction is the distribution over many trials.
type Prediction struct {
	Params Params
	Trials int
	// Unrecovered counts trials in which writes did not come back.
	Unrecovered int
	// Interruption is over the recovered trials. These fields are the
	// first group's (the only one unless Params.Groups says more).
	Interruption, ProxyShare, Detection, TwoMaster Dist
	SDown, ODown, Promotion, Switch, ProxyUp       Dist
	// CascadingFailovers counts trials with more than one promotion.
	CascadingFailovers int

	// Groups are each group's distributions, in group order.
	Groups []GroupPrediction
	// Worst is, trial by trial, the worst group: the longest interruption
	// (a group that never recovered makes the trial unrecovered), the
	// last group's first +switch-master, the last group's first leader;
	// its counters count the trials in which any group had the cause.
	Worst GroupPrediction
	// ElectionDelayed counts trials in which some group's failover was
	// delayed by an election that failed or was blocked.
	ElectionDelayed int
}

// GroupPrediction is one group's distributions over the trials.
type GroupPrediction struct {
	// Name is the group's Sentinel master name ("worst" for the worst).
	Name        string
	Unrecovered int
	// Interruption is over the recovered trials; Switch is from the fault
	// to the group's first +switch-master, Elected to its first elected
	// failover leader.
	Interruption, Switch, Elected Dist
	// ElectionDelayed counts the trials whose failover of the group was
	// delayed by an election that failed or was blocked
	// (Elections.Delayed); the other counters count the trials with each
	// cause.
	ElectionDelayed, Split, Refused, Stale, NotElected, Retried int
}

// Predict runs n trials from seed (0 picks one).
func Predict(p Params, n int, seed uint64) (*Prediction, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	if seed == 0 {
		seed = rand.Uint64()
	}
	groups := max(1, p.Groups)
	// Each trial has its own generator, so the result does not depend on
	// how trials are spread over the workers.
	trials := make([]Trial, n*groups)
	var wg sync.WaitGroup
	workers := max(1, min(runtime.GOMAXPROCS(0), n))
	for k := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sc scratch
			for i := k; i < n; i += workers {
				rng := rand.New(rand.NewPCG(seed, uint64(i)))
				simulate(p, rng, &sc, trials[i*groups:(i+1)*groups])
			}
		}()
	}
	wg.Wait()
	var it, share, det, two, sd, od, pr, sw, up []time.Duration
	pred := &Prediction{Params: p, Trials: n}
	for i := range n {
		t := trials[i*groups]
		if t.Interrupted && !t.Recovered {
			pred.Unrecovered++
		} else {
			it = append(it, t.Interruption)
		}
		if t.Switched && t.Recovered {
			share = append(share, t.ProxyShare)
		}
		if t.Detected {
			det = append(det, t.Detection)
		}
		two = append(two, t.TwoMaster)
		if t.Failovers > 1 {
			pred.CascadingFailovers++
		}
		for _, x := range []struct {
			v   time.Duration
			out *[]time.Duration
		}{{t.SDown, &sd}, {t.ODown, &od}, {t.Promotion, &pr}, {t.Switch, &sw}, {t.ProxyUp, &up}} {
			if x.v > 0 {
				*x.out = append(*x.out, x.v)
			}
		}
	}
	pred.Interruption, pred.ProxyShare, pred.Detection, pred.TwoMaster = distOf(it), distOf(share), distOf(det), distOf(two)
	pred.SDown, pred.ODown, pred.Promotion, pred.Switch, pred.ProxyUp = distOf(sd), distOf(od), distOf(pr), distOf(sw), distOf(up)
	pred.groups(trials, n, groups)
	return pred, nil
}

// groups fills the per-group distributions and the worst group's.
func (pred *Prediction) groups(trials []Trial, n, groups int) {
	type acc struct {
		it, sw, el []time.Duration
	}
	accs := make([]acc, groups+1)
	pred.Groups = make([]GroupPrediction, groups)
	for g := range pred.Groups {
		pred.Groups[g].Name = groupName(g, groups)
	}
	pred.Worst.Name = "worst"
	worst := &accs[groups]
	for i := range n {
		var wi, ws, we time.Duration
		unrecovered, switched, elected, delayed := false, true, true, false
		var causes [5]bool
		for g := range groups {
			t := &trials[i*groups+g]
			gp, a := &pred.Groups[g], &accs[g]
			if t.Interrupted && !t.Recovered {
				gp.Unrecovered++
				unrecovered = true
			} else {
				a.it = append(a.it, t.Interruption)
				wi = max(wi, t.Interruption)
			}
			if t.Switch > 0 {
				a.sw = append(a.sw, t.Switch)
				ws = max(ws, t.Switch)
			} else {
				switched = false
			}
			el := &t.Elections
			if el.NLeaders > 0 {
				a.el = append(a.el, el.Leaders[0].At)
				we = max(we, el.Leaders[0].At)
			} else {
				elected = false
			}
			if el.Delayed() {
				gp.ElectionDelayed++
				delayed = true
			}
			for k, c := range []struct {
				yes bool
				n   *int
			}{{el.Split > 0, &gp.Split}, {el.Refused > 0, &gp.Refused}, {el.Stale > 0, &gp.Stale},
				{el.NotElected > 0, &gp.NotElected}, {el.Retried, &gp.Retried}} {
				if c.yes {
					*c.n++
					causes[k] = true
				}
			}
		}
		for k, n := range []*int{&pred.Worst.Split, &pred.Worst.Refused, &pred.Worst.Stale, &pred.Worst.NotElected, &pred.Worst.Retried} {
			if causes[k] {
				*n++
			}
		}
		if unrecovered {
			pred.Worst.Unrecovered++
		} else {
			worst.it = append(worst.it, wi)
		}
		if switched {
			worst.sw = append(worst.sw, ws)
		}
		if elected {
			worst.el = append(worst.el, we)
		}
		if delayed {
			pred.ElectionDelayed++
			pred.Worst.ElectionDelayed++
		}
	}
	for g := range groups + 1 {
		gp := &pred.Worst
		if g < groups {
			gp = &pred.Groups[g]
		}
		a := accs[g]
		gp.Interruption, gp.Switch, gp.Elected = distOf(a.it), distOf(a.sw), distOf(a.el)
	}
}

// CheckLoad is the health checks per second the proxy runs against each
// node in steady state. Every node is in both backends, passing one check
// and failing the other (a master fails the replica backend's, a replica
// the master backend's), so every node takes one passing check per inter
// and one failing check per downinter plus the failure's duration.
func CheckLoad(p Params) float64 {
	rtt := max(p.RTT, time.Millisecond)
	pass := p.Check.Inter + rtt
	down := p.Check.DownInter
	if down == 0 {
		down = p.Check.Inter
	}
	var fail time.Duration
	switch p.ReplicaCheck {
	case "pass":
		fail = p.Check.Inter + rtt
	case "fail":
		fail = down + rtt
	default:
		fail = down + p.ReadTimeout
	}
	return 1/pass.Seconds() + 1/fail.Seconds()
}

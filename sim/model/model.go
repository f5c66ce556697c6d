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
// disconnect, restart), optionally undone later on the same node; anything
// else is reported as not modelled rather than guessed.
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

// Fault is the modelled fault on the initial master.
type Fault struct {
	// Action is one the fault table says the model predicts
	// (fault.Entry.Model): kill, stop, pause, disconnect or restart.
	Action fault.Action
	// At is when it happens, from the workload's start.
	At time.Duration
	// Undo is when start, unpause or reconnect brings the node back; zero
	// means never.
	Undo time.Duration
}

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

	// Writers, each WriteRate operations per second, one at a time, a
	// new connection each, bounded by OpTimeout.
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
	// StopGrace is how long a node keeps answering PING (not writes)
	// after SIGTERM.
	StopGrace time.Duration
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
	case p.WriteRate <= 0 || p.Writers < 1:
		return fmt.Errorf("%w: no writers", ErrNotModelled)
	case p.Duration.Seconds()*p.WriteRate*float64(p.Writers) > MaxWrites:
		return fmt.Errorf("%w: %.0f writes per trial (duration times writers times rate); the model simulates each, at most %d", ErrNotModelled, p.Duration.Seconds()*p.WriteRate*float64(p.Writers), MaxWrites)
	}
	if !fault.Of(p.Fault.Action).Model {
		return fmt.Errorf("%w: fault %q on the master", ErrNotModelled, p.Fault.Action)
	}
	return nil
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
	// Interruption is over the recovered trials.
	Interruption, ProxyShare, Detection, TwoMaster Dist
	SDown, ODown, Promotion, Switch, ProxyUp       Dist
	// CascadingFailovers counts trials with more than one promotion.
	CascadingFailovers int
}

// Predict runs n trials from seed (0 picks one).
func Predict(p Params, n int, seed uint64) (*Prediction, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	if seed == 0 {
		seed = rand.Uint64()
	}
	// Each trial has its own generator, so the result does not depend on
	// how trials are spread over the workers.
	trials := make([]Trial, n)
	var wg sync.WaitGroup
	workers := max(1, min(runtime.GOMAXPROCS(0), n))
	for k := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sc scratch
			for i := k; i < n; i += workers {
				rng := rand.New(rand.NewPCG(seed, uint64(i)))
				trials[i] = simulate(p, rng, &sc)
			}
		}()
	}
	wg.Wait()
	var it, share, det, two, sd, od, pr, sw, up []time.Duration
	pred := &Prediction{Params: p, Trials: n}
	for _, t := range trials {
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
	return pred, nil
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

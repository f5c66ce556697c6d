package model

import (
	"fmt"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/fault"
)

// FailingCheck is how a check of the faulted master fails once the fault
// has taken effect (TIMING.md §1): how long it takes, and whether the
// check timeouts (timeout check, timeout connect) decide that.
type FailingCheck struct {
	// Duration is how long one failing check takes; zero when the checks
	// keep passing (the proxy still reaches the node).
	Duration time.Duration
	// Bound names the setting that bounds it: "timeout check", "timeout
	// connect", "inter", or "" when the check fails at once or passes.
	Bound string
	// TimeoutsMatter reports whether timeout check or timeout connect
	// change Duration.
	TimeoutsMatter bool
	// Why says it in a sentence.
	Why string
}

// FaultedCheck says how the checks of the master the fault acts on fail
// on the backend the parameters describe. A dead node that refuses
// connections (the memory backend) fails each check at once, so the
// timeouts play no part; one whose address hangs (a killed container)
// fails each check when its connect times out: min(inter, timeout connect)
// with timeout check set, inter without; a node that accepts connections
// and never answers (paused, or blackholed on the memory backend) fails
// each check when its replies time out: timeout check, inter without.
func FaultedCheck(p Params) FailingCheck {
	connectBound := "inter"
	if p.ConnectTimeout < p.Check.Inter {
		connectBound = "timeout connect"
	}
	readBound := "inter"
	if p.ReadTimeout != p.Check.Inter {
		readBound = "timeout check"
	}
	switch p.Fault.Action {
	case fault.Kill, fault.Stop, fault.Restart:
		if !p.DeadHangs {
			return FailingCheck{Duration: p.RTT, Why: "a dead node refuses connections on this backend: each check fails at once, " +
				"so timeout check and timeout connect play no part in marking it DOWN (inter, fastinter and fall do)"}
		}
		return FailingCheck{Duration: p.ConnectTimeout, Bound: connectBound, TimeoutsMatter: true,
			Why: fmt.Sprintf("a dead node's address hangs on this backend (after refusing for %v): each check waits for its connect to time out, "+
				"%v here: min(inter, timeout connect) with timeout check set, inter without (timeout check alone does not shorten it)", p.RefuseWindow, p.ConnectTimeout)}
	case fault.Pause, fault.Blackhole:
		what := "a paused node accepts connections and answers nothing"
		if p.Fault.Action == fault.Blackhole {
			what = "a blackholed node accepts connections (on the memory backend) and answers nothing " +
				"(where a blackhole also drops the handshake, the connect waits min(inter, timeout connect) instead)"
		}
		return FailingCheck{Duration: p.ReadTimeout, Bound: readBound, TimeoutsMatter: true,
			Why: fmt.Sprintf("%s: each check waits for its replies to time out, %v here: timeout check, or inter without it", what, p.ReadTimeout)}
	}
	return FailingCheck{Why: fmt.Sprintf("the proxy still reaches the node after %s: its checks pass, so the check timeouts play no part", p.Fault.Action)}
}

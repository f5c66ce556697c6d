package sim

import (
	"context"
	"fmt"

	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/rig"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
)

// checkFaults refuses, before anything starts, a fault the backend cannot
// perform on its target. Scenario validation refuses them for the
// scenario's backend; this catches a run on another backend.
func checkFaults(s *scenario.Scenario, backend string) error {
	for _, f := range s.Faults {
		if !fault.Of(f.Action).Available(backend, f.Kind) {
			return fmt.Errorf("%w: the %s backend cannot %s %s (a %s)", ErrSetup, backend, f.Action, f.Target, f.Kind)
		}
	}
	return nil
}

// doFault performs a fault on its resolved target, and returns what the
// target reports of it (rig.Reporter), for the fault event's detail.
func doFault(ctx context.Context, in rig.Instance, f scenario.Fault) (string, error) {
	if !fault.Of(f.Action).Link {
		if r, ok := in.(rig.Reporter); ok {
			return r.DoReport(ctx, f.Action)
		}
		return "", in.Do(ctx, f.Action)
	}
	return "", doLinkFault(ctx, in, f)
}

// doLinkFault performs a fault on the target's link.
func doLinkFault(ctx context.Context, in rig.Instance, f scenario.Fault) error {
	if lf, ok := in.(rig.LinkFaulter); ok {
		return lf.LinkFault(ctx, linkFaultOf(f))
	}
	ls, ok := in.(rig.LinkShaper)
	if !ok {
		return fmt.Errorf("%s %s: its link cannot be shaped", f.Action, in.Name())
	}
	if f.Action == fault.Undelay {
		return ls.Shape(ctx, 0, 0)
	}
	return ls.Shape(ctx, f.Delay.D, f.Jitter.D)
}

// linkFaultOf is a link fault's action and parameters as a backend takes
// them.
func linkFaultOf(f scenario.Fault) fault.LinkFault {
	lf := fault.LinkFault{Action: f.Action, Peers: f.Peers, Direction: f.Direction, Delay: f.Delay.D, Jitter: f.Jitter.D}
	if f.Loss != nil {
		lf.Loss = *f.Loss
	}
	if f.Rate != nil {
		lf.Rate = *f.Rate
	}
	return lf
}

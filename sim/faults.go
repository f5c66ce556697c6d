package sim

import (
	"context"
	"fmt"

	"github.com/redisha-sim/redisha-sim/sim/rig"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
)

// Fault actions, as do/undo pairs.
var Faults = []struct {
	Do, Undo string
	// What the action does, for help texts.
	Help string
}{
	{"stop", "start", "graceful stop (SIGTERM, Redis saves and exits); start brings it back on the same address"},
	{"kill", "start", "SIGKILL: connections close at once, unreplicated writes are gone"},
	{"restart", "", "stop then start"},
	{"pause", "unpause", "freeze (docker pause): connections stay open, nothing answers"},
	{"disconnect", "reconnect", "cut from the other nodes and the Sentinels; clients still reach it"},
	{"delay", "undelay", "slow link (nodes only): every reply the node sends, to the proxy's checks, clients, Sentinels and replicas, leaves delay plus a random extra uniform in [0, jitter] late, in order per connection (fields delay, jitter)"},
}

// doFault performs a fault on its resolved target.
func doFault(ctx context.Context, in rig.Instance, f scenario.Fault) error {
	switch f.Action {
	case "delay", "undelay":
		ls, ok := in.(rig.LinkShaper)
		if !ok {
			return fmt.Errorf("%s %s: its link cannot be shaped", f.Action, in.Name())
		}
		if f.Action == "undelay" {
			return ls.Shape(ctx, 0, 0)
		}
		return ls.Shape(ctx, f.Delay.D, f.Jitter.D)
	}
	return in.Do(ctx, f.Action)
}

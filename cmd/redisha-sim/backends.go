package main

import (
	"github.com/redisha-sim/redisha-sim/sim/docker"
	"github.com/redisha-sim/redisha-sim/sim/memory"
	"github.com/redisha-sim/redisha-sim/sim/rig"
	"github.com/redisha-sim/redisha-sim/sim/undertest"
)

// backends wires the engine to its backends: the one place that knows
// them all.
var backends = map[string]struct {
	backend func() rig.Backend
	proxy   rig.ProxyStarter
}{
	"memory": {func() rig.Backend { return memory.Backend{} }, undertest.StartInProcessProxy},
	"docker": {func() rig.Backend { return docker.Backend{} }, docker.StartProxy},
}

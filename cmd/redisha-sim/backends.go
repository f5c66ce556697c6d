package main

import (
	"github.com/redisha-sim/redisha-sim/sim"
	"github.com/redisha-sim/redisha-sim/sim/docker"
	"github.com/redisha-sim/redisha-sim/sim/memory"
)

// backends wires the engine to its backends: the one place that knows
// them all.
var backends = map[string]struct {
	backend func() sim.Backend
	proxy   sim.ProxyStarter
}{
	"memory": {func() sim.Backend { return memory.Backend{} }, sim.StartInProcessProxy},
	"docker": {func() sim.Backend { return docker.Backend{} }, docker.StartProxy},
}

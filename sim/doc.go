// Package sim is the scenario engine: it starts a cluster on a backend,
// puts a proxy in front of it, drives a workload through the proxy, injects
// faults, records one timeline and judges it.
//
// The engine sees backends and proxies only through the small interfaces
// of package sim/rig; the backends live in their own packages (sim/memory,
// sim/docker, and sim/external, which attaches to a running deployment)
// and cmd/redisha-sim wires them in. A cluster the run shares with other
// data (rig.KeyPrefixer) gets every key the engine writes under its
// prefix.
package sim

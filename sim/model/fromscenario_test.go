package model

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/fault"
)

func TestFromScenarioTakesGroupsAndTheKilledHostsPlacement(t *testing.T) {
	p := paramsOf(t, "three-sets-host-kill")
	if p.Groups != 3 || p.Nodes != 3 || !reflect.DeepEqual(p.Fault.Host, DefaultHost(3, 0, true)) {
		t.Errorf("three-sets-host-kill: got groups %d nodes %d host %+v, want 3 groups of 3 and %+v", p.Groups, p.Nodes, p.Fault.Host, DefaultHost(3, 0, true))
	}
	p = paramsOf(t, "three-sets-host-kill-sentinels-apart")
	if want := DefaultHost(3, 0, false); !reflect.DeepEqual(p.Fault.Host, want) {
		t.Errorf("sentinels apart: got host %+v, want %+v", p.Fault.Host, want)
	}
	// A group placed whole on h1 by its hosts, the others by the default
	// rule; the host started again later.
	p = paramsOf(t, "three-sets-host-kill-sentinels-apart", "topology.groups=[{hosts: [h1]}, {}, {}]",
		"faults=[{at: 10s, action: kill, target: host:h1}, {at: 20s, action: start, target: host:h1}]")
	if want := (&Host{Nodes: [][]int{{0, 1, 2}, {0}, {0}}}); !reflect.DeepEqual(p.Fault.Host, want) || p.Fault.Undo != 20*time.Second {
		t.Errorf("explicit placement: got host %+v undo %v, want %+v undone at 20s", p.Fault.Host, p.Fault.Undo, want)
	}
	// A host disconnect without a Sentinel on the host: its nodes are cut
	// off (the memory backend disconnects hosts as docker does).
	p = paramsOf(t, "three-sets-host-kill-sentinels-apart",
		"faults=[{at: 10s, action: disconnect, target: host:h1}, {at: 20s, action: reconnect, target: host:h1}]")
	if want := DefaultHost(3, 0, false); !reflect.DeepEqual(p.Fault.Host, want) || p.Fault.Action != fault.Disconnect || p.Fault.Undo != 20*time.Second {
		t.Errorf("host disconnect: got host %+v action %s undo %v, want %+v disconnected, reconnected at 20s", p.Fault.Host, p.Fault.Action, p.Fault.Undo, want)
	}
	// One group, by number: the parameters of the plain scenario.
	if one, plain := paramsOf(t, "master-kill", "topology.groups=1"), paramsOf(t, "master-kill"); !reflect.DeepEqual(one, plain) {
		t.Errorf("topology.groups=1: got %+v, want %+v", one, plain)
	}
}

func TestFromScenarioRefusesWhatTheModelCannotExpressWithTheReason(t *testing.T) {
	for _, c := range []struct {
		what string
		sets []string
		want string
	}{
		{"groups of different sizes", []string{"topology.groups=[{nodes: 3}, {nodes: 5}, {}]"}, "groups of different sizes (group1 has 3 nodes, group2 5)"},
		{"another group's master", []string{"faults=[{at: 10s, action: kill, target: group2.master}]"}, "the first fault acts on group2.master, not the first group's master or a host"},
		{"a host with no initial master", []string{"faults=[{at: 10s, action: kill, target: host:h2}]"}, "no initial master on the faulted host"},
		{"a host's Sentinel paused", []string{"faults=[{at: 10s, action: pause, target: host:h1}]"}, "a Sentinel on the host with pause"},
		{"a host's Sentinel disconnected", []string{"faults=[{at: 10s, action: disconnect, target: host:h1}]"}, "a Sentinel on the host with disconnect"},
		{"a host's Sentinel disconnected and reconnected", []string{"faults=[{at: 10s, action: disconnect, target: host:h1}, {at: 20s, action: reconnect, target: host:h1}]"}, "a Sentinel on the host with disconnect"},
		{"a Sentinel disconnected", []string{"faults=[{at: 10s, action: disconnect, target: sentinel1}]"}, "the first fault acts on sentinel1"},
		{"a one-way blackhole", []string{"faults=[{at: 10s, action: blackhole, target: master, peers: [sentinels], direction: in}, {at: 20s, action: heal, target: master}]"}, "fault blackhole: the model sees a node up, paused or cut off, not a slow, lossy or one-way link"},
		{"a delay", []string{"faults=[{at: 10s, action: delay, delay: 1s, target: master}]"}, "fault delay: the model sees"},
		{"more groups than the model runs", []string{"topology.groups=9", "proxy.config="}, "9 groups (at most 8)"},
	} {
		_, err := FromScenario(load(t, "three-sets-host-kill", c.sets...))
		if !errors.Is(err, ErrNotModelled) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want not modelled: %s", c.what, err, c.want)
		}
	}
}

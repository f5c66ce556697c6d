package sim

import (
	"strings"
	"testing"

	"github.com/redisha-sim/redisha-sim/sim/rig"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

func TestSentinelEventsNameTheirMasterByItsName(t *testing.T) {
	for _, c := range []struct{ channel, payload, want string }{
		{"+switch-master", "group2 127.0.0.1 7001 127.0.0.1 7002", "group2"},
		{"+sdown", "master group3 127.0.0.1 7001", "group3"},
		{"+try-failover", "master group2 127.0.0.1 7001", "group2"},
		{"+slave", "slave 127.0.0.1:7002 127.0.0.1 7002 @ group2 127.0.0.1 7001", "group2"},
		{"+sdown", "sentinel 0123abcd 127.0.0.1 26380 @ group1 127.0.0.1 7000", "group1"},
		{"+new-epoch", "3", ""},
		{"+vote-for-leader", "0123abcd 3", ""},
		{"+tilt", "#tilt mode entered", ""},
		{"+switch-master", "", ""},
		{"+sdown", "master", ""},
		{"+slave", "slave 127.0.0.1:7002 127.0.0.1 7002 @", ""},
	} {
		if got := sentinelEventMaster(c.channel, c.payload); got != c.want {
			t.Errorf("%s %q: got master %q, want %q", c.channel, c.payload, got, c.want)
		}
	}
}

func threeGroupTopology() rig.Topology {
	return rig.Topology{Groups: []rig.Group{
		{Name: "group1", MasterName: "group1", Nodes: []string{"group1.redis1", "group1.redis2"}},
		{Name: "group2", MasterName: "cache", Nodes: []string{"group2.redis1", "group2.redis2"}},
		{Name: "group3", MasterName: "group3", Nodes: []string{"group3.redis1"}},
	}}
}

func TestEventsOfSeveralGroupsAreTaggedByMasterNameOrNode(t *testing.T) {
	groups, err := pairGroups(threeGroupTopology(), []rig.Frontend{{Group: "group3"}, {Group: "group1"}, {Group: "group2"}})
	if err != nil {
		t.Fatal(err)
	}
	tl := &timeline.Timeline{Events: []timeline.Event{
		{Kind: timeline.KindSentinel, Name: "+switch-master", Node: "group2.redis2", Detail: "cache 127.0.0.1 1 127.0.0.1 2"},
		{Kind: timeline.KindSentinel, Name: "+sdown", Detail: "sentinel abc 127.0.0.1 3 @ group3 127.0.0.1 4"},
		{Kind: timeline.KindSentinel, Name: "+new-epoch", Detail: "2"},
		{Kind: timeline.KindRole, Name: "role", Node: "group3.redis1"},
		{Kind: timeline.KindProxy, Name: "server-down", Node: "group1.redis2"},
		{Kind: timeline.KindFault, Name: "kill", Node: "group2.redis1", Target: "group2.redis1"},
		{Kind: timeline.KindFault, Name: "kill", Target: "host:h1"},
		{Kind: timeline.KindNote, Name: "workload-start"},
		{Kind: timeline.KindRole, Name: "role", Node: "group1.redis1", Group: "kept"},
	}}
	newGroupIndex(groups).tagEvents(tl)
	want := []string{"group2", "group3", "", "group3", "group1", "group2", "", "", "kept"}
	for i, e := range tl.Events {
		if e.Group != want[i] {
			t.Errorf("event %d %s %s %q: got group %q, want %q", i, e.Kind, e.Name, e.Detail, e.Group, want[i])
		}
	}
	if groups[0].tag != "group1" || groups[1].fe.Group != "group2" {
		t.Errorf("got groups %+v, %+v: want topology order, tagged", *groups[0], *groups[1])
	}
}

func TestOneGroupRunsTagNothing(t *testing.T) {
	groups, err := pairGroups(rig.Topology{Groups: []rig.Group{{Name: "group1", MasterName: "mymaster", Nodes: []string{"redis1"}}}},
		[]rig.Frontend{{Group: "group1", MasterAddr: "a"}})
	if err != nil {
		t.Fatal(err)
	}
	if groups[0].tag != "" {
		t.Errorf("got tag %q, want none", groups[0].tag)
	}
	tl := &timeline.Timeline{Events: []timeline.Event{
		{Kind: timeline.KindSentinel, Name: "+switch-master", Detail: "mymaster 127.0.0.1 1 127.0.0.1 2"},
		{Kind: timeline.KindRole, Name: "role", Node: "redis1"},
	}}
	newGroupIndex(groups).tagEvents(tl)
	for _, e := range tl.Events {
		if e.Group != "" {
			t.Errorf("event %+v tagged in a one-group run", e)
		}
	}
}

func TestGroupsAndFrontendsMustPairUp(t *testing.T) {
	for _, c := range []struct {
		name string
		fes  []rig.Frontend
		want []string
	}{
		{"a group without frontend", []rig.Frontend{{Group: "group1"}, {Group: "group3"}}, []string{"group group2 has no frontend"}},
		{"a frontend of no group", []rig.Frontend{{Group: "group1"}, {Group: "group2"}, {Group: "group3"}, {Group: "group4"}},
			[]string{`frontend for group "group4", which the topology does not have`}},
		{"two frontends for a group", []rig.Frontend{{Group: "group1"}, {Group: "group1"}}, []string{`two frontends for group "group1"`}},
		{"none", nil, []string{"group group1 has no frontend", "group group2 has no frontend", "group group3 has no frontend"}},
	} {
		_, err := pairGroups(threeGroupTopology(), c.fes)
		if err == nil {
			t.Errorf("%s: got no error", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: got %v, want it to say %q", c.name, err, w)
			}
		}
	}
}

func TestTotalReadBackSettlesOnlyWhenEveryGroupDid(t *testing.T) {
	groups := []*groupRun{
		{Group: rig.Group{Name: "group1"}, rb: &timeline.ReadBack{Master: "group1.redis1", At: 3, Settled: true}},
		{Group: rig.Group{Name: "group2"}, rb: &timeline.ReadBack{At: 9, Err: "no master"}},
		{Group: rig.Group{Name: "group3"}, rb: &timeline.ReadBack{Master: "group3.redis2", At: 5, Settled: true, Err: "read back from group3.redis2: EOF"}},
	}
	got := totalReadBack(groups)
	want := timeline.ReadBack{Master: "group1.redis1", At: 9, Settled: false, Err: "group2: no master; group3: read back from group3.redis2: EOF"}
	if *got != want {
		t.Errorf("got %+v, want %+v", *got, want)
	}
	groups[1].rb = &timeline.ReadBack{Master: "group2.redis3", At: 4, Settled: true}
	groups[2].rb.Err = ""
	if got := totalReadBack(groups); !got.Settled || got.Err != "" || got.At != 5 {
		t.Errorf("got %+v, want settled at 5 without error", *got)
	}
}

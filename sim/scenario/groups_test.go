package scenario

import (
	"reflect"
	"testing"
)

func mustParse(t *testing.T, data string, sets ...string) *Scenario {
	t.Helper()
	s, err := Parse("s.yaml", []byte(data), sets)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestOneGroupKeepsThePlainNamesAndTheSentinelMasterName(t *testing.T) {
	s := mustParse(t, "topology: {nodes: 2}\nsentinel: {master_name: seed}\n")
	want := []Group{{Name: "group1", MasterName: "seed", Nodes: []string{"redis1", "redis2"}}}
	if got := s.ResolvedGroups(); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got := s.ResolvedHosts(); len(got) != 0 {
		t.Errorf("got hosts %+v, want none", got)
	}
	if _, ok := s.Settings()["topology.groups"]; ok {
		t.Errorf("settings of a one-group scenario name topology.groups, want them as before")
	}
}

func TestDefaultPlacementPutsNodeIOfEveryGroupAndSentinelIOnHostI(t *testing.T) {
	s := mustParse(t, "topology: {groups: 3, hosts: [h1, h2, h3]}\n")
	hosts := s.ResolvedHosts()
	want := []string{"group1.redis1", "group2.redis1", "group3.redis1", "sentinel1"}
	if len(hosts) != 3 || hosts[0].Name != "h1" || !reflect.DeepEqual(hosts[0].Members, want) {
		t.Fatalf("got %+v, want h1 holding %v", hosts, want)
	}
	if got := s.ResolvedGroups()[1]; got.MasterName != "group2" || got.Nodes[2] != "group2.redis3" {
		t.Errorf("got group 2 %+v, want master name group2 and nodes group2.redis1..3", got)
	}
	// Two hosts for three nodes: node 3 goes round to h1.
	s = mustParse(t, "topology: {groups: 2, hosts: [a, b]}\nsentinel: {count: 1}\n")
	if got := s.ResolvedHosts()[0].Members; !reflect.DeepEqual(got, []string{"group1.redis1", "group1.redis3", "group2.redis1", "group2.redis3", "sentinel1"}) {
		t.Errorf("got a holding %v", got)
	}
}

func TestExplicitPlacementOfGroupsAndSentinels(t *testing.T) {
	s := mustParse(t, `topology:
  hosts: [h1, h2, s1]
  groups:
    - {name: seed, master_name: mymaster, hosts: [s1]}
    - {name: other, nodes: 2, hosts: [h2, h1]}
sentinel: {hosts: [s1, s1, h2]}
`)
	want := []Host{
		{Name: "h1", Members: []string{"other.redis2"}},
		{Name: "h2", Members: []string{"other.redis1", "sentinel3"}},
		{Name: "s1", Members: []string{"seed.redis1", "seed.redis2", "seed.redis3", "sentinel1", "sentinel2"}},
	}
	if got := s.ResolvedHosts(); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if got := s.HostOf("sentinel3"); got != "h2" {
		t.Errorf("sentinel3 on %q, want h2", got)
	}
}

func TestGroupsAndHostsAreSetByOverridesAndListedInSettings(t *testing.T) {
	s := mustParse(t, "name: x\n", "topology.groups=3", "topology.hosts=[h1, h2, h3]", "faults=[{at: 1s, action: kill, target: host:h1}]")
	if len(s.ResolvedGroups()) != 3 || len(s.ResolvedHosts()) != 3 || s.Faults[0].Kind != "host" {
		t.Fatalf("got groups %+v hosts %+v fault %+v", s.ResolvedGroups(), s.ResolvedHosts(), s.Faults[0])
	}
	set := s.Settings()
	if set["topology.groups"] != "3" || set["topology.hosts[2]"] != "h3" || set["faults[0].target"] != "host:h1" {
		t.Errorf("got settings groups %q hosts[2] %q target %q", set["topology.groups"], set["topology.hosts[2]"], set["faults[0].target"])
	}
	s = mustParse(t, "topology:\n  groups: [{name: a}, {name: b}]\n", "topology.groups[1].nodes=5")
	if got := s.ResolvedGroups()[1].Nodes; len(got) != 5 || got[4] != "b.redis5" {
		t.Errorf("got group b's nodes %v, want b.redis1..5", got)
	}
	if got := s.Settings()["topology.groups[1].name"]; got != "b" {
		t.Errorf("got topology.groups[1].name %q, want b", got)
	}
}

func TestGroupTargetsAndHostTargetsHaveTheirKinds(t *testing.T) {
	s := mustParse(t, `topology: {groups: 2, hosts: [h1, h2]}
faults:
  - {at: 1s, action: kill, target: group2.master, as: old}
  - {at: 2s, action: kill, target: "host:h2", as: gone}
  - {at: 3s, action: start, target: gone}
  - {at: 4s, action: start, target: old}
`)
	for i, want := range []string{"node", "host", "host", "node"} {
		if got := string(s.Faults[i].Kind); got != want {
			t.Errorf("fault %d: got kind %q, want %q", i, got, want)
		}
	}
}

func TestOneGroupOnHostsKeepsItsPlainNames(t *testing.T) {
	s := mustParse(t, "topology: {hosts: [h1, h2]}\nfaults: [{at: 1s, action: kill, target: \"host:h1\"}]\n")
	want := []Host{{Name: "h1", Members: []string{"redis1", "redis3", "sentinel1", "sentinel3"}}, {Name: "h2", Members: []string{"redis2", "sentinel2"}}}
	if got := s.ResolvedHosts(); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got := s.NodeNames(); !reflect.DeepEqual(got, []string{"redis1", "redis2", "redis3"}) {
		t.Errorf("got nodes %v, want redis1..3", got)
	}
}

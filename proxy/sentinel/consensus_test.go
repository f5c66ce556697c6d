package sentinel

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

const (
	m1 = "10.0.0.1:6379"
	m2 = "10.0.0.2:6379"
)

func named(master string, replicas ...Replica) answer {
	return answer{reachable: true, master: master, replicas: replicas, replicasKnown: true}
}

func TestConsensusNeedsAQuorumOfReachableSentinels(t *testing.T) {
	down := answer{}
	cases := []struct {
		name    string
		quorum  int
		answers []answer
		want    View
	}{
		{"all agree", 2, []answer{named(m1), named(m1), named(m1)},
			View{Master: m1, Agreed: true, Reachable: 3, Votes: map[string]int{m1: 3}}},
		{"one unreachable", 2, []answer{named(m1), down, named(m1)},
			View{Master: m1, Agreed: true, Reachable: 2, Votes: map[string]int{m1: 2}}},
		{"majority wins", 2, []answer{named(m1), named(m2), named(m1)},
			View{Master: m1, Agreed: true, Reachable: 3, Votes: map[string]int{m1: 2, m2: 1}}},
		{"below quorum", 2, []answer{named(m1), down, down},
			View{Reachable: 1, Votes: map[string]int{m1: 1}, Reason: "2 of 3 Sentinels unreachable; 10.0.0.1:6379 named by only 1 (quorum 2)"}},
		{"disagree under a quorum of all", 3, []answer{named(m1), named(m2), named(m1)},
			View{Reachable: 3, Votes: map[string]int{m1: 2, m2: 1}, Reason: "Sentinels disagree: 10.0.0.1:6379 by 2, 10.0.0.2:6379 by 1 (quorum 3)"}},
		{"tie under a low quorum", 1, []answer{named(m2), named(m1)},
			View{Reachable: 2, Votes: map[string]int{m1: 1, m2: 1}, Reason: "Sentinels disagree: 10.0.0.1:6379 by 1, 10.0.0.2:6379 by 1 (quorum 1)"}},
		{"name unknown", 2, []answer{named(""), named(m1), down},
			View{Reachable: 2, Votes: map[string]int{m1: 1}, Reason: "1 of 3 Sentinels unreachable; 1 reachable Sentinels do not know master 'mymaster'; 10.0.0.1:6379 named by only 1 (quorum 2)"}},
		{"none reachable", 2, []answer{down, down, down},
			View{Votes: map[string]int{}, Reason: "3 of 3 Sentinels unreachable (quorum 2)"}},
	}
	for _, tc := range cases {
		got := consensus("mymaster", tc.quorum, tc.answers)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\ngot  %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

func TestReplicasAreMergedAcrossTheAgreeingSentinels(t *testing.T) {
	r := func(addr string, down, ok bool) Replica { return Replica{Addr: addr, Down: down, LinkOK: ok} }
	answers := []answer{
		named(m1, r("a:1", false, true), r("b:1", true, false), r("c:1", false, true)),
		named(m1, r("a:1", false, true), r("b:1", false, true), r("c:1", false, false)),
		named(m1, r("a:1", false, true), r("b:1", true, false)),
		// A Sentinel naming another master, or one whose replicas are not
		// known yet, does not count.
		named(m2, r("z:1", false, true)),
		{reachable: true, master: m1},
	}
	got := consensus("mymaster", 3, answers).Replicas
	// c:1: listed by two, down by none, link up for only one of them.
	want := []Replica{r("a:1", false, true), r("b:1", true, false), r("c:1", false, false)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestEventsAreReadForOurMasterOnly(t *testing.T) {
	if got, ok := parseSwitchMaster("mymaster", "mymaster 127.0.0.1 6379 127.0.0.1 6380"); !ok || got != "127.0.0.1:6380" {
		t.Errorf("+switch-master: got %q %v, want 127.0.0.1:6380", got, ok)
	}
	if _, ok := parseSwitchMaster("mymaster", "other 127.0.0.1 6379 127.0.0.1 6380"); ok {
		t.Error("+switch-master of another master accepted")
	}
	if got, _ := parseSwitchMaster("m", "m ::1 6379 ::1 6380"); got != "[::1]:6380" {
		t.Errorf("IPv6: got %q", got)
	}
	for payload, want := range map[string]bool{
		"master mymaster 127.0.0.1 6379 #quorum 2/2":                    true,
		"slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379": true,
		"sentinel 4f1c 127.0.0.1 26379 @ mymaster 127.0.0.1 6379":       true,
		"master other 127.0.0.1 6379":                                   false,
		"slave mymaster 127.0.0.1 6380 @ other 127.0.0.1 6379":          false,
		"5": false, "": false,
	} {
		if got := mentions("mymaster", payload); got != want {
			t.Errorf("%q: got %v, want %v", payload, got, want)
		}
	}
}

func TestReplicaFlagsAndLinkStatus(t *testing.T) {
	got := parseReplicas("127.0.0.1:7000", []map[string]string{
		{"ip": "127.0.0.1", "port": "7000", "flags": "slave", "master-link-status": "ok"},
		{"ip": "127.0.0.1", "port": "7002", "flags": "slave", "master-link-status": "ok"},
		{"ip": "127.0.0.1", "port": "7001", "flags": "slave,s_down,disconnected", "master-link-status": "err"},
		{"ip": "127.0.0.1", "port": "7003", "flags": "slave,disconnected", "master-link-status": "ok"},
	})
	want := []Replica{{Addr: "127.0.0.1:7001", Down: true}, {Addr: "127.0.0.1:7002", LinkOK: true}, {Addr: "127.0.0.1:7003", Down: true, LinkOK: true}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestWatchRejectsInvalidOptions(t *testing.T) {
	for _, o := range []Options{
		{Addrs: []string{"127.0.0.1:1"}},
		{MasterName: "m"},
		{MasterName: "m", Addrs: []string{"127.0.0.1:1"}, Quorum: 2},
		{MasterName: "m", Addrs: []string{"127.0.0.1:1"}, Quorum: -1},
	} {
		err := Watch(context.Background(), o, func(View) { t.Error("view from invalid options") })
		if !errors.Is(err, errOptions) {
			t.Errorf("%+v: got %v, want invalid options", o, err)
		}
	}
}

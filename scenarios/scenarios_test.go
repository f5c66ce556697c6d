package scenarios

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"testing"

	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/model"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
)

// Every scenario of this directory loads and validates, and refers only to
// files that exist here.
func TestEveryScenarioLoads(t *testing.T) {
	files, err := fs.Glob(FS, "*.yaml")
	if err != nil || len(files) < 6 {
		t.Fatalf("found %d scenarios (%v)", len(files), err)
	}
	for _, f := range files {
		s, err := scenario.LoadFS(FS, f, nil)
		if err != nil {
			t.Errorf("%s:\n%v", f, err)
			continue
		}
		if s.Description == "" || len(s.Expectations) == 0 {
			t.Errorf("%s: every scenario says what it shows and what it expects", f)
		}
	}
	if _, err := scenario.LoadFS(FS, Default, nil); err != nil {
		t.Fatalf("the default scenario %s: %v", Default, err)
	}
}

// The seed's three sets: host h1 holds the three groups' initial masters,
// with sentinel1 in one scenario and no Sentinel in the other, and the
// model predicts both.
func TestThreeSetsHostKillPlacesTheMastersOnTheKilledHost(t *testing.T) {
	for file, wantH1 := range map[string][]string{
		"three-sets-host-kill.yaml":                 {"group1.redis1", "group2.redis1", "group3.redis1", "sentinel1"},
		"three-sets-host-kill-sentinels-apart.yaml": {"group1.redis1", "group2.redis1", "group3.redis1"},
	} {
		s, err := scenario.LoadFS(FS, file, nil)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		hosts := s.ResolvedHosts()
		if len(s.ResolvedGroups()) != 3 || len(hosts) == 0 || hosts[0].Name != "h1" || !slices.Equal(hosts[0].Members, wantH1) {
			t.Errorf("%s: got groups %+v hosts %+v, want h1 holding %v", file, s.ResolvedGroups(), hosts, wantH1)
		}
		if len(s.Faults) != 1 || s.Faults[0].Target != "host:h1" || s.Faults[0].Kind != fault.KindHost {
			t.Errorf("%s: got faults %+v, want host:h1 killed", file, s.Faults)
		}
		p, err := model.FromScenario(s)
		if err != nil {
			t.Errorf("%s: model: %v", file, err)
			continue
		}
		if p.Groups != 3 || p.Fault.Host == nil || len(p.Fault.Host.Sentinels) != len(wantH1)-3 {
			t.Errorf("%s: got model groups %d host %+v", file, p.Groups, p.Fault.Host)
		}
	}
}

// The seed's three sets behind the user's one HAProxy (backend external):
// each group its port pair, 5000 to 5005, and its backends of the one
// stats CSV; the kill is set2's master's.
func TestExternalThreeSetsGoThroughTheirPortsOfOneHAProxy(t *testing.T) {
	s, err := scenario.LoadFS(FS, "external-three-sets.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	ups := s.UserProxy()
	if len(ups) != 3 {
		t.Fatalf("the user's proxy: got %+v, want three groups' ports", ups)
	}
	for i, up := range ups {
		want := scenario.UserProxyGroup{Group: fmt.Sprintf("set%d", i+1),
			Master: fmt.Sprintf("haproxy.staging:%d", 5000+2*i), Replica: fmt.Sprintf("haproxy.staging:%d", 5001+2*i),
			MasterBackend: fmt.Sprintf("back_redis_master%d", i+1), ReplicaBackend: fmt.Sprintf("back_redis_slave%d", i+1),
			Field: fmt.Sprintf("topology.groups[%d]", i)}
		if up != want {
			t.Errorf("group %d: got %+v, want %+v", i+1, up, want)
		}
	}
	if s.External.Proxy.StatsCSV == "" {
		t.Error("stats_csv: got none, want HAProxy's, for every group")
	}
	if len(s.Faults) != 2 || s.Faults[0].Target != "set2.master" {
		t.Errorf("faults: got %+v, want set2's master killed and started", s.Faults)
	}
}

// The link-fault scenarios (issue 19): a master blackholed both ways to
// everyone, one that stops hearing the Sentinels only, one reset; all
// healed, on either backend; the model runs the first (as a pause), not the
// others.
func TestLinkFaultScenariosFaultTheMastersLinksAndHealThem(t *testing.T) {
	for file, want := range map[string]scenario.Fault{
		"master-blackhole.yaml":        {Action: fault.Blackhole, Target: "master"},
		"master-oneway-sentinels.yaml": {Action: fault.Blackhole, Target: "master", Peers: []string{fault.PeersSentinels}, Direction: fault.In},
		"master-reset.yaml":            {Action: fault.Reset, Target: "master"},
	} {
		s, err := scenario.LoadFS(FS, file, nil)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if len(s.Faults) != 2 {
			t.Fatalf("%s: got %d faults, want a link fault and its heal", file, len(s.Faults))
		}
		f, heal := s.Faults[0], s.Faults[1]
		if f.Action != want.Action || f.Target != want.Target || !slices.Equal(f.Peers, want.Peers) || f.Direction != want.Direction || heal.Action != fault.Heal || heal.Target != f.As {
			t.Errorf("%s: got %+v then %+v, want %+v then heal of it", file, f, heal, want)
		}
		if _, err := scenario.LoadFS(FS, file, []string{"backend=docker"}); err != nil {
			t.Errorf("%s on the docker backend: %v, want it loaded (the relays fault the links)", file, err)
		}
		p, err := model.FromScenario(s)
		if file == "master-blackhole.yaml" {
			// Blackholed both ways to every peer, the master is frozen to
			// every side: the model runs it as a pause.
			if err != nil || p.Fault.Action != fault.Blackhole || p.Fault.Undo != heal.At.D {
				t.Errorf("%s: model: got %+v, %v; want the blackhole healed at %v", file, p.Fault, err, heal.At.D)
			}
			continue
		}
		if !errors.Is(err, model.ErrNotModelled) {
			t.Errorf("%s: model: got %v, want not modelled", file, err)
		}
	}
}

// The client scenarios (issue 18): the four built-in clients side by
// side through a master kill and through a master stop/start, with
// expectations on single workloads.
func TestClientScenariosRunTheFourBuiltInClientsSideBySide(t *testing.T) {
	for file, faults := range map[string][]fault.Action{
		"clients-master-kill.yaml": {fault.Kill},
		"clients-stop-start.yaml":  {fault.Stop, fault.Start},
	} {
		s, err := scenario.LoadFS(FS, file, nil)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		var clients []string
		for _, w := range s.Workloads() {
			clients = append(clients, w.Client)
		}
		want := []string{scenario.ClientProxy, scenario.ClientProxy, scenario.ClientGoRedisSentinel, scenario.ClientRedisPySentinel}
		if !slices.Equal(clients, want) || s.Workloads()[1].Pool == 0 || !s.PerOpProxyWriters() {
			t.Errorf("%s: got clients %q, want %q, the first per-op through the proxy, the second pooled", file, clients, want)
		}
		var got []fault.Action
		for _, f := range s.Faults {
			got = append(got, f.Action)
		}
		if !slices.Equal(got, faults) || s.Faults[0].Target != "master" {
			t.Errorf("%s: got faults %+v, want %v of the master", file, s.Faults, faults)
		}
	}
	s, err := scenario.LoadFS(FS, "clients-stop-start.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Topology.Persistence || s.Faults[1].Target != s.Faults[0].As {
		t.Errorf("got persistence %v and faults %+v, want the stopped master started again from its snapshot", s.Topology.Persistence, s.Faults)
	}
	perWorkload := 0
	for _, e := range s.Expectations {
		if e.Workload != "" {
			perWorkload++
			if e.Group != "" || !slices.ContainsFunc(s.Workloads(), func(w scenario.Spec) bool { return w.Name == e.Workload }) {
				t.Errorf("%s: got workload %q group %q, want one of the scenario's workloads", e.Raw, e.Workload, e.Group)
			}
		}
	}
	if perWorkload == 0 {
		t.Error("clients-stop-start: no expectation on a single workload")
	}
}

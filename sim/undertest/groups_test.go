package undertest_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redisha-sim/redisha-sim/scenarios"
	"github.com/redisha-sim/redisha-sim/sim/rig"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/undertest"
)

const threeSets = "haproxy-seed-three-sets.cfg"

// placeholders are the scenario's nodes at loopback addresses 7000 on.
func placeholders(s *scenario.Scenario) []undertest.NodeAddr {
	var out []undertest.NodeAddr
	for i, n := range s.NodeNames() {
		out = append(out, undertest.NodeAddr{Name: n, Addr: fmt.Sprintf("127.0.0.1:%d", 7000+i)})
	}
	return out
}

// withConfig loads a scenario whose proxy.config is cfg (written beside it)
// and gives it groups.
func withConfig(t *testing.T, cfg string, groups scenario.Groups) (*scenario.Scenario, string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "proxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	yaml := "name: groups\ntopology: {nodes: 3, password: password1234}\nproxy:\n  config: proxy.cfg\n"
	if err := os.WriteFile(filepath.Join(dir, "s.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := scenario.Load(filepath.Join(dir, "s.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Topology.Groups = groups
	return s, path
}

func threeSetsText(t *testing.T) string {
	t.Helper()
	b, err := scenarios.FS.ReadFile(threeSets)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// lineOf is the line of text that starts with prefix (after blanks).
func lineOf(t *testing.T, text, prefix string) int {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), prefix) {
			return i + 1
		}
	}
	t.Fatalf("no line %q", prefix)
	return 0
}

func TestThreeSetsConfigGivesTheIthPairToTheIthGroup(t *testing.T) {
	s, _ := withConfig(t, threeSetsText(t), scenario.Groups{Count: 3})
	l, err := undertest.BuildProxyConfig(s, placeholders(s), nil, undertest.Placement{FixedPorts: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range l.Groups {
		got = append(got, fmt.Sprintf("%s %s>%s %s>%s", g.Group, g.MasterFrontend, g.MasterBackend, g.ReplicaFrontend, g.ReplicaBackend))
	}
	want := []string{
		"group1 front_redis_master1>back_redis_master1 front_redis_slave1>back_redis_slave1",
		"group2 front_redis_master2>back_redis_master2 front_redis_slave2>back_redis_slave2",
		"group3 front_redis_master3>back_redis_master3 front_redis_slave3>back_redis_slave3",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("groups:\ngot  %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	// Each backend's servers point at its group's nodes, in order.
	for g := 1; g <= 3; g++ {
		for _, b := range []string{"back_redis_master", "back_redis_slave"} {
			be := l.Config.Backend(fmt.Sprintf("%s%d", b, g))
			for i, sv := range be.Servers {
				node := fmt.Sprintf("group%d.redis%d", g, i+1)
				addr := fmt.Sprintf("127.0.0.1:%d", 7000+3*(g-1)+i)
				if sv.Addr != addr || l.ServerNode[be.Name+"/"+sv.Name] != node {
					t.Errorf("%s/%s: got %s (node %s), want %s (node %s)", be.Name, sv.Name, sv.Addr, l.ServerNode[be.Name+"/"+sv.Name], addr, node)
				}
			}
		}
	}
	// In a container, every frontend keeps the file's port.
	ports := map[string]string{}
	for _, f := range l.Config.Frontends {
		ports[f.Name] = f.Binds[0].Addr
	}
	wantPorts := map[string]string{
		"front_redis_master1": ":5000", "front_redis_slave1": ":5001", "front_redis_master2": ":5002",
		"front_redis_slave2": ":5003", "front_redis_master3": ":5004", "front_redis_slave3": ":5005", "stats": ":9000",
	}
	if fmt.Sprint(ports) != fmt.Sprint(wantPorts) {
		t.Errorf("binds: got %v, want %v", ports, wantPorts)
	}
	if got := l.Port("back_redis_slave3"); got != "replica" {
		t.Errorf("port of back_redis_slave3: got %q, want replica", got)
	}
	// Check counters of every group's servers, on their nodes.
	checks := l.ServerChecks(map[string]rig.CheckCounts{
		"back_redis_master2/redis1": {Checks: 1}, "back_redis_slave3/redis3": {Checks: 2}, "stats/x": {Checks: 3},
	})
	if got, want := fmt.Sprint(checks), "[{group2.redis1 master {1 0 0}} {group3.redis3 replica {2 0 0}}]"; got != want {
		t.Errorf("server checks: got %s, want %s", got, want)
	}
}

func TestGroupsTakeTheBackendsTheyName(t *testing.T) {
	s, _ := withConfig(t, threeSetsText(t), scenario.Groups{List: []scenario.GroupSpec{
		{MasterBackend: "back_redis_master3", ReplicaBackend: "back_redis_slave3"},
		{},
		{MasterBackend: "back_redis_master1"},
	}})
	l, err := undertest.BuildProxyConfig(s, placeholders(s), nil, undertest.InProcess)
	if err != nil {
		t.Fatal(err)
	}
	// Unnamed backends go, in file order, to the groups that named none.
	want := [][2]string{{"back_redis_master3", "back_redis_slave3"}, {"back_redis_master2", "back_redis_slave1"}, {"back_redis_master1", "back_redis_slave2"}}
	for i, g := range l.Groups {
		if got := [2]string{g.MasterBackend, g.ReplicaBackend}; got != want[i] {
			t.Errorf("%s: got %v, want %v", g.Group, got, want[i])
		}
	}
	if got := l.ServerNode["back_redis_master3/redis2"]; got != "group1.redis2" {
		t.Errorf("back_redis_master3/redis2 points at %q, want group1.redis2", got)
	}
}

func TestBuiltProxyHasAPairOfPortsPerGroup(t *testing.T) {
	s := load(t, "master-kill", "proxy.config=")
	one, err := undertest.BuildProxyConfig(s, placeholders(s), nil, undertest.InProcess)
	if err != nil {
		t.Fatal(err)
	}
	if g := one.Groups; len(g) != 1 || g[0] != (undertest.GroupLayout{Group: "group1", MasterFrontend: "front_master", MasterBackend: "back_master",
		ReplicaFrontend: "front_replica", ReplicaBackend: "back_replica"}) {
		t.Errorf("one group: got %+v, want the plain names of a single pair", g)
	}
	s.Topology.Groups = scenario.Groups{Count: 3}
	l, err := undertest.BuildProxyConfig(s, placeholders(s), nil, undertest.Placement{FixedPorts: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Groups) != 3 || l.Groups[2] != (undertest.GroupLayout{Group: "group3", MasterFrontend: "front_master_group3", MasterBackend: "back_master_group3",
		ReplicaFrontend: "front_replica_group3", ReplicaBackend: "back_replica_group3"}) {
		t.Errorf("three groups: got %+v", l.Groups)
	}
	var binds []string
	for _, f := range l.Config.Frontends {
		binds = append(binds, f.Binds[0].Addr)
	}
	if got, want := strings.Join(binds, " "), ":5000 :5001 :5002 :5003 :5004 :5005"; got != want {
		t.Errorf("binds: got %s, want %s", got, want)
	}
	if sv := l.Config.Backend("back_replica_group2").Servers; len(sv) != 3 || sv[0].Name != "group2.redis1" || l.ServerNode["back_replica_group2/group2.redis1"] != "group2.redis1" {
		t.Errorf("back_replica_group2 servers: got %+v, want group2's nodes", sv)
	}
}

func TestConfigsWhosePairsDoNotFitTheGroupsAreRejectedWithFileLineAndBackend(t *testing.T) {
	text := threeSetsText(t)
	noFrontend := strings.Replace(text, "default_backend back_redis_master2", "default_backend back_redis_master1", 1)
	for _, c := range []struct {
		name   string
		cfg    string
		groups scenario.Groups
		field  string
		want   []string // each "line|backend|text"
	}{
		{"more master backends than groups", text, scenario.Groups{Count: 2}, "proxy.config", []string{
			"backend back_redis_master3|back_redis_master3|no group for this master backend: the configuration has 3 backend(s) whose check expects role:master (back_redis_master1, back_redis_master2, back_redis_master3) for 2 group(s)",
			"backend back_redis_slave3|back_redis_slave3|no group for this replica backend",
		}},
		{"fewer master backends than groups", text, scenario.Groups{Count: 4}, "proxy.config", []string{
			"||no master backend for group4: the configuration has 3 backend(s) whose check expects role:master",
		}},
		{"a named backend that does not exist", text, scenario.Groups{List: []scenario.GroupSpec{{}, {MasterBackend: "back_nope"}, {}}},
			"topology.groups[1].master_backend", []string{
				"||backend 'back_nope': no such backend for group2's master_backend; the configuration's backends: back_redis_master1,",
			}},
		{"one backend for two groups", text, scenario.Groups{List: []scenario.GroupSpec{{MasterBackend: "back_redis_master1"}, {MasterBackend: "back_redis_master1"}, {}}},
			"topology.groups[1].master_backend", []string{
				"backend back_redis_master1|back_redis_master1|used by group1 and by group2: each group needs its own backends",
			}},
		{"a backend without a frontend", noFrontend, scenario.Groups{Count: 3}, "proxy.config", []string{
			"backend back_redis_master2|back_redis_master2|no frontend routes to this master backend of group2: add a frontend with default_backend back_redis_master2",
		}},
		{"two groups on one port", text, scenario.Groups{Count: 3}, "proxy.config", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, path := withConfig(t, c.cfg, c.groups)
			_, err := undertest.BuildProxyConfig(s, placeholders(s), nil, undertest.InProcess)
			var perrs undertest.PairErrors
			if c.want == nil {
				// The first group's master port set to the second's: in
				// process the others bind free ports, in a container the
				// file's, which clash.
				s.Proxy.MasterPort = 5002
				if _, err := undertest.BuildProxyConfig(s, placeholders(s), nil, undertest.InProcess); err != nil {
					t.Fatalf("in-process: got %v, want no error", err)
				}
				_, err = undertest.BuildProxyConfig(s, placeholders(s), nil, undertest.Placement{FixedPorts: true})
				want := fmt.Sprintf("%s:%d: frontend 'front_redis_master2': binds port 5002, as frontend front_redis_master1 does", path, lineOf(t, c.cfg, "frontend front_redis_master2"))
				if !errors.As(err, &perrs) || len(perrs) != 1 || !strings.HasPrefix(perrs[0].Error(), want) {
					t.Errorf("got %v, want %s", err, want)
				}
				return
			}
			if !errors.As(err, &perrs) || len(perrs) != len(c.want) {
				t.Fatalf("got %v, want %d pair error(s)", err, len(c.want))
			}
			for i, w := range c.want {
				parts := strings.SplitN(w, "|", 3)
				prefix := path + ": "
				if parts[0] != "" {
					prefix = fmt.Sprintf("%s:%d: backend '%s': ", path, lineOf(t, c.cfg, parts[0]), parts[1])
				}
				if got := perrs[i].Error(); !strings.HasPrefix(got, prefix+parts[2]) {
					t.Errorf("error %d:\ngot  %s\nwant %s...", i, got, prefix+parts[2])
				}
			}
			// Preflight places them at the scenario's field, as bad input.
			err = undertest.Preflight(s)
			var serrs scenario.Errors
			if !errors.As(err, &serrs) || len(serrs) != len(c.want) || serrs[0].Field != c.field || !strings.Contains(serrs[0].Msg, perrs[0].Error()) {
				t.Errorf("preflight: got %v, want %d error(s) at %s saying %s", err, len(c.want), c.field, perrs[0])
			}
		})
	}
}

// The seed's single pair still fits one group exactly as before, and a
// second master backend in the file is now refused rather than ignored.
func TestOneGroupTakesTheFirstPairAndRefusesASecond(t *testing.T) {
	l, err := undertest.BuildProxyConfig(load(t, "master-kill"), placeholders(load(t, "master-kill")), nil, undertest.InProcess)
	if err != nil {
		t.Fatal(err)
	}
	if g := l.Groups; len(g) != 1 || g[0].MasterBackend != "back_redis_master1" || g[0].ReplicaFrontend != "front_redis_slave1" {
		t.Errorf("got %+v, want the seed's pair for group1", g)
	}
	s, path := withConfig(t, threeSetsText(t), scenario.Groups{})
	_, err = undertest.BuildProxyConfig(s, placeholders(s), nil, undertest.InProcess)
	var perrs undertest.PairErrors
	if !errors.As(err, &perrs) || len(perrs) != 4 || !strings.HasPrefix(perrs[0].Error(), path+":") {
		t.Errorf("three pairs for one group: got %v, want 4 errors in %s", err, path)
	}
	// A config without a role check still needs its master backend named.
	s, path = withConfig(t, "frontend f\n  mode tcp\n  bind :6000\n  default_backend b\nbackend b\n  mode tcp\n  server r1 127.0.0.1:1 check\n", scenario.Groups{})
	_, err = undertest.BuildProxyConfig(s, placeholders(s), nil, undertest.InProcess)
	if want := path + ": no master backend: name it with proxy.master_backend"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %v, want %s...", err, want)
	}
}

// A Sentinel-aware proxy authenticates to the Sentinels with
// sentinel.password.
func TestSentinelAwareProxyTakesTheSentinelPassword(t *testing.T) {
	s := load(t, "master-kill", "proxy.sentinel_aware=true", "sentinel.password=s3cret!")
	l, err := undertest.BuildProxyConfig(s, placeholders(s), []string{"127.0.0.1:26379"}, undertest.InProcess)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{l.Groups[0].MasterBackend, l.Groups[0].ReplicaBackend} {
		b := l.Config.Backend(name)
		if b == nil || b.Sentinel == nil || b.Sentinel.Password != "s3cret!" {
			t.Errorf("backend %s: Sentinel settings %+v, want the password s3cret!", name, b)
		}
	}
}

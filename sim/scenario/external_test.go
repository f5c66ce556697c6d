package scenario

import (
	"path/filepath"
	"slices"
	"testing"
)

func TestExternalScenarioNamesItsNodesAndSentinels(t *testing.T) {
	s, err := Load(filepath.Join("testdata", "external", "valid.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.NodeNames(), []string{"redis1", "redis2"}; !slices.Equal(got, want) {
		t.Errorf("node names: got %v, want %v", got, want)
	}
	if s.Sentinel.Count != 2 || s.Sentinel.MasterName != "mymaster" {
		t.Errorf("sentinel: got count %d master name %q, want 2 and mymaster", s.Sentinel.Count, s.Sentinel.MasterName)
	}
	if p := s.External.Proxy; p.Master != "haproxy.staging:5000" || p.Replica != "haproxy.staging:5001" {
		t.Errorf("proxy: got %+v, want haproxy.staging:5000 and :5001", p)
	}
	if s.External.CommandTimeout.D != DefaultCommandTimeout {
		t.Errorf("command timeout: got %v, want %v", s.External.CommandTimeout.D, DefaultCommandTimeout)
	}
}

func TestExternalSentinelsMayCarryFaultCommandsAndTheProxyAStatsURL(t *testing.T) {
	s, err := Load(filepath.Join("testdata", "external", "valid-more.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.External.SentinelAddrs(), []string{"127.0.0.1:26379", "127.0.0.1:26380"}; !slices.Equal(got, want) {
		t.Errorf("sentinels: got %v, want %v", got, want)
	}
	if got := s.External.Sentinels[1].Faults["pause"]; got != "kill -STOP {pid}" {
		t.Errorf("sentinel2's pause: got %q, want kill -STOP {pid}", got)
	}
	if s.Faults[0].Kind != "sentinel" || s.Faults[2].Target != "frozen" {
		t.Errorf("faults: got %+v, want a pause of a Sentinel", s.Faults)
	}
	if p := s.External.Proxy; p.StatsCSV != "http://admin:secret@haproxy.staging:9000/haproxy_stats;csv" || p.MasterBackend != "back_redis_master1" {
		t.Errorf("proxy stats: got %q backend %q, want the URL and back_redis_master1", p.StatsCSV, p.MasterBackend)
	}
	if !s.External.AllowDegraded {
		t.Error("allow_degraded: got false, want true")
	}
}

func TestExternalGroupsTakeTheirNodesFromExternalNodes(t *testing.T) {
	s, err := Load(filepath.Join("testdata", "external", "valid-groups.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	groups := s.ResolvedGroups()
	if len(groups) != 2 {
		t.Fatalf("groups: got %+v, want cache and sessions", groups)
	}
	if g := groups[0]; g.Name != "cache" || g.MasterName != "cache-master" || !slices.Equal(g.Nodes, []string{"redis1", "redis2"}) {
		t.Errorf("group 1: got %+v, want cache (cache-master) with redis1, redis2", g)
	}
	if g := groups[1]; g.Name != "sessions" || g.MasterName != "sessions-master" || !slices.Equal(g.Nodes, []string{"redis3", "redis4", "redis5"}) {
		t.Errorf("group 2: got %+v, want sessions (sessions-master) with redis3..5", g)
	}
	if g, ok := s.ExternalGroupOf("redis4"); !ok || g.Name != "sessions" {
		t.Errorf("redis4's group: got %q (%v), want sessions", g.Name, ok)
	}
}

func TestExternalGroupsEachNameTheirPortsOfTheUsersProxy(t *testing.T) {
	s, err := Load(filepath.Join("testdata", "external", "valid-groups-proxy.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []UserProxyGroup{
		{Group: "cache", Master: "haproxy.staging:5000", Replica: "haproxy.staging:5001", Field: "topology.groups[0]"},
		{Group: "sessions", Master: "haproxy.staging:5002", Replica: "haproxy.staging:5003",
			MasterBackend: "back_redis_master2", ReplicaBackend: "back_redis_slave2", Field: "topology.groups[1]"},
	}
	if got := s.UserProxy(); !slices.Equal(got, want) {
		t.Errorf("user proxy:\ngot  %+v\nwant %+v", got, want)
	}
	if s.External.Proxy.StatsCSV == "" {
		t.Error("stats_csv: got none, want the one URL for both groups")
	}
}

func TestOneGroupsUserProxyIsExternalProxy(t *testing.T) {
	s, err := Load(filepath.Join("testdata", "external", "valid-more.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []UserProxyGroup{{Group: "group1", Master: "haproxy.staging:5000", Replica: "haproxy.staging:5001", MasterBackend: "back_redis_master1", Field: "external.proxy"}}
	if got := s.UserProxy(); !slices.Equal(got, want) {
		t.Errorf("user proxy:\ngot  %+v\nwant %+v", got, want)
	}
	s, err = Load(filepath.Join("testdata", "external", "valid-groups.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.UserProxy(); got != nil {
		t.Errorf("user proxy of groups without one: got %+v, want none (the in-process proxy)", got)
	}
}

func TestBadExternalScenariosGiveOneClearLineEach(t *testing.T) {
	cases := map[string]string{
		"external/bad-action-key.yaml":                     `testdata/external/bad-action-key.yaml:5:57: external.nodes[0].faults.kil: no command for action "kil": the actions a command performs are kill, stop, start, restart, pause, unpause, disconnect, reconnect`,
		"external/no-command.yaml":                         `testdata/external/no-command.yaml:8:22: faults[0].action: backend external has no command to stop redis2: give external.nodes[].faults.stop on every node (target "master" may resolve to any of them)`,
		"external/no-start-command.yaml":                   `testdata/external/no-start-command.yaml:9:22: faults[1].action: backend external has no command to start redis1: give external.nodes[].faults.start (nothing native starts a process: a kill without a command is DEBUG SEGFAULT, its start needs one)`,
		"external/bad-addr.yaml":                           `testdata/external/bad-addr.yaml:3:15: external.sentinels[0]: invalid address "sentinel-0": want host:port, e.g. sentinel-0.staging:26379`,
		"external/section-without-backend.yaml":            `testdata/external/section-without-backend.yaml:2:12: external: only backend external reads an external section: set backend: external, or remove it`,
		"external/sentinel-fault.yaml":                     `testdata/external/sentinel-fault.yaml:8:22: faults[0].action: backend external has no command to kill sentinel1: give external.sentinels[0].faults.kill, written {addr: ..., faults: {kill: ...}}`,
		"external/sentinel-pause.yaml":                     `testdata/external/sentinel-pause.yaml:6:27: faults[0].action: backend external has no command to pause sentinel1: give external.sentinels[0].faults.pause, written {addr: ..., faults: {pause: ...}} (a Sentinel has no native pause: under CLIENT PAUSE it keeps pinging, voting and failing over, only its replies wait)`,
		"external/sentinel-no-addr.yaml":                   `testdata/external/sentinel-no-addr.yaml:4:15: external.sentinels[0].addr: the Sentinel's address is needed, e.g. {addr: sentinel-0.staging:26379, faults: {kill: ...}}`,
		"external/sentinel-bad-action.yaml":                `testdata/external/sentinel-bad-action.yaml:4:60: external.sentinels[0].faults.failover: no command for action "failover": the actions a command performs are kill, stop, start, restart, pause, unpause, disconnect, reconnect`,
		"external/bad-stats-url.yaml":                      `testdata/external/bad-stats-url.yaml:6:46: external.proxy.stats_csv: ftp://admin:xxxxx@haproxy:9000/stats;csv: want an http:// or https:// URL, e.g. http://haproxy.staging:9000/haproxy_stats;csv`,
		"external/backend-without-stats.yaml":              `testdata/external/backend-without-stats.yaml:6:51: external.proxy.master_backend: names a backend of the stats CSV: give external.proxy.stats_csv, or remove it`,
		"external/bad-degraded.yaml":                       `testdata/external/bad-degraded.yaml:5:19: external.allow_degraded: want true or false, got "maybe"`,
		"external/groups-unknown.yaml":                     `testdata/external/groups-unknown.yaml:12:52: external.nodes[2].group: unknown group "session"; topology.groups names cache, sessions`,
		"external/groups-missing.yaml":                     `testdata/external/groups-missing.yaml:12:14: external.nodes[2].name: node "redis3" has no group: give it one of cache, sessions (group: ...)`,
		"external/groups-one-node.yaml":                    `testdata/external/groups-one-node.yaml:6:7: topology.groups[1]: group sessions has 1 of external.nodes: give it at least two (a master and a replica)`,
		"external/groups-proxy.yaml":                       `testdata/external/groups-proxy.yaml:9:19: external.proxy.master: 2 groups: give each group its proxy's ports, topology.groups: [{name: ..., master_name: ..., proxy: {master: haproxy.staging:5000, replica: haproxy.staging:5001}}, ...]; external.proxy keeps stats_csv for them all`,
		"external/groups-proxy-missing.yaml":               `testdata/external/groups-proxy-missing.yaml:6:7: topology.groups[1].proxy.master: group sessions has no master port of the user's proxy, the other groups have theirs: give every group its ports, e.g. proxy: {master: haproxy.staging:5002, replica: haproxy.staging:5003}`,
		"external/groups-proxy-replica-only.yaml":          `testdata/external/groups-proxy-replica-only.yaml:6:54: topology.groups[1].proxy.master: group sessions has no master port of the user's proxy, the other groups have theirs: give every group its ports, e.g. proxy: {master: haproxy.staging:5002, replica: haproxy.staging:5003}`,
		"external/groups-proxy-shared-port.yaml":           `testdata/external/groups-proxy-shared-port.yaml:6:88: topology.groups[1].proxy.replica: "haproxy:5000" is group cache's master port too: each group has its own ports`,
		"external/groups-proxy-bad-addr.yaml":              `testdata/external/groups-proxy-bad-addr.yaml:6:63: topology.groups[1].proxy.master: invalid address "haproxy": want host:port, e.g. sentinel-0.staging:26379`,
		"external/groups-proxy-backend-without-stats.yaml": `testdata/external/groups-proxy-backend-without-stats.yaml:5:90: topology.groups[0].master_backend: names a backend of the stats CSV: give external.proxy.stats_csv, or remove it`,
		"external/groups-proxy-shared-backend.yaml":        `testdata/external/groups-proxy-shared-backend.yaml:6:96: topology.groups[1].master_backend: "back_redis_master1" is group cache's master_backend too: each port has its own backend`,
		"external/groups-stats-without-ports.yaml":         `testdata/external/groups-stats-without-ports.yaml:9:22: external.proxy.stats_csv: the stats of the user's proxy, but no group names the proxy's ports: give each its topology.groups[].proxy: {master: ..., replica: ...}, or remove stats_csv`,
		"external/groups-proxy-backend-in-external.yaml":   `testdata/external/groups-proxy-backend-in-external.yaml:9:79: external.proxy.master_backend: 2 groups: name each group's backend as topology.groups[].master_backend`,
		"external/group-proxy-one-group.yaml":              `testdata/external/group-proxy-one-group.yaml:5:28: topology.groups[0].proxy: one group: give the user's proxy's ports as external.proxy: {master: ..., replica: ...}`,
		"external/group-proxy-not-external.yaml":           `testdata/external/group-proxy-not-external.yaml:5:28: topology.groups[0].proxy: only backend external reads a group's proxy ports (the user's proxy, started apart from the run): remove it, or give proxy.config for the proxy the run starts`,
		"external/groups-count.yaml":                       `testdata/external/groups-count.yaml:3:20: topology.groups: backend external needs the groups named: topology.groups: [{name: cache, master_name: cache}, ...], and each of external.nodes with its group`,
		"external/group-without-groups.yaml":               `testdata/external/group-without-groups.yaml:5:56: external.nodes[0].group: group "cache", but the scenario has one group: declare several in topology.groups, or leave group out`,
		"external/shell-addr.yaml":                         `testdata/external/shell-addr.yaml:5:28: external.nodes[0].addr: invalid address "10.0.0.1;reboot:6379": want host:port, e.g. sentinel-0.staging:26379`,
	}
	expectFileErrors(t, cases, false)
}

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
	if p := s.External.Proxy; p.StatsCSV != "http://admin:secret@haproxy.staging:9000/haproxy_stats;csv" || p.MasterBackend != "back_redis_master1" {
		t.Errorf("proxy stats: got %q backend %q, want the URL and back_redis_master1", p.StatsCSV, p.MasterBackend)
	}
	if !s.External.AllowDegraded {
		t.Error("allow_degraded: got false, want true")
	}
	if s.External.CommandTimeout.D != DefaultCommandTimeout {
		t.Errorf("command timeout: got %v, want %v", s.External.CommandTimeout.D, DefaultCommandTimeout)
	}
}

func TestBadExternalScenariosGiveOneClearLineEach(t *testing.T) {
	cases := map[string]string{
		"external/bad-action-key.yaml":          `testdata/external/bad-action-key.yaml:5:57: external.nodes[0].faults.kil: no command for action "kil": the actions a command performs are kill, stop, start, restart, pause, unpause`,
		"external/no-command.yaml":              `testdata/external/no-command.yaml:8:22: faults[0].action: backend external has no command to kill redis2: give external.nodes[].faults.kill on every node (target "master" may resolve to any of them)`,
		"external/bad-addr.yaml":                `testdata/external/bad-addr.yaml:3:15: external.sentinels[0]: invalid address "sentinel-0": want host:port, e.g. sentinel-0.staging:26379`,
		"external/section-without-backend.yaml": `testdata/external/section-without-backend.yaml:2:12: external: only backend external reads an external section: set backend: external, or remove it`,
		"external/sentinel-fault.yaml":          `testdata/external/sentinel-fault.yaml:8:36: faults[0].target: the external backend cannot kill "sentinel1", a Sentinel: it can kill Redis nodes only (backend memory, docker can); valid: master, replica, redis1, redis2 or a name given by as to one of them`,
		"external/bad-stats-url.yaml":           `testdata/external/bad-stats-url.yaml:6:46: external.proxy.stats_csv: ftp://admin:xxxxx@haproxy:9000/stats;csv: want an http:// or https:// URL, e.g. http://haproxy.staging:9000/haproxy_stats;csv`,
		"external/backend-without-stats.yaml":   `testdata/external/backend-without-stats.yaml:6:51: external.proxy.master_backend: names a backend of the stats CSV: give external.proxy.stats_csv, or remove it`,
		"external/bad-degraded.yaml":            `testdata/external/bad-degraded.yaml:5:19: external.allow_degraded: want true or false, got "maybe"`,
		"external/shell-addr.yaml":              `testdata/external/shell-addr.yaml:5:28: external.nodes[0].addr: invalid address "10.0.0.1;reboot:6379": want host:port, e.g. sentinel-0.staging:26379`,
	}
	expectFileErrors(t, cases, false)
}

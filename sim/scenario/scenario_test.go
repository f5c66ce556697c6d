package scenario

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/fault"
)

func TestBadScenariosGiveOneClearLineEach(t *testing.T) {
	cases := map[string]string{
		"unknown-field.yaml":   "testdata/unknown-field.yaml:4:3: sentinel.down_afterr: unknown field; valid here: count, quorum, down_after, failover_timeout, parallel_syncs, master_name, hosts, password, announce_hostnames",
		"bad-duration.yaml":    `testdata/bad-duration.yaml:4:15: sentinel.down_after: invalid duration "five seconds": want a number with a unit, e.g. 1s, 250ms, 1m30s`,
		"unknown-target.yaml":  `testdata/unknown-target.yaml:5:13: faults[0].target: unknown target "mastr"; valid: master, replica, proxy, redis1, redis2, redis3, sentinel1, sentinel2, sentinel3`,
		"negative-rate.yaml":   "testdata/negative-rate.yaml:5:11: workload.writers.rate: must be greater than zero (operations per second per client), got -10",
		"wrong-type.yaml":      `testdata/wrong-type.yaml:3:10: topology.nodes: want an integer, got "three"`,
		"bad-expect.yaml":      `testdata/bad-expect.yaml:4:5: expect[1]: invalid expectation "lost_writes = 0": write '<metric> <op> <value>'`,
		"syntax.yaml":          "testdata/syntax.yaml:2:",
		"fault-after-end.yaml": "testdata/fault-after-end.yaml:3:10: faults[0].at: at 12s is after the end of the run (duration 10s)",
	}
	expectFileErrors(t, cases, false)
}

// expectFileErrors loads each file of testdata and wants exactly one error:
// the case's text, or beginning with it unless exact.
func expectFileErrors(t *testing.T, cases map[string]string, exact bool) {
	t.Helper()
	for file, want := range cases {
		_, err := Load(filepath.Join("testdata", file), nil)
		var errs Errors
		if !errors.As(err, &errs) || len(errs) != 1 {
			t.Errorf("%s: got %v, want one error", file, err)
			continue
		}
		if got := errs[0].Error(); got != want && (exact || !strings.HasPrefix(got, want)) {
			t.Errorf("%s:\ngot  %s\nwant %s", file, got, want)
		}
	}
}

// expectSetErrors loads path with each --set and wants an error beginning
// with the case's text.
func expectSetErrors(t *testing.T, path string, cases map[string]string) {
	t.Helper()
	for set, want := range cases {
		_, err := Load(path, []string{set})
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("--set %s:\ngot  %v\nwant %s", set, err, want)
		}
	}
}

func TestValidScenarioGetsItsValuesAndDefaults(t *testing.T) {
	s, err := Load("testdata/ok.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Topology.Nodes != 3 || s.NodeNames()[2] != "c" || s.Sentinel.Quorum != 2 || s.Sentinel.DownAfter.D != time.Second {
		t.Errorf("topology/sentinel: %+v %+v", s.Topology, s.Sentinel)
	}
	if s.Proxy.Kind != "redisha" || s.Proxy.Inter.D != 250*time.Millisecond || s.Proxy.TimeoutConnect.D != 4*time.Second {
		t.Errorf("proxy: %+v", s.Proxy)
	}
	w, r := s.Workload.Writers, s.Workload.Readers
	if w.Count != 2 || w.Rate != 50 || w.Connection != "pooled" || r.Count != 1 || r.Rate != DefaultReadRate || r.Timeout.D != time.Second {
		t.Errorf("workload: %+v %+v", w, r)
	}
	if len(s.Expectations) != 2 || s.Expectations[0].Value != 8 || !s.Expectations[0].IsDuration() {
		t.Errorf("expectations: %+v", s.Expectations)
	}
}

func TestSetOverridesAnyField(t *testing.T) {
	s, err := Load("testdata/ok.yaml", []string{"sentinel.down_after=2s", "proxy.inter=1s", "faults[1].at=15s", "workload.writers.rate=500", "topology.persistence=true", "expect=[lost_writes == 0]"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Sentinel.DownAfter.D != 2*time.Second || s.Proxy.Inter.D != time.Second || s.Faults[1].At.D != 15*time.Second ||
		s.Workload.Writers.Rate != 500 || !s.Topology.Persistence || len(s.Expectations) != 1 {
		t.Fatalf("overrides not applied: %+v", s)
	}
	expectSetErrors(t, "testdata/ok.yaml", map[string]string{
		"sentinel.down_after=soon": `--set sentinel.down_after=soon: sentinel.down_after: invalid duration "soon"`,
		"sentinel.downafter=1s":    "--set sentinel.downafter=1s: sentinel.downafter: unknown field; valid here: count, quorum",
		"faults[7].at=1s":          "--set faults[7].at=1s: faults: index 7 out of range: the list has 2 entries",
		"topology.nodes=x":         `--set topology.nodes=x: topology.nodes: invalid value "x": want an integer`,
		"noequals":                 "--set noequals: want key=value",
		"workload.writers.rate=-1": "--set workload.writers.rate=-1: workload.writers.rate: must be greater than zero",
	})
}

func TestExpectationsCompare(t *testing.T) {
	e, err := ParseExpectation("write_interruption <= 8s")
	if err != nil || !e.Holds(7.9) || e.Holds(8.1) {
		t.Fatalf("%+v %v", e, err)
	}
	e, _ = ParseExpectation("lost_writes == 0")
	if !e.Holds(0) || e.Holds(1) {
		t.Fatal("== 0")
	}
	for _, bad := range []string{"lost_writes", "nope < 3", "write_interruption < 3", "lost_writes > x"} {
		if _, err := ParseExpectation(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestDelayFaultsAreCheckedStrictly(t *testing.T) {
	cases := map[string]string{
		"delay-without-amount.yaml": "testdata/delay-without-amount.yaml:3:5: faults[0].delay: action delay needs delay or jitter greater than zero, e.g. delay: 300ms or jitter: 200ms",
		"delay-on-stop.yaml":        "testdata/delay-on-stop.yaml:3:51: faults[0].delay: only action delay takes a delay, not stop: remove it or use action delay",
		"jitter-on-undelay.yaml":    "testdata/jitter-on-undelay.yaml:7:13: faults[1].jitter: only action delay takes a jitter, not undelay: remove it or use action delay",
		"negative-jitter.yaml":      `testdata/negative-jitter.yaml:3:68: faults[0].jitter: invalid duration "-200ms": must not be negative`,
		"delay-on-sentinel.yaml":    `testdata/delay-on-sentinel.yaml:4:37: faults[1].target: the memory backend cannot delay "s1", a Sentinel: it can delay Redis nodes only (backend docker can); valid: master, replica, redis1, redis2, redis3 or a name given by as to one of them`,
	}
	expectFileErrors(t, cases, true)
	expectSetErrors(t, "testdata/delay.yaml", map[string]string{
		"faults[0].delay=-1s":   `--set faults[0].delay=-1s: faults[0].delay: invalid duration "-1s": must not be negative`,
		"faults[1].jitter=0s":   "--set faults[1].jitter=0s: faults[1].jitter: action delay needs delay or jitter greater than zero",
		"faults[2].jitter=10ms": "--set faults[2].jitter=10ms: faults[2].jitter: only action delay takes a jitter, not undelay",
	})
}

func TestFaultTheBackendCannotDoIsOneErrorNamingFileLineActionAndBackend(t *testing.T) {
	expectFileErrors(t, map[string]string{
		"memory-blackhole-sentinel.yaml": `testdata/memory-blackhole-sentinel.yaml:5:41: faults[1].target: the memory backend cannot blackhole "sentinel1", a Sentinel: it can blackhole Redis nodes only (backend docker can); valid: master, replica, redis1, redis2, redis3 or a name given by as to one of them`,
	}, true)
	if _, err := Load("testdata/memory-blackhole-sentinel.yaml", []string{"backend=docker"}); err != nil {
		t.Errorf("with --set backend=docker: got %v, want no error (the docker backend blackholes Sentinels through their relays)", err)
	}
	if _, err := Load("testdata/docker-stop-proxy.yaml", nil); err != nil {
		t.Errorf("got %v, want no error (the docker backend stops its proxy container)", err)
	}
	// --backend memory on a docker scenario: the errors are at the faults
	// in the file, and say where the backend came from.
	_, err := Load("testdata/docker-stop-proxy.yaml", []string{"backend=memory"})
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 3 {
		t.Fatalf("got %v, want three errors (the proxy kind, the stop, the start of its target)", err)
	}
	want := []string{
		`testdata/docker-stop-proxy.yaml:3:15: proxy.kind: proxy kind "haproxy" runs in a container: it needs backend docker`,
		`testdata/docker-stop-proxy.yaml:5:36: faults[0].target: the memory backend cannot stop "proxy", the proxy: it can stop Redis nodes, Sentinels and hosts only (backend docker can); valid: master, replica, redis1, redis2, redis3, sentinel1, sentinel2, sentinel3 or a name given by as to one of them (the backend comes from --set backend=memory or --backend)`,
		`testdata/docker-stop-proxy.yaml:6:37: faults[1].target: the memory backend cannot start "lb", the proxy: it can start Redis nodes, Sentinels and hosts only (backend docker can); valid: master, replica, redis1, redis2, redis3, sentinel1, sentinel2, sentinel3 or a name given by as to one of them (the backend comes from --set backend=memory or --backend)`,
	}
	for i, e := range errs {
		if got := e.Error(); got != want[i] {
			t.Errorf("error %d:\ngot  %s\nwant %s", i, got, want[i])
		}
	}
}

func TestBothBackendsDisconnectAndReconnectSentinels(t *testing.T) {
	for _, c := range []struct {
		file string
		sets []string
	}{
		{"disconnect-sentinel.yaml", nil},
		{"disconnect-sentinel.yaml", []string{"backend=docker"}},
		{"docker-disconnect-sentinel.yaml", nil},
		{"docker-disconnect-sentinel.yaml", []string{"backend=memory"}},
	} {
		s, err := Load(filepath.Join("testdata", c.file), c.sets)
		if err != nil {
			t.Errorf("%s with %v: got %v, want no error", c.file, c.sets, err)
			continue
		}
		last := s.Faults[len(s.Faults)-1]
		if last.Kind != fault.KindSentinel {
			t.Errorf("%s with %v: the last fault acts on a %s, want a Sentinel", c.file, c.sets, last.Kind)
		}
	}
}

func TestDelayFaultGetsItsDelayAndJitter(t *testing.T) {
	s, err := Load("testdata/delay.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	f := s.Faults
	if f[0].Action != fault.Delay || f[0].Delay.D != 300*time.Millisecond || f[0].Jitter.D != 200*time.Millisecond {
		t.Errorf("faults[0]: got %+v, want delay 300ms jitter 200ms", f[0])
	}
	if f[1].Delay.D != 0 || f[1].Jitter.D != time.Second {
		t.Errorf("faults[1]: got %+v, want jitter only (1s)", f[1])
	}
	if f[2].Action != fault.Undelay || f[2].Target != "slow" || f[2].Delay.Set() || f[2].Jitter.Set() {
		t.Errorf("faults[2]: got %+v, want a bare undelay of slow", f[2])
	}
}

func TestAnExpectationCanTestOneWorkload(t *testing.T) {
	s, err := Parse("s.yaml", []byte("topology: {groups: 2}\nworkloads: [{name: app}, {name: py, client: go-redis-sentinel}]\n"+
		"expect: [\"py.write_interruption <= 9s\", \"group1.lost_writes == 0\", \"app.lost_writes == 0\"]\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	e := s.Expectations[0]
	if e.Workload != "py" || e.Group != "" || e.Metric != "py.write_interruption" || !e.IsDuration() || e.Value != 9 {
		t.Errorf("got %+v, want workload py's write_interruption, a duration of 9 s", e)
	}
	if e := s.Expectations[1]; e.Group != "group1" || e.Workload != "" || e.IsDuration() {
		t.Errorf("got %+v, want group1's lost_writes, a count", e)
	}
	if e := s.Expectations[2]; e.Workload != "app" || e.Group != "" || e.IsDuration() {
		t.Errorf("got %+v, want workload app's lost_writes, a count", e)
	}
}

func TestAnExpectationCanTestOneGroup(t *testing.T) {
	s, err := Parse("s.yaml", []byte("topology: {groups: 3}\nexpect: [\"group2.write_interruption <= 9s\", \"lost_writes == 0\"]\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	e := s.Expectations[0]
	if e.Group != "group2" || e.Metric != "group2.write_interruption" || !e.IsDuration() || e.Value != 9 {
		t.Errorf("got %+v, want group2's write_interruption, a duration of 9 s", e)
	}
	if e := s.Expectations[1]; e.Group != "" || e.IsDuration() {
		t.Errorf("got %+v, want the run's lost_writes, a count", e)
	}
}

func TestAnnounceHostnamesIsForTheDockerBackendOnly(t *testing.T) {
	if _, err := Load("../../scenarios/master-kill.yaml", []string{"backend=docker", "sentinel.announce_hostnames=true"}); err != nil {
		t.Errorf("docker: got %v, want no error", err)
	}
	_, err := Load("../../scenarios/master-kill.yaml", []string{"sentinel.announce_hostnames=true"})
	if err == nil || !strings.Contains(err.Error(), "sentinel.announce_hostnames: the memory backend cannot configure it") {
		t.Errorf("memory: got %v, want one error at sentinel.announce_hostnames", err)
	}
}

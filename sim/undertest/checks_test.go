package undertest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy/config"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/undertest"
)

func load(t *testing.T, name string, sets ...string) *scenario.Scenario {
	t.Helper()
	s, err := scenario.Load("../../scenarios/"+name+".yaml", sets)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCheckSettingsReadTheSeedFile(t *testing.T) {
	got, err := undertest.CheckSettings(load(t, "master-kill"))
	if err != nil {
		t.Fatal(err)
	}
	want := undertest.Checks{
		Backend: "back_redis_master1", Inter: time.Second, FastInter: time.Second, DownInter: time.Second, Rise: 2, Fall: 3,
		TimeoutConnect: 4 * time.Second, Sends: 4, OnReplica: "timeout", BacklogGuard: true, Balance: config.BalanceRoundRobin,
	}
	if got != want {
		t.Errorf("got %+v, want %+v (haproxy-seed.cfg)", got, want)
	}
}

func TestCheckSettingsApplyTheScenarioOverrides(t *testing.T) {
	got, err := undertest.CheckSettings(load(t, "master-kill", "proxy.inter=250ms", "proxy.fastinter=100ms", "proxy.rise=1", "proxy.fall=2", "proxy.timeout_check=100ms"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Inter != 250*time.Millisecond || got.FastInter != 100*time.Millisecond || got.DownInter != 250*time.Millisecond ||
		got.Rise != 1 || got.Fall != 2 || got.TimeoutCheck != 100*time.Millisecond {
		t.Errorf("got inter %v fastinter %v downinter %v rise %d fall %d timeout check %v, want 250ms 100ms 250ms 1 2 100ms",
			got.Inter, got.FastInter, got.DownInter, got.Rise, got.Fall, got.TimeoutCheck)
	}
}

func TestCheckSettingsOfAnInlineRedisCheckDoNotLookAtTheRole(t *testing.T) {
	got, err := undertest.CheckSettings(load(t, "master-kill", "proxy.config=", "proxy.check=redis", "proxy.master_backend=back_master"))
	if err != nil {
		t.Fatal(err)
	}
	if got.OnReplica != "pass" || got.Sends != 0 || got.BacklogGuard {
		t.Errorf("got on replica %q, sends %d, backlog guard %v; want pass, 0, false", got.OnReplica, got.Sends, got.BacklogGuard)
	}
}

// timeout connect bounds the checks' connect with timeout check set
// (TIMING.md §1): one given by --set or in the scenario overrides the
// configuration file's on every backend; the field's default does not.
func TestTimeoutConnectOverridesTheFileOnlyWhenGiven(t *testing.T) {
	got, err := undertest.CheckSettings(load(t, "master-kill", "proxy.timeout_check=500ms", "proxy.timeout_connect=300ms"))
	if err != nil {
		t.Fatal(err)
	}
	if got.TimeoutCheck != 500*time.Millisecond || got.TimeoutConnect != 300*time.Millisecond {
		t.Errorf("--set: got timeout check %v connect %v, want 500ms 300ms", got.TimeoutCheck, got.TimeoutConnect)
	}
	s := load(t, "master-kill", "proxy.timeout_connect=300ms")
	l, err := undertest.BuildProxyConfig(s, []undertest.NodeAddr{{Name: "redis1", Addr: "127.0.0.1:7000"}, {Name: "redis2", Addr: "127.0.0.1:7001"},
		{Name: "redis3", Addr: "127.0.0.1:7002"}}, []string{"127.0.0.1:26379"}, undertest.InProcess)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, b := range l.Config.Backends {
		if b.Mode != config.ModeTCP {
			continue
		}
		n++
		if b.Timeouts.Connect != 300*time.Millisecond {
			t.Errorf("backend %s: timeout connect %v, want 300ms", b.Name, b.Timeouts.Connect)
		}
	}
	if n < 2 {
		t.Errorf("%d TCP backends, want the master's and the replicas'", n)
	}
	// A file with timeout connect 2s, not the field's default (4s).
	seed, err := os.ReadFile("../../scenarios/haproxy-seed.cfg")
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "two-seconds.cfg")
	if err := os.WriteFile(cfg, []byte(strings.ReplaceAll(string(seed), "timeout connect 4s", "timeout connect 2s")), 0o644); err != nil {
		t.Fatal(err)
	}
	s = load(t, "master-kill", "proxy.config="+cfg, "proxy.timeout_check=500ms")
	if s.Proxy.TimeoutConnect.Given() {
		t.Fatalf("timeout_connect given in master-kill.yaml: the default case is not tested")
	}
	if got, err := undertest.CheckSettings(s); err != nil || got.TimeoutConnect != 2*time.Second {
		t.Errorf("not given: got timeout connect %v (%v), want the file's 2s", got.TimeoutConnect, err)
	}
}

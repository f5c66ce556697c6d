package undertest_test

import (
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

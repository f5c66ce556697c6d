package model

import (
	"strings"
	"testing"
	"time"
)

func detectionP50(t *testing.T, name string, sets ...string) time.Duration {
	t.Helper()
	pred := predictScenario(t, name, sets...)
	if pred.Detection.N < pred.Trials*9/10 {
		t.Fatalf("%s %v: the master marked DOWN in %d of %d trials", name, sets, pred.Detection.N, pred.Trials)
	}
	return pred.Detection.P50
}

// A dead master whose address hangs (a killed container) fails each check
// when its connect times out: with timeout check set, min(inter, timeout
// connect), so detection falls with the timeouts; timeout check alone
// leaves the seed's connect bound (timeout connect 4s) at inter.
func TestHangingDeadMasterIsMarkedDownSoonerWithShorterCheckTimeouts(t *testing.T) {
	base := detectionP50(t, "master-kill", "backend=docker")
	checkOnly := detectionP50(t, "master-kill", "backend=docker", "proxy.timeout_check=250ms")
	both := detectionP50(t, "master-kill", "backend=docker", "proxy.timeout_check=250ms", "proxy.timeout_connect=250ms")
	half := detectionP50(t, "master-kill", "backend=docker", "proxy.timeout_check=500ms", "proxy.timeout_connect=500ms")
	// fall 3 failing checks of 1s, 0.5s, 0.25s each: 1.5 s then 0.75 s less.
	if !(both < half && half < base) {
		t.Errorf("detection p50: unset %v, 500ms %v, 250ms %v; want falling with the timeouts", base, half, both)
	}
	if d := base - both; d < time.Second || d > 3*time.Second {
		t.Errorf("detection p50 fell by %v from unset to 250ms; want about 3 x 750ms", d)
	}
	if d := (checkOnly - base).Abs(); d > 200*time.Millisecond {
		t.Errorf("timeout check alone moved detection by %v (%v against %v); want it unchanged (the connect is bounded by inter)", d, checkOnly, base)
	}
	p, err := FromScenario(load(t, "master-kill", "backend=docker", "proxy.timeout_check=250ms", "proxy.timeout_connect=250ms"))
	if err != nil {
		t.Fatal(err)
	}
	if fc := FaultedCheck(p); !fc.TimeoutsMatter || fc.Duration != 250*time.Millisecond || fc.Bound != "timeout connect" {
		t.Errorf("faulted check: got %+v, want 250ms bounded by timeout connect", fc)
	}
}

// A node that accepts connections and never answers (a blackhole on the
// memory backend, a pause) fails each check when its replies time out:
// timeout check.
func TestBlackholedMasterIsMarkedDownSoonerWithAShorterTimeoutCheck(t *testing.T) {
	short := detectionP50(t, "master-blackhole", "proxy.timeout_check=500ms")
	base := detectionP50(t, "master-blackhole")
	long := detectionP50(t, "master-blackhole", "proxy.timeout_check=2s")
	if !(short < base && base < long) {
		t.Errorf("detection p50: timeout check 500ms %v, unset (inter 1s) %v, 2s %v; want rising with it", short, base, long)
	}
	// Three failing checks of 2 s against three of 0.5 s.
	if d := long - short; d < 3*time.Second || d > 6*time.Second {
		t.Errorf("detection p50 2s - 500ms = %v; want about 3 x 1.5s", d)
	}
	p, err := FromScenario(load(t, "master-blackhole", "proxy.timeout_check=500ms"))
	if err != nil {
		t.Fatal(err)
	}
	if fc := FaultedCheck(p); !fc.TimeoutsMatter || fc.Duration != 500*time.Millisecond || fc.Bound != "timeout check" {
		t.Errorf("faulted check: got %+v, want 500ms bounded by timeout check", fc)
	}
}

// Where a dead node refuses (the memory backend), each check fails at
// once: the timeouts do not change detection, and the model says so.
func TestRefusingDeadMasterIgnoresTheCheckTimeouts(t *testing.T) {
	base := detectionP50(t, "master-kill")
	for _, sets := range [][]string{{"proxy.timeout_check=250ms", "proxy.timeout_connect=250ms"}, {"proxy.timeout_check=3s"}} {
		if d := (detectionP50(t, "master-kill", sets...) - base).Abs(); d > 150*time.Millisecond {
			t.Errorf("%v moved detection by %v; want it unchanged", sets, d)
		}
	}
	p, err := FromScenario(load(t, "master-kill", "proxy.timeout_check=250ms"))
	if err != nil {
		t.Fatal(err)
	}
	if fc := FaultedCheck(p); fc.TimeoutsMatter || fc.Bound != "" {
		t.Errorf("faulted check: got %+v, want the timeouts to play no part", fc)
	}
}

// The model's printout says what bounds the faulted master's checks.
func TestPredictionSaysWhetherTheCheckTimeoutsMatter(t *testing.T) {
	for _, c := range []struct{ name, backend, want string }{
		{"master-kill", "memory", "timeout check and timeout connect play no part"},
		{"master-kill", "docker", "min(inter, timeout connect) with timeout check set"},
		{"master-blackhole", "memory", "timeout check, or inter without it"},
	} {
		pred := predictScenario(t, c.name, "backend="+c.backend)
		var b strings.Builder
		WritePrediction(&b, c.name, c.backend, pred)
		if !strings.Contains(b.String(), "The faulted master's checks: ") || !strings.Contains(b.String(), c.want) {
			t.Errorf("%s on %s: printout lacks %q:\n%s", c.name, c.backend, c.want, b.String())
		}
	}
}

package external_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/redisha-sim/redisha-sim/sim/external"
)

func TestAReplicaDownRefusesTheRunUnlessTheScenarioAllowsIt(t *testing.T) {
	c := deployment(t)
	down := c.Replicas[1]
	if err := down.Kill(); err != nil {
		t.Fatal(err)
	}
	if _, err := down.Do(t.Context(), "PING"); err == nil {
		t.Fatal("the killed replica still answers")
	}

	strict := describe(t, c, "true", "")
	_, err := external.Inspect(t.Context(), strict, 0)
	if want := "node redis3 (" + down.Addr + "): "; err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "external.allow_degraded: true starts with replicas down") {
		t.Fatalf("a replica down without allow_degraded: got %v, want an error beginning %q naming external.allow_degraded", err, want)
	}

	degraded := describe(t, c, "true", "")
	degraded.External.AllowDegraded = true
	st, err := external.Inspect(t.Context(), degraded, 0)
	if err != nil {
		t.Fatalf("a replica down with allow_degraded: %v", err)
	}
	if _, ok := st.Down["redis3"]; !ok || len(st.Down) != 1 || st.Master != "redis1" {
		t.Errorf("state: got master %s, down %v; want master redis1, down redis3 only", st.Master, st.Down)
	}
	var out bytes.Buffer
	if err := external.Plan(t.Context(), degraded, 0, &out); err != nil {
		t.Fatalf("plan: %v", err)
	}
	if want := "node redis3 at " + down.Addr + ": down ("; !strings.Contains(out.String(), want) {
		t.Errorf("plan:\n%s\nwant it to contain %q", out.String(), want)
	}
}

func TestTheMasterDownRefusesTheRunEvenWhenDegradedIsAllowed(t *testing.T) {
	c := deployment(t)
	s := describe(t, c, "true", "")
	s.External.AllowDegraded = true
	if err := c.Master.Kill(); err != nil {
		t.Fatal(err)
	}
	_, err := external.Inspect(t.Context(), s, 0)
	if want := "node redis1 (" + c.Master.Addr + "), the master: "; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("the master down: got %v, want an error beginning %q", err, want)
	}
}

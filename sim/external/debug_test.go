package external_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy/redistest"
	"github.com/redisha-sim/redisha-sim/sim"
	"github.com/redisha-sim/redisha-sim/sim/external"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

// debugDeployment is deployment with every node started with
// enable-debug-command yes.
func debugDeployment(t *testing.T) *redistest.Cluster {
	t.Helper()
	nodes := redistest.StartGroupWith(t, 3, redistest.Options{Args: []string{"--enable-debug-command", "yes"}})
	c := &redistest.Cluster{Master: nodes[0], Replicas: nodes[1:]}
	for range 3 {
		c.Sentinels = append(c.Sentinels, redistest.StartSentinel(t, c.Master))
	}
	c.WaitDiscovered(t)
	return c
}

func TestAKillWithoutACommandCrashesANodeThatAllowsDebug(t *testing.T) {
	c := debugDeployment(t)
	s := describe(t, c, "", "faults:\n  - {at: 2s, action: kill, target: master}\n")

	var plan bytes.Buffer
	if err := external.Plan(t.Context(), s, 0, &plan); err != nil {
		t.Fatalf("plan: %v", err)
	}
	if want := "at 2s: kill master (now redis1): DEBUG SEGFAULT (native); nothing native starts it again"; !strings.Contains(plan.String(), want) {
		t.Fatalf("plan:\n%s\nwant it to contain %q", plan.String(), want)
	}
	if _, err := c.Master.Do(t.Context(), "PING"); err != nil {
		t.Fatalf("the master does not answer after the dry run: %v", err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	res, err := sim.Run(ctx, s, external.New(s, external.Options{AllowFaults: true}), sim.Options{StartProxy: external.StartProxy})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	var kill *timeline.Event
	switched := false
	for i, e := range res.Timeline.Events {
		if e.Kind == timeline.KindFault && e.Name == "kill" {
			kill = &res.Timeline.Events[i]
		}
		if e.Kind == timeline.KindSentinel && e.Name == "+switch-master" {
			switched = true
		}
	}
	if kill == nil || kill.Target != "redis1" || kill.Err != "" || !strings.HasPrefix(kill.Detail, "DEBUG SEGFAULT (native): ") {
		t.Fatalf("kill event: got %+v, want redis1 crashed by DEBUG SEGFAULT", kill)
	}
	t.Logf("plan:\n%skill: %s", plan.String(), kill.Detail)
	// The process crashed: its log has Redis's crash report, and it
	// answers nothing.
	log, err := os.ReadFile(filepath.Join(c.Master.Dir, "redis.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "crashed by signal: 11") {
		t.Errorf("the master's log has no crash report (crashed by signal: 11)")
	}
	pctx, pcancel := context.WithTimeout(t.Context(), time.Second)
	defer pcancel()
	if _, err := c.Master.Do(pctx, "PING"); err == nil {
		t.Error("the master still answers after DEBUG SEGFAULT")
	}
	if !switched {
		t.Error("no +switch-master recorded")
	}
	if rb := res.Timeline.ReadBack; rb == nil || rb.Master == "" || rb.Master == "redis1" {
		t.Errorf("read-back: got %+v, want a new master", rb)
	}
}

func TestAKillWithoutACommandIsRefusedBeforeAnyFaultWhenTheNodeRefusesDebug(t *testing.T) {
	c := deployment(t)
	s := describe(t, c, "", "faults:\n  - {at: 1s, action: kill, target: master}\n")
	want := "node redis1: a kill without a command is DEBUG SEGFAULT, which the node refuses (ERR DEBUG command not allowed): give external.nodes[].faults.kill, or enable-debug-command yes on the node"

	_, err := external.Inspect(t.Context(), s, 0)
	if err == nil || err.Error() != want {
		t.Errorf("inspect: got %v, want %q", err, want)
	}
	var plan bytes.Buffer
	err = external.Plan(t.Context(), s, 0, &plan)
	if err == nil || err.Error() != want {
		t.Errorf("plan: got %v, want %q", err, want)
	}
	if line := "at 1s: kill master (now redis1): a command is needed: a kill without a command is DEBUG SEGFAULT, which the node refuses (ERR DEBUG command not allowed)"; !strings.Contains(plan.String(), line) {
		t.Errorf("plan:\n%s\nwant it to contain %q", plan.String(), line)
	}
	t.Logf("plan:\n%s", plan.String())
	res, err := sim.Run(t.Context(), s, external.New(s, external.Options{AllowFaults: true}), sim.Options{StartProxy: external.StartProxy})
	if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		t.Errorf("run: got %v, want one line with %q", err, want)
	}
	if res != nil && res.Timeline != nil {
		for _, e := range res.Timeline.Events {
			if e.Kind == timeline.KindFault {
				t.Errorf("a fault was applied: %+v", e)
			}
		}
	}
	if _, err := c.Master.Do(t.Context(), "PING"); err != nil {
		t.Errorf("the master does not answer after the refused run: %v", err)
	}
}

package external_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/sim"
	"github.com/redisha-sim/redisha-sim/sim/external"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

func TestASentinelIsPausedAndThawedByItsCommands(t *testing.T) {
	c := deployment(t)
	s := describe(t, c, "true", "faults:\n  - {at: 1s, action: pause, target: sentinel2, as: frozen}\n  - {at: 3s, action: unpause, target: frozen}\n",
		"", `{pause: "kill -STOP {pid}", unpause: "kill -CONT {pid}"}`)
	info, err := c.Sentinels[1].Client().Info(t.Context(), "server").Result()
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(info, "process_id:")
	pid := strings.TrimSpace(strings.SplitN(rest, "\n", 2)[0])
	if pid == "" {
		t.Fatal("the Sentinel's INFO server has no process_id")
	}

	var plan bytes.Buffer
	if err := external.Plan(t.Context(), s, 0, &plan); err != nil {
		t.Fatalf("plan: %v", err)
	}
	if want := `pause sentinel2: sh -c "kill -STOP ` + pid + `"`; !strings.Contains(plan.String(), want) {
		t.Errorf("plan:\n%s\nwant it to contain %q", plan.String(), want)
	}

	frozen := make(chan error, 1)
	progress := func(p sim.Progress) {
		if strings.HasPrefix(p.Phase, "pause sentinel2") {
			pctx, done := context.WithTimeout(t.Context(), 300*time.Millisecond)
			_, err := c.Sentinels[1].Do(pctx, "PING")
			done()
			select {
			case frozen <- err:
			default:
			}
		}
	}
	res, err := sim.Run(t.Context(), s, external.New(s, external.Options{AllowFaults: true}), sim.Options{StartProxy: external.StartProxy, Progress: progress})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	select {
	case err := <-frozen:
		if err == nil {
			t.Fatal("sentinel2 answered PING while paused by kill -STOP")
		}
	default:
		t.Fatal("no progress report of the pause: the Sentinel's state during it was not checked")
	}
	got := map[string]timeline.Event{}
	for _, e := range res.Timeline.Events {
		if e.Kind == timeline.KindFault {
			got[e.Name] = e
		}
	}
	for _, a := range []string{"pause", "unpause"} {
		e := got[a]
		if e.Target != "sentinel2" || e.Err != "" || !strings.Contains(e.Detail, pid+`": exit 0 in `) {
			t.Errorf("%s event: got %+v, want sentinel2's command on pid %s with exit 0", a, e, pid)
		}
	}
	if _, err := c.Sentinels[1].Do(t.Context(), "PING"); err != nil {
		t.Errorf("sentinel2 does not answer after its unpause: %v", err)
	}
}

func TestAnInterruptedRunThawsTheSentinelItPaused(t *testing.T) {
	c := deployment(t)
	s := describe(t, c, "true", "faults:\n  - {at: 1s, action: pause, target: sentinel3}\n",
		"", "", `{pause: "kill -STOP {pid}", unpause: "kill -CONT {pid}"}`)
	interruptAtPause(t, s, "sentinel3", c.Sentinels[2])
}

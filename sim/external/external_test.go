package external_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy/redistest"
	"github.com/redisha-sim/redisha-sim/sim"
	"github.com/redisha-sim/redisha-sim/sim/external"
	"github.com/redisha-sim/redisha-sim/sim/rig"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
	"github.com/redisha-sim/redisha-sim/sim/undertest"
)

// deployment starts a master, two replicas and three Sentinels as real
// processes, the deployment the tests attach to.
func deployment(t *testing.T) *redistest.Cluster {
	t.Helper()
	c := redistest.StartCluster(t, 2, "")
	c.WaitDiscovered(t)
	return c
}

// describe writes a scenario naming the deployment (nodes redis1..3, the
// first its master, each with kill as its kill command, none when empty)
// with extra YAML (faults, nodes' commands) and loads
// it; sentinelFaults, when given, are the Sentinels' faults mappings in
// YAML, in order ("" for none).
func describe(t *testing.T, c *redistest.Cluster, kill string, extra string, sentinelFaults ...string) *scenario.Scenario {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "name: external-test\nbackend: external\nduration: 8s\nsettle: 20s\nwarmup: 20s\n")
	fmt.Fprintf(&b, "workload: {writers: {count: 1, rate: 50}}\n")
	fmt.Fprintf(&b, "external:\n  master_name: %s\n  command_timeout: 5s\n  sentinels: [", redistest.MasterName)
	for i, s := range c.Sentinels {
		if i > 0 {
			b.WriteString(", ")
		}
		if i < len(sentinelFaults) && sentinelFaults[i] != "" {
			fmt.Fprintf(&b, "{addr: %q, faults: %s}", s.Addr, sentinelFaults[i])
			continue
		}
		b.WriteString(s.Addr)
	}
	b.WriteString("]\n  nodes:\n")
	for i, n := range c.Nodes() {
		if kill == "" {
			fmt.Fprintf(&b, "    - {name: redis%d, addr: %q}\n", i+1, n.Addr)
			continue
		}
		fmt.Fprintf(&b, "    - {name: redis%d, addr: %q, faults: {kill: %q}}\n", i+1, n.Addr, kill)
	}
	b.WriteString(extra)
	return loadScenario(t, "external.yaml", b.String())
}

// loadScenario writes a scenario's text to a file named name in a
// temporary directory and loads it.
func loadScenario(t *testing.T, name, text string) *scenario.Scenario {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := scenario.Load(path, nil)
	if err != nil {
		t.Fatalf("load:\n%s\n%v", text, err)
	}
	return s
}

// keysUnder counts the keys under prefix on a node.
func keysUnder(t *testing.T, n *redistest.Server, prefix string) int {
	t.Helper()
	keys, err := n.Client().Keys(t.Context(), prefix+"*").Result()
	if err != nil {
		t.Fatalf("KEYS on %s: %v", n.Addr, err)
	}
	return len(keys)
}

func TestMasterKillByCommandOnAnExternalDeploymentIsMeasuredAndItsKeysDeleted(t *testing.T) {
	c := deployment(t)
	s := describe(t, c, "kill -9 {pid}", "faults:\n  - {at: 2s, action: kill, target: master}\n")
	prefix := fmt.Sprintf("redisha-sim:test%d:", time.Now().UnixNano())
	b := external.New(s, external.Options{AllowFaults: true, KeyPrefix: prefix})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	res, err := sim.Run(ctx, s, b, sim.Options{StartProxy: external.StartProxy})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	tl := res.Timeline

	// The fault happened: its command ran, and the master's process is gone.
	var kill *timeline.Event
	switched := false
	for i, e := range tl.Events {
		if e.Kind == timeline.KindFault && e.Name == "kill" {
			kill = &tl.Events[i]
		}
		if e.Kind == timeline.KindSentinel && e.Name == "+switch-master" {
			switched = true
		}
	}
	if kill == nil || kill.Target != "redis1" || kill.Err != "" || !strings.Contains(kill.Detail, "exit 0") || !strings.Contains(kill.Detail, "kill -9 ") {
		t.Fatalf("kill event: got %+v, want redis1 killed by its command with exit 0", kill)
	}
	if _, err := c.Master.Do(t.Context(), "PING"); err == nil {
		t.Fatal("the master still answers after the kill command")
	}
	// What followed: Sentinel failed over, the read-back found a new master.
	if !switched {
		t.Error("no +switch-master recorded")
	}
	if tl.ReadBack == nil || tl.ReadBack.Master == "" || tl.ReadBack.Master == "redis1" {
		t.Errorf("read-back: got %+v, want a new master", tl.ReadBack)
	}
	// The report states the deployment's Sentinel settings (redistest's),
	// not the scenario's defaults.
	if p := tl.Params; p.DownAfter != time.Second || p.FailoverTimeout != 5*time.Second || p.Quorum != 2 {
		t.Errorf("params: got down-after %v, failover-timeout %v, quorum %d; want 1s, 5s, 2 as the Sentinels have them", p.DownAfter, p.FailoverTimeout, p.Quorum)
	}
	// The workload wrote under the prefix, and every such key is gone.
	wrote := 0
	for _, op := range tl.Ops {
		if op.Kind == timeline.OpWrite && op.Result == timeline.ResultOK {
			if !strings.HasPrefix(op.Key, prefix) {
				t.Fatalf("a write of key %q, outside the run's prefix %q", op.Key, prefix)
			}
			wrote++
		}
	}
	if wrote == 0 {
		t.Fatal("no acknowledged write: the key deletion would check nothing")
	}
	for _, r := range c.Replicas {
		if n := keysUnder(t, r, prefix); n != 0 {
			t.Errorf("%s holds %d keys under %s after the run, want 0", r.Addr, n, prefix)
		}
	}
}

func TestDryRunWritesNoKeyAndChangesNoRole(t *testing.T) {
	c := deployment(t)
	s := describe(t, c, "kill -9 {pid}", "faults:\n  - {at: 2s, action: kill, target: master}\n  - {at: 4s, action: failover, target: master}\n")
	sizes := func() []int64 {
		var out []int64
		for _, n := range c.Nodes() {
			v, err := n.Client().DBSize(t.Context()).Result()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
		return out
	}
	before := fmt.Sprint(sizes())
	var out bytes.Buffer
	if err := external.Plan(t.Context(), s, 0, &out); err != nil {
		t.Fatalf("plan: %v", err)
	}
	t.Logf("plan:\n%s", out.String())
	pid, err := c.Master.Client().Info(t.Context(), "server").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"redis1 is the master of mymaster (quorum 2, down-after 1s, failover-timeout 5s, parallel-syncs 1)", "kill master (now redis1): sh -c \"kill -9 ", "failover master (now redis1): SENTINEL FAILOVER mymaster"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("plan:\n%s\nwant it to contain %q", out.String(), want)
		}
	}
	if !strings.Contains(pid, "process_id:") {
		t.Fatal("INFO server has no process_id")
	}
	if after := fmt.Sprint(sizes()); after != before {
		t.Errorf("keys per node: got %s after the dry run, want %s as before", after, before)
	}
	role, err := c.Master.Client().Do(t.Context(), "ROLE").Slice()
	if err != nil || len(role) == 0 || role[0] != "master" {
		t.Errorf("redis1's role after the dry run: got %v (%v), want master", role, err)
	}
	if _, err := c.Master.Do(t.Context(), "PING"); err != nil {
		t.Errorf("the master does not answer after the dry run: %v", err)
	}
}

func TestFaultsNeedAllowFaults(t *testing.T) {
	c := deployment(t)
	s := describe(t, c, "kill -9 {pid}", "faults:\n  - {at: 1s, action: kill, target: master}\n")
	b := external.New(s, external.Options{})
	_, err := sim.Run(t.Context(), s, b, sim.Options{StartProxy: external.StartProxy})
	if err == nil || !strings.Contains(err.Error(), external.ErrFaultsNotAllowed.Error()) {
		t.Fatalf("run without AllowFaults: got %v, want %v", err, external.ErrFaultsNotAllowed)
	}
	if _, err := c.Master.Do(t.Context(), "PING"); err != nil {
		t.Errorf("the master does not answer after a run without AllowFaults: %v", err)
	}
}

func TestBadDeploymentsGiveOneClearError(t *testing.T) {
	c := deployment(t)
	stray, err := redistest.Start(t.Context(), redistest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stray.Close)

	unreachable := describe(t, c, "true", "")
	unreachable.External.Sentinels = append(unreachable.External.Sentinels, scenario.ExternalSentinel{Addr: "127.0.0.1:1"})
	unreported := describe(t, c, "true", "")
	unreported.External.Nodes = append(unreported.External.Nodes, scenario.ExternalNode{Name: "redis4", Addr: stray.Addr})

	for name, tc := range map[string]struct {
		s    *scenario.Scenario
		want string
	}{
		"unreachable sentinel": {unreachable, "sentinel 127.0.0.1:1: dial tcp 127.0.0.1:1: connect: connection refused"},
		"unreported node":      {unreported, "external.nodes redis4 (" + stray.Addr + "): the Sentinels do not report it for mymaster"},
	} {
		_, err := external.Inspect(t.Context(), tc.s, 0)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: got %v, want one line beginning %q", name, err, tc.want)
		}
	}

	failing := describe(t, c, "echo no such pod >&2; exit 3", "faults:\n  - {at: 1s, action: kill, target: master}\n")
	_, err = sim.Run(t.Context(), failing, external.New(failing, external.Options{AllowFaults: true}), sim.Options{StartProxy: external.StartProxy})
	want := `fault kill redis1 at 1s: kill redis1: command "echo no such pod >&2; exit 3" failed (exit 3 in `
	if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), "): no such pod") {
		t.Errorf("failing command: got %v, want %q...): no such pod", err, want)
	}
}

func TestFailoverIsAPlannedSwitchoverBySentinel(t *testing.T) {
	c := deployment(t)
	s := describe(t, c, "true", "faults:\n  - {at: 2s, action: failover, target: master}\n")
	res, err := sim.Run(t.Context(), s, external.New(s, external.Options{AllowFaults: true}), sim.Options{StartProxy: external.StartProxy})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	var ev *timeline.Event
	for i, e := range res.Timeline.Events {
		if e.Kind == timeline.KindFault && e.Name == "failover" {
			ev = &res.Timeline.Events[i]
		}
	}
	if ev == nil || ev.Err != "" || !strings.Contains(ev.Detail, "SENTINEL FAILOVER mymaster on ") || !strings.Contains(ev.Detail, "moved the master from redis1 ("+c.Master.Addr+") to ") {
		t.Fatalf("failover event: got %+v, want the master moved away from %s", ev, c.Master.Addr)
	}
	if rb := res.Timeline.ReadBack; rb == nil || rb.Master == "" || rb.Master == "redis1" {
		t.Errorf("read-back: got %+v, want a new master", rb)
	}
	role, err := c.Master.Client().Do(t.Context(), "ROLE").Slice()
	if err != nil || len(role) == 0 || role[0] != "slave" {
		t.Errorf("redis1's role after the failover: got %v (%v), want slave", role, err)
	}
}

func TestNativePauseHoldsTheMasterUntilTheScenariosUnpause(t *testing.T) {
	c := deployment(t)
	s := describe(t, c, "true", "faults:\n  - {at: 2s, action: pause, target: master, as: paused}\n  - {at: 5s, action: unpause, target: paused}\n")
	res, err := sim.Run(t.Context(), s, external.New(s, external.Options{AllowFaults: true}), sim.Options{StartProxy: external.StartProxy})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	got := map[string]timeline.Event{}
	for _, e := range res.Timeline.Events {
		if e.Kind == timeline.KindFault {
			got[e.Name] = e
		}
	}
	if p := got["pause"]; p.Target != "redis1" || p.Err != "" || !strings.Contains(p.Detail, "CLIENT PAUSE 3000 ALL") {
		t.Errorf("pause event: got %+v, want CLIENT PAUSE 3000 ALL on redis1", p)
	}
	if u := got["unpause"]; u.Target != "redis1" || u.Err != "" {
		t.Errorf("unpause event: got %+v, want redis1 answering again", u)
	}
	if _, err := c.Master.Do(t.Context(), "PING"); err != nil {
		t.Errorf("redis1 does not answer after the run: %v", err)
	}
}

func TestAnInterruptedRunUndoesItsFaults(t *testing.T) {
	c := deployment(t)
	extra := "faults:\n  - {at: 1s, action: pause, target: master}\n"
	s := describe(t, c, "true", extra)
	for i := range s.External.Nodes {
		s.External.Nodes[i].Faults["pause"] = "kill -STOP {pid}"
		s.External.Nodes[i].Faults["unpause"] = "kill -CONT {pid}"
	}
	interruptAtPause(t, s, "redis1", c.Master)
}

func TestMasterKillThroughTheDeploymentsOwnProxy(t *testing.T) {
	c := deployment(t)
	faults := "faults:\n  - {at: 2s, action: kill, target: master}\n"
	// The deployment's proxy: this project's, started apart from the run
	// and pointed at the deployment as a user would run it.
	plain := describe(t, c, "kill -9 {pid}", faults)
	cl, err := external.New(plain, external.Options{}).Start(t.Context(), rig.TopologyOf(plain), nil)
	if err != nil {
		t.Fatal(err)
	}
	px, err := undertest.StartInProcessProxy(t.Context(), plain, cl, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { px.Close(context.Background()) })
	fe := px.Frontends()[0]

	s := describe(t, c, "kill -9 {pid}", faults)
	s.External.Proxy.Master = fe.MasterAddr
	res, err := sim.Run(t.Context(), s, external.New(s, external.Options{AllowFaults: true}), sim.Options{StartProxy: external.StartProxy})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if want := "the deployment's proxy at " + fe.MasterAddr + " (master)"; res.Proxy != want {
		t.Errorf("proxy: got %q, want %q", res.Proxy, want)
	}
	var killAt time.Duration = -1
	for _, e := range res.Timeline.Events {
		if e.Kind == timeline.KindFault && e.Name == "kill" && e.Err == "" {
			killAt = e.T
		}
	}
	if killAt < 0 {
		t.Fatal("no kill recorded")
	}
	after := 0
	for _, op := range res.Timeline.Ops {
		if op.Kind == timeline.OpWrite && op.Result == timeline.ResultOK && op.Start > killAt && op.Node != "" && op.Node != "redis1" {
			after++
		}
	}
	if after == 0 {
		t.Error("no write through the proxy reached a new master after the kill")
	}
}

// interruptAtPause runs s, cancels it (as SIGINT does through
// signal.NotifyContext) once its pause of name (by kill -STOP) has made
// inst stop answering, and checks that the interrupted run thawed it.
func interruptAtPause(t *testing.T, s *scenario.Scenario, name string, inst *redistest.Server) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	frozen := make(chan error, 1)
	progress := func(p sim.Progress) {
		if strings.HasPrefix(p.Phase, "pause "+name) && ctx.Err() == nil {
			// The fault happened: the instance answers nothing.
			pctx, done := context.WithTimeout(t.Context(), 300*time.Millisecond)
			_, err := inst.Do(pctx, "PING")
			done()
			frozen <- err
			cancel()
		}
	}
	_, err := sim.Run(ctx, s, external.New(s, external.Options{AllowFaults: true}), sim.Options{StartProxy: external.StartProxy, Progress: progress})
	if err == nil {
		t.Fatal("the interrupted run returned no error")
	}
	select {
	case err := <-frozen:
		if err == nil {
			t.Fatalf("%s answered PING while paused by kill -STOP", name)
		}
	default:
		t.Fatalf("the run ended before its pause fault: %v", err)
	}
	if _, err := inst.Do(t.Context(), "PING"); err != nil {
		t.Errorf("%s does not answer after the interrupted run: its pause was not undone: %v", name, err)
	}
}

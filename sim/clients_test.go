package sim_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/sim"
	"github.com/redisha-sim/redisha-sim/sim/memory"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
	"github.com/redisha-sim/redisha-sim/sim/verdict"
)

// python is Debian's python3 (where python3-redis installs) or the one on
// PATH; withRedis also needs the redis module: a missing one skips,
// unless REDISHA_REQUIRE_PYREDIS is set (make unit), which fails.
func python(t *testing.T, withRedis bool) string {
	t.Helper()
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		if py, err = exec.LookPath("python3"); err != nil {
			t.Skip("no python3")
		}
	}
	if withRedis {
		if out, err := exec.Command(py, "-c", "import redis").CombinedOutput(); err != nil {
			msg := py + " has no redis module (install python3-redis: make deps): " + strings.TrimSpace(string(out))
			if os.Getenv("REDISHA_REQUIRE_PYREDIS") != "" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	return py
}

// clientScenario is a short run of the given workloads on the memory
// backend, as if read from sim/testdata/clients (so that commands are
// found there).
func clientScenario(t *testing.T, body string, sets ...string) *scenario.Scenario {
	t.Helper()
	y := `
duration: 4s
settle: 20s
topology: {nodes: 3, password: pw}
sentinel: {count: 3, quorum: 2, down_after: 1500ms, failover_timeout: 60s}
proxy: {inter: 250ms, rise: 2, fall: 2}
` + body
	s, err := scenario.Parse(filepath.Join("testdata", "clients", "test.yaml"), []byte(y), sets)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// pids reads the pids protocol.py wrote: its own (its process group's id)
// and its child's.
func pids(t *testing.T, file string) (pgid, child int) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("the command client wrote no pid file: %v", err)
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		t.Fatalf("pid file %q", b)
	}
	pgid, _ = strconv.Atoi(f[0])
	child, _ = strconv.Atoi(f[1])
	return pgid, child
}

// Each bad behaviour of a command client ends the run with one error that
// names the client and what it printed, and leaves no process of its
// group running.
func TestCommandClientProtocolErrorsEndTheRunAndLeaveNothingRunning(t *testing.T) {
	requireProcessGroups(t)
	py := python(t, false)
	for mode, want := range map[string][]string{
		"noready":   {"client app:", "no ready line", "within 2s"},
		"garbage":   {"client app:", "line 11 of its output is not an answer", `"hello, I am not JSON"`},
		"crash":     {"client app:", "exited (exit status 3)"},
		"unknownid": {"client app:", "answers id 999999, which was never sent", `{\"id\": 999999`},
	} {
		t.Run(mode, func(t *testing.T) {
			pidfile := filepath.Join(t.TempDir(), "pid")
			t.Setenv("REDISHA_TEST_PIDFILE", pidfile)
			s := clientScenario(t, `
workloads:
  - name: app
    client: command
    command: [`+py+`, protocol.py, `+mode+`]
    ready_timeout: 2s
    writers: {count: 1, rate: 50, timeout: 1s}
  - name: other
    client: proxy
    writers: {count: 1, rate: 50, timeout: 1s}
`)
			start := time.Now()
			res, err := sim.Run(t.Context(), s, memory.Backend{}, sim.Options{})
			if err == nil {
				t.Fatalf("got a result (%d ops), want an error", len(res.Timeline.Ops))
			}
			msg := err.Error()
			t.Logf("the run ended with: %s", msg)
			for _, w := range want {
				if !strings.Contains(msg, w) {
					t.Errorf("got error %q, want it to contain %q", msg, w)
				}
			}
			if strings.Count(msg, "client app:") != 1 || strings.Contains(msg, "\n") {
				t.Errorf("got error %q, want one line naming the client once", msg)
			}
			if took := time.Since(start); took > 30*time.Second {
				t.Errorf("the run took %v to fail", took)
			}
			pgid, child := pids(t, pidfile)
			assertGroupGone(t, pgid, child)
		})
	}
}

// A command client that answers one request at a time through a hanging
// master: its answers come after the harness's timeout; they are recorded
// with their operations (late), and the run is judged, not rejected.
func TestCommandClientAnsweringOneAtATimeIsMeasuredWithLateAnswers(t *testing.T) {
	py := python(t, true)
	s := clientScenario(t, `
workloads:
  - name: serial
    client: command
    command: [`+py+`, serial.py]
    writers: {count: 1, rate: 20, timeout: 1s}
  - name: proxied
    client: proxy
    pool: 2
    writers: {count: 3, rate: 20, timeout: 1s}
faults:
  - {at: 2s, action: pause, target: master, as: old}
  - {at: 8s, action: unpause, target: old}
`, "duration=14s")
	res, err := sim.Run(t.Context(), s, memory.Backend{}, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Report
	if len(r.Workloads) != 2 || r.Workloads[0].Name != "serial" || r.Workloads[1].Name != "proxied" {
		t.Fatalf("got workloads %+v, want serial and proxied", r.Workloads)
	}
	serial := r.Workloads[0]
	if serial.Late.Count == 0 || serial.Late.Max <= 0 {
		t.Errorf("got late answers %+v, want some", serial.Late)
	}
	if serial.Errors[verdict.ErrTimeout] == 0 {
		t.Errorf("got errors %v, want timeouts (requests with no answer by their timeout)", serial.Errors)
	}
	if it := serial.Report.WriteInterruption; !it.Interrupted || !it.Recovered {
		t.Errorf("got write interruption %+v, want one that recovered", it)
	}
	late := 0
	for _, op := range res.Timeline.Ops {
		if op.Workload == "" {
			t.Fatalf("op %d has no workload in a run with two", op.ID)
		}
		if op.Late != nil {
			late++
			if op.Workload != "serial" || op.Result != "info" || op.Late.At < op.End {
				t.Errorf("late op %+v: want a serial op, indeterminate, answered after its end", op)
			}
		}
	}
	for _, op := range verdictOps(res, "proxied") {
		if op.Result == "ok" && op.Node == "" {
			t.Fatalf("pooled op %+v: want the node that served it named", op)
		}
	}
	if late != serial.Late.Count {
		t.Errorf("got %d late ops in the timeline, %d in the report", late, serial.Late.Count)
	}
}

// go-redis's FailoverClient and redis-py's Sentinel client find the
// master through the memory backend's Sentinels, and after a master kill
// find the new one; with a Sentinel password too, which both are given.
func TestSentinelClientsRecoverFromAMasterKill(t *testing.T) {
	python(t, true)
	for _, sets := range [][]string{{"duration=10s"}, {"duration=10s", "sentinel.password=s3cret!"}} {
		t.Run(strings.Join(sets, " "), func(t *testing.T) { sentinelClientsRecover(t, sets) })
	}
}

func sentinelClientsRecover(t *testing.T, sets []string) {
	s := clientScenario(t, `
workloads:
  - name: goredis
    client: go-redis-sentinel
    writers: {count: 1, rate: 50, timeout: 1s}
    readers: {count: 1, rate: 50, timeout: 1s}
  - name: redispy
    client: redis-py-sentinel
    writers: {count: 1, rate: 50, timeout: 1s}
    readers: {count: 1, rate: 50, timeout: 1s}
faults:
  - {at: 2s, action: kill, target: master}
`, sets...)
	res, err := sim.Run(t.Context(), s, memory.Backend{}, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Report.Failovers != 1 {
		t.Fatalf("got %d failovers, want 1", res.Report.Failovers)
	}
	for _, w := range res.Report.Workloads {
		r := w.Report
		if it := r.WriteInterruption; !it.Interrupted || !it.Recovered || it.Duration > 6*time.Second {
			t.Errorf("%s: got write interruption %+v, want one that recovered within 6s", w.Name, it)
		}
		if r.Reads.OK == 0 || r.Writes.OK == 0 {
			t.Errorf("%s: got writes %+v reads %+v, want some ok", w.Name, r.Writes, r.Reads)
		}
		nodes := map[string]bool{}
		for _, op := range verdictOps(res, w.Name) {
			if op.Result == "ok" && op.Kind == "write" {
				nodes[op.Node] = true
			}
		}
		if !nodes["redis1"] || len(nodes) < 2 || nodes[""] {
			t.Errorf("%s: ok writes went to %v, want redis1 then the new master, every one named", w.Name, nodes)
		}
	}
}

func verdictOps(res *sim.Result, workload string) []timeline.Op {
	return verdict.WorkloadTimeline(res.Timeline, workload).Ops
}

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/scenarios"
)

// memLimitKB is the address-space limit (ulimit -v) the command runs
// under in these tests: room for the Go runtime's reservations (it needs
// some 500 MB of address space to start), not for an unbounded read.
const memLimitKB = 1 << 20

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// binary builds the command once (without the race detector, whose
// shadow memory does not fit under a memory limit).
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "redisha-sim-bin")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "redisha-sim")
		// Without cgo, as `make build` builds it: glibc's per-thread
		// malloc arenas would take the address space the limit counts.
		build := exec.Command("go", "build", "-o", builtBin, ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := build.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

// runLimited runs the command with args under the memory limit and a
// time limit, from dir, and returns its standard error and exit code.
func runLimited(t *testing.T, dir string, args ...string) (stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	script := fmt.Sprintf(`ulimit -v %d && exec "$0" "$@"`, memLimitKB)
	cmd := exec.CommandContext(ctx, "sh", append([]string{"-c", script, binary(t)}, args...)...)
	cmd.Dir = dir
	var errb bytes.Buffer
	cmd.Stderr = &errb
	cmd.Stdout = nil
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return errb.String(), 0
	case errors.As(err, &ee):
		return errb.String(), ee.ExitCode()
	}
	t.Fatalf("run %v: %v", args, err)
	return "", 0
}

// aliasBombYAML is the probe's 1.4 KB scenario that grew past 1 GB.
func aliasBombYAML() string {
	var b strings.Builder
	b.WriteString("proxy:\n  check: custom\n  check_rules:\n    - &a0 \"send PING\\r\\n\"\n")
	for i := 1; i <= 9; i++ {
		refs := make([]string, 9)
		for j := range refs {
			refs[j] = fmt.Sprintf("*a%d", i-1)
		}
		fmt.Fprintf(&b, "    - &a%d [%s]\n", i, strings.Join(refs, ", "))
	}
	return b.String()
}

// Every case is bad input: the command must answer with one line on
// standard error that names the file, line and field (or the flag), exit
// 2, print no stack trace, and stay within the memory limit (an unbounded
// read or an alias expansion dies of it, with a Go "fatal error").
func TestBadInputGetsOneLineAndExitTwo(t *testing.T) {
	seed, err := scenarios.FS.ReadFile("haproxy-seed.cfg")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string]string{
		"bomb.yaml":        aliasBombYAML(),
		"nodes.yaml":       "topology:\n  nodes: -3\n",
		"many-nodes.yaml":  "topology: {nodes: 100000000}\n",
		"writers.yaml":     "workload:\n  writers: {count: 100000000}\n",
		"nan.yaml":         "workload:\n  writers: {rate: .nan}\n",
		"nan-expect.yaml":  "expect:\n  - lost_writes <= NaN\n",
		"neg-expect.yaml":  "expect:\n  - write_interruption <= -10s\n",
		"long.yaml":        "duration: 100000h\n",
		"inter.yaml":       "proxy: {inter: 100000h}\n",
		"empty.yaml":       "# nothing\n",
		"twodocs.yaml":     "name: a\n---\nname: b\n",
		"unknown.yaml":     "nam: a\n",
		"zero-config.yaml": "proxy:\n  config: /dev/zero\n",
		"bad.cfg":          "backend b\n  mode tcp\n  bogus-keyword 1\n  server r1 127.0.0.1:1 check\n",
		"bad-config.yaml":  "name: bad\nproxy:\n  config: bad.cfg\n",
		"seed.cfg":         string(seed),
		"small.yaml":       "name: small\ntopology: {nodes: 2}\nproxy:\n  config: seed.cfg\n",
		"ok.yaml":          "name: ok\nduration: 1s\n",
		"nolistener.cfg":   "global\n  maxconn 100\n",
		"notrun.json":      `{"a": 1}`,
		"groups.yaml":      "topology:\n  groups: many\n",
		"hosts.yaml":       "topology:\n  hosts: [h1]\nfaults:\n  - {at: 1s, action: kill, target: \"host:h2\"}\n",
		"resched.yaml":     "faults:\n  - {at: 1s, action: reschedule, target: sentinel2}\n",
		"loss.yaml":        "faults:\n  - {at: 1s, action: loss, target: replica, loss: 2, peers: [nodes]}\n",
		"peers.yaml":       "faults:\n  - {at: 1s, action: loss, target: replica, loss: 0.5, peers: [replicas]}\n",
		"nolink.yaml":      "faults:\n  - {at: 1s, action: blackhole, target: redis7}\n",
		"rate.yaml":        "faults:\n  - {at: 1s, action: bandwidth, target: master, rate: 0}\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A file far over the size limit, sparse so that it costs no disk.
	big, err := os.Create(filepath.Join(dir, "big.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	big.Truncate(1 << 30)
	big.Close()

	cases := []struct {
		args []string
		want string // the line, after "redisha-sim: "
	}{
		{[]string{"run", "/dev/zero"}, "read scenario: read /dev/zero: not a regular file (a character device)"},
		{[]string{"model", "/dev/zero"}, "read scenario: read /dev/zero: not a regular file (a character device)"},
		{[]string{"run", "big.yaml"}, "read scenario: read big.yaml: file too large: 1073741824 bytes, the limit is 268435456 (256 MiB)"},
		{[]string{"run", "bomb.yaml"}, "bomb.yaml:9:11: the YAML aliases here expand to more than 10000 values"},
		{[]string{"model", "bomb.yaml"}, "bomb.yaml:9:11: the YAML aliases here expand to more than 10000 values"},
		{[]string{"run", "nodes.yaml"}, "nodes.yaml:2:10: topology.nodes: must be from 2 to 64, got -3"},
		{[]string{"run", "many-nodes.yaml"}, "many-nodes.yaml:1:19: topology.nodes: must be from 2 to 64, got 100000000"},
		{[]string{"run", "--set", "topology.nodes=-1"}, "--set topology.nodes=-1: topology.nodes: must be from 2 to 64, got -1"},
		{[]string{"model", "--set", "topology.nodes=-1"}, "--set topology.nodes=-1: topology.nodes: must be from 2 to 64, got -1"},
		{[]string{"run", "--set", "sentinel.count=-2"}, "--set sentinel.count=-2: sentinel.count: must be from 1 to 9, got -2"},
		{[]string{"model", "--set", "sentinel.count=-2"}, "--set sentinel.count=-2: sentinel.count: must be from 1 to 9, got -2"},
		{[]string{"run", "writers.yaml"}, "writers.yaml:2:20: workload.writers.count: must be from 0 to 1000, got 100000000"},
		{[]string{"model", "writers.yaml"}, "writers.yaml:2:20: workload.writers.count: must be from 0 to 1000, got 100000000"},
		{[]string{"run", "nan.yaml"}, "nan.yaml:2:19: workload.writers.rate: must be greater than zero (operations per second per client), got NaN"},
		{[]string{"run", "nan-expect.yaml"}, `nan-expect.yaml:2:5: expect[0]: lost_writes compares with a finite number such as 0 or 2, got "NaN"`},
		{[]string{"run", "neg-expect.yaml"}, `neg-expect.yaml:2:5: expect[0]: expectation "write_interruption <= -10s" can never hold`},
		{[]string{"run", "long.yaml"}, "long.yaml:1:11: duration: 100000h is too long: at most 24h0m0s"},
		{[]string{"model", "inter.yaml"}, "inter.yaml:1:16: proxy.inter: 100000h is too long: at most 24h0m0s"},
		{[]string{"run", "empty.yaml"}, "empty.yaml: empty scenario: write the fields to change (see scenarios/ for examples), or {} to run with every default"},
		{[]string{"run", "twodocs.yaml"}, "twodocs.yaml:3:5: a second YAML document"},
		{[]string{"run", "unknown.yaml"}, "unknown.yaml:1:1: nam: unknown field; valid here: name, description"},
		{[]string{"run", "zero-config.yaml"}, "zero-config.yaml:2:11: proxy.config: cannot read /dev/zero: not a regular file (a character device)"},
		{[]string{"run", "bad-config.yaml"}, "bad-config.yaml:3:11: proxy.config: bad.cfg:3: "},
		{[]string{"run", "small.yaml"}, "small.yaml:4:11: proxy.config: backend back_redis_master1 has 3 servers but the topology has 2 nodes"},
		{[]string{"model", "small.yaml"}, "small.yaml:4:11: proxy.config: backend back_redis_master1 has 3 servers but the topology has 2 nodes"},
		{[]string{"run", "groups.yaml"}, `groups.yaml:2:11: topology.groups: want a number of groups from 1 to 16 (or a list of groups), got "many"`},
		{[]string{"model", "--set", "topology.groups=17"}, "--set topology.groups=17: topology.groups: must be from 1 to 16, got 17"},
		{[]string{"run", "hosts.yaml"}, `hosts.yaml:4:36: faults[0].target: unknown host "h2"; declared in topology.hosts: h1`},
		{[]string{"run", "resched.yaml"}, `resched.yaml:2:42: faults[0].target: the memory backend cannot reschedule "sentinel2", a Sentinel: action reschedule acts on Redis nodes only; valid: master, replica, redis1, redis2, redis3 or a name given by as to one of them`},
		{[]string{"run", "loss.yaml"}, `loss.yaml:2:51: faults[0].loss: must be a fraction from 0 to 1, got 2`},
		{[]string{"run", "peers.yaml"}, `peers.yaml:2:64: faults[0].peers[0]: unknown peer class "replicas"; valid: clients, nodes, sentinels`},
		{[]string{"run", "nolink.yaml"}, `nolink.yaml:2:41: faults[0].target: unknown target "redis7"; valid: master, replica, proxy, redis1, redis2, redis3, sentinel1, sentinel2, sentinel3`},
		{[]string{"run", "rate.yaml"}, `rate.yaml:2:55: faults[0].rate: must be a number of bytes per second greater than zero, got 0`},
		{[]string{"run", "--set", "topology.groups=2", "--set", "sentinel.master_name=m"}, "--set sentinel.master_name=m: sentinel.master_name: 2 groups: set master_name per group instead"},
		{[]string{"run", "--set", "sentinel.down_after="}, `--set sentinel.down_after=: sentinel.down_after: invalid value "": empty: want a duration such as 1s or 250ms`},
		{[]string{"run", "--set", "proxy.shutdown_sessions=maybe"}, `--set proxy.shutdown_sessions=maybe: proxy.shutdown_sessions: invalid value "maybe": want true or false`},
		{[]string{"run", "--set", "faults[-1].at=1s"}, `--set faults[-1].at=1s: invalid index "-1" in "faults[-1].at"`},
		{[]string{"run", "--set", "faults[x].at=1s"}, `--set faults[x].at=1s: invalid index "x" in "faults[x].at"`},
		{[]string{"run", "--set", "sentinel..count=1"}, `--set sentinel..count=1: empty field name in "sentinel..count"`},
		{[]string{"run", "--set", "expect=[failovers =< 1]"}, `--set expect=[failovers =< 1]: expect[0]: invalid expectation "failovers =< 1"`},
		{[]string{"run", "--json", "/nonexistent/run.json", "ok.yaml"}, "--json /nonexistent/run.json: cannot write it: no such file or directory"},
		{[]string{"run", "--html", ".", "ok.yaml"}, "--html .: cannot write it: is a directory"},
		{[]string{"run", "--svg", "ok.yaml/x.svg", "ok.yaml"}, "--svg ok.yaml/x.svg: cannot write it: not a directory"},
		{[]string{"model", "--json", "/nonexistent/p.json", "ok.yaml"}, "--json /nonexistent/p.json: cannot write it: no such file or directory"},
		{[]string{"model", "--trials", "5", "ok.yaml"}, "--trials 5: want 20 to 100000 (at least 20 for a p5-p95 band)"},
		{[]string{"model", "--trials", "1000000000", "ok.yaml"}, "--trials 1000000000: want 20 to 100000 (at least 20 for a p5-p95 band)"},
		{[]string{"model", "--trials", "x", "ok.yaml"}, `invalid argument "x" for "--trials" flag`},
		{[]string{"run", "--bogus"}, "unknown flag: --bogus; see 'redisha-sim --help'"},
		{[]string{"sweep", "/dev/zero", "--set", "proxy.inter=1s,2s"}, "read scenario: read /dev/zero: not a regular file (a character device)"},
		{[]string{"sweep", "bomb.yaml", "--set", "proxy.inter=1s,2s"}, "bomb.yaml:9:11: the YAML aliases here expand to more than 10000 values"},
		{[]string{"sweep", "small.yaml", "--set", "proxy.inter=1s,2s"}, "small.yaml:4:11: proxy.config: backend back_redis_master1 has 3 servers but the topology has 2 nodes"},
		{[]string{"sweep", "ok.yaml", "--repeat", "0"}, "--repeat 0: want 1 to 1000"},
		{[]string{"sweep", "ok.yaml", "--json", "/nonexistent/s.json", "--set", "proxy.inter=1s,2s"}, "--json /nonexistent/s.json: cannot write it: no such file or directory"},
		{[]string{"sweep", "ok.yaml", "--set", "proxy.rise=1,2,3,4,5,6,7,8,9,10", "--set", "proxy.fall=1,2,3,4,5,6,7,8,9,10", "--set", "proxy.inter=1s,2s,3s,4s,5s,6s,7s,8s,9s,10s", "--set", "proxy.downinter=1s,2s,3s,4s,5s,6s,7s,8s,9s,10s"}, "--set and --repeat: the sweep would make 50000 runs: at most 10000"},
		{[]string{"tune", "ok.yaml", "--budget", "-1s"}, "--budget -1s: must be greater than zero: the longest write interruption to accept (e.g. 3s)"},
		{[]string{"tune", "ok.yaml"}, "--budget is required: the longest write interruption to accept (e.g. 3s)"},
		{[]string{"tune", "/dev/zero", "--budget", "3s"}, "read scenario: read /dev/zero: not a regular file (a character device)"},
		{[]string{"tune", "bomb.yaml", "--budget", "3s"}, "bomb.yaml:9:11: the YAML aliases here expand to more than 10000 values"},
		{[]string{"tune", "ok.yaml", "--budget", "3s", "--html", "/nonexistent/t.html"}, "--html /nonexistent/t.html: cannot write it: no such file or directory"},
		{[]string{"proxy", "-c", "-f", "/dev/zero"}, "read configuration: read /dev/zero: not a regular file (a character device)"},
		{[]string{"proxy", "-f", "/dev/zero"}, "read configuration: read /dev/zero: not a regular file (a character device)"},
		{[]string{"proxy", "-c", "-f", "big.yaml"}, "read configuration: read big.yaml: file too large"},
		{[]string{"proxy", "-c", "-f", "missing.cfg"}, "read configuration: open missing.cfg: no such file or directory"},
		{[]string{"proxy", "-c"}, "missing configuration: pass -f FILE"},
		{[]string{"proxy", "-c", "-f", "nolistener.cfg"}, "nolistener.cfg:1: no listener: the proxy would not start"},
		{[]string{"proxy", "--grace", "-5s", "-f", "seed.cfg"}, "--grace -5s: must not be negative (0: close every session at once)"},
		{[]string{"summarize", "/dev/zero"}, "read /dev/zero: not a regular file (a character device)"},
		{[]string{"summarize", "big.yaml"}, "read big.yaml: file too large"},
		{[]string{"summarize", "notrun.json"}, "notrun.json: not a run --json file (no timeline or report)"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			stderr, code := runLimited(t, dir, c.args...)
			lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			if code != exitBadInput {
				t.Errorf("exit code: got %d, want %d", code, exitBadInput)
			}
			if len(lines) != 1 {
				t.Errorf("stderr: got %d lines, want 1:\n%s", len(lines), stderr)
			}
			if want := "redisha-sim: " + c.want; !strings.HasPrefix(lines[0], want) {
				t.Errorf("stderr:\ngot  %s\nwant %s...", lines[0], want)
			}
			for _, crash := range []string{"goroutine ", "fatal error", "panic:"} {
				if strings.Contains(stderr, crash) {
					t.Errorf("stderr has %q: a crash:\n%s", crash, stderr)
				}
			}
		})
	}
}

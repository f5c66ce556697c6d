package scenario

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTheWorkloadShorthandIsOneUnnamedProxyWorkload(t *testing.T) {
	s := mustParse(t, "workload: {writers: {count: 2, connection: persistent}}\n")
	w := s.Workloads()
	if len(w) != 1 || w[0].Name != "" || w[0].Client != ClientProxy || w[0].Writers.Count != 2 || w[0].Writers.Connection != "persistent" {
		t.Errorf("got %+v, want one unnamed proxy workload of 2 persistent writers", w)
	}
	if len(s.WorkloadList) != 0 {
		t.Errorf("got a workloads list %+v, want none", s.WorkloadList)
	}
	for k := range s.Settings() {
		if strings.HasPrefix(k, "workloads") {
			t.Errorf("settings of a shorthand scenario name %s, want them as before", k)
		}
	}
}

func TestWorkloadsTakeTheirDefaults(t *testing.T) {
	s := mustParse(t, `workloads:
  - {name: a, connection: persistent, pool: 3}
  - {name: b, client: go-redis-sentinel, readers: {count: 1}}
`)
	a, b := s.WorkloadList[0], s.WorkloadList[1]
	if a.Client != ClientProxy || a.Writers.Count != 1 || a.Writers.Connection != "persistent" || a.Readers.Count != 0 || a.Pool != 3 {
		t.Errorf("got a %+v, want one persistent proxy writer with a pool of 3", a)
	}
	if b.GoRedis.PoolSize != 10 || b.GoRedis.ReadTimeout.D != DefaultOpTimeout || b.Readers.Rate != DefaultReadRate || b.Writers.Count != 1 {
		t.Errorf("got b %+v, want go-redis defaults", b)
	}
	if s.Workload.Writers != a.Writers {
		t.Errorf("got workload %+v, want the first workload's (for the run's parameters)", s.Workload)
	}
}

func TestACommandIsFoundFromTheScenariosDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "client.py"), []byte("print()\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "s.yaml")
	y := "workloads:\n  - {name: app, client: command, command: [sh, client.py]}\n"
	if _, err := Parse(file, []byte(y), nil); err != nil {
		t.Errorf("got %v, want the script found next to the scenario", err)
	}
	if _, err := Parse(file, []byte(strings.Replace(y, "client.py", "missing.py", 1)), nil); err == nil || !strings.Contains(err.Error(), `script "missing.py" not found`) {
		t.Errorf("got %v, want the missing script named", err)
	}
}

// Every bad workload value is an error naming the file, the line and the
// field.
func TestBadWorkloadsNameFileLineAndField(t *testing.T) {
	for _, c := range []struct {
		yaml, field, msg string
		line             int
	}{
		{"workloads:\n  - {name: a, client: jedis}\n", "workloads[0].client", `unknown client "jedis"; valid: proxy, go-redis-sentinel, redis-py-sentinel, command`, 2},
		{"workloads:\n  - {name: a, client: command}\n", "workloads[0].command", "missing", 2},
		{"workloads:\n  - name: a\n    client: command\n    command: [./nope.sh]\n", "workloads[0].command", `program "./nope.sh" not found`, 4},
		{"workloads:\n  - name: a\n    client: command\n    command: [no-such-program-xyz]\n", "workloads[0].command", "not found on PATH", 4},
		{"workloads:\n  - name: a\n    command: [sh]\n", "workloads[0].command", "only a command client", 3},
		{"workloads:\n  - name: a\n    pool: 0\n  - name: b\n    pool: -1\n", "workloads[1].pool", "must be from 1 to 1000", 5},
		{"workloads:\n  - {name: a, client: go-redis-sentinel, pool: 2}\n", "workloads[0].pool", "only a proxy client takes a pool", 2},
		{"workloads:\n  - {name: a}\n  - {name: a}\n", "workloads[1].name", `duplicate name "a" (also workloads[0])`, 3},
		{"workloads:\n  - {name: a}\n  - {client: proxy}\n", "workloads[1].name", "missing", 3},
		{"workloads:\n  - {name: 1a}\n", "workloads[0].name", "invalid name", 2},
		{"workloads:\n  - name: a\n    writers: {count: 1001}\n", "workloads[0].writers.count", "must be from 0 to 1000", 3},
		{"workloads:\n  - name: a\n    connection: sometimes\n", "workloads[0].connection", "unknown connection mode", 3},
		{"workloads:\n  - name: a\n    go_redis: {pool_size: 5}\n", "workloads[0].go_redis", "only a go-redis-sentinel client", 3},
		{"workloads:\n  - name: a\n    client: go-redis-sentinel\n    go_redis: {max_retries: 101}\n", "workloads[0].go_redis.max_retries", "must be from -1 to 100", 4},
		{"workloads:\n  - name: a\n    client: go-redis-sentinel\n    go_redis: {read_timeout: 0s}\n", "workloads[0].go_redis.read_timeout", "greater than zero", 4},
		{"workloads:\n  - name: a\n    ready_timeout: 1s\n", "workloads[0].ready_timeout", "only a command or redis-py-sentinel", 3},
		{"workload: {writers: {count: 1}}\nworkloads:\n  - name: a\n", "workload", "not both", 1},
	} {
		_, err := Parse("s.yaml", []byte(c.yaml), nil)
		var errs Errors
		if !errors.As(err, &errs) {
			t.Errorf("%q: got %v, want scenario errors", c.yaml, err)
			continue
		}
		found := false
		for _, e := range errs {
			if e.Field == c.field && strings.Contains(e.Msg, c.msg) {
				found = true
				if e.File != "s.yaml" || e.Line != c.line {
					t.Errorf("%q: got %s, want s.yaml line %d", c.yaml, e, c.line)
				}
			}
		}
		if !found {
			t.Errorf("%q: got %v, want %s: ...%s...", c.yaml, err, c.field, c.msg)
		}
	}
}

func TestTooManyWorkloadsIsAnError(t *testing.T) {
	y := "workloads:\n" + strings.Repeat("  - {}\n", MaxWorkloads+1)
	if _, err := Parse("s.yaml", []byte(y), nil); err == nil || !strings.Contains(err.Error(), "at most 16") {
		t.Errorf("got %v, want at most %d workloads", err, MaxWorkloads)
	}
}

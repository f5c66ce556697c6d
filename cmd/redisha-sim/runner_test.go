package main

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/redisha-sim/redisha-sim/scenarios"
	"github.com/redisha-sim/redisha-sim/sim/docker"
)

// requireRunner skips t where the runner subcommand refuses to run (it
// runs in the Linux runner container, never on a Windows host).
func requireRunner(t *testing.T) {
	t.Helper()
	if err := runnerAvailable(); err != nil {
		t.Skip(err)
	}
}

func TestRunnerSaysItsProtocolFirstThenRunsRun(t *testing.T) {
	requireRunner(t)
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(t.Context(), binary(t), "runner", "1", "--help")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("runner 1 --help: %v: %s", err, stderr.String())
	}
	first, rest, _ := strings.Cut(stdout.String(), "\n")
	if first != docker.RunnerProtocolLine {
		t.Fatalf("first line: got %q, want %q", first, docker.RunnerProtocolLine)
	}
	if !strings.Contains(rest, "Run a failover scenario") {
		t.Errorf("after the protocol line: got %.200q, want run's help", rest)
	}
}

func TestRunnerRefusesAnotherProtocolWithoutSayingItsLine(t *testing.T) {
	requireRunner(t)
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(t.Context(), binary(t), "runner", "2", "--help")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitBadInput {
		t.Fatalf("runner 2: got %v, want exit code %d", err, exitBadInput)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout: got %q, want nothing", stdout.String())
	}
	if !strings.Contains(stderr.String(), "this binary speaks 1") {
		t.Errorf("stderr: got %q, want the protocol it speaks", stderr.String())
	}
}

func TestRunSweepAndTuneRefuseAnUnknownDockerMode(t *testing.T) {
	file := filepath.Join("..", "..", "scenarios", "master-kill.yaml")
	for _, args := range [][]string{
		{"run", "--backend", "docker", "--docker-mode", "vm"},
		{"sweep", "--backend", "docker", "--docker-mode", "vm", "--set", "settle=10s,11s", file},
		{"tune", "--backend", "docker", "--docker-mode", "vm", "--budget", "9s", file},
	} {
		var stderr bytes.Buffer
		cmd := exec.CommandContext(t.Context(), binary(t), args...)
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitBadInput {
			t.Fatalf("%v: got %v, want exit code %d", args, err, exitBadInput)
		}
		if !strings.Contains(stderr.String(), "want direct, runner or auto") {
			t.Errorf("%v: stderr: got %q, want the valid modes", args, stderr.String())
		}
	}
}

// runnerScenario writes master-kill in dir/sub with its proxy
// configuration named as config (relative to dir/sub), the file itself
// at dir/haproxy-seed.cfg and dir/sub/haproxy-seed.cfg.
func runnerScenario(t *testing.T, config string) (dir, file string) {
	t.Helper()
	dir = t.TempDir()
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	y, err := fs.ReadFile(scenarios.FS, "master-kill.yaml")
	if err != nil {
		t.Fatal(err)
	}
	y = bytes.Replace(y, []byte("config: haproxy-seed.cfg"), []byte("config: "+config), 1)
	cfg, err := fs.ReadFile(scenarios.FS, "haproxy-seed.cfg")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		path string
		data []byte
	}{{filepath.Join(sub, "s.yaml"), y}, {filepath.Join(dir, "haproxy-seed.cfg"), cfg}, {filepath.Join(sub, "haproxy-seed.cfg"), cfg}} {
		if err := os.WriteFile(f.path, f.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, filepath.Join(sub, "s.yaml")
}

// A runner gets only the scenario's directory: a file named outside it
// (by the scenario or by a --set) is refused before anything starts, in
// one line naming where it is named and the file, exit 2; by run, sweep
// and tune alike. (No Docker is needed: the refusal comes first.)
func TestRunnerModeRefusesAFileOutsideTheScenarioDirectory(t *testing.T) {
	dir, file := runnerScenario(t, "../haproxy-seed.cfg")
	outside := filepath.Join(dir, "haproxy-seed.cfg")
	_, inside := runnerScenario(t, "haproxy-seed.cfg")
	for name, c := range map[string]struct {
		args       []string
		where, dir string
	}{
		"run, in the file":                   {[]string{"run", "--docker-mode", "runner", file}, file + ":21:11:", filepath.Dir(file)},
		"run, by a --set":                    {[]string{"run", "--docker-mode", "runner", "--set", "proxy.config=" + outside, inside}, "--set proxy.config=" + outside + ":", filepath.Dir(inside)},
		"sweep":                              {[]string{"sweep", "--docker-mode", "runner", "--set", "settle=10s,11s", "--repeat", "1", file}, file + ":21:11:", filepath.Dir(file)},
		"tune":                               {[]string{"tune", "--docker-mode", "runner", "--budget", "9s", file}, file + ":21:11:", filepath.Dir(file)},
		"run, the mode from the environment": {[]string{"run", file}, file + ":21:11:", filepath.Dir(file)},
	} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), binary(t), append(c.args, "--backend", "docker")...)
			if !slices.Contains(c.args, "--docker-mode") {
				cmd.Env = append(os.Environ(), docker.EnvMode+"="+docker.ModeRunner)
			}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != exitBadInput {
				t.Fatalf("%v: got %v (stderr %q), want exit code %d", c.args, err, stderr.String(), exitBadInput)
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			want := "redisha-sim: " + c.where + " proxy.config: " + outside + " is outside the scenario's directory " + c.dir
			if len(lines) != 1 || !strings.HasPrefix(lines[0], want) || !strings.Contains(lines[0], "--docker-mode direct") {
				t.Errorf("stderr: got %q, want one line starting %q, with the advice", stderr.String(), want)
			}
			if strings.Contains(stdout.String(), "|") {
				t.Errorf("stdout: got %q, want no table", stdout.String())
			}
		})
	}
}

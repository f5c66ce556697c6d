package main

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/redisha-sim/redisha-sim/sim/docker"
)

func TestRunnerSaysItsProtocolFirstThenRunsRun(t *testing.T) {
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

func TestRunRefusesAnUnknownDockerMode(t *testing.T) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(t.Context(), binary(t), "run", "--backend", "docker", "--docker-mode", "vm")
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitBadInput {
		t.Fatalf("run --docker-mode vm: got %v, want exit code %d", err, exitBadInput)
	}
	if !strings.Contains(stderr.String(), "want direct, runner or auto") {
		t.Errorf("stderr: got %q, want the valid modes", stderr.String())
	}
}

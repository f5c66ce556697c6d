package main

import (
	"bytes"
	"errors"
	"testing"

	"github.com/redisha-sim/redisha-sim/sim/docker"
)

func TestCleanSaysNothingRemovedWhenDockerIsUnreachable(t *testing.T) {
	var out bytes.Buffer
	err := reportClean(&out, docker.CleanResult{}, errors.New("connect to docker: no such host"))
	if err == nil || out.Len() != 0 {
		t.Errorf("got output %q and error %v, want no output and the error", out.String(), err)
	}
}

func TestCleanListsTheRunsItKept(t *testing.T) {
	var out bytes.Buffer
	res := docker.CleanResult{Containers: 2, Networks: 1, Kept: []docker.KeptRun{
		{Run: "ab12", Containers: 7, Owner: docker.OwnerRunning, Host: "h", PID: "4242"},
		{Run: "cd34", Containers: 3, Owner: docker.OwnerUnknown},
	}}
	if err := reportClean(&out, res, nil); err != nil {
		t.Fatal(err)
	}
	want := "removed 2 container(s) and 1 network(s) of runs no longer running\n" +
		"kept run ab12 (7 container(s)): its process 4242 on this host is running\n" +
		"kept run cd34 (3 container(s)): its process is not labelled (made by an older version)\n" +
		"(--all removes the kept runs too)\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

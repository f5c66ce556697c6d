package docker

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

func TestProcessStartTellsARunningProcessFromAGoneOne(t *testing.T) {
	host, _ := os.Hostname()
	if got := ownerOf(ownerLabels(), host); got != OwnerRunning {
		t.Errorf("this process: got %v, want OwnerRunning", got)
	}
	gone := deadProcessLabels(t)
	if got := ownerOf(gone, host); got != OwnerGone {
		t.Errorf("an exited process: got %v, want OwnerGone", got)
	}
	reused := ownerLabels()
	reused[LabelOwnerStart] += "0" // the PID now belongs to another process
	if got := ownerOf(reused, host); got != OwnerGone {
		t.Errorf("a reused PID: got %v, want OwnerGone", got)
	}
	if got := ownerOf(ownerLabels(), "elsewhere"); got != OwnerUnknown {
		t.Errorf("another host: got %v, want OwnerUnknown", got)
	}
	if got := ownerOf(map[string]string{LabelRun: "x"}, host); got != OwnerUnknown {
		t.Errorf("no owner labels: got %v, want OwnerUnknown", got)
	}
}

// deadProcessLabels are the owner labels of a process that has exited.
func deadProcessLabels(t *testing.T) map[string]string {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	start, err := processStart(cmd.Process.Pid)
	cmd.Process.Kill()
	cmd.Wait()
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	return map[string]string{LabelOwnerHost: host, LabelOwnerPID: strconv.Itoa(cmd.Process.Pid), LabelOwnerStart: start}
}

// Clean removes the containers of a run whose process is gone and keeps
// those of a run in progress (this test's process) and of an owner it
// cannot check. The test labels its containers and cleans only those, so
// that other runs on this daemon are left alone.
func TestCleanRemovesOnlyRunsWhoseProcessIsGone(t *testing.T) {
	requireDocker(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cli, err := dockerClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	mine := "redisha-sim.test=" + randomID()
	owners := map[string]map[string]string{
		"live":    ownerLabels(),
		"dead":    deadProcessLabels(t),
		"unknown": {LabelOwnerHost: "elsewhere", LabelOwnerPID: "1", LabelOwnerStart: "x/1"},
	}
	ids := map[string]string{}
	for name, owner := range owners {
		labels := map[string]string{LabelProject: "1", LabelRun: "test-" + name + "-" + randomID(), "redisha-sim.test": mine[len("redisha-sim.test="):]}
		for k, v := range owner {
			labels[k] = v
		}
		ctr, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
			Name:   "redisha-clean-test-" + name + "-" + randomID(),
			Config: &container.Config{Image: LocalRedis, Cmd: []string{"redis-server"}, Labels: labels},
		})
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = ctr.ID
		t.Cleanup(func() {
			cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cli.ContainerRemove(cctx, ctr.ID, client.ContainerRemoveOptions{Force: true})
		})
	}
	exists := func(id string) bool {
		_, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		return err == nil
	}

	res, err := clean(ctx, CleanOptions{}, mine)
	if err != nil {
		t.Fatal(err)
	}
	if res.Containers != 1 || exists(ids["dead"]) {
		t.Errorf("removed %d container(s), the dead run's still there: %v; want only it removed", res.Containers, exists(ids["dead"]))
	}
	for _, name := range []string{"live", "unknown"} {
		if !exists(ids[name]) {
			t.Errorf("the %s run's container was removed, want it kept", name)
		}
	}
	if len(res.Kept) != 2 {
		t.Errorf("kept runs: got %v, want the live and the unknown one", res.Kept)
	}

	res, err = clean(ctx, CleanOptions{All: true}, mine)
	if err != nil {
		t.Fatal(err)
	}
	if res.Containers != 2 || exists(ids["live"]) || exists(ids["unknown"]) {
		t.Errorf("--all: removed %d container(s), want the 2 kept before", res.Containers)
	}
}

// Leftovers leaves out the runs another live process is making (a
// concurrent run, another test package's containers), and lists this
// process's, gone processes' and unknown owners'.
func TestLeftoversSkipOnlyRunsAnotherLiveProcessIsMaking(t *testing.T) {
	host, _ := os.Hostname()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	start, err := processStart(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	other := map[string]string{LabelOwnerHost: host, LabelOwnerPID: strconv.Itoa(cmd.Process.Pid), LabelOwnerStart: start}
	for name, c := range map[string]struct {
		labels map[string]string
		want   bool
	}{
		"another live process": {other, true},
		"this process":         {ownerLabels(), false},
		"a gone process":       {deadProcessLabels(t), false},
		"another host":         {map[string]string{LabelOwnerHost: "elsewhere", LabelOwnerPID: "1", LabelOwnerStart: "x/1"}, false},
		"no owner labels":      {map[string]string{LabelRun: "x"}, false},
	} {
		if got := othersRunInProgress(c.labels, host); got != c.want {
			t.Errorf("%s: got in progress elsewhere %v, want %v", name, got, c.want)
		}
	}
}

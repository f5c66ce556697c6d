package docker

import (
	"context"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// A start cancelled while the daemon was creating a container or network
// never learns its ID; Close must still remove it by the run's label. The
// test makes such orphans itself with the Docker client, the way the
// daemon leaves them, and closes a cluster that knows of neither.
func TestCloseRemovesWhatCarriesTheRunLabelButWasNeverRecorded(t *testing.T) {
	requireDocker(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cli, err := dockerClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	runID := randomID()
	cl := &Cluster{runID: runID, cli: cli, labels: map[string]string{LabelProject: "1", LabelRun: runID}}
	labels := cl.roleLabels("node")

	other, err := dockerClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	nw, err := other.NetworkCreate(ctx, "redisha-"+runID+"-orphan", client.NetworkCreateOptions{Driver: "bridge", Labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	ctr, err := other.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:             "redisha-" + runID + "-orphan",
		Config:           &container.Config{Image: LocalRedis, Cmd: []string{"redis-server"}, Labels: labels},
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{"redisha-" + runID + "-orphan": {}}},
	})
	if err != nil {
		other.NetworkRemove(ctx, nw.ID, client.NetworkRemoveOptions{})
		t.Fatal(err)
	}
	t.Cleanup(func() { // only if Close failed to
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		other.ContainerRemove(cctx, ctr.ID, client.ContainerRemoveOptions{Force: true})
		other.NetworkRemove(cctx, nw.ID, client.NetworkRemoveOptions{})
	})
	if got := ours(ctx, t, runID); len(got) != 1 {
		t.Fatalf("before Close: containers of the run %v, want the orphan", got)
	}

	if err := cl.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := ours(ctx, t, runID); len(got) != 0 {
		t.Errorf("after Close: containers of the run %v, want none", got)
	}
	f := client.Filters{}
	f.Add("label", LabelRun+"="+runID)
	ns, err := other.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	if len(ns.Items) != 0 {
		t.Errorf("after Close: %d networks of the run, want none", len(ns.Items))
	}
}

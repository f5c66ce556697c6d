package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// Labels that name the process a run's containers and networks belong
// to, so that Clean can tell a run in progress from a crashed one.
const (
	// LabelOwnerHost is the owning process's host name.
	LabelOwnerHost = "redisha-sim.owner.host"
	// LabelOwnerPID is its process ID on that host.
	LabelOwnerPID = "redisha-sim.owner.pid"
	// LabelOwnerStart is the boot ID of that host and the process's start
	// time in clock ticks since boot (field 22 of /proc/PID/stat): a PID
	// reused by another process, or after a reboot, does not match it.
	LabelOwnerStart = "redisha-sim.owner.start"
)

// ownerLabels are this process's owner labels (none when /proc cannot
// tell its start: Clean then treats the run's owner as unknown).
func ownerLabels() map[string]string {
	if m := ownerLabelsFromEnv(); m != nil {
		// A runner's run belongs to the host process that started it.
		return m
	}
	host, err := os.Hostname()
	if err != nil {
		return nil
	}
	start, err := processStart(os.Getpid())
	if err != nil {
		return nil
	}
	return map[string]string{LabelOwnerHost: host, LabelOwnerPID: strconv.Itoa(os.Getpid()), LabelOwnerStart: start}
}

// processStart is "<boot id>/<start ticks>" of a process on this host.
func processStart(pid int) (string, error) {
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", err
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	// The command name, in parentheses, may hold spaces and ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return "", errors.New("unreadable /proc stat")
	}
	fields := strings.Fields(string(stat[i+1:]))
	// fields[0] is field 3 (state); the start time is field 22.
	if len(fields) < 20 {
		return "", errors.New("unreadable /proc stat")
	}
	return strings.TrimSpace(string(boot)) + "/" + fields[19], nil
}

// Owner is what Clean knows of the process that made a run.
type Owner int

// The states of a run's owner.
const (
	// OwnerGone: the process is not running on this host any more (or
	// its PID now belongs to another process): the run crashed.
	OwnerGone Owner = iota
	// OwnerRunning: the process is running on this host.
	OwnerRunning
	// OwnerUnknown: made on another host (another container, another
	// machine sharing the daemon), or by a version that did not label
	// its owner: it cannot be checked.
	OwnerUnknown
)

// ownerOf judges a run's labels on host.
func ownerOf(labels map[string]string, host string) Owner {
	h, pidText, start := labels[LabelOwnerHost], labels[LabelOwnerPID], labels[LabelOwnerStart]
	pid, err := strconv.Atoi(pidText)
	if h == "" || err != nil || start == "" || h != host {
		return OwnerUnknown
	}
	now, err := processStart(pid)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return OwnerGone
	case err != nil:
		return OwnerUnknown
	case now != start:
		return OwnerGone
	}
	return OwnerRunning
}

// CleanOptions tune Clean.
type CleanOptions struct {
	// All removes every labelled container and network, also those of
	// runs in progress and of unknown owners.
	All bool
}

// KeptRun is a run whose containers Clean left in place, and why.
type KeptRun struct {
	Run        string
	Containers int
	Owner      Owner
	// Host and PID are the owner's, when labelled.
	Host string
	PID  string
}

func (k KeptRun) String() string {
	switch k.Owner {
	case OwnerRunning:
		return fmt.Sprintf("run %s (%d container(s)): its process %s on this host is running", k.Run, k.Containers, k.PID)
	case OwnerUnknown:
		if k.Host == "" {
			return fmt.Sprintf("run %s (%d container(s)): its process is not labelled (made by an older version)", k.Run, k.Containers)
		}
		return fmt.Sprintf("run %s (%d container(s)): its process %s is on host %s, which this one cannot check", k.Run, k.Containers, k.PID, k.Host)
	}
	return "run " + k.Run
}

// CleanResult is what Clean did.
type CleanResult struct {
	Containers, Networks int
	// Kept lists the runs left in place, by run ID.
	Kept []KeptRun
}

// Clean removes the containers and networks of runs that are no longer
// running: those labelled redisha-sim whose owning process (host, PID and
// start time, in their labels) is gone from this host. Runs in progress,
// and runs whose owner cannot be checked (another host, an older
// version), are kept and listed, unless opt.All. A list error returns
// before anything is removed.
func Clean(ctx context.Context, opt CleanOptions) (CleanResult, error) {
	return clean(ctx, opt)
}

// clean is Clean on what also carries moreLabels ("key=value"; tests
// keep to what they made).
func clean(ctx context.Context, opt CleanOptions, moreLabels ...string) (CleanResult, error) {
	var res CleanResult
	cli, err := dockerClient(ctx)
	if err != nil {
		return res, err
	}
	defer cli.Close()
	cs, ns, err := labelled(ctx, cli, moreLabels...)
	if err != nil {
		return res, err
	}
	host, _ := os.Hostname()
	keep := map[string]*KeptRun{}
	judged := map[string]Owner{}
	judge := func(labels map[string]string) (Owner, bool) {
		if opt.All {
			return OwnerGone, false
		}
		run := labels[LabelRun]
		o, ok := judged[run]
		if !ok {
			o = ownerOf(labels, host)
			judged[run] = o
		}
		return o, o != OwnerGone
	}
	var errs []error
	for _, c := range cs {
		if o, kept := judge(c.Labels); kept {
			run := c.Labels[LabelRun]
			k := keep[run]
			if k == nil {
				k = &KeptRun{Run: run, Owner: o, Host: c.Labels[LabelOwnerHost], PID: c.Labels[LabelOwnerPID]}
				keep[run] = k
			}
			k.Containers++
			continue
		}
		if _, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove container %s: %w", c.ID[:12], err))
			continue
		}
		res.Containers++
	}
	for _, n := range ns {
		if _, kept := judge(n.Labels); kept {
			continue
		}
		if _, err := cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove network %s: %w", n.Name, err))
			continue
		}
		res.Networks++
	}
	for _, k := range keep {
		res.Kept = append(res.Kept, *k)
	}
	sort.Slice(res.Kept, func(i, j int) bool { return res.Kept[i].Run < res.Kept[j].Run })
	return res, errors.Join(errs...)
}

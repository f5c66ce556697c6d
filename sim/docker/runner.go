package docker

// Runner mode: the harness inside the cluster's network.
//
// The engine reaches the nodes, the Sentinels and the proxy at their
// addresses on the run's bridge networks. A Linux host running its own
// daemon routes to those networks ("direct" mode); Docker Desktop (the
// containers live in a VM), a remote daemon (DOCKER_HOST=tcp://... or
// ssh://..., a Docker context) and a harness that itself runs in a
// container do not. There the command runs the whole run in a runner
// container instead ("runner" mode):
//
//   - The host creates the runner container from the proxy image (it holds
//     this project's binary at /usr/local/bin/redisha-sim), with the
//     daemon's socket mounted (the path the daemon knows it by, as
//     testcontainers' reaper finds it), the scenario's directory copied in,
//     and labelled like the run's other containers. Only the Docker API is
//     needed from the host.
//   - In the runner, "redisha-sim runner" prints the protocol line
//     (RunnerProtocolLine) first, then runs the scenario exactly as a
//     direct run does (sim.Run: cluster, faults, workload, role poller,
//     Sentinel subscribers, read-back, in-process proxy), with the run ID
//     and the owner labels the host chose. The docker backend, seeing
//     EnvRunnerName, attaches the runner to the run's two networks at a
//     fixed address (host number RunnerHostNumber) once it has made them,
//     and detaches it before removing them. Every event is stamped by the
//     runner's clock alone: no host/runner clock offset enters a duration.
//   - The runner writes the run's --json file (timeline and report) to
//     RunnerResultPath; the host copies it out and renders the report, the
//     JUnit, HTML and SVG files itself, as after a direct run. The runner's
//     standard output and error are streamed to the host's.
//   - The host holds the runner's standard input open while it waits; the
//     runner stops its run (as on SIGTERM) when it ends, so that a host
//     that dies, even killed, stops its runner.
//   - The host removes the runner when it exits, on error and on
//     SIGINT/SIGTERM (it first stops the runner with SIGTERM, so that the
//     run removes its own containers, then removes whatever still carries
//     the run's label). The runner carries the project label and the host
//     process's owner labels, so that 'redisha-sim clean' removes it once
//     the host process is gone, as any leftover.
//
//   - A sweep or a tune in runner mode runs each of its runs this way, one
//     runner per run, given the scenario file and that run's settings.
//   - Only the scenario's directory is copied in: a scenario that names a
//     file outside it, through a symbolic link or deeper than the copy
//     goes (CheckCopiedIn), from the file or a --set, is refused before
//     anything starts.
//
// A binary in the proxy image that does not print the same protocol line
// (an image older than this binary) is refused with advice to rebuild the
// images.

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// Modes of the docker backend: where the engine runs.
const (
	// ModeDirect runs the engine in this process, reaching the containers
	// at their bridge addresses (a Linux host with its own daemon).
	ModeDirect = "direct"
	// ModeRunner runs the engine in a runner container attached to the
	// run's networks.
	ModeRunner = "runner"
	// ModeAuto picks one (ChooseMode).
	ModeAuto = "auto"
)

// Environment of the docker backend's modes.
const (
	// EnvMode chooses the mode: direct, runner or auto (the default).
	EnvMode = "REDISHA_DOCKER_MODE"
	// EnvRunnerName is set in the runner container to its own name: the
	// backend attaches it to the run's networks.
	EnvRunnerName = "REDISHA_RUNNER_NAME"
	// EnvRunID is set in the runner to the run ID the host chose.
	EnvRunID = "REDISHA_RUN_ID"
	// EnvOwnerLabels is set in the runner to the host process's owner
	// labels (JSON), so that the run's containers are the host's.
	EnvOwnerLabels = "REDISHA_OWNER_LABELS"
)

// RunnerProtocol is the version of what the host and the runner agree on:
// the arguments of "redisha-sim runner", the environment above, the files
// copied in and out. It changes whenever one of them does.
const RunnerProtocol = 1

// RunnerProtocolLine is the first line the runner prints on its standard
// output.
var RunnerProtocolLine = fmt.Sprintf("redisha-sim runner protocol %d", RunnerProtocol)

// Paths inside the runner container.
const (
	// RunnerScenarioDir holds the scenario file's directory.
	RunnerScenarioDir = "/scenario"
	// RunnerResultPath is the run's --json file.
	RunnerResultPath = "/out/run.json"
	// runnerSocket is where the daemon's socket is mounted.
	runnerSocket = "/var/run/docker.sock"
)

// RunnerHostNumber is the runner's host number on both of the run's /24s,
// clear of the nodes (10-19, 50+), the Sentinels (20-29) and the proxies.
const RunnerHostNumber = 250

// Bounds of what the host takes from the runner.
const (
	// maxResult bounds the --json file copied out.
	maxResult = 512 << 20
	// maxCopyIn bounds the scenario directory copied in.
	maxCopyIn = 64 << 20
	// protocolLineWait bounds the wait for the runner's first line.
	protocolLineWait = time.Minute
	// runnerStopWait bounds the runner's own cleanup after SIGTERM.
	runnerStopWait = 3 * time.Minute
)

// ErrRunnerProtocol is the error of a runner whose binary does not speak
// RunnerProtocol.
var ErrRunnerProtocol = errors.New("the runner image's redisha-sim does not speak this binary's runner protocol")

// ChooseMode picks the mode of a docker run: the choice given ("direct" or
// "runner"), else EnvMode's, else direct when this process can route to
// the containers' bridge networks and runner otherwise. It decides that
// from where the daemon is: direct only on Linux, outside a container
// (no /.dockerenv), with a daemon on a local unix socket that is not
// Docker Desktop's VM.
func ChooseMode(ctx context.Context, choice string) (mode, why string, err error) {
	if choice == "" || choice == ModeAuto {
		choice = os.Getenv(EnvMode)
	}
	switch choice {
	case ModeDirect, ModeRunner:
		return choice, "chosen", nil
	case "", ModeAuto:
	default:
		return "", "", fmt.Errorf("docker mode %q: want direct, runner or auto", choice)
	}
	if runtime.GOOS != "linux" {
		return ModeRunner, "not a Linux host", nil
	}
	if _, err := os.Stat("/.dockerenv"); err == nil {
		return ModeRunner, "inside a container", nil
	}
	cli, err := dockerClient(ctx)
	if err != nil {
		return "", "", err
	}
	defer cli.Close()
	if h := cli.DaemonHost(); !strings.HasPrefix(h, "unix://") {
		return ModeRunner, "remote daemon " + h, nil
	}
	info, err := cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		return "", "", fmt.Errorf("docker info: %w", err)
	}
	if strings.Contains(info.Info.OperatingSystem, "Docker Desktop") {
		return ModeRunner, "Docker Desktop", nil
	}
	return ModeDirect, "local daemon", nil
}

// RunnerOptions are what RunInRunner runs.
type RunnerOptions struct {
	// Args are the arguments of the run command in the runner, with paths
	// as the runner sees them (the scenario under RunnerScenarioDir). The
	// runner adds --json RunnerResultPath.
	Args []string
	// ScenarioDir is the host directory copied to RunnerScenarioDir (""
	// copies nothing: the embedded scenario).
	ScenarioDir string
	// Images are the run's images; the runner is made from Images.Proxy.
	Images Images
	// Stdout and Stderr receive the runner's; nil discards.
	Stdout, Stderr io.Writer
	// Log receives progress; nil discards.
	Log *slog.Logger
}

// RunnerResult is what a run in the runner gave.
type RunnerResult struct {
	// ExitCode is the runner's (the run command's) exit code.
	ExitCode int
	// JSON is the run's --json file, nil when the run wrote none (it
	// failed to start, or was interrupted).
	JSON []byte
}

// RunInRunner runs a scenario in a runner container (see the comment at
// the top of this file) and returns its exit code and --json file. The
// runner and whatever the run made are removed before it returns, also
// when ctx is cancelled.
func RunInRunner(ctx context.Context, opt RunnerOptions) (res RunnerResult, err error) {
	log := opt.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stdout, stderr := opt.Stdout, opt.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	cli, err := dockerClient(ctx)
	if err != nil {
		return res, err
	}
	defer cli.Close()
	runID := randomID()
	cl := &Cluster{runID: runID, cli: cli, log: log}
	if err := cl.requireImage(ctx, opt.Images.Proxy); err != nil {
		return res, fmt.Errorf("the runner's image: %w", err)
	}
	socket, err := daemonSocket(ctx)
	if err != nil {
		return res, err
	}
	owner := ownerLabels()
	ownerJSON, _ := json.Marshal(owner)
	labels := map[string]string{LabelProject: "1", LabelRun: runID + "-runner", LabelRole: "runner"}
	for k, v := range owner {
		labels[k] = v
	}
	name := fmt.Sprintf("redisha-%s-runner", runID)
	env := []string{
		EnvRunnerName + "=" + name, EnvRunID + "=" + runID, EnvOwnerLabels + "=" + string(ownerJSON),
		"DOCKER_HOST=unix://" + runnerSocket, EnvMode + "=" + ModeDirect,
		EnvRedisImage + "=" + opt.Images.Redis, EnvHAProxyImage + "=" + opt.Images.HAProxy, EnvProxyImage + "=" + opt.Images.Proxy,
		"TESTCONTAINERS_RYUK_DISABLED=true", "TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1",
	}
	cmd := append([]string{"runner", fmt.Sprint(RunnerProtocol), "--json", RunnerResultPath}, opt.Args...)
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: name,
		Config: &container.Config{
			Image: opt.Images.Proxy, Entrypoint: []string{"/usr/local/bin/redisha-sim"}, Cmd: cmd, Env: env, Labels: labels,
			WorkingDir: RunnerScenarioDir,
			// The host holds the runner's stdin while it waits: when the
			// host goes away (even killed), the runner reads its end and
			// stops the run, which cleans up.
			OpenStdin: true, StdinOnce: true, AttachStdin: true,
		},
		HostConfig: &container.HostConfig{Binds: []string{socket + ":" + runnerSocket}},
	})
	// Removal is registered before the error check: a create cancelled in
	// flight may still have made the container.
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if rerr := removeRunner(cctx, cli, name, runID); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}()
	if err != nil {
		return res, fmt.Errorf("create the runner: %w", err)
	}
	id := created.ID
	files, err := runnerFiles(opt.ScenarioDir)
	if err != nil {
		return res, err
	}
	if _, err := cli.CopyToContainer(ctx, id, client.CopyToContainerOptions{DestinationPath: "/", Content: files}); err != nil {
		return res, fmt.Errorf("copy the scenario into the runner: %w", err)
	}
	att, err := cli.ContainerAttach(ctx, id, client.ContainerAttachOptions{Stream: true, Stdin: true})
	if err != nil {
		return res, fmt.Errorf("attach to the runner's input: %w", err)
	}
	defer att.Close()
	if _, err := cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		return res, fmt.Errorf("start the runner: %w", err)
	}
	log.Info("runner started", "container", name, "image", opt.Images.Proxy, "socket", socket)
	logs, err := cli.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: true})
	if err != nil {
		return res, fmt.Errorf("follow the runner's output: %w", err)
	}
	defer logs.Close()
	pr, pw := io.Pipe()
	var copied sync.WaitGroup
	copied.Add(1)
	go func() {
		defer copied.Done()
		_, cerr := stdcopy.StdCopy(pw, stderr, logs)
		pw.CloseWithError(cerr)
	}()
	lines := make(chan error, 1)
	copied.Add(1)
	go func() {
		defer copied.Done()
		relayStdout(pr, stdout, lines)
	}()

	code, werr := waitRunner(ctx, cli, id, lines)
	logs.Close()
	copied.Wait()
	if werr != nil {
		return res, werr
	}
	res.ExitCode = code
	if res.JSON, err = copyOut(ctx, cli, id, RunnerResultPath); err != nil {
		log.Info("the runner wrote no result", "err", err)
		res.JSON = nil
	}
	return res, nil
}

// waitRunner waits for the runner to exit, checking its protocol line;
// on ctx's end it stops the runner with SIGTERM and waits for its
// cleanup.
func waitRunner(ctx context.Context, cli *client.Client, id string, lines <-chan error) (int, error) {
	waitCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	w := cli.ContainerWait(waitCtx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	first := time.NewTimer(protocolLineWait)
	defer first.Stop()
	var protoErr error
	lineSeen := false
	for {
		select {
		case r := <-w.Result:
			if !lineSeen {
				// Let the relay finish with what the runner printed.
				select {
				case err := <-lines:
					if protoErr == nil {
						protoErr = err
					}
				case <-time.After(5 * time.Second):
				}
				if protoErr == nil {
					protoErr = fmt.Errorf("%w: it exited with code %d before saying %q", ErrRunnerProtocol, r.StatusCode, RunnerProtocolLine)
				}
			}
			if protoErr != nil {
				return 0, protoErr
			}
			return int(r.StatusCode), nil
		case err := <-w.Error:
			return 0, fmt.Errorf("wait for the runner: %w", err)
		case err := <-lines:
			lines = nil
			if err != nil && !errors.Is(err, errLineSeen) {
				protoErr = err
				stopRunner(cli, id)
				continue
			}
			lineSeen = true
			first.Stop()
		case <-first.C:
			if !lineSeen {
				protoErr = fmt.Errorf("%w: it said nothing in %v", ErrRunnerProtocol, protocolLineWait)
				stopRunner(cli, id)
			}
		case <-ctx.Done():
			stopRunner(cli, id)
			select {
			case <-w.Result:
			case <-w.Error:
			case <-time.After(runnerStopWait):
			}
			return 0, ctx.Err()
		}
	}
}

// errLineSeen tells waitRunner that the protocol line came.
var errLineSeen = errors.New("protocol line seen")

// relayStdout checks the runner's first line (at most 4 kB) against
// RunnerProtocolLine, sends errLineSeen or the mismatch on first, and
// copies the rest to out (discards it after a mismatch) until r ends.
func relayStdout(r io.Reader, out io.Writer, first chan<- error) {
	br := bufio.NewReaderSize(r, 4096)
	b, err := br.ReadSlice('\n')
	line := strings.TrimRight(string(b), "\r\n")
	switch {
	case line == RunnerProtocolLine:
		first <- errLineSeen
	case err != nil && line == "":
		first <- fmt.Errorf("%w: it printed nothing (%v)", ErrRunnerProtocol, err)
		out = io.Discard
	default:
		first <- fmt.Errorf("%w: its first line is %.80q, want %q", ErrRunnerProtocol, line, RunnerProtocolLine)
		out = io.Discard
	}
	io.Copy(out, br)
}

// stopRunner sends the runner SIGTERM: the run in it removes what it made
// and exits.
func stopRunner(cli *client.Client, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cli.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: "SIGTERM"})
}

// removeRunner removes the runner, then whatever still carries the run's
// label (what a runner killed before its cleanup left).
func removeRunner(ctx context.Context, cli *client.Client, name, runID string) error {
	var errs []error
	if _, err := cli.ContainerRemove(ctx, name, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !cerrdefs.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("remove the runner: %w", err))
	}
	cl := &Cluster{runID: runID, cli: cli}
	if err := cl.sweep(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// daemonSocket is the daemon's socket as the daemon itself knows it, to
// mount into the runner (testcontainers' answer: Docker Desktop's and a
// TCP daemon's is /var/run/docker.sock; TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE
// names another).
func daemonSocket(ctx context.Context) (socket string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("find the Docker daemon's socket to mount into the runner: %v (set TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE)", r)
		}
	}()
	return testcontainers.MustExtractDockerSocket(ctx), nil
}

// runnerFiles is the tar copied into the runner at /: the scenario's
// directory (regular files, not following links, at most maxCopyIn bytes)
// under RunnerScenarioDir, and an empty /out.
func runnerFiles(dir string) (io.Reader, error) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, d := range []string{"scenario", "out"} {
		if err := tw.WriteHeader(&tar.Header{Name: d + "/", Mode: 0o777, Typeflag: tar.TypeDir}); err != nil {
			return nil, err
		}
	}
	if dir != "" {
		total := int64(0)
		fsys := os.DirFS(dir)
		err := walkFiles(fsys, ".", 0, func(name string, data []byte, mode os.FileMode) error {
			total += int64(len(data))
			if total > maxCopyIn {
				return fmt.Errorf("the scenario's directory %s holds more than %d MB: put the scenario in a directory of its own", dir, maxCopyIn>>20)
			}
			return errors.Join(
				tw.WriteHeader(&tar.Header{Name: path.Join("scenario", name), Mode: int64(mode.Perm()), Size: int64(len(data)), Typeflag: tar.TypeReg}),
				func() error { _, err := tw.Write(data); return err }())
		})
		if err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &b, nil
}

// CheckCopiedIn says why the file at path, named by a scenario in dir (an
// absolute directory), would not be in a runner, which gets dir as
// runnerFiles copies it: outside dir, reached through a symbolic link
// (the copy follows none), or deeper than the copy goes. It returns nil
// for a file the copy includes (or would, were it there).
func CheckCopiedIn(dir, file string) error {
	abs, err := filepath.Abs(file)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(dir, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("%s is outside the scenario's directory %s", file, dir)
	}
	parts := strings.Split(filepath.ToSlash(rel), "/")
	if len(parts) > maxCopyDepth+1 {
		return fmt.Errorf("%s is more than %d directories below the scenario's directory %s", file, maxCopyDepth, dir)
	}
	p := dir
	for _, part := range parts {
		p = filepath.Join(p, part)
		if fi, err := os.Lstat(p); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%s is reached through the symbolic link %s", file, p)
		}
	}
	return nil
}

// copyOut reads one regular file out of a container, at most maxResult
// bytes.
func copyOut(ctx context.Context, cli *client.Client, id, file string) ([]byte, error) {
	res, err := cli.CopyFromContainer(ctx, id, client.CopyFromContainerOptions{SourcePath: file})
	if err != nil {
		return nil, fmt.Errorf("copy %s out of the runner: %w", file, err)
	}
	defer res.Content.Close()
	tr := tar.NewReader(res.Content)
	h, err := tr.Next()
	if err != nil {
		return nil, fmt.Errorf("copy %s out of the runner: %w", file, err)
	}
	if h.Typeflag != tar.TypeReg || h.Size > maxResult {
		return nil, fmt.Errorf("copy %s out of the runner: not a regular file of at most %d MB", file, maxResult>>20)
	}
	return io.ReadAll(io.LimitReader(tr, maxResult))
}

// attachRunner connects the runner this process runs in (EnvRunnerName)
// to the run's networks at host number RunnerHostNumber, so that it
// reaches every container as a Linux host does; outside a runner it does
// nothing.
func (cl *Cluster) attachRunner(ctx context.Context) error {
	name := os.Getenv(EnvRunnerName)
	if name == "" {
		return nil
	}
	for _, n := range []struct {
		id string
		p  netip.Prefix
	}{{cl.cluster.ID, cl.clusterP}, {cl.clients.ID, cl.clientsP}} {
		if _, err := cl.cli.NetworkConnect(ctx, n.id, client.NetworkConnectOptions{
			Container:      name,
			EndpointConfig: &network.EndpointSettings{IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: cl.ip(n.p, RunnerHostNumber)}},
		}); err != nil {
			return fmt.Errorf("attach the runner %s to the run's networks: %w", name, err)
		}
	}
	cl.log.Debug("runner attached", "container", name)
	return nil
}

// detachRunner disconnects the runner from the run's networks, so that
// they can be removed.
func (cl *Cluster) detachRunner(ctx context.Context) {
	name := os.Getenv(EnvRunnerName)
	if name == "" {
		return
	}
	for _, n := range []*testcontainers.DockerNetwork{cl.clients, cl.cluster} {
		if n != nil {
			cl.cli.NetworkDisconnect(ctx, n.ID, client.NetworkDisconnectOptions{Container: name, Force: true})
		}
	}
}

// runIDFromEnv is the run ID the host chose for a run in a runner, else a
// new one.
func runIDFromEnv() string {
	if id := os.Getenv(EnvRunID); id != "" && len(id) <= 32 && strings.Trim(id, "0123456789abcdef") == "" {
		return id
	}
	return randomID()
}

// ownerLabelsFromEnv are the host process's owner labels given to a
// runner, nil when none were.
func ownerLabelsFromEnv() map[string]string {
	v := os.Getenv(EnvOwnerLabels)
	if v == "" {
		return nil
	}
	var m map[string]string
	if json.Unmarshal([]byte(v), &m) != nil {
		return nil
	}
	out := map[string]string{}
	for _, k := range []string{LabelOwnerHost, LabelOwnerPID, LabelOwnerStart} {
		if m[k] != "" {
			out[k] = m[k]
		}
	}
	return out
}

// Bounds of the scenario directory's walk.
const (
	maxCopyFiles = 10000
	maxCopyDepth = 8
)

// walkFiles calls f on every regular file under dir of fsys (links and
// other kinds skipped), at most maxCopyFiles files and maxCopyDepth
// levels deep.
func walkFiles(fsys fs.FS, dir string, depth int, f func(name string, data []byte, mode fs.FileMode) error) error {
	n := 0
	return fs.WalkDir(fsys, dir, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if strings.Count(name, "/") >= maxCopyDepth+depth {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if n++; n > maxCopyFiles {
			return fmt.Errorf("the scenario's directory holds more than %d files: put the scenario in a directory of its own", maxCopyFiles)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		return f(name, data, info.Mode())
	})
}

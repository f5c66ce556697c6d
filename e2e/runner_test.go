package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/redisha-sim/redisha-sim/sim"
	"github.com/redisha-sim/redisha-sim/sim/docker"
	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/report"
	"github.com/redisha-sim/redisha-sim/sim/sweep"
)

// runnerSets shorten master-kill for these specs: one kill, a short
// settle (the read-back needs no more on a kill).
var runnerSets = []string{"duration=22s", "settle=10s"}

// agreement is the tolerance of the memory-vs-docker agreement spec
// ("The memory and container backends"), applied here to one run each.
const agreement = 1500 * time.Millisecond

var _ = Describe("The harness where it cannot reach the containers", Ordered, Label("docker", "runner"), func() {
	var (
		memOnce sync.Once
		memDone = make(chan time.Duration, 1)
	)
	// memory runs master-kill once on the memory backend, concurrently
	// with the first container run, and returns its write interruption.
	memory := func() time.Duration {
		GinkgoHelper()
		select {
		case d := <-memDone:
			memDone <- d
			return d
		case <-time.After(2 * time.Minute):
			Fail("the memory run did not end within 2 minutes")
			return 0
		}
	}
	startMemory := func(ctx context.Context) {
		memOnce.Do(func() {
			go func() {
				defer GinkgoRecover()
				res := runScenario(ctx, "memory", "master-kill.yaml", runnerSets...)
				faultOf(res, fault.Kill)
				Expect(res.Report.WriteInterruption.Recovered).To(BeTrue())
				memDone <- res.Report.WriteInterruption.Duration
			}()
		})
	}

	for _, kind := range []string{"redisha", "haproxy"} {
		It("runs master-kill through "+kind+" from a harness in a container on its own network, with the Docker socket mounted",
			Label(kind), func(ctx SpecContext) {
				startMemory(context.WithoutCancel(ctx))
				res, logs := runInHarnessContainer(ctx, append([]string{"proxy.kind=" + kind}, runnerSets...))
				GinkgoWriter.Println(logs)
				Expect(res.Timeline.DockerMode).To(Equal(docker.ModeRunner), "auto mode in a container picks the runner")
				f := faultOf(res, fault.Kill)
				Expect(f.Target).To(Equal(res.Timeline.InitialMaster))
				Expect(failoverProblems(res, f.Target)).To(BeEmpty())
				Expect(res.Report.Passed()).To(BeTrue(), "the scenario's expectations")
				mem := memory()
				dock := res.Report.WriteInterruption.Duration
				AddReportEntry("write interruption on master-kill via "+kind+", harness in a container", map[string]any{"memory": mem, "runner": dock})
				Expect(dock-mem).To(BeNumerically("~", 0, agreement), "runner %v, memory %v", dock, mem)
				expectNoLeftovers(ctx)
			}, SpecTimeout(runTimeout))
	}

	It("reaches the daemon through DOCKER_HOST=tcp://127.0.0.1 (a forwarder to the socket) and runs master-kill", func(ctx SpecContext) {
		startMemory(context.WithoutCancel(ctx))
		addr, conns := forwardToDockerSocket(ctx)
		dir := GinkgoT().TempDir()
		out := filepath.Join(dir, "run.json")
		args := []string{"run", "--backend", "docker", "-q", "--json", out, "scenarios/master-kill.yaml"}
		for _, s := range runnerSets {
			args = append(args, "--set", s)
		}
		cmd := exec.CommandContext(ctx, binary, args...)
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), "DOCKER_HOST=tcp://"+addr, docker.EnvMode+"=")
		cmd.Stdout, cmd.Stderr = GinkgoWriter, GinkgoWriter
		Expect(cmd.Run()).To(Succeed())
		Expect(conns.Load()).To(BeNumerically(">", 0), "the command reached the daemon through the forwarder")
		res := readRunJSON(mustRead(out))
		Expect(res.Timeline.DockerMode).To(Equal(docker.ModeRunner), "auto mode with a TCP daemon picks the runner")
		f := faultOf(res, fault.Kill)
		Expect(failoverProblems(res, f.Target)).To(BeEmpty())
		mem := memory()
		dock := res.Report.WriteInterruption.Duration
		AddReportEntry("write interruption on master-kill via redisha, DOCKER_HOST=tcp", map[string]any{"memory": mem, "runner": dock})
		Expect(dock-mem).To(BeNumerically("~", 0, agreement), "runner %v, memory %v", dock, mem)
		expectNoLeftovers(ctx)
	}, SpecTimeout(runTimeout))

	It("an interrupted run in runner mode (SIGINT) removes the runner, its containers and networks", Label("cleanup"), func(ctx SpecContext) {
		cmd := startRunnerRun(ctx)
		Expect(cmd.Process.Signal(os.Interrupt)).To(Succeed())
		Expect(exitCode(cmd)).To(Equal(130))
		Expect(ownedBy(ctx, cmd.Process.Pid)).To(BeEmpty(), "the run's containers and networks")
		expectNoLeftovers(ctx)
	}, SpecTimeout(runTimeout))

	It("a killed host's runner stops its run and is left for redisha-sim clean", Label("cleanup"), func(ctx SpecContext) {
		cmd := startRunnerRun(ctx)
		Expect(cmd.Process.Kill()).To(Succeed())
		exitCode(cmd)
		// The runner reads the end of its input and removes the run's
		// containers and networks; it stays, exited, labelled with the
		// dead host process as its owner.
		Eventually(ownedBy).WithContext(ctx).WithArguments(cmd.Process.Pid).WithTimeout(2*time.Minute).WithPolling(time.Second).
			Should(ConsistOf(MatchRegexp(`^redisha-[0-9a-f]+-runner \(exited\)$`)), "only the exited runner is left")
		// Leftovers lists it: what clean removes (clean itself is not run
		// here, it would remove other runs' leftovers too).
		cs, _, err := docker.Leftovers(ctx)
		Expect(err).NotTo(HaveOccurred())
		runner := ownedBy(ctx, cmd.Process.Pid)[0]
		Expect(cs).To(ContainElement(runner))
		removeOwnedBy(ctx, cmd.Process.Pid)
		expectNoLeftovers(ctx)
	}, SpecTimeout(runTimeout))

	It("a sweep in runner mode runs each of its runs in a runner of its own, and leaves nothing", Label("sweep"), func(ctx SpecContext) {
		out := filepath.Join(GinkgoT().TempDir(), "sweep.json")
		cmd := exec.CommandContext(ctx, binary, "sweep", "--backend", "docker", "--docker-mode", "runner", "--log-level", "info",
			"--set", "settle=10s", "--set", "duration=20s,22s", "--repeat", "1", "--trials", "0", "--start-jitter", "0",
			"--json", out, "scenarios/master-kill.yaml")
		cmd.Dir = ".."
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.MultiWriter(&stdout, GinkgoWriter), io.MultiWriter(&stderr, GinkgoWriter)
		Expect(cmd.Start()).To(Succeed())
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		// The runners, seen while the sweep runs: containers labelled
		// with the sweep's process as their owner.
		runners := map[string]bool{}
		tick := time.NewTicker(300 * time.Millisecond)
		defer tick.Stop()
	watch:
		for {
			select {
			case <-done:
				break watch
			case <-tick.C:
				for _, c := range ownedBy(ctx, cmd.Process.Pid) {
					if name, _, ok := strings.Cut(c, " "); ok && strings.HasSuffix(name, "-runner") {
						runners[name] = true
					}
				}
			}
		}
		Expect(cmd.ProcessState.ExitCode()).To(Equal(0), "the sweep's exit code")
		Expect(runners).To(HaveLen(2), "one runner per run")
		Expect(stderr.String()).To(ContainSubstring(`msg="docker mode" mode=runner`))
		Expect(strings.Count(stderr.String(), `msg="runner started"`)).To(Equal(2))
		var res sweep.Result
		Expect(json.Unmarshal(mustRead(out), &res)).To(Succeed())
		Expect(res.Runs).To(HaveLen(2))
		for _, r := range res.Runs {
			Expect(r.Err).To(BeEmpty())
			Expect(r.Recovered).To(BeTrue())
			Expect(r.Metrics["write_interruption"]).To(BeNumerically(">", 0), "point %d: a kill interrupts writes", r.Point)
			Expect(r.Metrics[sweep.DetectionMetric]).To(BeNumerically(">", 0), "point %d: the proxy's DOWN mark, from the runner's timeline", r.Point)
		}
		Expect(stdout.String()).To(ContainSubstring("2 point(s) x 1 repeat(s) on the docker backend"))
		Expect(ownedBy(ctx, cmd.Process.Pid)).To(BeEmpty(), "the runners, their containers and networks")
		expectNoLeftovers(ctx)
	}, SpecTimeout(runTimeout))

	It("an interrupted sweep in runner mode (SIGINT) removes its runner, the run's containers and networks", Label("sweep", "cleanup"), func(ctx SpecContext) {
		cmd := exec.Command(binary, "sweep", "--backend", "docker", "--docker-mode", "runner", "--set", "settle=10s,11s", "--repeat", "1",
			"--trials", "0", "scenarios/master-kill.yaml")
		cmd.Dir = ".."
		cmd.Stdout, cmd.Stderr = GinkgoWriter, GinkgoWriter
		Expect(cmd.Start()).To(Succeed())
		Eventually(func() int { return len(ownedBy(ctx, cmd.Process.Pid)) }).WithContext(ctx).WithTimeout(time.Minute).WithPolling(200*time.Millisecond).
			Should(BeNumerically(">=", 4), "the runner and the run's first containers")
		Expect(ownedBy(ctx, cmd.Process.Pid)).To(ContainElement(MatchRegexp(`^redisha-[0-9a-f]+-runner \(running\)$`)))
		Expect(cmd.Process.Signal(os.Interrupt)).To(Succeed())
		Expect(exitCode(cmd)).To(Equal(130))
		Expect(ownedBy(ctx, cmd.Process.Pid)).To(BeEmpty(), "the runner, the run's containers and networks")
		expectNoLeftovers(ctx)
	}, SpecTimeout(runTimeout))

	It("refuses a proxy image whose redisha-sim is older than the command, with advice, and leaves nothing", func(ctx SpecContext) {
		// An image of the command before runner mode: its binary has
		// no runner command (cobra's error, exit 1).
		dir := GinkgoT().TempDir()
		src := filepath.Join(dir, "old.go")
		Expect(os.WriteFile(src, []byte(oldBinarySource), 0o644)).To(Succeed())
		old := filepath.Join(dir, "redisha-sim")
		build := exec.CommandContext(ctx, "go", "build", "-o", old, src)
		build.Env = append(os.Environ(), "CGO_ENABLED=0", "GO111MODULE=off")
		b, err := build.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "go build: %s", b)
		tag := fmt.Sprintf("redisha-sim/proxy:e2e-old-%d", time.Now().UnixNano())
		images := exec.CommandContext(ctx, binary, "images", "proxy", "--binary", old)
		images.Env = append(os.Environ(), docker.EnvProxyImage+"="+tag)
		b, err = images.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "images proxy: %s", b)
		DeferCleanup(func(ctx context.Context) error {
			_, err := dockerClient(ctx).ImageRemove(ctx, tag, client.ImageRemoveOptions{Force: true, PruneChildren: true})
			return ignoreNotFound(err)
		})

		out := filepath.Join(dir, "run.json")
		cmd := exec.CommandContext(ctx, binary, "run", "--backend", "docker", "--docker-mode", "runner", "-q", "--json", out, "scenarios/master-kill.yaml")
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), docker.EnvProxyImage+"="+tag)
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = GinkgoWriter, io.MultiWriter(&stderr, GinkgoWriter)
		err = cmd.Run()
		var ee *exec.ExitError
		Expect(errors.As(err, &ee)).To(BeTrue(), "the run's error: %v", err)
		Expect(ee.ExitCode()).To(Equal(1))
		Expect(stderr.String()).To(ContainSubstring(`unknown command "runner"`), "the old binary's own words, streamed")
		Expect(stderr.String()).To(ContainSubstring("does not speak this binary's runner protocol"))
		Expect(stderr.String()).To(ContainSubstring("(image " + tag + ")"))
		Expect(stderr.String()).To(ContainSubstring("run 'redisha-sim images proxy' (make images) to put this binary in the proxy image, or set " + docker.EnvProxyImage))
		Expect(out).NotTo(BeAnExistingFile())
		Expect(ownedBy(ctx, cmd.Process.Pid)).To(BeEmpty(), "the runner")
		expectNoLeftovers(ctx)
	}, SpecTimeout(5*time.Minute))
})

// runInHarnessContainer runs `redisha-sim run` on master-kill in a
// container of the proxy image (this tree's binary) on a network of its
// own, with the Docker socket mounted, and returns its result and output.
func runInHarnessContainer(ctx context.Context, sets []string) (*sim.Result, string) {
	GinkgoHelper()
	cli := dockerClient(ctx)
	tag := fmt.Sprintf("e2e-harness-%d", time.Now().UnixNano())
	labels := map[string]string{docker.LabelProject: "1", docker.LabelRun: tag, docker.LabelRole: "e2e-harness"}
	nw, err := cli.NetworkCreate(ctx, tag, client.NetworkCreateOptions{Labels: labels})
	Expect(err).NotTo(HaveOccurred())
	removeNetwork := func(ctx context.Context) error {
		_, err := cli.NetworkRemove(ctx, nw.ID, client.NetworkRemoveOptions{})
		return ignoreNotFound(err)
	}
	DeferCleanup(removeNetwork)
	images := docker.ImagesFor("", "", "")
	args := []string{"run", "--backend", "docker", "-q", "--json", "/out/run.json", "/scenario/master-kill.yaml"}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: tag,
		Config: &container.Config{Image: images.Proxy, Entrypoint: []string{"/usr/local/bin/redisha-sim"}, Cmd: args, Labels: labels,
			Env: []string{docker.EnvRedisImage + "=" + images.Redis, docker.EnvHAProxyImage + "=" + images.HAProxy, docker.EnvProxyImage + "=" + images.Proxy}},
		HostConfig:       &container.HostConfig{Binds: []string{"/var/run/docker.sock:/var/run/docker.sock"}, NetworkMode: container.NetworkMode(tag)},
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{tag: {}}},
	})
	Expect(err).NotTo(HaveOccurred())
	removeContainer := func(ctx context.Context) error {
		_, err := cli.ContainerRemove(ctx, created.ID, client.ContainerRemoveOptions{Force: true})
		return ignoreNotFound(err)
	}
	// Before the network, as DeferCleanup runs last in, first out.
	DeferCleanup(removeContainer)
	var files bytes.Buffer
	tw := tar.NewWriter(&files)
	for _, d := range []string{"scenario/", "out/"} {
		Expect(tw.WriteHeader(&tar.Header{Name: d, Mode: 0o777, Typeflag: tar.TypeDir})).To(Succeed())
	}
	for _, f := range []string{"master-kill.yaml", "haproxy-seed.cfg"} {
		b := mustRead(filepath.Join("..", "scenarios", f))
		Expect(tw.WriteHeader(&tar.Header{Name: "scenario/" + f, Mode: 0o644, Size: int64(len(b))})).To(Succeed())
		_, err := tw.Write(b)
		Expect(err).NotTo(HaveOccurred())
	}
	Expect(tw.Close()).To(Succeed())
	_, err = cli.CopyToContainer(ctx, created.ID, client.CopyToContainerOptions{DestinationPath: "/", Content: &files})
	Expect(err).NotTo(HaveOccurred())
	_, err = cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{})
	Expect(err).NotTo(HaveOccurred())
	w := cli.ContainerWait(ctx, created.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	var code int64
	select {
	case r := <-w.Result:
		code = r.StatusCode
	case err := <-w.Error:
		Fail(fmt.Sprintf("wait for the harness: %v", err))
	}
	logs, err := cli.ContainerLogs(ctx, created.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	Expect(err).NotTo(HaveOccurred())
	var out bytes.Buffer
	stdcopy.StdCopy(&out, &out, io.LimitReader(logs, 1<<20))
	logs.Close()
	Expect(code).To(BeZero(), "the harness's exit code; its output:\n%s", out.String())
	cp, err := cli.CopyFromContainer(ctx, created.ID, client.CopyFromContainerOptions{SourcePath: "/out/run.json"})
	Expect(err).NotTo(HaveOccurred())
	defer cp.Content.Close()
	tr := tar.NewReader(cp.Content)
	_, err = tr.Next()
	Expect(err).NotTo(HaveOccurred())
	b, err := io.ReadAll(io.LimitReader(tr, 256<<20))
	Expect(err).NotTo(HaveOccurred())
	// Removed here, not only on cleanup: the spec then checks for
	// leftovers.
	Expect(removeContainer(ctx)).To(Succeed())
	Expect(removeNetwork(ctx)).To(Succeed())
	return readRunJSON(b), out.String()
}

// forwardToDockerSocket listens on 127.0.0.1 and forwards each connection
// to the Docker socket; it returns the address and a count of the
// connections it forwarded. It stops with the spec.
func forwardToDockerSocket(ctx context.Context) (string, *atomic.Int64) {
	GinkgoHelper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	var conns atomic.Int64
	var wg sync.WaitGroup
	done := make(chan struct{})
	DeferCleanup(func() {
		close(done)
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				var d net.Dialer
				u, err := d.DialContext(ctx, "unix", "/var/run/docker.sock")
				if err != nil {
					return
				}
				defer u.Close()
				copied := make(chan struct{}, 2)
				go func() { io.Copy(u, c); u.(*net.UnixConn).CloseWrite(); copied <- struct{}{} }()
				go func() { io.Copy(c, u); c.(*net.TCPConn).CloseWrite(); copied <- struct{}{} }()
				for range 2 {
					select {
					case <-copied:
					case <-done:
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), &conns
}

// startRunnerRun starts `redisha-sim run --backend docker` on
// master-kill in runner mode and waits until the run's containers exist
// (the runner and at least two of the cluster's).
func startRunnerRun(ctx context.Context) *exec.Cmd {
	GinkgoHelper()
	cmd := exec.Command(binary, "run", "--backend", "docker", "--docker-mode", "runner", "-q", "scenarios/master-kill.yaml")
	cmd.Dir = ".."
	cmd.Stdout, cmd.Stderr = GinkgoWriter, GinkgoWriter
	Expect(cmd.Start()).To(Succeed())
	Eventually(func() int { return len(ownedBy(ctx, cmd.Process.Pid)) }).WithContext(ctx).WithTimeout(time.Minute).WithPolling(200*time.Millisecond).
		Should(BeNumerically(">=", 4), "the runner and the run's first containers")
	return cmd
}

// ownedBy lists the containers ("name (state)") and networks labelled
// with pid as their owner's process ID.
func ownedBy(ctx context.Context, pid int) []string {
	GinkgoHelper()
	cli := dockerClient(ctx)
	f := client.Filters{}
	f.Add("label", docker.LabelOwnerPID+"="+strconv.Itoa(pid))
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	Expect(err).NotTo(HaveOccurred())
	ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	Expect(err).NotTo(HaveOccurred())
	var out []string
	for _, c := range cs.Items {
		out = append(out, strings.TrimPrefix(strings.Join(c.Names, ","), "/")+" ("+string(c.State)+")")
	}
	for _, n := range ns.Items {
		out = append(out, n.Name)
	}
	return out
}

// removeOwnedBy removes the containers labelled with pid as their owner.
func removeOwnedBy(ctx context.Context, pid int) {
	GinkgoHelper()
	cli := dockerClient(ctx)
	f := client.Filters{}
	f.Add("label", docker.LabelOwnerPID+"="+strconv.Itoa(pid))
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	Expect(err).NotTo(HaveOccurred())
	for _, c := range cs.Items {
		_, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true})
		Expect(ignoreNotFound(err)).To(Succeed())
	}
}

var (
	specClientOnce sync.Once
	specClient     *client.Client
	specClientErr  error
)

// dockerClient is the Docker client of these specs (DOCKER_HOST and the
// rest of the environment, as testcontainers reads them), made once.
func dockerClient(ctx context.Context) *client.Client {
	GinkgoHelper()
	specClientOnce.Do(func() {
		tc, err := testcontainers.NewDockerClientWithOpts(ctx)
		if err != nil {
			specClientErr = err
			return
		}
		specClient = tc.Client
	})
	Expect(specClientErr).NotTo(HaveOccurred())
	return specClient
}

// readRunJSON decodes a run's --json file.
func readRunJSON(b []byte) *sim.Result {
	GinkgoHelper()
	var f report.File
	Expect(json.Unmarshal(b, &f)).To(Succeed())
	Expect(f.Timeline).NotTo(BeNil())
	Expect(f.Report).NotTo(BeNil())
	return &sim.Result{Timeline: f.Timeline, Report: f.Report, Proxy: f.Timeline.Proxy}
}

func ignoreNotFound(err error) error {
	if cerrdefs.IsNotFound(err) {
		return nil
	}
	return err
}

func mustRead(path string) []byte {
	GinkgoHelper()
	b, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	return b
}

// oldBinarySource is a redisha-sim from before runner mode, as far as a
// runner sees it: "redisha-sim runner ..." is an unknown command.
const oldBinarySource = `package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "Error: unknown command \"runner\" for \"redisha-sim\"")
	os.Exit(1)
}
`

package e2e

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/moby/moby/client"

	"github.com/redisha-sim/redisha-sim/sim/docker"
	"github.com/redisha-sim/redisha-sim/sim/rig"
)

// ours counts our labelled containers, those of the command this spec
// started included (Leftovers leaves out a live process's run).
func ours(ctx context.Context) int {
	cs, _, err := docker.Labelled(ctx)
	Expect(err).NotTo(HaveOccurred())
	return len(cs)
}

// startRun starts `redisha-sim run --backend docker` on master-kill and
// waits until at least three of its own containers exist: labelled with
// its process ID as their owner's (in runner mode too), not other runs'.
func startRun(ctx context.Context) *exec.Cmd {
	GinkgoHelper()
	cmd := exec.Command(binary, "run", "--backend", "docker", "-q", "scenarios/master-kill.yaml")
	cmd.Dir = ".."
	cmd.Stdout, cmd.Stderr = GinkgoWriter, GinkgoWriter
	Expect(cmd.Start()).To(Succeed())
	Eventually(ownedContainers).WithContext(ctx).WithArguments(cmd.Process.Pid).WithTimeout(time.Minute).WithPolling(200*time.Millisecond).
		Should(BeNumerically(">=", 3), "the run's containers")
	return cmd
}

// ownedContainers counts the containers labelled with pid as their
// owner's process ID.
func ownedContainers(ctx context.Context, pid int) int {
	GinkgoHelper()
	f := client.Filters{}
	f.Add("label", docker.LabelOwnerPID+"="+strconv.Itoa(pid))
	cs, err := dockerClient(ctx).ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	Expect(err).NotTo(HaveOccurred())
	return len(cs.Items)
}

// exitCode waits for cmd to exit.
func exitCode(cmd *exec.Cmd) int {
	GinkgoHelper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		Fail("the run did not exit within 2 minutes")
	}
	return cmd.ProcessState.ExitCode()
}

var _ = Describe("Cleanup", Label("docker", "cleanup"), func() {
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		It("an interrupted run ("+sig.String()+") removes its containers and networks", func(ctx SpecContext) {
			cmd := startRun(ctx)
			Expect(cmd.Process.Signal(sig)).To(Succeed())
			Expect(exitCode(cmd)).To(Equal(130))
			expectNoLeftovers(ctx)
		}, SpecTimeout(4*time.Minute))
	}

	It("redisha-sim clean removes what a killed run left", func(ctx SpecContext) {
		cmd := startRun(ctx)
		Expect(cmd.Process.Kill()).To(Succeed())
		exitCode(cmd)
		Expect(ours(ctx)).To(BeNumerically(">", 0), "a killed run cannot clean up")
		Expect(ownedContainers(ctx, cmd.Process.Pid)).To(BeNumerically(">", 0), "the killed run's own containers are left")
		out, err := exec.CommandContext(ctx, binary, "clean").CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		Expect(string(out)).To(MatchRegexp(`removed [1-9]\d* container`))
		expectNoLeftovers(ctx)
	}, SpecTimeout(4*time.Minute))

	It("a start that fails half-way removes what it created", func(ctx SpecContext) {
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			defer GinkgoRecover()
			for ctx.Err() == nil && ownedContainers(ctx, os.Getpid()) < 2 {
				time.Sleep(50 * time.Millisecond)
			}
			cancel()
		}()
		t := rig.Topology{Groups: []rig.Group{{Name: rig.DefaultGroup, MasterName: "mymaster", Nodes: []string{"redis1", "redis2", "redis3"}}}, Sentinels: []string{"sentinel1"}, Quorum: 1,
			DownAfter: 5 * time.Second, FailoverTimeout: time.Minute, ParallelSyncs: 1}
		c, err := docker.Backend{}.Start(sctx, t, nil)
		if c != nil {
			c.Close(ctx)
		}
		Expect(err).To(HaveOccurred(), "the start was cancelled with two containers up")
		expectNoLeftovers(ctx)
	}, SpecTimeout(3*time.Minute))
})

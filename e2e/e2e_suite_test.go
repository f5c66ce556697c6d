// Package e2e runs the scenarios on real Redis and Sentinel containers
// (the docker backend), through this project's proxy and through real
// HAProxy, and checks what the reports say against sim/model/TIMING.md.
//
// It needs a Docker engine and the local images (make images; the suite
// builds missing ones itself from Debian's redis-server and haproxy
// packages). Pick subsets with -ginkgo.label-filter, e.g.
//
//	go test ./e2e -ginkgo.label-filter='haproxy && !agreement'
package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/redisha-sim/redisha-sim/sim/docker"
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "redisha-sim e2e")
}

// binary is redisha-sim built for this suite (also put in the proxy
// image).
var binary string

var _ = BeforeSuite(func(ctx SpecContext) {
	dir := GinkgoT().TempDir()
	binary = filepath.Join(dir, "redisha-sim")
	build := exec.CommandContext(ctx, "go", "build", "-o", binary, "github.com/redisha-sim/redisha-sim/cmd/redisha-sim")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "go build: %s", out)

	// Leftovers of crashed runs would make the no-leftovers checks fail
	// for reasons of their own: refuse to start (redisha-sim clean removes
	// them) rather than remove what may be someone's running scenario.
	cs, ns, err := docker.Leftovers(ctx)
	Expect(err).NotTo(HaveOccurred(), "docker: is the engine running?")
	Expect(append(cs, ns...)).To(BeEmpty(), "containers or networks of redisha-sim exist before the suite: run 'redisha-sim clean' (make clean) first")
	// The proxy image always carries this tree's proxy; the others are
	// built when missing.
	missing, err := docker.MissingImages(ctx)
	Expect(err).NotTo(HaveOccurred())
	which := []string{"proxy"}
	for _, m := range missing {
		if m != "proxy" {
			which = append(which, m)
		}
	}
	Expect(docker.BuildLocalImages(ctx, which, binary, nil)).To(Succeed())
}, NodeTimeout(10*time.Minute))

var _ = AfterSuite(func(ctx SpecContext) {
	expectNoLeftovers(ctx)
}, NodeTimeout(time.Minute))

// expectNoLeftovers asserts that no container or network of ours exists.
func expectNoLeftovers(ctx context.Context) {
	GinkgoHelper()
	cs, ns, err := docker.Leftovers(ctx)
	Expect(err).NotTo(HaveOccurred())
	Expect(cs).To(BeEmpty(), "containers left behind")
	Expect(ns).To(BeEmpty(), "networks left behind")
}

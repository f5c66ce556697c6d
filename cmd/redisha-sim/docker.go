package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/redisha-sim/redisha-sim/sim/docker"
)

func newImagesCmd(g *globalFlags) *cobra.Command {
	var binary string
	cmd := &cobra.Command{
		Use:   "images [redis|haproxy|proxy]...",
		Short: "Build the container images from Debian's redis-server and haproxy packages and this binary",
		Long: `Build the images the docker backend uses, for machines that cannot pull
from a registry: ` + docker.LocalRedis + ` (redis-server and
redis-sentinel, and this binary or --binary for the relay in front of
each node and Sentinel, which does the link faults),
` + docker.LocalHAProxy + ` (haproxy), both from this machine's Debian packages
(apt-get install redis-server haproxy), and ` + docker.LocalProxy + `
(this project's proxy, from this binary or --binary; it also runs the
runner of --docker-mode runner). The binary must be static
(CGO_ENABLED=0, as make build does). Without arguments, builds all three.

To build under another tag, leaving the local ones alone (a branch's
images), set ` + docker.EnvRedisImage + `, ` + docker.EnvHAProxyImage + ` or
` + docker.EnvProxyImage + ` to a redisha-sim/ tag, e.g.
` + docker.EnvRedisImage + `=redisha-sim/redis:dev-mybranch; runs and tests with
the same variable use it.

On a machine that can pull, set ` + docker.EnvRedisImage + `=redis:7.0 and
` + docker.EnvHAProxyImage + `=haproxy:2.6 instead.`,
		ValidArgs: []string{"redis", "haproxy", "proxy"},
		Args:      cobra.OnlyValidArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			if binary == "" {
				if binary, err = os.Executable(); err != nil {
					return exitError{exitFailed, fmt.Errorf("find this executable: %w", err)}
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := docker.BuildLocalImages(ctx, args, binary, log); err != nil {
				return exitError{exitFailed, err}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&binary, "binary", "", "static redisha-sim binary for the proxy and Redis images (default: this one)")
	return cmd
}

func newCleanCmd() *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "clean",
		Short: "Remove the containers and networks that crashed runs left behind",
		Long: `Remove the containers and networks labelled ` + docker.LabelProject + `=1 that runs no
longer running left behind: what a docker run leaves when it is killed
before it can clean up (a normal run, a failed one and an interrupted one
remove their own).

Each run's containers carry the host name, PID and start time of the
process that made them (labels ` + docker.LabelOwnerHost + `, ` + docker.LabelOwnerPID + ` and
` + docker.LabelOwnerStart + `). A run whose process is still running on this host (a
concurrent e2e suite, a run in another terminal) is kept, and so is a run
whose process cannot be checked: made on another host or container, or
by a version that did not record it. Both are listed; --all removes them
too.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := docker.Clean(cmd.Context(), docker.CleanOptions{All: all})
			return reportClean(os.Stdout, res, err)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "remove every labelled container and network, also of runs in progress or of owners that cannot be checked")
	return cmd
}

// reportClean prints what clean removed and kept. When Docker could not
// be reached or listed, nothing was removed and only the error is told.
func reportClean(w io.Writer, res docker.CleanResult, err error) error {
	if res.Containers+res.Networks > 0 || err == nil {
		fmt.Fprintf(w, "removed %d container(s) and %d network(s) of runs no longer running\n", res.Containers, res.Networks)
	}
	for _, k := range res.Kept {
		fmt.Fprintf(w, "kept %v\n", k)
	}
	if len(res.Kept) > 0 {
		fmt.Fprintln(w, "(--all removes the kept runs too)")
	}
	if err != nil {
		return exitError{exitFailed, err}
	}
	return nil
}

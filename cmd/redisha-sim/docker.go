package main

import (
	"fmt"
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
redis-sentinel), ` + docker.LocalHAProxy + ` (haproxy), both from this machine's
Debian packages (apt-get install redis-server haproxy), and
` + docker.LocalProxy + ` (this project's proxy, from this binary or --binary).
Without arguments, builds all three.

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
	cmd.Flags().StringVar(&binary, "binary", "", "redisha-sim binary for the proxy image (default: this one)")
	return cmd
}

func newCleanCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "clean",
		Short: "Remove the containers and networks that crashed runs left behind",
		Long: `Remove every container and network labelled ` + docker.LabelProject + `=1: what a
docker run leaves when it is killed before it can clean up (a normal run,
a failed one and an interrupted one remove their own).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, n, err := docker.Clean(cmd.Context())
			fmt.Printf("removed %d container(s) and %d network(s)\n", c, n)
			if err != nil {
				return exitError{exitFailed, err}
			}
			return nil
		},
	}
}

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/redisha-sim/redisha-sim/proxy"
	"github.com/redisha-sim/redisha-sim/proxy/config"
	"github.com/redisha-sim/redisha-sim/sim/inputfile"
)

func newProxyCmd(g *globalFlags) *cobra.Command {
	var (
		file  string
		check bool
		grace time.Duration
	)
	cmd := &cobra.Command{
		Use:   "proxy -f FILE",
		Short: "Run the proxy from an HAProxy configuration (-c: check it and exit)",
		Long: `Run the proxy in the foreground from an HAProxy configuration file.

With -c, check the configuration and exit like 'haproxy -c': 0 when it is
valid (warnings are printed), 1 when it is not; 2 when it has no listener
(as HAProxy: it would not start), when the file cannot be read (missing, a
device, larger than the input limit) or a flag is wrong. SIGINT or SIGTERM stops the
proxy gracefully: it stops accepting, lets sessions end for --grace, then
closes the rest.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return exitError{exitBadInput, errors.New("missing configuration: pass -f FILE")}
			}
			if grace < 0 {
				return exitError{exitBadInput, fmt.Errorf("--grace %v: must not be negative (0: close every session at once)", grace)}
			}
			data, err := inputfile.Read(file)
			if err != nil {
				return exitError{exitBadInput, fmt.Errorf("read configuration: %w", err)}
			}
			cfg, warns, err := config.Parse(file, bytes.NewReader(data), config.ParseOptions{})
			if err == nil {
				err = config.CheckStartable(cfg, file)
			}
			for _, w := range warns {
				fmt.Fprintln(os.Stderr, w)
			}
			if err != nil && cfg != nil && !config.HasListener(cfg) {
				// HAProxy -c: "will not start (no listener)", exit 2.
				return exitError{exitBadInput, err}
			}
			if err != nil {
				var errs config.Errors
				if errors.As(err, &errs) {
					fmt.Fprintln(os.Stderr, err)
					return exitError{exitFailed, fmt.Errorf("%s: %d error(s) found in configuration", file, len(errs))}
				}
				return exitError{exitFailed, err}
			}
			if check {
				if len(warns) > 0 {
					fmt.Println("Warnings were found.")
				}
				fmt.Println("Configuration file is valid")
				return nil
			}
			log, err := g.logger()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			p, err := proxy.New(cfg, proxy.Options{Logger: log})
			if err != nil {
				return exitError{exitFailed, err}
			}
			<-ctx.Done()
			stop()
			log.Info("stopping", "grace", grace)
			sctx, cancel := context.WithTimeout(context.Background(), grace)
			defer cancel()
			if err := p.Shutdown(sctx); err != nil {
				log.Warn("grace period over: remaining sessions were closed")
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "HAProxy configuration file")
	cmd.Flags().BoolVarP(&check, "check", "c", false, "check the configuration and exit")
	cmd.Flags().DurationVar(&grace, "grace", 10*time.Second, "how long sessions may run on after SIGINT/SIGTERM")
	return cmd
}

package main

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/redisha-sim/redisha-sim/sim/docker"
	"github.com/redisha-sim/redisha-sim/sim/link"
)

func newRelayCmd(g *globalFlags) *cobra.Command {
	var opts link.RelayOptions
	var nodes, sentinels []string
	var addressIn string
	cmd := &cobra.Command{
		Use:   "relay --listen ADDR --upstream ADDR [flags] [-- PROGRAM ARGS...]",
		Short: "Relay an instance's port and apply link faults to it (the docker backend's node and Sentinel containers)",
		Long: `Accept on --listen, forward every connection to --upstream, and apply the
link faults (blackhole, reset, loss, bandwidth, delay) that the control
endpoint (--control, HTTP: POST /faults) sets, per peer class (a source
address in --nodes or --sentinels, else clients) and direction.

With a PROGRAM after --, the relay starts in the background and PROGRAM
replaces this process (exec), so that it keeps its PID (1 in a container)
and gets the signals docker sends.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			if opts.Listen == "" || opts.Upstream == "" {
				return exitError{exitBadInput, fmt.Errorf("relay: --listen and --upstream are required")}
			}
			for _, l := range []struct {
				flag string
				in   []string
				out  *[]netip.Addr
			}{{"--nodes", nodes, &opts.Nodes}, {"--sentinels", sentinels, &opts.Sentinels}} {
				for _, s := range l.in {
					a, err := netip.ParseAddr(strings.TrimSpace(s))
					if err != nil {
						return exitError{exitBadInput, fmt.Errorf("relay: %s: %q is not an IP address", l.flag, s)}
					}
					*l.out = append(*l.out, a)
				}
			}
			if len(args) > 0 {
				program, err := withAddress(args, addressIn)
				if err != nil {
					return err
				}
				return execBehindRelay(opts, program)
			}
			opts.Log = log
			r, err := link.NewRelay(opts)
			if err != nil {
				return exitError{exitFailed, fmt.Errorf("relay: %w", err)}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := r.Serve(ctx); err != nil {
				return exitError{exitFailed, fmt.Errorf("relay: %w", err)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Listen, "listen", "", "address to accept on (e.g. :6379)")
	f.StringVar(&opts.Upstream, "upstream", "", "the instance's address (e.g. 127.0.0.1:6380)")
	f.StringVar(&opts.Control, "control", "", "address of the control endpoint (HTTP), none when empty")
	f.StringSliceVar(&nodes, "nodes", nil, "source addresses of peer class nodes (comma-separated)")
	f.StringSliceVar(&sentinels, "sentinels", nil, "source addresses of peer class sentinels (comma-separated)")
	f.StringVar(&addressIn, "address-in", "", "a subnet (CIDR): an argument "+docker.AddressArg+" of PROGRAM becomes this host's address in it")
	return cmd
}

// withAddress replaces every argument docker.AddressArg of program with
// this host's interface address in the subnet (the container's address on
// the cluster network as it is now, after a reschedule too).
func withAddress(program []string, subnet string) ([]string, error) {
	if !slices.Contains(program, docker.AddressArg) {
		return program, nil
	}
	p, err := netip.ParsePrefix(subnet)
	if err != nil {
		return nil, exitError{exitBadInput, fmt.Errorf("relay: --address-in: %q is not a subnet (CIDR), and the program takes %s", subnet, docker.AddressArg)}
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, exitError{exitFailed, fmt.Errorf("relay: list this host's addresses: %w", err)}
	}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		if ip, ok := netip.AddrFromSlice(ipn.IP); ok && p.Contains(ip.Unmap()) {
			out := slices.Clone(program)
			for i, arg := range out {
				if arg == docker.AddressArg {
					out[i] = ip.Unmap().String()
				}
			}
			return out, nil
		}
	}
	return nil, exitError{exitFailed, fmt.Errorf("relay: this host has no address in %s", p)}
}

// execBehindRelay starts this binary as the relay in the background,
// waits (up to 2s) until it accepts, and replaces this process with
// program.
func execBehindRelay(opts link.RelayOptions, program []string) error {
	if err := execAvailable(); err != nil {
		return exitError{exitBadInput, fmt.Errorf("relay: %w", err)}
	}
	self, err := os.Executable()
	if err != nil {
		return exitError{exitFailed, fmt.Errorf("relay: find this executable: %w", err)}
	}
	path, err := exec.LookPath(program[0])
	if err != nil {
		return exitError{exitBadInput, fmt.Errorf("relay: %w", err)}
	}
	var args []string
	for _, a := range os.Args[1:] {
		if a == "--" {
			break
		}
		args = append(args, a)
	}
	child := exec.Command(self, args...)
	child.Stdout, child.Stderr = os.Stdout, os.Stderr
	if err := child.Start(); err != nil {
		return exitError{exitFailed, fmt.Errorf("relay: start: %w", err)}
	}
	_, port, _ := net.SplitHostPort(opts.Listen)
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", port), 100*time.Millisecond); err == nil {
			c.Close()
			break
		}
	}
	if err := execProgram(path, program); err != nil {
		return exitError{exitFailed, fmt.Errorf("relay: exec %s: %w", path, err)}
	}
	return nil
}

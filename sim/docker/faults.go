package docker

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/rig"
	"github.com/testcontainers/testcontainers-go"
)

// Name is the container's name in the scenario.
func (c *Container) Name() string { return c.name }

// Kind is node, sentinel or proxy.
func (c *Container) Kind() rig.Kind { return c.kind }

// Addr is the container's address on the clients network.
func (c *Container) Addr() string {
	return net.JoinHostPort(c.clientsIP.String(), strconv.Itoa(c.port))
}

// ID is the container's docker id.
func (c *Container) ID() string { return c.c.GetContainerID() }

// Do performs a fault action with the docker API and verifies its effect
// on the container: its state, its networks, and, for Redis and Sentinel,
// whether it answers.
func (c *Container) Do(ctx context.Context, action fault.Action) error {
	_, err := c.DoReport(ctx, action)
	return err
}

// DoReport performs a fault action as Do does (rig.Reporter): a failover
// of a node's group acts through the Sentinels (rig.Failover) and reports
// where the master moved; the other actions report nothing.
func (c *Container) DoReport(ctx context.Context, action fault.Action) (string, error) {
	if action == fault.Failover {
		if !fault.Of(action).Available(fault.Docker, c.kind) {
			return "", fmt.Errorf("%s %s: the docker backend cannot %[1]s a %s", action, c.name, c.kind)
		}
		return rig.FailoverOf(ctx, c.cl, c.cl.topo, c.name)
	}
	if err := c.Act(ctx, action); err != nil {
		return "", err
	}
	return "", c.Verify(ctx, action)
}

var (
	_ rig.Stepper  = (*Container)(nil)
	_ rig.Reporter = (*Container)(nil)
)

// Act performs a fault action with the docker API (rig.Stepper); the link
// faults set earlier go on the new relay a start or restart gives.
func (c *Container) Act(ctx context.Context, action fault.Action) error {
	if !fault.Of(action).Available(fault.Docker, c.kind) {
		return fmt.Errorf("%s %s: the docker backend cannot %[1]s a %s", action, c.name, c.kind)
	}
	cli, id := c.cl.cli, c.ID()
	var err error
	switch action {
	case fault.Stop:
		t := StopTimeout
		_, err = cli.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &t})
	case fault.Kill:
		_, err = cli.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: "SIGKILL"})
	case fault.Start:
		_, err = cli.ContainerStart(ctx, id, client.ContainerStartOptions{})
	case fault.Restart:
		t := StopTimeout
		_, err = cli.ContainerRestart(ctx, id, client.ContainerRestartOptions{Timeout: &t})
	case fault.Pause:
		_, err = cli.ContainerPause(ctx, id, client.ContainerPauseOptions{})
	case fault.Unpause:
		_, err = cli.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{})
	case fault.Disconnect:
		nw, _ := c.faultNetwork()
		_, err = cli.NetworkDisconnect(ctx, nw.ID, client.NetworkDisconnectOptions{Container: id, Force: true})
	case fault.Reconnect:
		nw, ip := c.faultNetwork()
		_, err = cli.NetworkConnect(ctx, nw.ID, client.NetworkConnectOptions{
			Container:      id,
			EndpointConfig: &network.EndpointSettings{Aliases: []string{c.name}, IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: ip}},
		})
	default:
		return fmt.Errorf("unknown action %q", action)
	}
	if err != nil {
		return fmt.Errorf("docker %s %s: %w", action, c.name, err)
	}
	switch action {
	case fault.Start, fault.Restart, fault.Unpause:
		// A new relay takes the link faults set before again; a thawed
		// one those set while it was frozen.
		if err := c.replayRelay(ctx); err != nil {
			return err
		}
	}
	return nil
}

// faultNetwork is the network a disconnect cuts: the cluster network for
// Redis and Sentinel (clients still reach a node: a split brain), the
// clients network for the proxy (it loses the nodes and its clients).
func (c *Container) faultNetwork() (*testcontainers.DockerNetwork, netip.Addr) {
	if c.kind == rig.KindProxy {
		return c.cl.clients, c.clientsIP
	}
	return c.cl.cluster, c.clusterIP
}

// Verify checks that an action took effect (rig.Stepper).
func (c *Container) Verify(ctx context.Context, action fault.Action) error {
	res, err := c.cl.cli.ContainerInspect(ctx, c.ID(), client.ContainerInspectOptions{})
	if err != nil {
		return fmt.Errorf("inspect %s: %w", c.name, err)
	}
	st := res.Container.State
	want := map[fault.Action]container.ContainerState{
		fault.Stop: container.StateExited, fault.Kill: container.StateExited, fault.Start: container.StateRunning,
		fault.Restart: container.StateRunning, fault.Pause: container.StatePaused, fault.Unpause: container.StateRunning,
	}
	if w, ok := want[action]; ok && st.Status != w {
		return fmt.Errorf("%s %s: the container is %s, want %s", action, c.name, st.Status, w)
	}
	fn, _ := c.faultNetwork()
	_, onNet := res.Container.NetworkSettings.Networks[fn.Name]
	switch action {
	case fault.Disconnect:
		if onNet {
			return fmt.Errorf("disconnect %s: still on network %s", c.name, fn.Name)
		}
	case fault.Reconnect:
		if !onNet {
			return fmt.Errorf("reconnect %s: not on network %s", c.name, fn.Name)
		}
	case fault.Start, fault.Restart, fault.Unpause:
		if ip := res.Container.NetworkSettings.Networks[c.cl.clients.Name]; ip == nil || ip.IPAddress != c.clientsIP {
			return fmt.Errorf("%s %s: the container's address changed (Sentinel cannot follow that)", action, c.name)
		}
		if c.kind != rig.KindProxy {
			return waitPing(ctx, c.Addr(), c.password, 30*time.Second)
		}
	}
	return nil
}

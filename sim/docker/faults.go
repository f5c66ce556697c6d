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
	"github.com/testcontainers/testcontainers-go"

	"github.com/redisha-sim/redisha-sim/sim"
)

// Name is the container's name in the scenario.
func (c *Container) Name() string { return c.name }

// Kind is node, sentinel or proxy.
func (c *Container) Kind() sim.Kind { return c.kind }

// Addr is the container's address on the clients network.
func (c *Container) Addr() string {
	return net.JoinHostPort(c.clientsIP.String(), strconv.Itoa(c.port))
}

// ID is the container's docker id.
func (c *Container) ID() string { return c.c.GetContainerID() }

// Do performs a fault action with the docker API and verifies its effect
// on the container: its state, its networks, and, for Redis and Sentinel,
// whether it answers.
func (c *Container) Do(ctx context.Context, action string) error {
	cli, id := c.cl.cli, c.ID()
	var err error
	switch action {
	case "stop":
		t := StopTimeout
		_, err = cli.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &t})
	case "kill":
		_, err = cli.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: "SIGKILL"})
	case "start":
		_, err = cli.ContainerStart(ctx, id, client.ContainerStartOptions{})
	case "restart":
		t := StopTimeout
		_, err = cli.ContainerRestart(ctx, id, client.ContainerRestartOptions{Timeout: &t})
	case "pause":
		_, err = cli.ContainerPause(ctx, id, client.ContainerPauseOptions{})
	case "unpause":
		_, err = cli.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{})
	case "disconnect":
		nw, _ := c.faultNetwork()
		_, err = cli.NetworkDisconnect(ctx, nw.ID, client.NetworkDisconnectOptions{Container: id, Force: true})
	case "reconnect":
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
	return c.verify(ctx, action)
}

// faultNetwork is the network a disconnect cuts: the cluster network for
// Redis and Sentinel (clients still reach a node: a split brain), the
// clients network for the proxy (it loses the nodes and its clients).
func (c *Container) faultNetwork() (*testcontainers.DockerNetwork, netip.Addr) {
	if c.kind == sim.KindProxy {
		return c.cl.clients, c.clientsIP
	}
	return c.cl.cluster, c.clusterIP
}

// verify checks that an action took effect.
func (c *Container) verify(ctx context.Context, action string) error {
	res, err := c.cl.cli.ContainerInspect(ctx, c.ID(), client.ContainerInspectOptions{})
	if err != nil {
		return fmt.Errorf("inspect %s: %w", c.name, err)
	}
	st := res.Container.State
	want := map[string]container.ContainerState{
		"stop": container.StateExited, "kill": container.StateExited, "start": container.StateRunning,
		"restart": container.StateRunning, "pause": container.StatePaused, "unpause": container.StateRunning,
	}
	if w, ok := want[action]; ok && st.Status != w {
		return fmt.Errorf("%s %s: the container is %s, want %s", action, c.name, st.Status, w)
	}
	fn, _ := c.faultNetwork()
	_, onNet := res.Container.NetworkSettings.Networks[fn.Name]
	switch action {
	case "disconnect":
		if onNet {
			return fmt.Errorf("disconnect %s: still on network %s", c.name, fn.Name)
		}
	case "reconnect":
		if !onNet {
			return fmt.Errorf("reconnect %s: not on network %s", c.name, fn.Name)
		}
	case "start", "restart", "unpause":
		if ip := res.Container.NetworkSettings.Networks[c.cl.clients.Name]; ip == nil || ip.IPAddress != c.clientsIP {
			return fmt.Errorf("%s %s: the container's address changed (Sentinel cannot follow that)", action, c.name)
		}
		if c.kind != sim.KindProxy {
			return waitPing(ctx, c.Addr(), c.password, 30*time.Second)
		}
	}
	return nil
}

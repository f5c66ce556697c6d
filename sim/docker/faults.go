package docker

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
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
	_, clients := c.ips()
	return net.JoinHostPort(clients.String(), strconv.Itoa(c.port))
}

// ips are the container's addresses on the cluster and clients networks
// now.
func (c *Container) ips() (cluster, clients netip.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.clusterIP, c.clientsIP
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
// where the master moved; a reschedule the addresses the container moved
// between; the other actions report nothing.
func (c *Container) DoReport(ctx context.Context, action fault.Action) (string, error) {
	if action == fault.Failover {
		if !fault.Of(action).Available(fault.Docker, c.kind) {
			return "", fmt.Errorf("%s %s: the docker backend cannot %[1]s a %s", action, c.name, c.kind)
		}
		return rig.FailoverOf(ctx, c.cl, c.cl.topo, c.name)
	}
	fromCluster, fromClients := c.ips()
	if err := c.Act(ctx, action); err != nil {
		return "", err
	}
	if err := c.Verify(ctx, action); err != nil || action != fault.Reschedule {
		return "", err
	}
	cluster, clients := c.ips()
	return fmt.Sprintf("%s moved from %s (clients %s) to %s (clients %s)", c.name, fromCluster, fromClients, cluster, clients), nil
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
	case fault.Reschedule:
		err = c.reschedule(ctx)
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
	case fault.Start, fault.Restart, fault.Unpause, fault.Reschedule:
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
	cluster, clients := c.ips()
	if c.kind == rig.KindProxy {
		return c.cl.clients, clients
	}
	return c.cl.cluster, cluster
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
		fault.Restart: container.StateRunning, fault.Reschedule: container.StateRunning, fault.Pause: container.StatePaused, fault.Unpause: container.StateRunning,
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
	case fault.Start, fault.Restart, fault.Reschedule, fault.Unpause:
		cluster, clients := c.ips()
		if ip := res.Container.NetworkSettings.Networks[c.cl.clients.Name]; ip == nil || ip.IPAddress != clients {
			return fmt.Errorf("%s %s: the container is not at its address %s on the clients network", action, c.name, clients)
		}
		if ip := res.Container.NetworkSettings.Networks[c.cl.cluster.Name]; action == fault.Reschedule && (ip == nil || ip.IPAddress != cluster) {
			return fmt.Errorf("reschedule %s: the container is not at its address %s on the cluster network", c.name, cluster)
		}
		if c.kind == rig.KindProxy {
			return nil
		}
		if err := waitPing(ctx, c.Addr(), c.password, 30*time.Second); err != nil {
			return err
		}
		if action == fault.Reschedule {
			c.mu.Lock()
			former := slices.Clone(c.former)
			c.mu.Unlock()
			for _, ip := range former {
				addr := net.JoinHostPort(ip.String(), strconv.Itoa(c.port))
				if conn, err := net.DialTimeout("tcp", addr, 300*time.Millisecond); err == nil {
					conn.Close()
					return fmt.Errorf("reschedule %s: its old address %s still accepts connections", c.name, addr)
				}
			}
		}
	}
	return nil
}

// firstMovedHost is the host number, on both /24s, of the first
// rescheduled container: clear of the nodes (10-19, 50-99 for up to 60
// nodes), the Sentinels (20-29) and the proxy (30).
const firstMovedHost = 100

// reschedule is a rescheduled pod: the container stopped gracefully if it
// runs, its endpoints on both networks moved to the next free host
// number, and started again with its first command line (so a replica
// replicates the address its first master had then). The old addresses
// stay in the cluster's name mapping.
func (c *Container) reschedule(ctx context.Context) error {
	cli, id, cl := c.cl.cli, c.ID(), c.cl
	res, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return fmt.Errorf("inspect: %w", err)
	}
	if st := res.Container.State.Status; st == container.StateRunning || st == container.StatePaused {
		t := StopTimeout
		if _, err := cli.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &t}); err != nil {
			return fmt.Errorf("stop: %w", err)
		}
	}
	cl.mu.Lock()
	host := firstMovedHost + cl.moves
	cl.moves++
	cl.mu.Unlock()
	if host > 254 {
		return fmt.Errorf("no free host number left on the networks (%d reschedules)", host-firstMovedHost)
	}
	cluster, clients := cl.ip(cl.clusterP, host), cl.ip(cl.clientsP, host)
	for _, m := range []struct {
		nw *testcontainers.DockerNetwork
		ip netip.Addr
	}{{cl.cluster, cluster}, {cl.clients, clients}} {
		if _, on := res.Container.NetworkSettings.Networks[m.nw.Name]; on {
			if _, err := cli.NetworkDisconnect(ctx, m.nw.ID, client.NetworkDisconnectOptions{Container: id, Force: true}); err != nil {
				return fmt.Errorf("leave network %s: %w", m.nw.Name, err)
			}
		}
		if _, err := cli.NetworkConnect(ctx, m.nw.ID, client.NetworkConnectOptions{
			Container:      id,
			EndpointConfig: &network.EndpointSettings{Aliases: []string{c.name}, IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: m.ip}},
		}); err != nil {
			return fmt.Errorf("join network %s at %s: %w", m.nw.Name, m.ip, err)
		}
	}
	c.mu.Lock()
	c.former = append(c.former, c.clusterIP, c.clientsIP)
	c.clusterIP, c.clientsIP = cluster, clients
	c.mu.Unlock()
	cl.mu.Lock()
	cl.byAddr[cluster.String()] = c.name
	cl.byAddr[clients.String()] = c.name
	cl.mu.Unlock()
	if _, err := cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	return nil
}

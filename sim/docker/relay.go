package docker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/link"
	"github.com/redisha-sim/redisha-sim/sim/rig"
)

// The link faults (blackhole, reset, loss, bandwidth, delay and their
// undo) act on a relay in each node and Sentinel container (sim/link's
// Relay, run as `redisha-sim relay` by the container's command): the
// relay accepts on the instance's port on every address and forwards to
// the instance, which listens on loopback only, and it keeps Redis or
// Sentinel PID 1 (it starts in the background, then execs the server),
// so docker stop's SIGTERM reaches Redis and kill and pause take the
// relay along. The faults are set through the relay's control endpoint
// (HTTP at the container's address, RelayControlPort), and placed on the
// relays as link.Place says: the target's for the connections it
// accepts, each peer's for the connections the target makes to it.

// hasRelay reports whether image carries the relay (LabelRelay).
func hasRelay(ctx context.Context, cli *client.Client, image string) (bool, error) {
	res, err := cli.ImageInspect(ctx, image)
	if err != nil {
		return false, fmt.Errorf("inspect image %s: %w", image, err)
	}
	return res.Config != nil && res.Config.Labels[LabelRelay] == "1", nil
}

// behindRelay is the container command that runs program behind the
// relay, which accepts on port and forwards to innerPort on loopback;
// program as it is when the image has no relay. An argument AddressArg of
// program becomes the container's address on the cluster network when it
// starts, so that a node rescheduled to another address announces that
// one.
func (cl *Cluster) behindRelay(port, innerPort int, program []string) []string {
	if !cl.relay {
		return program
	}
	join := func(as []netip.Addr) string {
		s := make([]string, len(as))
		for i, a := range as {
			s[i] = a.String()
		}
		return strings.Join(s, ",")
	}
	cmd := []string{RelayBinary, "relay", "--log-level", "warn",
		"--listen", ":" + strconv.Itoa(port), "--upstream", net.JoinHostPort("127.0.0.1", strconv.Itoa(innerPort)),
		"--control", ":" + strconv.Itoa(RelayControlPort),
		"--nodes", join(cl.nodeIPs), "--sentinels", join(cl.sentinelIPs),
		"--address-in", cl.clusterP.String(), "--"}
	return append(cmd, program...)
}

// controlAddr is the relay's control endpoint, as the host reaches it.
func (c *Container) controlAddr() string {
	return net.JoinHostPort(c.clientsIP.String(), strconv.Itoa(RelayControlPort))
}

var _ rig.LinkFaulter = (*Container)(nil)

// LinkFault applies a link fault to the links of a node or Sentinel with
// the peer classes and directions it names (rig.LinkFaulter): on its own
// relay and, mirrored, on its peers' (link.Place). A container that is
// not running takes it when it starts. Then it checks the effect from
// the host, a client: a blackholed instance does not answer PING, a reset
// one resets a new connection at once, a delayed one answers late, a
// healed one answers; a fault on other peers leaves PING answered.
func (c *Container) LinkFault(ctx context.Context, f fault.LinkFault) error {
	if !fault.Of(f.Action).Available(fault.Docker, c.kind) {
		return fmt.Errorf("%s %s: the docker backend cannot %[1]s a %s", f.Action, c.name, c.kind)
	}
	if !c.cl.relay {
		return fmt.Errorf("%s %s: image %s has no relay (label %s): run 'redisha-sim images' to build one that has", f.Action, c.name, c.cl.images.Redis, LabelRelay)
	}
	class := link.Nodes
	if c.kind == rig.KindSentinel {
		class = link.Sentinels
	}
	members := map[link.Class][]string{}
	byName := map[string]*Container{}
	for _, n := range c.cl.nodes {
		members[link.Nodes] = append(members[link.Nodes], n.name)
		byName[n.name] = n
	}
	for _, s := range c.cl.sentinels {
		members[link.Sentinels] = append(members[link.Sentinels], s.name)
		byName[s.name] = s
	}
	places, err := link.Place(c.name, class, f, members)
	if err != nil {
		return fmt.Errorf("%s %s: %w", f.Action, c.name, err)
	}
	running := true
	for _, p := range places {
		req := link.Request{Fault: p.Fault}
		if from := byName[p.From]; from != nil {
			req.Peers = []netip.Addr{from.clusterIP, from.clientsIP}
		}
		on, err := byName[p.Relay].relay(ctx, req)
		if err != nil {
			return fmt.Errorf("%s %s: %w", f.Action, c.name, err)
		}
		if p.Relay == c.name {
			running = on
		}
	}
	c.cl.log.Debug("link fault", "target", c.name, "action", f.Action, "peers", f.Classes(), "direction", f.Dirs(), "relays", len(places))
	if !running {
		return nil // it answers nothing now; the fault applies once it does
	}
	return c.verifyLink(ctx, f)
}

// relay records a request for the container's relay and sends it when
// the container runs (then reporting true); a stopped or paused one gets
// it when it starts or thaws (replayRelay).
func (c *Container) relay(ctx context.Context, req link.Request) (bool, error) {
	c.cl.mu.Lock()
	if req.Fault.Action == fault.Heal {
		// A heal clears every rule of its peers: what came before it
		// need not be replayed.
		c.relayed = slices.DeleteFunc(c.relayed, func(r link.Request) bool { return slices.Equal(r.Peers, req.Peers) })
	} else {
		c.relayed = append(c.relayed, req)
	}
	c.cl.mu.Unlock()
	res, err := c.cl.cli.ContainerInspect(ctx, c.ID(), client.ContainerInspectOptions{})
	if err != nil {
		return false, fmt.Errorf("inspect %s: %w", c.name, err)
	}
	if st := res.Container.State; st == nil || st.Status != container.StateRunning {
		return false, nil
	}
	if err := link.Send(ctx, c.cl.hc, c.controlAddr(), req); err != nil {
		return false, fmt.Errorf("relay of %s: %w", c.name, err)
	}
	return true, nil
}

// replayRelay sends a new relay (after a start, restart or unpause) the
// requests the container's relay had taken, in order, once its control
// endpoint answers (within 10s).
func (c *Container) replayRelay(ctx context.Context) error {
	if !c.cl.relay || c.kind == rig.KindProxy {
		return nil
	}
	c.cl.mu.Lock()
	reqs := slices.Clone(c.relayed)
	c.cl.mu.Unlock()
	if len(reqs) == 0 {
		return nil
	}
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if err = link.Healthy(ctx, c.cl.hc, c.controlAddr()); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err != nil {
		return fmt.Errorf("relay of %s does not answer: %w", c.name, err)
	}
	for _, r := range reqs {
		if err := link.Send(ctx, c.cl.hc, c.controlAddr(), r); err != nil {
			return fmt.Errorf("relay of %s: %w", c.name, err)
		}
	}
	return nil
}

// clientsHeld reports whether the container's own rules hold or pace
// its clients.
func (c *Container) clientsHeld() bool {
	c.cl.mu.Lock()
	defer c.cl.mu.Unlock()
	for _, r := range c.relayed {
		f := r.Fault
		if len(r.Peers) > 0 || !slices.Contains(f.Classes(), fault.PeersClients) {
			continue
		}
		switch f.Action {
		case fault.Blackhole, fault.Reset, fault.Bandwidth:
			return true
		case fault.Loss:
			if f.Loss > 0 {
				return true
			}
		}
	}
	return false
}

// verifyLink checks a link fault's effect from the host, as a client.
func (c *Container) verifyLink(ctx context.Context, f fault.LinkFault) error {
	addr, name := c.Addr(), c.name
	clients := slices.Contains(f.Classes(), fault.PeersClients)
	const limit = 300 * time.Millisecond
	switch {
	case f.Action == fault.Heal || f.Action == fault.Undelay && !c.clientsHeld():
		if _, err := answer(ctx, addr, time.Second); err != nil {
			return fmt.Errorf("%s %s: %w", f.Action, name, err)
		}
	case f.Action == fault.Undelay:
		// Another fault still holds the clients' links.
	case !clients:
		// A fault on other peers leaves clients through.
		if _, err := answer(ctx, addr, f.Delay+f.Jitter+time.Second); err != nil && f.Action != fault.Delay {
			return fmt.Errorf("%s %s on %v: clients no longer reach it: %w", f.Action, name, f.Classes(), err)
		}
	case f.Action == fault.Blackhole, f.Action == fault.Loss && f.Loss >= 1:
		if _, err := answer(ctx, addr, limit); err == nil {
			return fmt.Errorf("%s %s: it still answers PING", f.Action, name)
		}
	case f.Action == fault.Loss && f.Loss <= 0:
		if _, err := answer(ctx, addr, time.Second); err != nil {
			return fmt.Errorf("%s %s by %v: %w", f.Action, name, f.Loss, err)
		}
	case f.Action == fault.Reset:
		if err := resetSeen(ctx, addr, limit); err != nil {
			return fmt.Errorf("%s %s: %w", f.Action, name, err)
		}
	case f.Action == fault.Bandwidth && 64/f.Rate < 5:
		if _, err := answer(ctx, addr, time.Second+time.Duration(64/f.Rate*float64(time.Second))); err != nil {
			return fmt.Errorf("%s %s to %v bytes/s: %w", f.Action, name, f.Rate, err)
		}
	case f.Action == fault.Delay && f.Delay > 0:
		took, err := answer(ctx, addr, f.Delay+f.Jitter+time.Second)
		switch {
		case err != nil:
			return fmt.Errorf("delay %s: %w", name, err)
		case took < f.Delay:
			return fmt.Errorf("delay %s by %v: a PING took %v", name, f.Delay, took)
		}
	}
	return nil
}

// errNoAnswer is answer's error when nothing comes back in time.
var errNoAnswer = errors.New("no answer to PING")

// answer sends PING on a new connection and reports how long the first
// byte of the reply took (a -NOAUTH counts: the instance answered).
func answer(ctx context.Context, addr string, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	d := net.Dialer{Timeout: limit}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, fmt.Errorf("dial %s: %w", addr, err)
	}
	defer conn.Close()
	conn.SetDeadline(start.Add(limit))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return 0, err
	}
	buf := make([]byte, 64)
	if _, err := conn.Read(buf); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return 0, fmt.Errorf("%w within %v", errNoAnswer, limit)
		}
		return 0, err
	}
	return time.Since(start), nil
}

// resetSeen checks that a connection to addr is refused or reset at
// once, rather than answered or left hanging.
func resetSeen(ctx context.Context, addr string, limit time.Duration) error {
	_, err := answer(ctx, addr, limit)
	switch {
	case err == nil:
		return errors.New("a new connection is answered")
	case errors.Is(err, errNoAnswer):
		return fmt.Errorf("a new connection hangs for %v instead of being reset", limit)
	}
	return nil
}

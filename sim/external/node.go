package external

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/internal/proc"
	"github.com/redisha-sim/redisha-sim/sim/rig"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
)

// maxOutput bounds the output of a fault command kept in its detail.
const maxOutput = 2048

// member is a node or a Sentinel of the deployment: what a fault command
// acts on.
type member interface {
	rig.Instance
	rig.Reporter
	// commands are its fault commands by action.
	commands() map[string]string
	// password is what it requires (requirepass).
	password() string
}

// node is a Redis node of the deployment.
type node struct {
	c *cluster
	n scenario.ExternalNode
}

func (n *node) Name() string                { return n.n.Name }
func (n *node) Kind() rig.Kind              { return rig.KindNode }
func (n *node) Addr() string                { return n.n.Addr }
func (n *node) commands() map[string]string { return n.n.Faults }
func (n *node) password() string            { return n.c.b.s.Topology.Password }

// sentinel is a Sentinel of the deployment.
type sentinel struct {
	c    *cluster
	name string
	s    scenario.ExternalSentinel
}

func (s *sentinel) Name() string                { return s.name }
func (s *sentinel) Kind() rig.Kind              { return rig.KindSentinel }
func (s *sentinel) Addr() string                { return s.s.Addr }
func (s *sentinel) commands() map[string]string { return s.s.Faults }
func (s *sentinel) password() string            { return s.c.b.s.Sentinel.Password }

// Do performs a fault action (DoReport without its report).
func (s *sentinel) Do(ctx context.Context, action fault.Action) error {
	_, err := s.DoReport(ctx, action)
	return err
}

// DoReport performs a fault action by the Sentinel's command for it: a
// Sentinel has no native action (CLIENT PAUSE holds its replies, not its
// own pings, votes and failovers).
func (s *sentinel) DoReport(ctx context.Context, action fault.Action) (string, error) {
	if !s.c.b.opt.AllowFaults {
		return "", fmt.Errorf("%s %s: %w", action, s.name, ErrFaultsNotAllowed)
	}
	tmpl := s.s.Faults[string(action)]
	if tmpl == "" {
		return "", fmt.Errorf("%s %s: the Sentinel has no command for %[1]s (external.sentinels[].faults.%[1]s)", action, s.name)
	}
	detail, err := s.c.run(ctx, s, action, tmpl)
	if err == nil {
		s.c.track(s, action, time.Time{})
	}
	return detail, err
}

// Do performs a fault action (DoReport without its report).
func (n *node) Do(ctx context.Context, action fault.Action) error {
	_, err := n.DoReport(ctx, action)
	return err
}

// DoReport performs a fault action: the node's command for it if it has
// one, else the native way (pause, unpause, failover, kill); it reports
// what it did.
func (n *node) DoReport(ctx context.Context, action fault.Action) (string, error) {
	if !n.c.b.opt.AllowFaults {
		return "", fmt.Errorf("%s %s: %w", action, n.Name(), ErrFaultsNotAllowed)
	}
	if !fault.Of(action).Available(fault.External, rig.KindNode) {
		return "", fmt.Errorf("%s %s: the external backend cannot %[1]s a node", action, n.Name())
	}
	if tmpl := n.n.Faults[string(action)]; tmpl != "" && action != fault.Failover {
		detail, err := n.c.run(ctx, n, action, tmpl)
		if err == nil {
			n.c.track(n, action, time.Time{})
		}
		return detail, err
	}
	switch action {
	case fault.Pause:
		return n.pause(ctx)
	case fault.Unpause:
		return n.unpause(ctx)
	case fault.Failover:
		return n.failover(ctx)
	case fault.Kill:
		return n.crash(ctx)
	}
	return "", fmt.Errorf("%s %s: the node has no command for %[1]s (external.nodes[].faults.%[1]s)", action, n.Name())
}

// track records an applied fault, or forgets the one an undo undid.
func (c *cluster) track(n member, action fault.Action, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if fault.Of(action).Undo != "" {
		c.applied = append(c.applied, applied{node: n, action: action, until: until})
		return
	}
	for i := len(c.applied) - 1; i >= 0; i-- {
		a := c.applied[i]
		if a.node == n && (fault.Of(a.action).Undo == action || action == fault.Restart) {
			c.applied = append(c.applied[:i], c.applied[i+1:]...)
			return
		}
	}
}

// Expand substitutes a node's or a Sentinel's values in a command
// template: {name}, {addr}, {host}, {port}, and {pid} from pid (read only
// when the template uses it).
func Expand(tmpl, name, addr, pid string) string {
	host, port, _ := net.SplitHostPort(addr)
	return strings.NewReplacer("{name}", name, "{addr}", addr, "{host}", host, "{port}", port, "{pid}", pid).Replace(tmpl)
}

// run runs a node's or a Sentinel's command for an action with sh -c
// (on Windows without sh on PATH, cmd /C: see proc.Shell), bounded by the scenario's command timeout, and reports its exit code,
// output and duration; a command that exits non-zero or times out is an
// error.
func (c *cluster) run(ctx context.Context, n member, action fault.Action, tmpl string) (string, error) {
	pid := ""
	if strings.Contains(tmpl, "{pid}") {
		var err error
		if pid, err = c.pid(ctx, n); err != nil {
			return "", fmt.Errorf("%s %s: read its process_id for {pid}: %w", action, n.Name(), err)
		}
	}
	line := Expand(tmpl, n.Name(), n.Addr(), pid)
	timeout := c.b.s.External.CommandTimeout.D
	if timeout == 0 {
		timeout = scenario.DefaultCommandTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	argv := proc.Shell(line)
	// Its own process group, killed whole on timeout: sh's children too
	// (on Windows, its process tree).
	cmd := proc.ShellCommand(cctx, argv)
	cmd.Cancel = func() error { return proc.KillGroup(cmd) }
	cmd.WaitDelay = time.Second
	var out bytes.Buffer
	cmd.Stdout = &limited{b: &out, n: maxOutput}
	cmd.Stderr = cmd.Stdout
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start).Round(time.Millisecond)
	code := -1
	if cmd.ProcessState != nil {
		code = cmd.ProcessState.ExitCode()
	}
	detail := fmt.Sprintf("%s: exit %d in %v", proc.Describe(argv), code, took)
	if o := strings.TrimSpace(out.String()); o != "" {
		detail += "; output: " + o
	}
	switch {
	case errors.Is(cctx.Err(), context.DeadlineExceeded):
		return detail, fmt.Errorf("%s %s: command %q timed out after %v", action, n.Name(), line, timeout)
	case err != nil:
		return detail, fmt.Errorf("%s %s: command %q failed (exit %d in %v): %s", action, n.Name(), line, code, took, strings.TrimSpace(out.String()))
	}
	c.log.Info("fault command", "target", n.Name(), "action", action, "command", line, "exit", code, "took", took)
	return detail, nil
}

// pid is a node's or a Sentinel's process id: read now (INFO server), or
// the last one read when it does not answer.
func (c *cluster) pid(ctx context.Context, n member) (string, error) {
	p, err := processID(ctx, n.Addr(), n.password(), min(c.b.opt.Timeout, time.Second))
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil && p != "" {
		c.pids[n.Name()] = p
		return p, nil
	}
	if last := c.pids[n.Name()]; last != "" {
		c.log.Info("no answer: {pid} is the last process id read", "target", n.Name(), "pid", last, "err", err)
		return last, nil
	}
	return "", err
}

// limited keeps the first n bytes written to it, and notes the rest.
type limited struct {
	b    *bytes.Buffer
	n    int
	more bool
}

func (l *limited) Write(p []byte) (int, error) {
	over := l.b.Len()+len(p) > l.n
	if room := l.n - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	if over && !l.more {
		l.more = true
		l.b.WriteString(" [truncated]")
	}
	return len(p), nil
}

// pause holds every client of the node with CLIENT PAUSE ALL for the
// pause's length in the scenario (package doc), and returns once the
// node no longer answers a new connection.
func (n *node) pause(ctx context.Context) (string, error) {
	c := n.c
	c.mu.Lock()
	length := 10 * time.Second
	if c.npause < len(c.pauses) {
		length = c.pauses[c.npause]
	}
	c.npause++
	c.mu.Unlock()
	rc := client(n.Addr(), c.b.s.Topology.Password, c.b.opt.Timeout)
	defer rc.Close()
	if err := rc.Do(ctx, "CLIENT", "PAUSE", length.Milliseconds(), "ALL").Err(); err != nil {
		return "", fmt.Errorf("pause %s: CLIENT PAUSE: %w", n.Name(), err)
	}
	until := time.Now().Add(length)
	c.track(n, fault.Pause, until)
	detail := fmt.Sprintf("CLIENT PAUSE %d ALL (until the scenario's unpause)", length.Milliseconds())
	// Verify: a PING on a new connection gets no answer.
	pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	probe := client(n.Addr(), c.b.s.Topology.Password, 250*time.Millisecond)
	defer probe.Close()
	if err := probe.Ping(pctx).Err(); err == nil && length > time.Second {
		return detail, fmt.Errorf("pause %s: it still answers PING after CLIENT PAUSE", n.Name())
	}
	return detail, nil
}

// unpause waits for a native pause to end: the node answers again.
func (n *node) unpause(ctx context.Context) (string, error) {
	c := n.c
	c.mu.Lock()
	var until time.Time
	for _, a := range c.applied {
		if a.node == n && a.action == fault.Pause {
			until = a.until
		}
	}
	c.mu.Unlock()
	if until == (time.Time{}) {
		return "", fmt.Errorf("unpause %s: it was not paused by this run", n.Name())
	}
	start := time.Now()
	if err := n.waitAnswers(ctx, time.Until(until)+5*time.Second); err != nil {
		return "", fmt.Errorf("unpause %s: %w", n.Name(), err)
	}
	c.track(n, fault.Unpause, time.Time{})
	return fmt.Sprintf("the CLIENT PAUSE ended; the node answered after %v", time.Since(start).Round(time.Millisecond)), nil
}

// waitAnswers waits up to limit until the node answers PING.
func (n *node) waitAnswers(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(max(limit, time.Second))
	var err error
	for time.Now().Before(deadline) {
		rc := client(n.Addr(), n.c.b.s.Topology.Password, 250*time.Millisecond)
		pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		err = rc.Ping(pctx).Err()
		cancel()
		rc.Close()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("no answer within %v: %w", limit, err)
}

// crash kills the node natively: DEBUG SEGFAULT, which it answers by
// crashing (no reply; the connection closes), when it allows DEBUG. It
// returns once a new connection gets no PING answer (within 5s).
func (n *node) crash(ctx context.Context) (string, error) {
	c := n.c
	rc := client(n.Addr(), c.b.s.Topology.Password, c.b.opt.Timeout)
	defer rc.Close()
	start := time.Now()
	err := rc.Do(ctx, "DEBUG", "SEGFAULT").Err()
	if err == nil {
		return "", fmt.Errorf("kill %s: DEBUG SEGFAULT answered instead of crashing the node", n.Name())
	}
	if rerr, ok := errors.AsType[redis.Error](err); ok {
		return "", fmt.Errorf("kill %s: %s", n.Name(), killNeedsCommand(rerr.Error()))
	}
	// Its answer is the connection closing; the process may take a moment
	// (Redis writes its crash report first) but answers nothing meanwhile.
	deadline := time.Now().Add(5 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		probe := client(n.Addr(), c.b.s.Topology.Password, 250*time.Millisecond)
		perr := probe.Ping(pctx).Err()
		probe.Close()
		cancel()
		if perr != nil {
			break
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("kill %s: it still answers PING 5s after DEBUG SEGFAULT (%v)", n.Name(), err)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	c.track(n, fault.Kill, time.Time{})
	return fmt.Sprintf("DEBUG SEGFAULT (native): the node closed the connection (%v) and stopped answering in %v", err, time.Since(start).Round(time.Millisecond)), nil
}

// failover is the failover every backend performs (rig.Failover):
// SENTINEL FAILOVER <master name of the node's group> on the first
// Sentinel that takes it, returning once a majority of the Sentinels
// name another master, within twice the deployment's failover-timeout
// plus 10s.
func (n *node) failover(ctx context.Context) (string, error) {
	c := n.c
	g := groupOf(c.b.s, n.Name())
	o := rig.FailoverOptions{MasterName: g.MasterName, Password: c.b.s.Sentinel.Password, Timeout: c.b.opt.Timeout,
		Limit: 2*c.b.s.Sentinel.FailoverTimeout.D + 10*time.Second}
	if before, err := c.masterAddr(ctx, g.MasterName); err == nil {
		if name, _ := c.NodeByAddr(before); name != n.Name() {
			c.log.Warn("failover targets a node that is not the master; SENTINEL FAILOVER acts on the master", "target", n.Name(), "master", name)
		}
	}
	return rig.Failover(ctx, c, o)
}

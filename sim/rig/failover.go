package rig

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
)

// FailoverOptions say how Failover reaches a cluster's Sentinels and how
// long it waits.
type FailoverOptions struct {
	// MasterName is the name the Sentinels monitor the group's master by.
	MasterName string
	// Password is the Sentinels' requirepass (none when empty).
	Password string
	// Timeout bounds each request to a Sentinel; zero means 1s.
	Timeout time.Duration
	// Limit bounds the wait for the Sentinels to name another master once
	// one accepted the request; zero means 30s.
	Limit time.Duration
}

// Failover performs the fault action failover on a cluster through its
// Sentinels (the same way on every backend that owns them): it reads the
// master a majority of the Sentinels name, sends SENTINEL FAILOVER
// <master-name> to the Sentinels that name that master, in order, until
// one accepts it (a Sentinel that has not yet taken the last switch from
// the others would fail over the master before it, and drop that failover
// when the newer configuration reaches it), and
// returns once a majority of the Sentinels that answer name another
// master. A refusal by every Sentinel (INPROG, NOGOODSLAVE, unreachable)
// is an error with each one's answer. The detail says which Sentinel took
// it and where the master moved.
func Failover(ctx context.Context, c Cluster, o FailoverOptions) (string, error) {
	if o.Timeout == 0 {
		o.Timeout = time.Second
	}
	if o.Limit == 0 {
		o.Limit = 30 * time.Second
	}
	before, named, err := sentinelsMaster(ctx, c, o)
	if err != nil {
		return "", fmt.Errorf("failover %s: %w", o.MasterName, err)
	}
	by := ""
	var errs []error
	for _, s := range c.Sentinels() {
		if m := named[s.Name()]; m != before {
			errs = append(errs, fmt.Errorf("sentinel %s: not asked: it names %s, the others %s", s.Name(), cmp.Or(m, "no master"), before))
			continue
		}
		err := sentinelDo(ctx, s.Addr(), o, "SENTINEL", "FAILOVER", o.MasterName).Err()
		if err == nil {
			by = s.Name()
			break
		}
		errs = append(errs, fmt.Errorf("sentinel %s: %w", s.Name(), err))
	}
	if by == "" {
		return "", fmt.Errorf("failover %s: SENTINEL FAILOVER: %w", o.MasterName, errors.Join(errs...))
	}
	start := time.Now()
	deadline := start.Add(o.Limit)
	for {
		after, _, err := sentinelsMaster(ctx, c, o)
		if err == nil && after != before {
			return fmt.Sprintf("SENTINEL FAILOVER %s on %s: the Sentinels moved the master from %s to %s in %v",
				o.MasterName, by, nameOf(c, before), nameOf(c, after), time.Since(start).Round(time.Millisecond)), nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("failover %s: SENTINEL FAILOVER on %s was accepted, but the Sentinels still name %s after %v", o.MasterName, by, nameOf(c, before), o.Limit)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// nameOf is "name (addr)", or addr for an address no node has.
func nameOf(c Cluster, addr string) string {
	if name, ok := c.NodeByAddr(addr); ok {
		return name + " (" + addr + ")"
	}
	return addr
}

// sentinelsMaster is the master address ("host:port") that a majority of
// the Sentinels that answer name, and what each of those that answer
// names, by Sentinel name.
func sentinelsMaster(ctx context.Context, c Cluster, o FailoverOptions) (string, map[string]string, error) {
	votes := map[string]int{}
	named := map[string]string{}
	answered := 0
	var errs []error
	for _, s := range c.Sentinels() {
		hp, err := sentinelDo(ctx, s.Addr(), o, "SENTINEL", "get-master-addr-by-name", o.MasterName).StringSlice()
		if err == nil && len(hp) != 2 {
			err = fmt.Errorf("get-master-addr-by-name answered %q", hp)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("sentinel %s: %w", s.Name(), err))
			continue
		}
		answered++
		addr := net.JoinHostPort(hp[0], hp[1])
		votes[addr]++
		named[s.Name()] = addr
	}
	for addr, v := range votes {
		if 2*v > answered {
			return addr, named, nil
		}
	}
	return "", named, fmt.Errorf("no master named by a majority of the %d Sentinels that answered (%v): %w", answered, votes, errors.Join(errs...))
}

// sentinelDo sends one command to the Sentinel at addr on a connection of
// its own, bounded by o.Timeout.
func sentinelDo(ctx context.Context, addr string, o FailoverOptions, args ...any) *redis.Cmd {
	rc := redis.NewClient(&redis.Options{Addr: addr, Password: o.Password, Protocol: 2, DisableIdentity: true, MaxRetries: -1,
		DialTimeout: o.Timeout, ReadTimeout: o.Timeout, WriteTimeout: o.Timeout})
	defer rc.Close()
	qctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	cmd := rc.Do(qctx, args...)
	// The reply is read already; closing the client leaves it intact.
	return cmd
}

// FailoverOptions are the options of a failover of the group node belongs
// to: its master name, the Sentinels' password, and a wait of twice the
// failover-timeout plus 10s (a forced failover that stalls aborts after
// failover-timeout; the switch comes at the latest failover-timeout after
// the promotion). ok is false for a name no group holds.
func (t Topology) FailoverOptions(node string) (o FailoverOptions, ok bool) {
	for _, g := range t.Groups {
		if slices.Contains(g.Nodes, node) {
			return FailoverOptions{MasterName: g.MasterName, Password: t.SentinelPassword, Limit: 2*t.FailoverTimeout + 10*time.Second}, true
		}
	}
	return FailoverOptions{}, false
}

// FailoverOf performs failover for node of cluster c started with
// topology t, as a backend's node does it (Failover).
func FailoverOf(ctx context.Context, c Cluster, t Topology, node string) (string, error) {
	o, ok := t.FailoverOptions(node)
	if !ok {
		return "", fmt.Errorf("failover %s: the node is in no group", node)
	}
	return Failover(ctx, c, o)
}

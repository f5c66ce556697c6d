package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisha-sim/redisha-sim/sim/rig"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

// runFaults fires the scenario's faults at their times, resolving targets
// when each fires.
func runFaults(ctx context.Context, s *scenario.Scenario, c rig.Cluster, px rig.ProxyUnderTest, poller *rolePoller, rec *timeline.Recorder, log *slog.Logger) error {
	named := map[string]rig.Instance{}
	groups := s.ResolvedGroups()
	groupOf := map[string]string{} // node → group, with several groups
	if len(groups) > 1 {
		for _, g := range groups {
			for _, n := range g.Nodes {
				groupOf[n] = g.Name
			}
		}
	}
	for _, f := range s.Faults {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Until(rec.Base().Add(f.At.D))):
		}
		target, err := resolveTarget(ctx, f.Target, groups, c, s.Sentinel.Password, px, poller, named)
		if err != nil {
			rec.Event(timeline.Event{Kind: timeline.KindFault, Source: "engine", Name: string(f.Action), Target: f.Target, Err: err.Error()})
			return fmt.Errorf("fault %s %s at %v: %w", f.Action, f.Target, f.At, err)
		}
		if f.As != "" {
			named[f.As] = target
		}
		t0 := rec.Now()
		detail, err := doFault(ctx, target, f)
		e := timeline.Event{T: t0, Kind: timeline.KindFault, Source: "engine", Name: string(f.Action), Target: target.Name(), Took: rec.Now() - t0, Detail: detail}
		if target.Kind() == rig.KindNode {
			e.Node, e.Group = target.Name(), groupOf[target.Name()]
		}
		if err != nil {
			e.Err = err.Error()
			rec.Event(e)
			return fmt.Errorf("fault %s %s at %v: %w", f.Action, target.Name(), f.At, err)
		}
		rec.Event(e)
		log.Info("fault", "action", f.Action, "target", target.Name(), "at", f.At.D, "took", e.Took)
	}
	return nil
}

// resolveTarget finds a fault's instance: "master" is the node the
// Sentinels name now for the first group's master name, "replica" the
// first (by name) of the group's other nodes that replicates; a group's
// "<group>.master" and "<group>.replica" the same in that group;
// "host:<name>" the host; "proxy" the proxy under test; else a node or
// Sentinel by name, or a name an earlier fault gave by as.
func resolveTarget(ctx context.Context, t string, groups []scenario.Group, c rig.Cluster, sentinelPassword string, px rig.ProxyUnderTest, poller *rolePoller, named map[string]rig.Instance) (rig.Instance, error) {
	if in, ok := named[t]; ok {
		return in, nil
	}
	if h, ok := strings.CutPrefix(t, scenario.HostTarget); ok {
		for _, in := range c.Hosts() {
			if in.Name() == h {
				return in, nil
			}
		}
		return nil, fmt.Errorf("unknown host %q", h)
	}
	byName := map[string]rig.Instance{}
	for _, n := range c.Nodes() {
		byName[n.Name()] = n
	}
	for _, sn := range c.Sentinels() {
		byName[sn.Name()] = sn
	}
	if t == "proxy" {
		if in := px.Instance(); in != nil {
			return in, nil
		}
		return nil, errors.New("the proxy under test cannot be faulted")
	}
	group, role := "", t
	if g, r, ok := strings.Cut(t, "."); ok && (r == "master" || r == "replica") {
		group, role = g, r
	}
	if role != "master" && role != "replica" {
		if in, ok := byName[t]; ok {
			return in, nil
		}
		return nil, fmt.Errorf("unknown target %q", t)
	}
	var g *scenario.Group
	for i := range groups {
		if groups[i].Name == group || (group == "" && i == 0) {
			g = &groups[i]
			break
		}
	}
	if g == nil {
		return nil, fmt.Errorf("unknown group %q", group)
	}
	m, err := sentinelMaster(ctx, c, sentinelPassword, g.MasterName)
	if err != nil {
		return nil, err
	}
	if role == "master" {
		if in, ok := byName[m]; ok {
			return in, nil
		}
		return nil, fmt.Errorf("the Sentinels name %s the master of %s, not a node of the cluster", m, g.MasterName)
	}
	roles := poller.snapshot()
	var names []string
	for _, name := range g.Nodes {
		if r, ok := roles[name]; ok && name != m && r.role == timeline.RoleReplica {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no replica of %s is running", g.MasterName)
	}
	sort.Strings(names)
	return byName[names[0]], nil
}

// sentinelMaster asks every reachable Sentinel (authenticating with
// password, the Sentinels' requirepass, when not empty) for the master
// and returns the node a majority of the answers name.
func sentinelMaster(ctx context.Context, c rig.Cluster, password, masterName string) (string, error) {
	votes := map[string]int{}
	answered := 0
	for _, s := range c.Sentinels() {
		rc := redis.NewClient(&redis.Options{Addr: s.Addr(), Password: password, Protocol: 2, DisableIdentity: true, MaxRetries: -1,
			DialTimeout: 300 * time.Millisecond, ReadTimeout: 300 * time.Millisecond})
		qctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		hp, err := rc.Do(qctx, "SENTINEL", "get-master-addr-by-name", masterName).StringSlice()
		cancel()
		rc.Close()
		if err != nil || len(hp) != 2 {
			continue
		}
		answered++
		if name, ok := nodeByAddr(ctx, c, net.JoinHostPort(hp[0], hp[1])); ok {
			votes[name]++
		}
	}
	for name, v := range votes {
		if 2*v > answered {
			return name, nil
		}
	}
	return "", fmt.Errorf("the Sentinels do not agree on a master (%d answered: %v)", answered, votes)
}

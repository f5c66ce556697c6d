package sim

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisha-sim/redisha-sim/sim/rig"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

// settleGroups settles every group and reads its writes back (settleAndReadBack),
// all groups at once, each bounded by the scenario's settle time; each
// group's read-back is left in its rb.
func settleGroups(ctx context.Context, s *scenario.Scenario, c rig.Cluster, poller *rolePoller, rec *timeline.Recorder, groups []*groupRun, progress func()) {
	var wg sync.WaitGroup
	for _, g := range groups {
		wg.Go(func() { g.rb = settleAndReadBack(ctx, s, c, poller, rec, g, progress) })
	}
	wg.Wait()
}

// settleAndReadBack waits (up to the scenario's settle time) until a group
// has one master that every Sentinel names by the group's master name,
// with every other reachable node of the group replicating from it, then
// reads every key the group's writers wrote from that master and marks
// each of their writes present or absent (sim/model/TIMING.md §5).
func settleAndReadBack(ctx context.Context, s *scenario.Scenario, c rig.Cluster, poller *rolePoller, rec *timeline.Recorder, g *groupRun, progress func()) *timeline.ReadBack {
	rb := &timeline.ReadBack{}
	deadline := time.Now().Add(s.Settle.D)
	var master string
	for {
		m, err := sentinelMaster(ctx, c, s.Sentinel.Password, g.MasterName)
		if err == nil && settled(poller.snapshot(), m, g.Nodes) {
			master, rb.Settled = m, true
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			if err == nil {
				master = m // Sentinel's choice, even if not every node follows it yet
			}
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	rb.At = rec.Now()
	if master == "" {
		rb.Err = fmt.Sprintf("no master that a majority of Sentinels agree on within settle time %v", s.Settle.D)
		return rb
	}
	rb.Master = master
	progress()
	var addr string
	for _, n := range c.Nodes() {
		if n.Name() == master {
			addr = n.Addr()
		}
	}
	present, err := readBack(ctx, addr, s.Topology.Password, rec, g.tag)
	if err != nil {
		rb.Err = fmt.Sprintf("read back from %s: %v", master, err)
		return rb
	}
	rec.Update(func(tl *timeline.Timeline) {
		for i := range tl.Ops {
			if tl.Ops[i].Kind != timeline.OpWrite || tl.Ops[i].Group != g.tag {
				continue
			}
			if present[tl.Ops[i].Key] {
				tl.Ops[i].Final = "present"
			} else {
				tl.Ops[i].Final = "absent"
			}
		}
	})
	return rb
}

// settled reports whether master says role:master and every other
// reachable node of the group (nodes) replicates from it with its link up.
func settled(roles map[string]nodeRole, master string, nodes []string) bool {
	if roles[master].role != timeline.RoleMaster {
		return false
	}
	for _, name := range nodes {
		r, ok := roles[name]
		if !ok || name == master || r.role == timeline.RoleUnreachable {
			continue
		}
		if r.role != timeline.RoleReplica || r.master != master || !r.linkUp {
			return false
		}
	}
	return true
}

// readBack fetches every key written by a group's writers (their ops
// carry group) from addr in batches.
func readBack(ctx context.Context, addr, password string, rec *timeline.Recorder, group string) (map[string]bool, error) {
	var keys []string
	for _, op := range rec.Timeline().Ops {
		if op.Kind == timeline.OpWrite && op.Group == group {
			keys = append(keys, op.Key)
		}
	}
	rc := redis.NewClient(&redis.Options{Addr: addr, Password: password, Protocol: 2, DisableIdentity: true,
		MaxRetries: 3, DialTimeout: 2 * time.Second, ReadTimeout: 10 * time.Second})
	defer rc.Close()
	present := map[string]bool{}
	const batch = 1000
	for i := 0; i < len(keys); i += batch {
		part := keys[i:min(i+batch, len(keys))]
		vals, err := rc.MGet(ctx, part...).Result()
		if err != nil {
			return nil, err
		}
		for j, v := range vals {
			if v != nil {
				present[part[j]] = true
			}
		}
	}
	return present, nil
}

package sim

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisha-sim/redisha-sim/sim/rig"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

// settleAndReadBack waits (up to the scenario's settle time) until the
// cluster has one master that every Sentinel names, with every other
// reachable node replicating from it, then reads every written key from
// that master and marks each write present or absent (sim/model/TIMING.md §5).
func settleAndReadBack(ctx context.Context, s *scenario.Scenario, c rig.Cluster, poller *rolePoller, rec *timeline.Recorder, progress func()) *timeline.ReadBack {
	rb := &timeline.ReadBack{}
	deadline := time.Now().Add(s.Settle.D)
	var master string
	for {
		m, err := sentinelMaster(ctx, c, s.Sentinel.MasterName)
		if err == nil && settled(poller.snapshot(), m) {
			master, rb.Settled = m, true
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			if err == nil {
				master = m // Sentinel's choice, even if not every node follows it yet
			}
			break
		}
		time.Sleep(100 * time.Millisecond)
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
	present, err := readBack(ctx, addr, s.Topology.Password, rec)
	if err != nil {
		rb.Err = fmt.Sprintf("read back from %s: %v", master, err)
		return rb
	}
	rec.Update(func(tl *timeline.Timeline) {
		for i := range tl.Ops {
			if tl.Ops[i].Kind != timeline.OpWrite {
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
// reachable node replicates from it with its link up.
func settled(roles map[string]nodeRole, master string) bool {
	if roles[master].role != timeline.RoleMaster {
		return false
	}
	for name, r := range roles {
		if name == master || r.role == timeline.RoleUnreachable {
			continue
		}
		if r.role != timeline.RoleReplica || r.master != master || !r.linkUp {
			return false
		}
	}
	return true
}

// readBack fetches every written key from addr in batches.
func readBack(ctx context.Context, addr, password string, rec *timeline.Recorder) (map[string]bool, error) {
	var keys []string
	for _, op := range rec.Timeline().Ops {
		if op.Kind == timeline.OpWrite {
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

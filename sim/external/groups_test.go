package external_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisha-sim/redisha-sim/proxy/redistest"
	"github.com/redisha-sim/redisha-sim/sim"
	"github.com/redisha-sim/redisha-sim/sim/external"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

// twoSets starts two master/replica sets of real processes, "cache" (a
// master and two replicas) and "sessions" (a master and a replica), and
// three Sentinels monitoring both, and waits until every Sentinel knows
// every replica and the other Sentinels.
func twoSets(t *testing.T) (cache, sessions []*redistest.Server, sentinels []string) {
	t.Helper()
	cache = redistest.StartGroup(t, 3, "")
	sessions = redistest.StartGroup(t, 2, "")
	for range 3 {
		var args []string
		for _, m := range []struct {
			name string
			port int
		}{{"cache", cache[0].Port}, {"sessions", sessions[0].Port}} {
			args = append(args, fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2", m.name, m.port),
				"sentinel down-after-milliseconds "+m.name+" 1000", "sentinel failover-timeout "+m.name+" 5000")
		}
		s, err := redistest.Start(t.Context(), redistest.Options{Sentinel: true, Args: args})
		if err != nil {
			t.Fatalf("start sentinel: %v", err)
		}
		t.Cleanup(s.Close)
		sentinels = append(sentinels, s.Addr)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, addr := range sentinels {
		for _, m := range []struct {
			name     string
			replicas int
		}{{"cache", 2}, {"sessions", 1}} {
			for {
				rc := redistest.Strings
				srv := redisClient(addr)
				mi, err := srv.Do(t.Context(), "SENTINEL", "master", m.name).Result()
				reps, rerr := srv.Do(t.Context(), "SENTINEL", "replicas", m.name).Result()
				srv.Close()
				kv := rc(mi)
				ok := err == nil && rerr == nil && redistest.Field(kv, "num-slaves") == fmt.Sprint(m.replicas) && redistest.Field(kv, "num-other-sentinels") == "2"
				list, _ := reps.([]any)
				for _, r := range list {
					if rkv := rc(r); redistest.Field(rkv, "master-link-status") != "ok" || strings.Contains(redistest.Field(rkv, "flags"), "disconnected") {
						ok = false
					}
				}
				if ok {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("sentinel %s did not discover %s within 30s: %v %v", addr, m.name, mi, reps)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	return cache, sessions, sentinels
}

// describeGroups writes and loads a scenario naming the two sets as
// groups cache (c1..c3) and sessions (s1, s2), with extra YAML.
func describeGroups(t *testing.T, cache, sessions []*redistest.Server, sentinels []string, extra string) *scenario.Scenario {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "name: external-groups\nbackend: external\nduration: 8s\nsettle: 20s\nwarmup: 20s\n")
	fmt.Fprintf(&b, "workload: {writers: {count: 1, rate: 50}}\n")
	fmt.Fprintf(&b, "topology:\n  groups:\n    - {name: cache, master_name: cache}\n    - {name: sessions, master_name: sessions}\n")
	fmt.Fprintf(&b, "external:\n  command_timeout: 10s\n  sentinels: [%s]\n  nodes:\n", strings.Join(sentinels, ", "))
	for i, n := range cache {
		fmt.Fprintf(&b, "    - {name: c%d, addr: %q, group: cache, faults: {kill: \"kill -9 {pid}\"}}\n", i+1, n.Addr)
	}
	for i, n := range sessions {
		fmt.Fprintf(&b, "    - {name: s%d, addr: %q, group: sessions, faults: {kill: \"kill -9 {pid}\"}}\n", i+1, n.Addr)
	}
	b.WriteString(extra)
	return loadScenario(t, "groups.yaml", b.String())
}

func TestSeveralMasterNamesAreCheckedPlannedAndFaultedPerGroup(t *testing.T) {
	cache, sessions, sentinels := twoSets(t)
	s := describeGroups(t, cache, sessions, sentinels, "faults:\n  - {at: 2s, action: kill, target: cache.master}\n  - {at: 3s, action: failover, target: sessions.master}\n")

	st, err := external.Inspect(t.Context(), s, 0)
	if err != nil {
		t.Fatalf("inspect: %v", err)
	}
	if st.Masters["cache"] != "c1" || st.Masters["sessions"] != "s1" {
		t.Errorf("masters: got %v, want cache c1 and sessions s1", st.Masters)
	}
	var plan bytes.Buffer
	if err := external.Plan(t.Context(), s, 0, &plan); err != nil {
		t.Fatalf("plan: %v", err)
	}
	for _, want := range []string{"c1 is the master of cache", "s1 is the master of sessions",
		`kill cache.master (now c1): sh -c "kill -9 `, "failover sessions.master (now s1): SENTINEL FAILOVER sessions"} {
		if !strings.Contains(plan.String(), want) {
			t.Errorf("plan:\n%s\nwant it to contain %q", plan.String(), want)
		}
	}
	if n, err := cache[0].Client().DBSize(t.Context()).Result(); err != nil || n != 0 {
		t.Errorf("cache's master holds %d keys (%v) after the dry run, want 0", n, err)
	}

	prefix := fmt.Sprintf("redisha-sim:groups%d:", time.Now().UnixNano())
	res, err := sim.Run(t.Context(), s, external.New(s, external.Options{AllowFaults: true, KeyPrefix: prefix}), sim.Options{StartProxy: external.StartProxy})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	got := map[string]timeline.Event{}
	for _, e := range res.Timeline.Events {
		if e.Kind == timeline.KindFault {
			got[e.Name] = e
		}
	}
	if k := got["kill"]; k.Target != "c1" || k.Err != "" || !strings.Contains(k.Detail, "exit 0") {
		t.Errorf("kill event: got %+v, want c1 killed by its command", k)
	}
	if _, err := cache[0].Do(t.Context(), "PING"); err == nil {
		t.Error("cache's master still answers after its kill")
	}
	if f := got["failover"]; f.Target != "s1" || f.Err != "" || !strings.Contains(f.Detail, "SENTINEL FAILOVER sessions on ") {
		t.Errorf("failover event: got %+v, want SENTINEL FAILOVER sessions", f)
	}
	if role, err := sessions[0].Client().Do(t.Context(), "ROLE").Slice(); err != nil || role[0] != "slave" {
		t.Errorf("s1's role after the failover: got %v (%v), want slave", role, err)
	}
	if len(res.Report.Groups) != 2 {
		t.Fatalf("report groups: got %d, want 2 (cache, sessions)", len(res.Report.Groups))
	}
	for _, g := range res.Report.Groups {
		if g.Report == nil || !g.Report.WriteInterruption.Recovered {
			t.Errorf("group %s: writes did not recover", g.Name)
		}
	}
	for _, n := range append(cache[1:], sessions...) {
		if k, err := n.Client().Keys(t.Context(), prefix+"*").Result(); err != nil || len(k) != 0 {
			t.Errorf("%s holds %d keys under the run's prefix after it (%v), want 0", n.Addr, len(k), err)
		}
	}
}

// redisClient is a client of a Sentinel without a password.
func redisClient(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1})
}

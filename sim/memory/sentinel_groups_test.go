package memory

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy/redistest"
	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/rig"
)

// Three masters watched by the same three Sentinels, killed at the same
// instant: real redis-sentinel processes and the in-memory Sentinels run
// the three concurrent failovers, and what sentinel.c implies must hold on
// both (sim/model/TIMING.md §2 for the single-failover timings):
//
//   - one current_epoch per Sentinel, shared by its masters: each
//     Sentinel's +new-epoch values go up one at a time, whichever master
//     they come from, the Sentinels end on the same epoch, and it is the
//     highest epoch a failover was tried in. One at a time because every
//     epoch comes from a +try-failover, which adds one, and every other
//     Sentinel hears of the tries over its one connection to the trying
//     Sentinel, in order. (A Sentinel could skip an epoch if a request
//     relayed through a third Sentinel overtook the direct one; in 15 runs
//     of the real Sentinels here none did.);
//   - each master's config epoch is the epoch of one of its
//     +try-failover, no higher than the final current epoch (distinct
//     masters may end with the same config epoch: two Sentinels counting
//     their own epochs can each win a different master in the same one,
//     as real Sentinels did in 3 runs of 16 here);
//   - a vote is cast only in the voter's current epoch (a request below
//     it is refused): every +vote-for-leader carries the epoch of the
//     voter's last +new-epoch;
//   - a Sentinel retries a master's failover only 2 × failover-timeout
//     after its previous try;
//   - every group fails over to one of its own replicas, within ranges
//     that count the retries.
//
// Then the two sides are compared: the groups' switches (sorted) within
// 1.5 s of each other, and as many aborted failovers (none in 15 runs of
// the real Sentinels).
//
// A fake with one epoch per master fails the first check (its +new-epoch
// values repeat); one that votes outside its current epoch fails the
// third; one whose vote requests for several masters overtake each other
// fails the first too, most of the time: the in-memory Sentinels had one
// connection per master to each other Sentinel instead of sentinel.c's
// shared one, and requests that could overtake each other on a
// connection; they skipped epochs ("+new-epoch 1, 3, 4") in 5 runs of 6,
// ending on epoch 4 or 5 where real ones ended on 3. With the
// connections kept in order but still one per master, 1 run of 2 failed.
// A fake that votes for a request below its current epoch is not caught:
// with requests in order, none came below it in 2 runs with that defect
// made on purpose.

// The groups' timing: down-after as in the single-master comparison,
// failover-timeout short so that a retry comes within the test.
const (
	groupsDownAfter       = 1500 * time.Millisecond
	groupsFailoverTimeout = 3 * time.Second
)

// groupSizes are the nodes of the three groups (master first).
var groupSizes = []int{3, 2, 2}

// groupsSetup is a running cluster of several groups, seen from outside.
type groupsSetup struct {
	kind string
	// names are the master names, groups the nodes' addresses by group
	// (master first).
	names     []string
	groups    [][]string
	sentinels []string
	// killMasters kills every group's master at the same instant.
	killMasters func() error
}

func groupMasterName(g int) string { return fmt.Sprintf("set%d", g+1) }

func realGroups(t *testing.T) groupsSetup {
	t.Helper()
	redistest.Require(t)
	s := groupsSetup{kind: "real"}
	var masters []*redistest.Server
	var conf []string
	for g, size := range groupSizes {
		nodes := redistest.StartGroup(t, size, "pw")
		var addrs []string
		for _, n := range nodes {
			addrs = append(addrs, n.Addr)
		}
		name := groupMasterName(g)
		s.names = append(s.names, name)
		s.groups = append(s.groups, addrs)
		masters = append(masters, nodes[0])
		conf = append(conf,
			fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2", name, nodes[0].Port),
			fmt.Sprintf("sentinel auth-pass %s pw", name),
			fmt.Sprintf("sentinel down-after-milliseconds %s %d", name, groupsDownAfter.Milliseconds()),
			fmt.Sprintf("sentinel failover-timeout %s %d", name, groupsFailoverTimeout.Milliseconds()))
	}
	for i := 0; i < 3; i++ {
		sn, err := redistest.Start(t.Context(), redistest.Options{Sentinel: true, Args: conf})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sn.Close)
		s.sentinels = append(s.sentinels, sn.Addr)
	}
	s.killMasters = func() error {
		// SIGKILL to the three processes together, as a host dying.
		errs := make([]error, len(masters))
		var wg sync.WaitGroup
		release := make(chan struct{})
		for i, m := range masters {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-release
				errs[i] = m.Kill()
			}()
		}
		close(release)
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		return nil
	}
	return s
}

func fakeGroups(t *testing.T) groupsSetup {
	t.Helper()
	topo := rig.Topology{Password: "pw", Sentinels: []string{"s1", "s2", "s3"}, Quorum: 2,
		DownAfter: groupsDownAfter, FailoverTimeout: groupsFailoverTimeout, ParallelSyncs: 1,
		ReplicationLag: time.Millisecond, MinReplicasMaxLag: 10 * time.Second}
	// One host holds the three masters.
	h1 := rig.Host{Name: "h1"}
	for g, size := range groupSizes {
		grp := rig.Group{Name: fmt.Sprintf("group%d", g+1), MasterName: groupMasterName(g)}
		for i := 0; i < size; i++ {
			grp.Nodes = append(grp.Nodes, fmt.Sprintf("group%d.redis%d", g+1, i+1))
		}
		h1.Members = append(h1.Members, grp.Nodes[0])
		topo.Groups = append(topo.Groups, grp)
	}
	topo.Hosts = []rig.Host{h1}
	c, err := Backend{}.Start(t.Context(), topo, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	s := groupsSetup{kind: "fake"}
	nodes := c.Nodes()
	for _, grp := range topo.Groups {
		s.names = append(s.names, grp.MasterName)
		var addrs []string
		for _, n := range nodes[:len(grp.Nodes)] {
			addrs = append(addrs, n.Addr())
		}
		nodes = nodes[len(grp.Nodes):]
		s.groups = append(s.groups, addrs)
	}
	for _, sn := range c.Sentinels() {
		s.sentinels = append(s.sentinels, sn.Addr())
	}
	host := c.Hosts()[0]
	s.killMasters = func() error { return host.Do(t.Context(), fault.Kill) }
	return s
}

// waitGroupsDiscovered waits until every Sentinel lists, for every master,
// its replicas connected with their links up and the two other Sentinels.
func waitGroupsDiscovered(t *testing.T, s groupsSetup) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for _, addr := range s.sentinels {
		c := sentinelClient(addr)
		defer c.Close()
		for g, name := range s.names {
			for {
				m, err := c.Do(t.Context(), "SENTINEL", "master", name).Result()
				reps, rerr := c.Do(t.Context(), "SENTINEL", "replicas", name).Result()
				kv := redistest.Strings(m)
				ok := err == nil && rerr == nil && redistest.Field(kv, "num-slaves") == strconv.Itoa(len(s.groups[g])-1) &&
					redistest.Field(kv, "num-other-sentinels") == strconv.Itoa(len(s.sentinels)-1)
				list, _ := reps.([]any)
				for _, r := range list {
					rkv := redistest.Strings(r)
					if redistest.Field(rkv, "master-link-status") != "ok" || strings.Contains(redistest.Field(rkv, "flags"), "disconnected") {
						ok = false
					}
				}
				if ok {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s sentinel %s did not discover %s within 20s: %v %v %v", s.kind, addr, name, m, err, reps)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
}

// groupsRun is what a run of the concurrent failovers recorded.
type groupsRun struct {
	events []timedEvent
	// configEpochs[i][g] is Sentinel i's config-epoch of master g at the
	// end.
	configEpochs [][]uint64
}

// concurrentFailovers kills the three masters at once, records every
// Sentinel event until every Sentinel switched every master and their
// hellos had time to spread the last epoch, then reads the config epochs.
func concurrentFailovers(t *testing.T, s groupsSetup) groupsRun {
	t.Helper()
	waitGroupsDiscovered(t, s)
	// Let the links age past the reconnect rate limit, as in a long run.
	time.Sleep(1500 * time.Millisecond)
	rec := recordEvents(t, s.sentinels)
	defer rec.stop()
	rec.start()
	if err := s.killMasters(); err != nil {
		t.Fatal(err)
	}
	// Up to two retries of a failover: 2 × 2 × failover-timeout, plus
	// detection and the failover itself.
	limit := groupsDownAfter + 4*groupsFailoverTimeout + 10*time.Second
	for i := range s.sentinels {
		for _, name := range s.names {
			waitEvent(t, s.kind, &rec.mu, &rec.events, limit-rec.since(), fmt.Sprintf("+switch-master of %s on sentinel %d", name, i+1), func(e timedEvent) bool {
				return e.name == "+switch-master" && e.src == i && strings.HasPrefix(e.payload, name+" ")
			})
		}
	}
	// Two hello periods: every Sentinel learns the others' last epoch.
	time.Sleep(4500 * time.Millisecond)
	run := groupsRun{}
	for _, addr := range s.sentinels {
		c := sentinelClient(addr)
		defer c.Close()
		var eps []uint64
		for _, name := range s.names {
			m, err := c.Do(t.Context(), "SENTINEL", "master", name).Result()
			if err != nil {
				t.Fatalf("%s: SENTINEL master %s: %v", s.kind, name, err)
			}
			ep, err := strconv.ParseUint(redistest.Field(redistest.Strings(m), "config-epoch"), 10, 64)
			if err != nil {
				t.Fatalf("%s: config-epoch of %s: %v", s.kind, name, err)
			}
			eps = append(eps, ep)
		}
		run.configEpochs = append(run.configEpochs, eps)
	}
	run.events = rec.snapshot()
	return run
}

// groupsOutcome is what the checks of one kind found, for the comparison.
type groupsOutcome struct {
	// switched[g] is when the first Sentinel switched master g.
	switched []time.Duration
	// tries and aborts count +try-failover and -failover-abort-* per
	// master, over all Sentinels.
	tries, aborts []int
	finalEpoch    uint64
	configEpochs  []uint64
}

// checkGroups checks one run against what sentinel.c implies and
// returns its outcome.
func checkGroups(t *testing.T, s groupsSetup, run groupsRun) groupsOutcome {
	t.Helper()
	kind := s.kind
	group := func(payload string) int {
		// "<type> <name> <ip> <port>[ @ <master> <ip> <port>]": the
		// master is the "@" part, or the instance itself.
		f := strings.Fields(payload)
		name := ""
		if at := slices.Index(f, "@"); at >= 0 && at+1 < len(f) {
			name = f[at+1]
		} else if len(f) >= 2 && f[0] == "master" {
			name = f[1]
		}
		return slices.Index(s.names, name)
	}
	n := len(s.names)
	o := groupsOutcome{switched: make([]time.Duration, n), tries: make([]int, n), aborts: make([]int, n)}
	for g := range o.switched {
		o.switched[g] = -1
	}
	var b strings.Builder
	for _, e := range run.events {
		if e.name != "+sentinel" && e.name != "+slave" {
			fmt.Fprintf(&b, "  %7dms s%d %s %s\n", e.at.Milliseconds(), e.src+1, e.name, e.payload)
		}
	}
	t.Logf("%s sentinels' events:\n%s", kind, b.String())

	lastEpoch := make([]uint64, len(s.sentinels))
	// tryEpochs[g] are the epochs a +try-failover of master g started.
	tryEpochs := make([]map[uint64]bool, n)
	for g := range tryEpochs {
		tryEpochs[g] = map[uint64]bool{}
	}
	lastTry := map[[2]int]time.Duration{}
	for _, e := range run.events {
		switch {
		case e.name == "+new-epoch":
			ep, err := strconv.ParseUint(e.payload, 10, 64)
			if err != nil {
				t.Errorf("%s: +new-epoch %q", kind, e.payload)
				continue
			}
			if ep != lastEpoch[e.src]+1 {
				t.Errorf("%s: sentinel %d: +new-epoch %d at %v after epoch %d: one current_epoch for every master, going up one at a time",
					kind, e.src+1, ep, e.at, lastEpoch[e.src])
			}
			lastEpoch[e.src] = ep
		case e.name == "+vote-for-leader":
			f := strings.Fields(e.payload)
			ep, _ := strconv.ParseUint(f[len(f)-1], 10, 64)
			if ep != lastEpoch[e.src] {
				t.Errorf("%s: sentinel %d voted in epoch %d at %v, its current epoch being %d: votes are cast in the current epoch only",
					kind, e.src+1, ep, e.at, lastEpoch[e.src])
			}
		case e.name == "+try-failover":
			g := group(e.payload)
			if g < 0 {
				t.Errorf("%s: +try-failover of an unknown master: %q", kind, e.payload)
				continue
			}
			o.tries[g]++
			tryEpochs[g][lastEpoch[e.src]] = true
			key := [2]int{e.src, g}
			if prev, ok := lastTry[key]; ok && e.at-prev < 2*groupsFailoverTimeout-100*time.Millisecond {
				t.Errorf("%s: sentinel %d retried the failover of %s %v after its previous try, want at least 2 × failover-timeout (%v)",
					kind, e.src+1, s.names[g], e.at-prev, 2*groupsFailoverTimeout)
			}
			lastTry[key] = e.at
		case strings.HasPrefix(e.name, "-failover-abort"):
			if g := group(e.payload); g >= 0 {
				o.aborts[g]++
			}
		case e.name == "+switch-master":
			f := strings.Fields(e.payload)
			if len(f) != 5 {
				t.Errorf("%s: +switch-master %q", kind, e.payload)
				continue
			}
			g := slices.Index(s.names, f[0])
			if g < 0 {
				t.Errorf("%s: +switch-master of an unknown master: %q", kind, e.payload)
				continue
			}
			if from := net.JoinHostPort(f[1], f[2]); from != s.groups[g][0] {
				t.Errorf("%s: %s switched from %s, want from its master %s", kind, f[0], from, s.groups[g][0])
			}
			if to := net.JoinHostPort(f[3], f[4]); !slices.Contains(s.groups[g][1:], to) {
				t.Errorf("%s: %s switched to %s, want one of its replicas %v", kind, f[0], to, s.groups[g][1:])
			}
			if o.switched[g] < 0 {
				o.switched[g] = e.at
			}
		}
	}
	o.finalEpoch = lastEpoch[0]
	for _, ep := range lastEpoch {
		if ep != o.finalEpoch {
			t.Errorf("%s: final current epochs %v: the Sentinels' hellos make them agree", kind, lastEpoch)
			break
		}
	}
	var maxTry uint64
	for _, eps := range tryEpochs {
		for ep := range eps {
			maxTry = max(maxTry, ep)
		}
	}
	if o.finalEpoch != maxTry {
		t.Errorf("%s: final current epoch %d, want the highest epoch a failover was tried in, %d", kind, o.finalEpoch, maxTry)
	}
	if o.finalEpoch < uint64(n) {
		t.Errorf("%s: final current epoch %d, want at least %d (one per failover)", kind, o.finalEpoch, n)
	}
	o.configEpochs = run.configEpochs[0]
	for i, eps := range run.configEpochs {
		if !slices.Equal(eps, o.configEpochs) {
			t.Errorf("%s: sentinel %d has config epochs %v, sentinel 1 %v: they agree once the hellos spread", kind, i+1, eps, o.configEpochs)
		}
	}
	for g, ep := range o.configEpochs {
		if !tryEpochs[g][ep] {
			t.Errorf("%s: %s has config epoch %d, not the epoch of any of its +try-failover (%v)", kind, s.names[g], ep, tryEpochs[g])
		}
		if ep > o.finalEpoch {
			t.Errorf("%s: %s has config epoch %d above the current epoch %d", kind, s.names[g], ep, o.finalEpoch)
		}
	}
	D, F := groupsDownAfter, groupsFailoverTimeout
	for g, at := range o.switched {
		// A failover elected at the first try switches D+0.3s..D+3.5s
		// after the kill (TIMING.md §2), plus up to a second here: one
		// leader runs the three failovers, and the later ones see their
		// promotion an INFO period later. Aborted tries add up to two
		// rounds of 2F (the retry delay) plus the desync.
		rounds := 0
		if o.aborts[g] > 0 {
			rounds = 2
		}
		lo, hi := D+300*time.Millisecond, D+4500*time.Millisecond+time.Duration(rounds)*(2*F+time.Second)
		if at < lo || at > hi {
			t.Errorf("%s: %s switched %v after the kill (%d tries, %d aborts), want within [%v, %v]", kind, s.names[g], at, o.tries[g], o.aborts[g], lo, hi)
		}
	}
	t.Logf("%s: switches %v, tries %v, aborts %v, config epochs %v, final current epoch %d", kind, o.switched, o.tries, o.aborts, o.configEpochs, o.finalEpoch)
	return o
}

func TestFakeSentinelsFailOverThreeMastersAtOnceLikeRealOnes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three concurrent failovers twice (about a minute)")
	}
	got := map[string]groupsOutcome{}
	for _, setup := range []func(*testing.T) groupsSetup{realGroups, fakeGroups} {
		s := setup(t)
		got[s.kind] = checkGroups(t, s, concurrentFailovers(t, s))
	}
	r, f := got["real"], got["fake"]
	sum := func(xs []int) int {
		n := 0
		for _, x := range xs {
			n += x
		}
		return n
	}
	if sum(f.aborts) != sum(r.aborts) {
		t.Errorf("aborted failovers: fake %v, real %v", f.aborts, r.aborts)
	}
	rs, fs := slices.Sorted(slices.Values(r.switched)), slices.Sorted(slices.Values(f.switched))
	for i := range rs {
		if d := fs[i] - rs[i]; d < -1500*time.Millisecond || d > 1500*time.Millisecond {
			t.Errorf("switch %d of %d: fake %v, real %v: more than 1.5 s apart (fake %v, real %v)", i+1, len(rs), fs[i], rs[i], fs, rs)
		}
	}
}

// Sentinels monitoring three masters answer per master name: the same
// replies, field by field, from the real and the in-memory ones.
func TestFakeSentinelRepliesLikeRealOnesForThreeMasters(t *testing.T) {
	replies := map[string]map[string]string{}
	for _, setup := range []func(*testing.T) groupsSetup{realGroups, fakeGroups} {
		s := setup(t)
		waitGroupsDiscovered(t, s)
		c := sentinelClient(s.sentinels[0])
		defer c.Close()
		ctx := t.Context()
		r := map[string]string{}
		dicts := func(v any) [][]string {
			list, _ := v.([]any)
			var out [][]string
			for _, d := range list {
				out = append(out, redistest.Strings(d))
			}
			return out
		}
		ms, err := c.Do(ctx, "SENTINEL", "masters").Result()
		var names []string
		for _, d := range dicts(ms) {
			names = append(names, redistest.Field(d, "name"))
			r["masters-keys "+redistest.Field(d, "name")] = strings.Join(dictKeys(d), ",")
		}
		slices.Sort(names)
		r["masters"] = fmt.Sprint(names, err)
		for g, name := range s.names {
			addr, _ := c.Do(ctx, "SENTINEL", "get-master-addr-by-name", name).StringSlice()
			r["addr "+name] = fmt.Sprint(len(addr) == 2 && net.JoinHostPort(addr[0], addr[1]) == s.groups[g][0])
			m, err := c.Do(ctx, "SENTINEL", "master", name).StringSlice()
			r["master "+name] = fmt.Sprint(strings.Join(dictKeys(m), ","), redistest.Field(m, "flags"), redistest.Field(m, "num-slaves"),
				redistest.Field(m, "num-other-sentinels"), redistest.Field(m, "quorum"), redistest.Field(m, "config-epoch"), err)
			reps, err := c.Do(ctx, "SENTINEL", "replicas", name).Result()
			var repAddrs []string
			for _, d := range dicts(reps) {
				repAddrs = append(repAddrs, net.JoinHostPort(redistest.Field(d, "ip"), redistest.Field(d, "port")))
				r["replica-keys "+name] = strings.Join(dictKeys(d), ",")
				r["replica-master "+name] = fmt.Sprint(net.JoinHostPort(redistest.Field(d, "master-host"), redistest.Field(d, "master-port")) == s.groups[g][0])
			}
			slices.Sort(repAddrs)
			want := slices.Sorted(slices.Values(s.groups[g][1:]))
			r["replicas "+name] = fmt.Sprint(slices.Equal(repAddrs, want), err)
			sens, err := c.Do(ctx, "SENTINEL", "sentinels", name).Result()
			for _, d := range dicts(sens) {
				r["sentinel-keys "+name] = strings.Join(dictKeys(d), ",")
				// sentinel.c shares the link to a Sentinel among the
				// masters both monitor.
				r["sentinel-refcount "+name] = redistest.Field(d, "link-refcount")
			}
			r["sentinels "+name] = fmt.Sprint(len(dicts(sens)), err)
			host, port, _ := net.SplitHostPort(s.groups[g][0])
			down, err := c.Do(ctx, "SENTINEL", "is-master-down-by-addr", host, port, "0", "*").Slice()
			r["is-master-down "+name] = fmt.Sprint(down, err)
			r["ckquorum "+name] = fmt.Sprint(c.Do(ctx, "SENTINEL", "ckquorum", name).Val())
		}
		_, err = c.Do(ctx, "SENTINEL", "master", "nosuch").Result()
		r["master-nosuch"] = fmt.Sprint(err)
		// INFO's per-master lines, by name, with the address replaced by
		// whether it is the group's master.
		info, err := c.Info(ctx, "sentinel").Result()
		var lines []string
		for _, line := range strings.Split(info, "\r\n") {
			k, v, ok := strings.Cut(line, ":")
			switch {
			case !ok:
			case k == "sentinel_masters":
				r["info masters"] = v
			case strings.HasPrefix(k, "master"):
				fields := strings.Split(v, ",")
				for i, f := range fields {
					if a, ok := strings.CutPrefix(f, "address="); ok {
						g := slices.IndexFunc(s.groups, func(nodes []string) bool { return nodes[0] == a })
						fields[i] = fmt.Sprintf("address=group%d", g+1)
					}
				}
				lines = append(lines, strings.Join(fields, ","))
			}
		}
		slices.Sort(lines)
		r["info lines"] = fmt.Sprint(lines, err)
		role, err := c.Do(ctx, "ROLE").Slice()
		if len(role) == 2 {
			var rn []string
			for _, x := range role[1].([]any) {
				rn = append(rn, fmt.Sprint(x))
			}
			slices.Sort(rn)
			r["role"] = fmt.Sprint(role[0], rn, err)
		} else {
			r["role"] = fmt.Sprint(role, err)
		}
		replies[s.kind] = r
	}
	real, fake := replies["real"], replies["fake"]
	keys := map[string]bool{}
	for k := range real {
		keys[k] = true
	}
	for k := range fake {
		keys[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		rv, rok := real[k]
		fv, fok := fake[k]
		if rok != fok || rv != fv {
			t.Errorf("%s:\n real %v (present %v)\n fake %v (present %v)", k, rv, rok, fv, fok)
		}
	}
	for _, k := range []string{"info lines", "masters", "sentinel-refcount set3", "replicas set1", "ckquorum set2"} {
		if real[k] == "" {
			t.Errorf("%s: the real Sentinel did not answer it; the comparison saw nothing", k)
		}
	}
	t.Logf("compared %d replies, e.g. INFO %s, link-refcount %s", len(keys), real["info lines"], real["sentinel-refcount set1"])
}

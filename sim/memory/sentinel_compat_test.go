package memory

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisha-sim/redisha-sim/proxy/redistest"
	"github.com/redisha-sim/redisha-sim/sim/rig"
)

// The in-memory Sentinels are checked against real redis-sentinel
// processes: the same kill of the master on both, the events' times
// compared with each other and with the ranges of sim/model/TIMING.md §2, and the
// SENTINEL replies compared field by field.

// downAfter is 1.5 s, not 1 s: at 1 s a Sentinel's first reconnect to the
// new master can come a full ping period after the switch, once the
// down-after clock started at the switch has run out, and a second,
// cascading failover follows, on real Sentinels as on ours (sim/model/TIMING.md §3:
// 2 runs in 10). The comparison is of one failover.
const downAfter = 1500 * time.Millisecond

// sentinelSetup is a running cluster of one kind, seen from outside.
type sentinelSetup struct {
	kind      string
	nodes     []string // master first
	sentinels []string
	kill      func() error
	restart   func() error
}

func realSentinels(t *testing.T) sentinelSetup {
	t.Helper()
	nodes := redistest.StartGroup(t, 3, "pw")
	s := sentinelSetup{kind: "real"}
	for _, n := range nodes {
		s.nodes = append(s.nodes, n.Addr)
	}
	for i := 0; i < 3; i++ {
		sn, err := redistest.Start(t.Context(), redistest.Options{Sentinel: true, Args: []string{
			fmt.Sprintf("sentinel monitor mymaster 127.0.0.1 %d 2", nodes[0].Port),
			"sentinel auth-pass mymaster pw",
			"sentinel down-after-milliseconds mymaster " + strconv.Itoa(int(downAfter.Milliseconds())),
			"sentinel failover-timeout mymaster 5000",
		}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sn.Close)
		s.sentinels = append(s.sentinels, sn.Addr)
	}
	s.kill = nodes[0].Kill
	s.restart = func() error { return nodes[0].Start(t.Context()) }
	return s
}

func fakeSentinels(t *testing.T) sentinelSetup {
	t.Helper()
	c, err := Backend{}.Start(t.Context(), rig.Topology{
		Groups: []rig.Group{{Name: rig.DefaultGroup, MasterName: "mymaster", Nodes: []string{"r1", "r2", "r3"}}}, Password: "pw", Sentinels: []string{"s1", "s2", "s3"}, Quorum: 2,
		DownAfter: downAfter, FailoverTimeout: 5 * time.Second, ParallelSyncs: 1,
		ReplicationLag: time.Millisecond, MinReplicasMaxLag: 10 * time.Second,
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	s := sentinelSetup{kind: "fake"}
	for _, n := range c.Nodes() {
		s.nodes = append(s.nodes, n.Addr())
	}
	for _, sn := range c.Sentinels() {
		s.sentinels = append(s.sentinels, sn.Addr())
	}
	m := c.Nodes()[0]
	s.kill = func() error { return m.Do(t.Context(), "kill") }
	s.restart = func() error { return m.Do(t.Context(), "start") }
	return s
}

func sentinelClient(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1})
}

// waitDiscovered waits until every Sentinel knows both replicas, connected
// with their link up, and the two other Sentinels.
func waitDiscovered(t *testing.T, s sentinelSetup) {
	t.Helper()
	redistest.WaitSentinelsDiscovered(t, s.sentinels, len(s.nodes)-1)
}

func dictValue(d []string, k string) string {
	for i := 0; i+1 < len(d); i += 2 {
		if d[i] == k {
			return d[i+1]
		}
	}
	return ""
}

func dictKeys(d []string) []string {
	var keys []string
	for i := 0; i < len(d); i += 2 {
		keys = append(keys, d[i])
	}
	return keys
}

type timedEvent struct {
	at      time.Duration
	src     int
	name    string
	payload string
}

// failover kills the master and records every Sentinel event, then
// restarts the old master and waits for its +convert-to-slave.
func failover(t *testing.T, s sentinelSetup) []timedEvent {
	t.Helper()
	waitDiscovered(t, s)
	// Let the links age past the reconnect rate limit, as in a long run.
	time.Sleep(1500 * time.Millisecond)
	rec := recordEvents(t, s.sentinels)
	defer rec.stop()
	rec.start()
	if err := s.kill(); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, s.kind, &rec.mu, &rec.events, 10*time.Second, "+failover-end", func(e timedEvent) bool { return e.name == "+failover-end" })
	// The old master comes back once every Sentinel has switched to the
	// new one (the others learn it from the leader's hellos).
	for i := range s.sentinels {
		waitEvent(t, s.kind, &rec.mu, &rec.events, 5*time.Second, fmt.Sprintf("+switch-master on sentinel %d", i+1), func(e timedEvent) bool {
			return e.name == "+switch-master" && e.src == i
		})
	}
	if err := s.restart(); err != nil {
		t.Fatal(err)
	}
	_, oldPort, _ := net.SplitHostPort(s.nodes[0])
	waitEvent(t, s.kind, &rec.mu, &rec.events, 16*time.Second, "+convert-to-slave of the old master", func(e timedEvent) bool {
		return e.name == "+convert-to-slave" && strings.Contains(e.payload, " "+oldPort+" @")
	})
	return rec.snapshot()
}

// eventRecorder records every event every Sentinel publishes, with the
// time since start and the index of the Sentinel.
type eventRecorder struct {
	mu     sync.Mutex
	t0     time.Time
	events []timedEvent
	stop   func()
}

// recordEvents subscribes to every channel of every Sentinel and returns
// once the subscriptions are in place; events count from start on. stop
// ends the subscriptions.
func recordEvents(t *testing.T, sentinels []string) *eventRecorder {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	r := &eventRecorder{}
	var closers []func() error
	r.stop = func() {
		cancel()
		for _, c := range closers {
			c()
		}
	}
	var ready sync.WaitGroup
	for i, addr := range sentinels {
		c := sentinelClient(addr)
		ps := c.PSubscribe(ctx, "*")
		closers = append(closers, ps.Close, c.Close)
		if _, err := ps.Receive(ctx); err != nil {
			r.stop()
			t.Fatal(err)
		}
		ready.Add(1)
		go func() {
			ready.Done()
			for m := range ps.Channel() {
				r.mu.Lock()
				if !r.t0.IsZero() {
					r.events = append(r.events, timedEvent{time.Since(r.t0), i, m.Channel, m.Payload})
				}
				r.mu.Unlock()
			}
		}()
	}
	ready.Wait()
	return r
}

// start sets the instant events count from.
func (r *eventRecorder) start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.t0 = time.Now()
}

// since is the time from start.
func (r *eventRecorder) since() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return time.Since(r.t0)
}

// snapshot copies the events so far.
func (r *eventRecorder) snapshot() []timedEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]timedEvent(nil), r.events...)
}

func waitEvent(t *testing.T, kind string, mu *sync.Mutex, events *[]timedEvent, limit time.Duration, what string, pred func(timedEvent) bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		mu.Lock()
		for _, e := range *events {
			if pred(e) {
				mu.Unlock()
				return
			}
		}
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	var b strings.Builder
	for _, e := range *events {
		if e.name != "+sentinel" && e.name != "+slave" {
			fmt.Fprintf(&b, "  %7dms s%d %s %s\n", e.at.Milliseconds(), e.src+1, e.name, e.payload)
		}
	}
	t.Fatalf("%s sentinels: no %s within %v; events:\n%s", kind, what, limit, b.String())
}

// milestones extracts the times the comparison needs.
type milestones struct {
	sdown, odown, promoted, firstSwitch, lastSwitch, end, roleChange, convert time.Duration
}

func extract(t *testing.T, kind string, evs []timedEvent, oldPort string) milestones {
	var m milestones
	first := func(pred func(timedEvent) bool) time.Duration {
		for _, e := range evs {
			if pred(e) {
				return e.at
			}
		}
		t.Fatalf("%s: an expected event is missing", kind)
		return 0
	}
	m.sdown = first(func(e timedEvent) bool { return e.name == "+sdown" && strings.HasPrefix(e.payload, "master ") })
	m.odown = first(func(e timedEvent) bool { return e.name == "+odown" })
	m.promoted = first(func(e timedEvent) bool { return e.name == "+promoted-slave" })
	m.firstSwitch = first(func(e timedEvent) bool { return e.name == "+switch-master" })
	m.end = first(func(e timedEvent) bool { return e.name == "+failover-end" })
	for _, e := range evs {
		if e.name == "+switch-master" && e.at < m.end+500*time.Millisecond {
			m.lastSwitch = e.at
		}
	}
	m.roleChange = first(func(e timedEvent) bool {
		return e.name == "-role-change" && strings.Contains(e.payload, " "+oldPort+" @")
	})
	m.convert = first(func(e timedEvent) bool {
		return e.name == "+convert-to-slave" && strings.Contains(e.payload, " "+oldPort+" @")
	})
	return m
}

func TestFakeSentinelsFailOverLikeRealOnes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two failovers with restarts (about 40s)")
	}
	got := map[string]milestones{}
	for _, setup := range []func(*testing.T) sentinelSetup{realSentinels, fakeSentinels} {
		s := setup(t)
		_, oldPort, _ := net.SplitHostPort(s.nodes[0])
		evs := failover(t, s)
		got[s.kind] = extract(t, s.kind, evs, oldPort)
	}
	D := downAfter
	for kind, m := range got {
		t.Logf("%s: +sdown %v +odown %v +promoted-slave %v first +switch-master %v leader's %v +failover-end %v; -role-change to +convert-to-slave %v",
			kind, m.sdown, m.odown, m.promoted, m.firstSwitch, m.lastSwitch, m.end, m.convert-m.roleChange)
		// sim/model/TIMING.md §2: SDOWN at D after the first reconnect (a tick after
		// the kill); a quorum within about a second; the leader's switch
		// D+0.3s..D+3.5s without a split vote; the returned master demoted
		// on its second INFO, about 10 s after its first.
		check := func(what string, v, lo, hi time.Duration) {
			if v < lo || v > hi {
				t.Errorf("%s %s: %v, want within [%v, %v]", kind, what, v, lo, hi)
			}
		}
		check("+sdown", m.sdown, D, D+250*time.Millisecond)
		check("+odown after +sdown", m.odown-m.sdown, 0, 1200*time.Millisecond)
		check("leader's +switch-master", m.lastSwitch, D+300*time.Millisecond, D+3500*time.Millisecond)
		check("+promoted-slave to the leader's switch", m.lastSwitch-m.promoted, 0, 2300*time.Millisecond)
		check("-role-change to +convert-to-slave", m.convert-m.roleChange, 9900*time.Millisecond, 10400*time.Millisecond)
	}
	// The fake's key moments within a second of the real ones.
	r, f := got["real"], got["fake"]
	for _, c := range []struct {
		what       string
		real, fake time.Duration
	}{{"+sdown", r.sdown, f.sdown}, {"+odown", r.odown, f.odown}, {"first +switch-master", r.firstSwitch, f.firstSwitch}, {"+failover-end", r.end, f.end}} {
		if d := c.fake - c.real; d < -time.Second || d > time.Second {
			t.Errorf("%s: fake %v, real %v: more than a second apart", c.what, c.fake, c.real)
		}
	}
}

func TestFakeSentinelRepliesLikeRealOnes(t *testing.T) {
	replies := map[string]map[string]any{}
	for _, setup := range []func(*testing.T) sentinelSetup{realSentinels, fakeSentinels} {
		s := setup(t)
		waitDiscovered(t, s)
		c := sentinelClient(s.sentinels[0])
		defer c.Close()
		ctx := t.Context()
		r := map[string]any{}
		addr, _ := c.Do(ctx, "SENTINEL", "get-master-addr-by-name", "mymaster").StringSlice()
		r["addr"] = len(addr) == 2 && net.JoinHostPort(addr[0], addr[1]) == s.nodes[0]
		_, err := c.Do(ctx, "SENTINEL", "get-master-addr-by-name", "nosuch").Result()
		r["addr-nosuch"] = fmt.Sprint(err)
		m, _ := c.Do(ctx, "SENTINEL", "master", "mymaster").StringSlice()
		r["master-keys"] = strings.Join(dictKeys(m), ",")
		r["master-flags"] = dictValue(m, "flags")
		_, err = c.Do(ctx, "SENTINEL", "master", "nosuch").Result()
		r["master-nosuch"] = fmt.Sprint(err)
		reps, _ := c.Do(ctx, "SENTINEL", "replicas", "mymaster").Slice()
		if len(reps) > 0 {
			d, _ := reps[0].([]any)
			var ss []string
			for _, x := range d {
				ss = append(ss, fmt.Sprint(x))
			}
			r["replica-keys"] = strings.Join(dictKeys(ss), ",")
			r["replica-flags"] = dictValue(ss, "flags")
			r["replica-link"] = dictValue(ss, "master-link-status")
		}
		sens, _ := c.Do(ctx, "SENTINEL", "sentinels", "mymaster").Slice()
		if len(sens) > 0 {
			d, _ := sens[0].([]any)
			var ss []string
			for _, x := range d {
				ss = append(ss, fmt.Sprint(x))
			}
			r["sentinel-keys"] = strings.Join(dictKeys(ss), ",")
		}
		host, port, _ := net.SplitHostPort(s.nodes[0])
		down, _ := c.Do(ctx, "SENTINEL", "is-master-down-by-addr", host, port, "0", "*").Slice()
		r["is-master-down"] = fmt.Sprint(down)
		r["ckquorum"] = fmt.Sprint(c.Do(ctx, "SENTINEL", "ckquorum", "mymaster").Val())
		replies[s.kind] = r
	}
	// Every reply of either side is compared: a fake that answers a field
	// the real one lacks, or leaves one out, fails as well as one that
	// answers it differently.
	real, fake := replies["real"], replies["fake"]
	keys := map[string]bool{}
	for k := range real {
		keys[k] = true
	}
	for k := range fake {
		keys[k] = true
	}
	for k := range keys {
		rv, rok := real[k]
		fv, fok := fake[k]
		if rok != fok || rv != fv {
			t.Errorf("%s:\n real %v (present %v)\n fake %v (present %v)", k, rv, rok, fv, fok)
		}
	}
	for _, k := range []string{"replica-keys", "sentinel-keys", "master-keys"} {
		if !keys[k] {
			t.Errorf("%s: neither side answered it; the comparison saw nothing", k)
		}
	}
}

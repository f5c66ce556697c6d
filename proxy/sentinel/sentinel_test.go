package sentinel

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisha-sim/redisha-sim/proxy/redistest"
)

// These tests run real redis-server and redis-sentinel processes.

const masterName = redistest.MasterName

func startRedis(t *testing.T) *redistest.Server {
	t.Helper()
	s, err := redistest.Start(t.Context(), redistest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func addrs(servers ...*redistest.Server) []string {
	var out []string
	for _, s := range servers {
		out = append(out, s.Addr)
	}
	return out
}

func sentinelClient(s *redistest.Server) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: s.Addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1})
}

// seen is a view and when the test received it.
type seen struct {
	View
	at time.Time
}

// watch runs Watch until the returned stop is called (at the latest by the
// test's cleanup) and passes its views on.
func watch(t *testing.T, o Options) (<-chan seen, func()) {
	t.Helper()
	o.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	ch := make(chan seen, 256)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- Watch(ctx, o, func(v View) {
			select {
			case ch <- seen{v, time.Now()}:
			case <-ctx.Done():
			}
		})
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Watch returned %v, want nil", err)
				}
			case <-time.After(5 * time.Second):
				t.Error("Watch did not return within 5s of its context's end")
			}
		})
	}
	t.Cleanup(stop)
	return ch, stop
}

// waitFor returns the first view that satisfies ok, failing the test when
// none arrives within d.
func waitFor(t *testing.T, ch <-chan seen, d time.Duration, what string, ok func(View) bool) seen {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	var last []View
	for {
		select {
		case s := <-ch:
			t.Logf("view: %+v", s.View)
			if ok(s.View) {
				return s
			}
			last = append(last, s.View)
		case <-timer.C:
			t.Fatalf("no view %s within %v; views meanwhile: %+v", what, d, last)
		}
	}
}

func agreedOn(master string) func(View) bool {
	return func(v View) bool { return v.Agreed && v.Master == master }
}

func TestFirstViewNamesTheMasterAndListsItsReplicas(t *testing.T) {
	c := redistest.StartCluster(t, 2, "")
	c.WaitDiscovered(t)
	before := runtime.NumGoroutine()
	ch, stop := watch(t, Options{MasterName: masterName, Addrs: addrs(c.Sentinels...)})
	first := waitFor(t, ch, 5*time.Second, "at all", func(View) bool { return true })
	want := View{
		Master: c.Master.Addr, Agreed: true, Reachable: 3, Votes: map[string]int{c.Master.Addr: 3},
		Replicas: []Replica{{Addr: c.Replicas[0].Addr, LinkOK: true}, {Addr: c.Replicas[1].Addr, LinkOK: true}},
		Cause:    "start",
	}
	slices.SortFunc(want.Replicas, func(a, b Replica) int { return strings.Compare(a.Addr, b.Addr) })
	if !reflect.DeepEqual(first.View, want) {
		t.Errorf("first view:\ngot  %+v\nwant %+v", first.View, want)
	}

	// Nothing changes: no more views, however many polls.
	select {
	case s := <-ch:
		t.Errorf("got view %+v while nothing changed", s.View)
	case <-time.After(2500 * time.Millisecond):
	}

	// Every goroutine ends with the context.
	stop()
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			var b bytes.Buffer
			pprof.Lookup("goroutine").WriteTo(&b, 1)
			t.Fatalf("%d goroutines after Watch returned, %d before:\n%s", runtime.NumGoroutine(), before, b.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// subscribeSwitches records when each Sentinel publishes +switch-master.
func subscribeSwitches(t *testing.T, sentinels []*redistest.Server) <-chan time.Time {
	t.Helper()
	ch := make(chan time.Time, 16)
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait) // last: after the subscriptions are closed
	for _, s := range sentinels {
		sc := sentinelClient(s)
		ps := sc.Subscribe(t.Context(), "+switch-master")
		if _, err := ps.ReceiveTimeout(t.Context(), 2*time.Second); err != nil {
			t.Fatalf("subscribe to %s: %v", s.Addr, err)
		}
		wg.Go(func() {
			for {
				m, err := ps.ReceiveMessage(context.Background())
				if err != nil {
					return
				}
				if strings.HasPrefix(m.Payload, masterName+" ") {
					select {
					case ch <- time.Now():
					default:
					}
				}
			}
		})
		t.Cleanup(func() {
			ps.Close()
			sc.Close()
		})
	}
	return ch
}

func TestFailoverReachesTheViewWithinMillisecondsOfSwitchMaster(t *testing.T) {
	c := redistest.StartCluster(t, 2, "")
	c.WaitDiscovered(t)
	// Polls far apart: only the +switch-master events can bring the new
	// master in time.
	ch, _ := watch(t, Options{MasterName: masterName, Addrs: addrs(c.Sentinels...), Poll: time.Minute})
	waitFor(t, ch, 5*time.Second, "naming the master", agreedOn(c.Master.Addr))
	switches := subscribeSwitches(t, c.Sentinels)

	start := time.Now()
	if _, err := c.Sentinels[0].Do(t.Context(), "SENTINEL", "FAILOVER", masterName); err != nil {
		t.Fatal(err)
	}
	v := waitFor(t, ch, 20*time.Second, "naming a new master", func(v View) bool { return v.Agreed && v.Master != c.Master.Addr })
	var promoted *redistest.Server
	for _, r := range c.Replicas {
		if r.Addr == v.Master {
			promoted = r
		}
	}
	if promoted == nil {
		t.Fatalf("new master %s is none of the replicas %v", v.Master, addrs(c.Replicas...))
	}
	if role, err := promoted.Do(t.Context(), "ROLE"); err != nil || fmt.Sprint(role.([]any)[0]) != "master" {
		t.Fatalf("%s reports role %v (%v), want master: the failover did not happen", promoted.Addr, role, err)
	}
	// The new master comes from an event: the +switch-master of a Sentinel
	// or, for the Sentinel leading the failover, the event after which it
	// names the promoted replica.
	if !strings.HasPrefix(v.Cause, "+") && !strings.HasPrefix(v.Cause, "-") {
		t.Errorf("the new master came from %q, want an event", v.Cause)
	}

	// Measure from the last +switch-master the test saw before the view
	// (the one that made the quorum, as a rule).
	var at []time.Time
	timeout := time.After(2 * time.Second)
	for len(at) < 2 {
		select {
		case ts := <-switches:
			at = append(at, ts)
		case <-timeout:
			t.Fatalf("saw %d +switch-master messages, want at least 2", len(at))
		}
	}
	from := at[0]
	for _, ts := range at {
		if !ts.After(v.at) {
			from = ts
		}
	}
	delay := v.at.Sub(from)
	t.Logf("failover: first +switch-master %v after SENTINEL FAILOVER, second %v later; view %v after the last one before it (cause %q)",
		at[0].Sub(start).Round(time.Millisecond), at[1].Sub(at[0]).Round(time.Millisecond), delay, v.Cause)
	if delay > 500*time.Millisecond {
		t.Errorf("view %v after the +switch-master that made the quorum, want milliseconds", delay)
	}

	// The new master's replicas: the other replica and the old master.
	others := []string{c.Master.Addr}
	for _, r := range c.Replicas {
		if r != promoted {
			others = append(others, r.Addr)
		}
	}
	slices.Sort(others)
	waitFor(t, ch, 10*time.Second, "listing the new master's replicas", func(v View) bool {
		var got []string
		for _, r := range v.Replicas {
			got = append(got, r.Addr)
		}
		return v.Agreed && v.Master == promoted.Addr && slices.Equal(got, others)
	})
}

func TestSentinelsBelowQuorumGiveNoAgreement(t *testing.T) {
	c := redistest.StartCluster(t, 1, "")
	ch, _ := watch(t, Options{MasterName: masterName, Addrs: addrs(c.Sentinels...)})
	waitFor(t, ch, 5*time.Second, "naming the master", agreedOn(c.Master.Addr))

	for _, s := range c.Sentinels[1:] {
		if err := s.Kill(); err != nil || s.Running() {
			t.Fatalf("kill sentinel %s: %v (running: %v)", s.Addr, err, s.Running())
		}
	}
	v := waitFor(t, ch, 5*time.Second, "without agreement", func(v View) bool { return !v.Agreed })
	if v.Master != "" || v.Reachable != 1 || !maps.Equal(v.Votes, map[string]int{c.Master.Addr: 1}) {
		t.Errorf("got %+v, want no master, 1 reachable Sentinel voting for %s", v.View, c.Master.Addr)
	}
	if want := "2 of 3 Sentinels unreachable"; !strings.Contains(v.Reason, want) {
		t.Errorf("reason %q, want it to say %q", v.Reason, want)
	}

	// One Sentinel back: the quorum again.
	if err := c.Sentinels[1].Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	v = waitFor(t, ch, 10*time.Second, "agreed again", agreedOn(c.Master.Addr))
	if v.Reachable != 2 || v.Reason != "" {
		t.Errorf("got %+v, want 2 reachable Sentinels and no reason", v.View)
	}
}

func TestWatchReconnectsToARestartedSentinel(t *testing.T) {
	c := redistest.StartCluster(t, 1, "")
	ch, _ := watch(t, Options{MasterName: masterName, Addrs: addrs(c.Sentinels...)})
	waitFor(t, ch, 5*time.Second, "with every Sentinel", func(v View) bool { return v.Agreed && v.Reachable == 3 })

	s := c.Sentinels[2]
	if err := s.Stop(5 * time.Second); err != nil || s.Running() {
		t.Fatalf("stop sentinel %s: %v (running: %v)", s.Addr, err, s.Running())
	}
	v := waitFor(t, ch, 5*time.Second, "with a Sentinel fewer", func(v View) bool { return v.Reachable == 2 })
	if !v.Agreed || !strings.HasPrefix(v.Cause, "lost "+s.Addr) {
		t.Errorf("got %+v, want still agreed (2 of 3), caused by the loss of %s", v.View, s.Addr)
	}

	start := time.Now()
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	v = waitFor(t, ch, 10*time.Second, "with the Sentinel back", func(v View) bool { return v.Reachable == 3 })
	t.Logf("reconnected %v after the Sentinel answered again", v.at.Sub(start).Round(time.Millisecond))
	if !v.Agreed || v.Cause != "reconnect "+s.Addr {
		t.Errorf("got %+v, want agreed, caused by the reconnection to %s", v.View, s.Addr)
	}
}

func TestAPausedSentinelStopsVotingUntilItAnswersAgain(t *testing.T) {
	redistest.RequirePause(t)
	c := redistest.StartCluster(t, 1, "")
	ch, _ := watch(t, Options{MasterName: masterName, Addrs: addrs(c.Sentinels...)})
	waitFor(t, ch, 5*time.Second, "with every Sentinel", func(v View) bool { return v.Agreed && v.Reachable == 3 })

	// Frozen, its connections stay open: only the poll's timeout tells.
	s := c.Sentinels[0]
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	paused := time.Now()
	t.Cleanup(func() { s.Resume() })
	v := waitFor(t, ch, 5*time.Second, "with a Sentinel fewer", func(v View) bool { return v.Reachable == 2 })
	t.Logf("paused Sentinel dropped after %v (poll 1s, timeout 500ms)", v.at.Sub(paused).Round(time.Millisecond))
	if !v.Agreed || !strings.HasPrefix(v.Cause, "lost "+s.Addr) {
		t.Errorf("got %+v, want still agreed, caused by the loss of %s", v.View, s.Addr)
	}

	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ch, 10*time.Second, "with the Sentinel back", func(v View) bool { return v.Agreed && v.Reachable == 3 })
}

func TestDisagreeingSentinelsNeedTheQuorum(t *testing.T) {
	redistest.Require(t)
	master, other := startRedis(t), startRedis(t)
	// Two Sentinels follow master; the third one monitors another server
	// under the same name.
	sentinels := []*redistest.Server{redistest.StartSentinel(t, master), redistest.StartSentinel(t, master), redistest.StartSentinel(t, other)}
	votes := map[string]int{master.Addr: 2, other.Addr: 1}

	majority, _ := watch(t, Options{MasterName: masterName, Addrs: addrs(sentinels...), Quorum: 2})
	all, _ := watch(t, Options{MasterName: masterName, Addrs: addrs(sentinels...), Quorum: 3})

	v := waitFor(t, majority, 5*time.Second, "at all", func(View) bool { return true })
	if !v.Agreed || v.Master != master.Addr || !maps.Equal(v.Votes, votes) {
		t.Errorf("quorum 2: got %+v, want %s agreed with votes %v", v.View, master.Addr, votes)
	}
	v = waitFor(t, all, 5*time.Second, "at all", func(View) bool { return true })
	if v.Agreed || v.Master != "" || !maps.Equal(v.Votes, votes) {
		t.Errorf("quorum 3: got %+v, want no agreement with votes %v", v.View, votes)
	}
	if want := fmt.Sprintf("Sentinels disagree: %s by 2, %s by 1 (quorum 3)", master.Addr, other.Addr); v.Reason != want {
		t.Errorf("quorum 3: reason %q, want %q", v.Reason, want)
	}
}

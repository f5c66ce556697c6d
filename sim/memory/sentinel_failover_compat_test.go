package memory

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy/redistest"
	"github.com/redisha-sim/redisha-sim/sim/rig"
)

// The in-memory Sentinel takes SENTINEL FAILOVER as redis-sentinel does
// (sentinel.c, sentinelCommand's "failover"): with the master up, the
// Sentinel asked leads without ODOWN or an election, and refuses a second
// request while the first runs, an unknown name and a master without a
// replica fit to be promoted.

// forcedFailover asks the first Sentinel for SENTINEL FAILOVER twice in a
// row and records what every Sentinel publishes until the first
// Sentinel's +switch-master and the old master's +convert-to-slave; it
// returns the replies and the events.
func forcedFailover(t *testing.T, s sentinelSetup) (first, second string, evs []timedEvent) {
	t.Helper()
	waitDiscovered(t, s)
	rec := recordEvents(t, s.sentinels)
	defer rec.stop()
	rec.start()
	c := sentinelClient(s.sentinels[0])
	defer c.Close()
	first = fmt.Sprint(c.Do(t.Context(), "SENTINEL", "FAILOVER", "mymaster").Val())
	_, err := c.Do(t.Context(), "SENTINEL", "FAILOVER", "mymaster").Result()
	second = fmt.Sprint(err)
	waitEvent(t, s.kind, &rec.mu, &rec.events, 10*time.Second, "+switch-master on sentinel 1", func(e timedEvent) bool {
		return e.name == "+switch-master" && e.src == 0
	})
	// The old master was never down: it stays a master until a Sentinel
	// sees it report so while listed as a replica, and demotes it.
	_, oldPort, _ := net.SplitHostPort(s.nodes[0])
	waitEvent(t, s.kind, &rec.mu, &rec.events, 20*time.Second, "+convert-to-slave of the old master", func(e timedEvent) bool {
		return e.name == "+convert-to-slave" && strings.Contains(e.payload, " "+oldPort+" @")
	})
	return first, second, rec.snapshot()
}

// leaderSequence is the failover's events the leading Sentinel published,
// in order, up to its +switch-master: the steps of the state machine, not
// the discovery around them (+slave, +sentinel, +reboot) nor the replicas'
// reconfiguration progress, whose +slave-reconf-inprog depends on when an
// INFO reply happens to land.
func leaderSequence(evs []timedEvent) []string {
	skip := []string{"+slave", "+sentinel", "+reboot", "-role-change", "+role-change", "+slave-reconf-inprog", "+fix-slave-config"}
	var out []string
	for _, e := range evs {
		if e.src != 0 || slices.Contains(skip, e.name) || strings.HasPrefix(e.name, "__sentinel__") {
			continue
		}
		out = append(out, e.name)
		if e.name == "+switch-master" {
			break
		}
	}
	return out
}

func TestFakeSentinelForcedFailoverLikeRealOne(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two forced failovers (about 30s)")
	}
	type result struct {
		first, second string
		seq           []string
		others        int
	}
	got := map[string]result{}
	for _, setup := range []func(*testing.T) sentinelSetup{realSentinels, fakeSentinels} {
		s := setup(t)
		first, second, evs := forcedFailover(t, s)
		r := result{first: first, second: second, seq: leaderSequence(evs)}
		// Nobody voted: no other Sentinel tried, none saw the master down.
		for _, e := range evs {
			if e.src != 0 && (e.name == "+try-failover" || e.name == "+sdown" || e.name == "+odown" || e.name == "+vote-for-leader") {
				r.others++
				t.Logf("%s: sentinel %d published %s %s", s.kind, e.src+1, e.name, e.payload)
			}
		}
		got[s.kind] = r
		t.Logf("%s: %q then %q; leader's events: %v", s.kind, first, second, r.seq)
	}
	real, fake := got["real"], got["fake"]
	if fake.first != real.first || fake.second != real.second {
		t.Errorf("replies: fake %q then %q, real %q then %q", fake.first, fake.second, real.first, real.second)
	}
	if real.first != "OK" || !strings.HasPrefix(real.second, "INPROG") {
		t.Errorf("real Sentinel answered %q then %q, want OK then INPROG: the test no longer checks what it says", real.first, real.second)
	}
	if !slices.Equal(fake.seq, real.seq) {
		t.Errorf("the leader's events:\n fake %v\n real %v", fake.seq, real.seq)
	}
	for _, want := range []string{"+new-epoch", "+try-failover", "+elected-leader", "+promoted-slave", "+failover-end", "+switch-master"} {
		if !slices.Contains(real.seq, want) {
			t.Errorf("real Sentinel published no %s: the comparison saw less than a failover (%v)", want, real.seq)
		}
	}
	if fake.others != real.others {
		t.Errorf("other Sentinels' +try-failover/+sdown/+odown/+vote-for-leader: fake %d, real %d", fake.others, real.others)
	}
}

func TestFakeSentinelRefusesForcedFailoverLikeRealOne(t *testing.T) {
	refusals := func(kind, addr string) map[string]string {
		c := sentinelClient(addr)
		defer c.Close()
		r := map[string]string{}
		for name, args := range map[string][]any{
			"no replica":   {"SENTINEL", "FAILOVER", "mymaster"},
			"unknown name": {"SENTINEL", "FAILOVER", "nosuch"},
			"no name":      {"SENTINEL", "FAILOVER"},
		} {
			_, err := c.Do(t.Context(), args...).Result()
			r[name] = fmt.Sprint(err)
		}
		t.Logf("%s: %v", kind, r)
		return r
	}
	// A master alone: no replica to promote.
	m, err := redistest.Start(t.Context(), redistest.Options{Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	sn, err := redistest.Start(t.Context(), redistest.Options{Sentinel: true, Args: []string{
		fmt.Sprintf("sentinel monitor mymaster 127.0.0.1 %d 1", m.Port),
		"sentinel auth-pass mymaster pw",
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sn.Close)
	real := refusals("real", sn.Addr)

	c, err := Backend{}.Start(t.Context(), rig.Topology{
		Groups:   []rig.Group{{Name: rig.DefaultGroup, MasterName: "mymaster", Nodes: []string{"r1"}}},
		Password: "pw", Sentinels: []string{"s1"}, Quorum: 1,
		DownAfter: 5 * time.Second, FailoverTimeout: 10 * time.Second, ParallelSyncs: 1,
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	fake := refusals("fake", c.Sentinels()[0].Addr())

	if !strings.HasPrefix(real["no replica"], "NOGOODSLAVE") {
		t.Errorf("real Sentinel with no replica answered %q, want NOGOODSLAVE: the test no longer checks the refusal", real["no replica"])
	}
	for k, rv := range real {
		if fake[k] != rv {
			t.Errorf("%s: fake %q, real %q", k, fake[k], rv)
		}
	}
}

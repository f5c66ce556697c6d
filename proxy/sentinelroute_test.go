package proxy

import (
	"fmt"
	"html"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisha-sim/redisha-sim/proxy/config"
	"github.com/redisha-sim/redisha-sim/proxy/redistest"
	"github.com/redisha-sim/redisha-sim/proxy/tcpcheck"
)

// These tests run real redis-server and redis-sentinel processes. The
// backends check with the seed's sequences at inter 1s, rise 2 and fall 3,
// so that the check-only path takes at least a second to bring a new master
// UP, and the Sentinel path is told apart by its timing and its cause.

const sentinelMasterName = redistest.MasterName

// startNode starts a password-protected redis-server.
func startNode(t *testing.T) *redistest.Server {
	t.Helper()
	n, err := redistest.Start(t.Context(), redistest.Options{Password: password})
	if err != nil {
		t.Fatalf("start redis: %v", err)
	}
	t.Cleanup(n.Close)
	return n
}

func sentinelAddrs(sentinels []*redistest.Server) string {
	var out []string
	for _, s := range sentinels {
		out = append(out, s.Addr)
	}
	return strings.Join(out, ",")
}

func sentinelClient(s *redistest.Server) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: s.Addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1})
}

// foreignPair starts a master with one replica that no Sentinel monitors.
// The master passes the seed's master checks (role:master, and
// repl_backlog_active:1 since it has a replica), the replica the replica
// checks (role:slave).
func foreignPair(t *testing.T) (master, replica *redistest.Server) {
	t.Helper()
	master, replica = startNode(t), startNode(t)
	if err := replica.ReplicaOf(t.Context(), master); err != nil {
		t.Fatal(err)
	}
	return master, replica
}

// routeSpec is one backend of sentinelProxy's configuration, reached
// through a frontend named "fe_" + name. Its servers are named redis1,
// redis2, ... in order.
type routeSpec struct {
	name string
	// checks is the role the checks expect: "master" or "slave".
	checks string
	// sentinel is the redis-sentinel line after the master name (the
	// Sentinel addresses and options); empty for a backend that routes by
	// its checks alone.
	sentinel string
	servers  []*redistest.Server
}

// sentinelProxy starts a proxy over the given backends, with a stats page
// (admin:1234 at /haproxy_stats). The configuration is text, so that the
// redis-sentinel keyword goes through the parser.
func sentinelProxy(t *testing.T, specs ...routeSpec) *Proxy {
	t.Helper()
	var b strings.Builder
	b.WriteString("defaults\n mode tcp\n timeout connect 1s\n timeout server 15s\n timeout client 15s\n\n")
	// The binds are placeholders (port 0 is no valid bind in a file),
	// replaced by free ports after parsing.
	for i, s := range specs {
		fmt.Fprintf(&b, "frontend fe_%s\n bind 127.0.0.1:%d\n default_backend %s\n\n", s.name, i+1, s.name)
		fmt.Fprintf(&b, "backend %s\n balance roundrobin\n option tcp-check\n", s.name)
		if s.sentinel != "" {
			fmt.Fprintf(&b, " redis-sentinel %s %s\n", sentinelMasterName, s.sentinel)
		}
		for i, n := range s.servers {
			fmt.Fprintf(&b, " server redis%d %s check inter 1s rise 2 fall 3\n", i+1, n.Addr)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "listen stats\n bind 127.0.0.1:%d\n mode http\n stats uri /haproxy_stats\n stats realm HAProxy\\ Statistics\n stats auth admin:1234\n", len(specs)+1)
	cfg, _, err := config.Parse("sentinel-test.cfg", strings.NewReader(b.String()), config.ParseOptions{})
	if err != nil {
		t.Fatalf("parse configuration: %v\n%s", err, b.String())
	}
	for _, f := range cfg.Frontends {
		for i := range f.Binds {
			f.Binds[i].Addr = "127.0.0.1:0"
		}
	}
	// The seed's check sequences, from the seed's own file.
	master, replica := seedRules(t)
	for _, s := range specs {
		cfg.Backend(s.name).CheckRules = map[string][]tcpcheck.Rule{"master": master, "slave": replica}[s.checks]
	}
	return start(t, cfg)
}

func frontAddr(p *Proxy, backend string) string {
	return p.Frontend("fe_" + backend).Addr().String()
}

// waitSentinel waits until the backend's Sentinel view satisfies ok.
func waitSentinel(t *testing.T, b *Backend, within time.Duration, what string, ok func(SentinelState) bool) SentinelState {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st := b.Sentinel()
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("backend %s: no Sentinel view %s within %v; last %+v", b.Name, what, within, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func agreedOn(master string) func(SentinelState) bool {
	return func(st SentinelState) bool { return st.Agreed && st.Master == master }
}

// reachedPorts opens n sessions through addr, one after the other, and
// counts the Redis ports they reach.
func reachedPorts(t *testing.T, addr string, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for range n {
		got[servedPort(t, addr)]++
	}
	return got
}

// writeThrough writes key through addr on a new session and returns the
// port of the Redis that took the write.
func writeThrough(t *testing.T, addr, key string) string {
	t.Helper()
	rc := dialRedis(t, addr)
	defer rc.c.Close()
	if got, err := rc.do("SET", key, "v"); err != nil || got != "OK" {
		t.Fatalf("SET %s through %s: got %q, %v; want OK", key, addr, got, err)
	}
	return tcpPort(t, rc, addr)
}

// sentinelEvent waits for the backend's next EventSentinel.
func sentinelEvent(t *testing.T, sub *Subscription, backend string, within time.Duration, ok func(Event) bool) Event {
	t.Helper()
	return waitEvent(t, sub, within, func(e Event) bool {
		if e.Type != EventSentinel || e.Backend != backend {
			return false
		}
		t.Logf("sentinel event: %s", e.Message)
		return ok(e)
	})
}

// statsPage returns the stats page's HTML, unescaped.
func statsPage(t *testing.T, p *Proxy) string {
	t.Helper()
	resp, body := get(t, statsURL(p, ""), "admin", "1234")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stats page: status %d, want 200", resp.StatusCode)
	}
	return html.UnescapeString(body)
}

// switchTimes records when the test's own subscriptions to the Sentinels
// see a +switch-master about mymaster.
func switchTimes(t *testing.T, sentinels []*redistest.Server) <-chan time.Time {
	t.Helper()
	ch := make(chan time.Time, 16)
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait) // last: after the subscriptions are closed
	for _, s := range sentinels {
		sc := sentinelClient(s)
		ps := sc.Subscribe(t.Context(), "+switch-master")
		t.Cleanup(func() {
			ps.Close()
			sc.Close()
		})
		if _, err := ps.ReceiveTimeout(t.Context(), 2*time.Second); err != nil {
			t.Fatalf("subscribe to %s: %v", s.Addr, err)
		}
		wg.Go(func() {
			for {
				m, err := ps.ReceiveMessage(t.Context())
				if err != nil {
					return
				}
				if strings.HasPrefix(m.Payload, sentinelMasterName+" ") {
					select {
					case ch <- time.Now():
					default:
					}
				}
			}
		})
	}
	return ch
}

func TestSentinelSwitchMovesTheMasterPortAtOnce(t *testing.T) {
	c := redistest.StartCluster(t, 2, password)
	c.WaitDiscovered(t)
	nodes := c.Nodes()
	// A backend that follows Sentinel, and the same one by its checks
	// alone for comparison.
	p := sentinelProxy(t,
		routeSpec{name: "master", checks: "master", sentinel: sentinelAddrs(c.Sentinels) + " role master", servers: nodes},
		routeSpec{name: "checked", checks: "master", servers: nodes},
	)
	b := p.Backend("master")
	waitRouting(t, b, []string{"redis1"}, 10*time.Second)
	waitRouting(t, p.Backend("checked"), []string{"redis1"}, 10*time.Second)
	waitSentinel(t, b, 10*time.Second, "naming the master", agreedOn(c.Master.Addr))

	old := dialRedis(t, frontAddr(p, "master"))
	if got, err := old.do("SET", "before", "1"); err != nil || got != "OK" {
		t.Fatalf("SET before the failover: got %q, %v", got, err)
	}
	switches := switchTimes(t, c.Sentinels)
	sub := p.Events().Subscribe(1024, p.Events().Last())
	defer sub.Close()

	failover := time.Now()
	if _, err := c.Sentinels[0].Do(t.Context(), "SENTINEL", "FAILOVER", sentinelMasterName); err != nil {
		t.Fatalf("SENTINEL FAILOVER: %v", err)
	}
	// The first server to come UP in the Sentinel backend is the new
	// master; the check-only backend's is logged for comparison.
	var up, checkedUp Event
	var oldClosed *Event
	deadline := time.After(20 * time.Second)
	for up.Seq == 0 || checkedUp.Seq == 0 || oldClosed == nil {
		select {
		case e := <-sub.C:
			switch {
			case e.Type == EventSentinel:
				t.Logf("%v after the failover: %s", at(p, e).Sub(failover).Round(time.Millisecond), e.Message)
			case e.Type == EventServerUp && e.Backend == "master" && up.Seq == 0:
				up = e
			case e.Type == EventServerUp && e.Backend == "checked" && checkedUp.Seq == 0:
				checkedUp = e
			case e.Type == EventSessionClose && e.Backend == "master" && e.Server == "redis1" && oldClosed == nil:
				oldClosed = &e
			}
		case <-deadline:
			t.Fatalf("within 20s of SENTINEL FAILOVER: server-up %+v, check-only server-up %+v, old session closed %v", up, checkedUp, oldClosed != nil)
		}
	}
	var promoted *redistest.Server
	for i, n := range nodes {
		if up.Server == "redis"+strconv.Itoa(i+1) {
			promoted = n
		}
	}
	if promoted == nil || promoted == c.Master {
		t.Fatalf("server %s came UP, want one of the replicas", up.Server)
	}
	// The fault happened: the promoted replica is a master now, and
	// Sentinel names it.
	if role, err := promoted.Do(t.Context(), "ROLE"); err != nil || fmt.Sprint(role.([]any)[0]) != "master" {
		t.Fatalf("%s reports role %v (%v), want master: the failover did not happen", promoted.Addr, role, err)
	}
	if st := b.Sentinel(); !st.Agreed || st.Master != promoted.Addr {
		t.Fatalf("Sentinel view %+v, want agreed on %s", st, promoted.Addr)
	}

	var first time.Time
	select {
	case first = <-switches:
	case <-time.After(5 * time.Second):
		t.Fatal("saw no +switch-master within 5s of the new master's server-up")
	}
	delay, checkedDelay := at(p, up).Sub(first), at(p, checkedUp).Sub(first)
	t.Logf("first +switch-master %v after SENTINEL FAILOVER; new master %s UP %v after it (cause %q), by checks alone %v after it",
		first.Sub(failover).Round(time.Millisecond), up.Server, delay.Round(time.Millisecond), up.Cause, checkedDelay.Round(time.Millisecond))
	switch {
	case up.Cause == "check" && delay < 0:
		// Sentinel sees the promotion up to its INFO period (1s) late: the
		// checks can, rarely, pass twice before any Sentinel switches, and
		// then the fast path has nothing to do.
		t.Logf("the checks alone brought the new master UP before the switch: the fast path was not exercised")
	case up.Cause != "sentinel":
		t.Errorf("new master UP with cause %q after the switch (%s), want \"sentinel\": one passing check once Sentinel names it", up.Cause, up.Message)
	case delay > 500*time.Millisecond:
		// Checks alone need rise (2) passing checks an inter (1s) apart.
		t.Errorf("new master UP %v after the first +switch-master, want well under the check-only path's 1s", delay)
	}

	// The client of the old master was cut when Sentinel switched.
	if reply, err := old.do("SET", "after", "1"); err == nil {
		t.Errorf("the old master's client got %q after the switch, want its connection closed", reply)
	}
	if oldClosed.Termination != termSentinel {
		t.Errorf("the old master's session ended with %q, want %q", oldClosed.Termination, termSentinel)
	}

	// New sessions write to the new master, whatever the old master's
	// checks say (it may still answer role:master until Sentinel converts
	// it).
	for _, s := range b.Servers() {
		t.Logf("after the switch: %s %s (%s)", s.Name, s.Status, s.LastCheck.Describe())
	}
	for i := range 10 {
		key := "after-switch-" + strconv.Itoa(i)
		if port := writeThrough(t, frontAddr(p, "master"), key); port != portOf(promoted) {
			t.Fatalf("write %d after the switch went to port %s, want the new master's %s", i, port, portOf(promoted))
		}
		if got, err := promoted.Do(t.Context(), "GET", key); err != nil || got != "v" {
			t.Fatalf("GET %s on the new master: got %v, %v; want v", key, got, err)
		}
	}
}

func TestSentinelKeepsSessionsOffAMasterItDoesNotName(t *testing.T) {
	c := redistest.StartCluster(t, 1, password)
	foreign, _ := foreignPair(t)
	servers := []*redistest.Server{c.Master, c.Replicas[0], foreign}
	p := sentinelProxy(t,
		routeSpec{name: "master", checks: "master", sentinel: sentinelAddrs(c.Sentinels) + " role master", servers: servers},
		routeSpec{name: "checked", checks: "master", servers: servers},
	)
	// Both masters pass the checks of both backends.
	waitRouting(t, p.Backend("master"), []string{"redis1", "redis3"}, 10*time.Second)
	waitRouting(t, p.Backend("checked"), []string{"redis1", "redis3"}, 10*time.Second)
	waitSentinel(t, p.Backend("master"), 10*time.Second, "naming the master", agreedOn(c.Master.Addr))

	got := reachedPorts(t, frontAddr(p, "master"), 50)
	if got[portOf(foreign)] > 0 || got[portOf(c.Master)] != 50 {
		t.Errorf("following Sentinel, 50 sessions reached %v, want all on Sentinel's master %s and none on %s", got, portOf(c.Master), portOf(foreign))
	}
	// The control: by its checks alone, the same backend shares the
	// sessions between the two nodes that say role:master.
	got = reachedPorts(t, frontAddr(p, "checked"), 50)
	if got[portOf(foreign)] == 0 || got[portOf(c.Master)] == 0 {
		t.Errorf("by checks alone, 50 sessions reached %v, want both %s and %s", got, portOf(c.Master), portOf(foreign))
	}
}

func TestSentinelFallbackRoutesByChecksAndSaysSoOnTheStatsPage(t *testing.T) {
	c := redistest.StartCluster(t, 1, password)
	foreign, _ := foreignPair(t)
	// The Sentinels are down before the proxy starts.
	for _, s := range c.Sentinels {
		if err := s.Kill(); err != nil || s.Running() {
			t.Fatalf("kill sentinel %s: %v (running: %v)", s.Addr, err, s.Running())
		}
	}
	p := sentinelProxy(t, routeSpec{name: "master", checks: "master", sentinel: sentinelAddrs(c.Sentinels) + " role master",
		servers: []*redistest.Server{c.Master, c.Replicas[0], foreign}})
	b := p.Backend("master")
	sub := p.Events().Subscribe(1024, 0)
	defer sub.Close()

	fallback := func(phase string) {
		t.Helper()
		e := sentinelEvent(t, sub, "master", 10*time.Second, func(e Event) bool { return strings.Contains(e.Message, "no Sentinel agreement") })
		if want := "Sentinels unreachable"; !strings.Contains(e.Message, want) || !strings.Contains(e.Message, "routing by health checks only") {
			t.Errorf("%s: event %q, want it to say %q and 'routing by health checks only'", phase, e.Message, want)
		}
		// Sentinels killed one after the other go through "2 of 3"; the
		// event announces the loss of agreement, not every reason after.
		unreachable := "3 of 3 Sentinels unreachable"
		st := waitSentinel(t, b, 5*time.Second, "with every Sentinel unreachable", func(st SentinelState) bool { return strings.Contains(st.Reason, unreachable) })
		if !st.Following || st.Agreed || st.Master != "" || st.Reachable != 0 {
			t.Errorf("%s: Sentinel() = %+v, want following, not agreed, no master, none reachable", phase, st)
		}
		// By its checks alone, the backend shares writes between the two
		// nodes that say role:master, and sends none to the replica.
		waitRouting(t, b, []string{"redis1", "redis3"}, 10*time.Second)
		got := map[string]int{}
		for i := range 20 {
			got[writeThrough(t, frontAddr(p, "master"), phase+"-"+strconv.Itoa(i))]++
		}
		if got[portOf(c.Master)] == 0 || got[portOf(foreign)] == 0 || len(got) != 2 {
			t.Errorf("%s: 20 writes reached %v, want both masters %s and %s", phase, got, portOf(c.Master), portOf(foreign))
		}
		page := statsPage(t, p)
		if want := "no agreement (" + st.Reason + "); routing by health checks only"; !strings.Contains(page, want) {
			t.Errorf("%s: the stats page does not say %q", phase, want)
		}
	}
	agreed := func(phase string) {
		t.Helper()
		sentinelEvent(t, sub, "master", 10*time.Second, func(e Event) bool { return strings.Contains(e.Message, "follows Sentinel") })
		st := waitSentinel(t, b, 5*time.Second, "naming the master", agreedOn(c.Master.Addr))
		if st.Reason != "" {
			t.Errorf("%s: agreed with reason %q, want none", phase, st.Reason)
		}
		got := reachedPorts(t, frontAddr(p, "master"), 20)
		if got[portOf(c.Master)] != 20 {
			t.Errorf("%s: 20 sessions reached %v, want all on Sentinel's master %s", phase, got, portOf(c.Master))
		}
		page := statsPage(t, p)
		if want := "Sentinel: master " + c.Master.Addr; !strings.Contains(page, want) {
			t.Errorf("%s: the stats page does not say %q", phase, want)
		}
		if strings.Contains(page, "routing by health checks only") {
			t.Errorf("%s: the stats page still says 'routing by health checks only'", phase)
		}
	}

	fallback("unreachable from the start")
	for _, s := range c.Sentinels {
		if err := s.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	agreed("Sentinels started")
	for _, s := range c.Sentinels {
		if err := s.Kill(); err != nil || s.Running() {
			t.Fatalf("kill sentinel %s: %v (running: %v)", s.Addr, err, s.Running())
		}
	}
	fallback("Sentinels killed")
}

func TestSentinelDisagreementBelowTheQuorumFallsBackToChecks(t *testing.T) {
	redistest.Require(t)
	// Two masters with a replica each (for the seed's
	// repl_backlog_active:1). Two Sentinels monitor the first, the third
	// one the other under the same name.
	master, _ := foreignPair(t)
	other, _ := foreignPair(t)
	sentinels := []*redistest.Server{redistest.StartSentinel(t, master), redistest.StartSentinel(t, master), redistest.StartSentinel(t, other)}
	servers := []*redistest.Server{master, other}
	p := sentinelProxy(t,
		routeSpec{name: "all", checks: "master", sentinel: sentinelAddrs(sentinels) + " role master quorum 3", servers: servers},
		routeSpec{name: "majority", checks: "master", sentinel: sentinelAddrs(sentinels) + " role master quorum 2", servers: servers},
	)
	sub := p.Events().Subscribe(1024, 0)
	defer sub.Close()

	reason := fmt.Sprintf("Sentinels disagree: %s by 2, %s by 1 (quorum 3)", master.Addr, other.Addr)
	e := sentinelEvent(t, sub, "all", 10*time.Second, func(Event) bool { return true })
	if !strings.Contains(e.Message, "no Sentinel agreement ("+reason+"); routing by health checks only") {
		t.Errorf("quorum 3: event %q, want it to give the reason %q and say 'routing by health checks only'", e.Message, reason)
	}
	if st := p.Backend("all").Sentinel(); st.Agreed || st.Reason != reason {
		t.Errorf("quorum 3: Sentinel() = %+v, want not agreed with reason %q", st, reason)
	}
	waitSentinel(t, p.Backend("majority"), 10*time.Second, "naming the master", agreedOn(master.Addr))

	waitRouting(t, p.Backend("all"), []string{"redis1", "redis2"}, 10*time.Second)
	waitRouting(t, p.Backend("majority"), []string{"redis1", "redis2"}, 10*time.Second)
	got := reachedPorts(t, frontAddr(p, "all"), 20)
	if got[portOf(master)] == 0 || got[portOf(other)] == 0 {
		t.Errorf("quorum 3 without agreement: 20 sessions reached %v, want both nodes that say role:master (%s, %s)", got, portOf(master), portOf(other))
	}
	got = reachedPorts(t, frontAddr(p, "majority"), 20)
	if got[portOf(master)] != 20 {
		t.Errorf("quorum 2: 20 sessions reached %v, want all on %s, the master 2 of 3 Sentinels name", got, portOf(master))
	}
}

func TestSentinelReplicaRoleRoutesOnlyToListedReplicasWithTheirLinkUp(t *testing.T) {
	c := redistest.StartCluster(t, 2, password)
	c.WaitDiscovered(t)
	_, stranger := foreignPair(t)
	// The stranger says role:slave, but of a master Sentinel does not
	// monitor.
	servers := append(c.Nodes(), stranger)
	p := sentinelProxy(t,
		routeSpec{name: "replica", checks: "slave", sentinel: sentinelAddrs(c.Sentinels) + " role replica", servers: servers},
		routeSpec{name: "checked", checks: "slave", servers: servers},
	)
	waitRouting(t, p.Backend("replica"), []string{"redis2", "redis3", "redis4"}, 10*time.Second)
	waitRouting(t, p.Backend("checked"), []string{"redis2", "redis3", "redis4"}, 10*time.Second)
	waitSentinel(t, p.Backend("replica"), 10*time.Second, "naming the master", agreedOn(c.Master.Addr))

	got := reachedPorts(t, frontAddr(p, "replica"), 50)
	if got[portOf(stranger)] > 0 || got[portOf(c.Master)] > 0 || got[portOf(c.Replicas[0])] == 0 || got[portOf(c.Replicas[1])] == 0 {
		t.Errorf("following Sentinel, 50 sessions reached %v, want both listed replicas (%s, %s) and neither the master %s nor the stranger %s",
			got, portOf(c.Replicas[0]), portOf(c.Replicas[1]), portOf(c.Master), portOf(stranger))
	}
	got = reachedPorts(t, frontAddr(p, "checked"), 50)
	if got[portOf(stranger)] == 0 || got[portOf(c.Master)] > 0 {
		t.Errorf("by checks alone, 50 sessions reached %v, want the stranger %s too and never the master %s", got, portOf(stranger), portOf(c.Master))
	}

	// Break the second replica's link: it still says role:slave, but
	// cannot authenticate to its master. The Sentinels refresh their INFO
	// of it every 200ms instead of 10s.
	broken, kept := c.Replicas[1], c.Replicas[0]
	for _, s := range c.Sentinels {
		if _, err := s.Do(t.Context(), "SENTINEL", "DEBUG", "info-period", "200"); err != nil {
			t.Fatalf("SENTINEL DEBUG on %s: %v", s.Addr, err)
		}
	}
	if _, err := broken.Do(t.Context(), "CONFIG", "SET", "masterauth", "wrong"); err != nil {
		t.Fatal(err)
	}
	if _, err := broken.Do(t.Context(), "CLIENT", "KILL", "TYPE", "master"); err != nil {
		t.Fatal(err)
	}
	// The fault happened: every Sentinel reports the link down.
	deadline := time.Now().Add(10 * time.Second)
	for _, s := range c.Sentinels {
		for !replicaLinkDown(t, s, broken.Addr) {
			if time.Now().After(deadline) {
				t.Fatalf("sentinel %s does not report %s's link down within 10s", s.Addr, broken.Addr)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// The backend polls the Sentinels every second: wait until four
	// sessions in a row (two rounds of the round robin) miss the replica.
	deadline = time.Now().Add(5 * time.Second)
	for reachedPorts(t, frontAddr(p, "replica"), 4)[portOf(broken)] > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("sessions still reach %s 5s after Sentinel reported its link down", broken.Addr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	got = reachedPorts(t, frontAddr(p, "replica"), 50)
	if got[portOf(kept)] != 50 {
		t.Errorf("with %s's link down, 50 sessions reached %v, want all on %s", broken.Addr, got, portOf(kept))
	}
	got = reachedPorts(t, frontAddr(p, "checked"), 50)
	if got[portOf(broken)] == 0 {
		t.Errorf("by checks alone, 50 sessions reached %v, want %s too: its checks cannot see the link", got, portOf(broken))
	}
}

// replicaLinkDown reports whether Sentinel s lists replica addr of
// mymaster with its master link not ok.
func replicaLinkDown(t *testing.T, s *redistest.Server, addr string) bool {
	t.Helper()
	sc := sentinelClient(s)
	defer sc.Close()
	reps, err := sc.Do(t.Context(), "SENTINEL", "replicas", sentinelMasterName).Slice()
	if err != nil {
		return false
	}
	for _, r := range reps {
		if kv := redistest.Strings(r); redistest.Field(kv, "ip")+":"+redistest.Field(kv, "port") == addr {
			return redistest.Field(kv, "master-link-status") != "ok"
		}
	}
	return false
}

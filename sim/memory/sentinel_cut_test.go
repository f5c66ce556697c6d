package memory

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/rig"
)

// A disconnected Sentinel is cut from the nodes and the other Sentinels,
// as docker's disconnect from the cluster network does, while the
// harness, on the clients side, still reaches its RESP front: every
// event below is read on subscriptions to the cut Sentinel itself.

// cutCluster starts one group of two nodes and three Sentinels, with a
// down-after of 1s, and records every Sentinel's events.
func cutCluster(t *testing.T, quorum int) (rig.Cluster, *eventRecorder) {
	t.Helper()
	c, err := Backend{}.Start(t.Context(), rig.Topology{
		Groups:    []rig.Group{{Name: rig.DefaultGroup, MasterName: "mymaster", Nodes: []string{"r1", "r2"}}},
		Sentinels: []string{"s1", "s2", "s3"}, Quorum: quorum,
		DownAfter: time.Second, FailoverTimeout: 3 * time.Second, ParallelSyncs: 1,
		ReplicationLag: time.Millisecond, MinReplicasMaxLag: 10 * time.Second, Seed: 13,
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	var addrs []string
	for _, s := range c.Sentinels() {
		addrs = append(addrs, s.Addr())
	}
	rec := recordEvents(t, addrs)
	t.Cleanup(rec.stop)
	rec.start()
	return c, rec
}

// awaitEvent waits up to limit for an event from Sentinel src (-1: any)
// at or after from that pred accepts, and returns its time.
func awaitEvent(t *testing.T, rec *eventRecorder, from time.Duration, src int, limit time.Duration, what string, pred func(timedEvent) bool) time.Duration {
	t.Helper()
	var at time.Duration
	waitEvent(t, "in-memory", &rec.mu, &rec.events, limit, what, func(e timedEvent) bool {
		if e.at >= from && (src < 0 || e.src == src) && pred(e) {
			at = e.at
			return true
		}
		return false
	})
	return at
}

// eventsOf lists the events at or after from that pred accepts.
func eventsOf(rec *eventRecorder, from time.Duration, pred func(timedEvent) bool) []string {
	var out []string
	for _, e := range rec.snapshot() {
		if e.at >= from && pred(e) {
			out = append(out, fmt.Sprintf("%v s%d %s %s", e.at.Round(time.Millisecond), e.src+1, e.name, e.payload))
		}
	}
	return out
}

// about matches an event name about the instance of type typ ("master",
// "sentinel") at addr.
func about(name, typ, addr string) func(timedEvent) bool {
	_, port := splitPort(addr)
	return func(e timedEvent) bool {
		// "<type> <name> <ip> <port>[ @ <master> ...][ <detail>]"
		f := strings.Fields(e.payload)
		return e.name == name && len(f) >= 4 && f[0] == typ && f[3] == port
	}
}

func splitPort(addr string) (string, string) {
	h, p, _ := net.SplitHostPort(addr)
	return h, p
}

// masterAddr asks the Sentinel at addr for the master of name.
func masterAddr(t *testing.T, addr, name string) string {
	t.Helper()
	sc := sentinelClient(addr)
	defer sc.Close()
	a, err := sc.Do(t.Context(), "SENTINEL", "get-master-addr-by-name", name).StringSlice()
	if err != nil || len(a) != 2 {
		t.Fatalf("SENTINEL get-master-addr-by-name %s on %s: got %v, %v", name, addr, a, err)
	}
	return net.JoinHostPort(a[0], a[1])
}

func TestDisconnectedSentinelLosesTheMasterAndIsMarkedDownByTheOthersUntilReconnected(t *testing.T) {
	c, rec := cutCluster(t, 2)
	s1, master := c.Sentinels()[0], c.Nodes()[0]
	if !fault.Of(fault.Disconnect).Available(fault.Memory, rig.KindSentinel) {
		t.Fatal("the fault table must say the memory backend disconnects Sentinels")
	}

	cut := rec.since()
	if err := s1.Do(t.Context(), fault.Disconnect); err != nil {
		t.Fatal(err)
	}
	// The cut Sentinel stops hearing the master: +sdown after down-after
	// (1s), plus at most a ping period.
	sdown := awaitEvent(t, rec, cut, 0, 4*time.Second, "+sdown of the master on the cut s1", about("+sdown", "master", master.Addr())) - cut
	if sdown < 900*time.Millisecond || sdown > 3*time.Second {
		t.Errorf("s1 marked the master +sdown %v after its disconnect, want between down-after (1s) and 3s", sdown)
	}
	// The others stop hearing it.
	for i := 1; i <= 2; i++ {
		at := awaitEvent(t, rec, cut, i, 4*time.Second, fmt.Sprintf("+sdown of s1 on s%d", i+1), about("+sdown", "sentinel", s1.Addr())) - cut
		if at < 900*time.Millisecond || at > 3*time.Second {
			t.Errorf("s%d marked s1 +sdown %v after its disconnect, want between down-after (1s) and 3s", i+1, at)
		}
	}
	// Its opinion of the master reaches no one, and it hears no one's:
	// no +odown anywhere, the master is not down for the others, and the
	// harness still asks the cut Sentinel where the master is.
	time.Sleep(1500 * time.Millisecond)
	if odown := eventsOf(rec, cut, func(e timedEvent) bool {
		return e.name == "+odown" || e.name == "+sdown" && e.src != 0 && strings.HasPrefix(e.payload, "master ")
	}); len(odown) > 0 {
		t.Errorf("got %v, want no +odown and no +sdown of the master outside s1: the cut Sentinel's view must not reach the others", odown)
	}
	if got := masterAddr(t, s1.Addr(), "mymaster"); got != master.Addr() {
		t.Errorf("the cut s1 says the master is at %s, want %s", got, master.Addr())
	}

	healed := rec.since()
	if err := s1.Do(t.Context(), fault.Reconnect); err != nil {
		t.Fatal(err)
	}
	awaitEvent(t, rec, healed, 0, 4*time.Second, "-sdown of the master on s1 after the reconnect", about("-sdown", "master", master.Addr()))
	for i := 1; i <= 2; i++ {
		awaitEvent(t, rec, healed, i, 4*time.Second, fmt.Sprintf("-sdown of s1 on s%d after the reconnect", i+1), about("-sdown", "sentinel", s1.Addr()))
	}
	t.Logf("s1 cut: its +sdown of the master after %v; reconnected: cleared on every side within %v", sdown, rec.since()-healed)
}

// With quorum 3, a master is objectively down only with all three
// Sentinels' opinions: while s1 is cut the two others see the master die
// and cannot count s1, so nothing fails over until it is reconnected.
func TestDisconnectedSentinelIsNotCountedForTheQuorumUntilReconnected(t *testing.T) {
	c, rec := cutCluster(t, 3)
	s1, master, replica := c.Sentinels()[0], c.Nodes()[0], c.Nodes()[1]

	cut := rec.since()
	if err := s1.Do(t.Context(), fault.Disconnect); err != nil {
		t.Fatal(err)
	}
	awaitEvent(t, rec, cut, 0, 4*time.Second, "+sdown of the master on the cut s1", about("+sdown", "master", master.Addr()))
	for i := 1; i <= 2; i++ {
		awaitEvent(t, rec, cut, i, 4*time.Second, fmt.Sprintf("+sdown of s1 on s%d", i+1), about("+sdown", "sentinel", s1.Addr()))
	}
	// s1 thinks the master down; now it is.
	killed := rec.since()
	if err := master.Do(t.Context(), fault.Kill); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		awaitEvent(t, rec, killed, i, 4*time.Second, fmt.Sprintf("+sdown of the killed master on s%d", i+1), about("+sdown", "master", master.Addr()))
	}
	// Each asks the others every second: 3s more without +odown is three
	// rounds in which s1's "down" would have made the quorum.
	time.Sleep(3 * time.Second)
	if odown := eventsOf(rec, cut, func(e timedEvent) bool { return e.name == "+odown" || e.name == "+switch-master" }); len(odown) > 0 {
		t.Fatalf("got %v while s1 is cut, want no +odown: two of quorum 3 are not enough and s1 cannot be counted", odown)
	}

	healed := rec.since()
	if err := s1.Do(t.Context(), fault.Reconnect); err != nil {
		t.Fatal(err)
	}
	odown := awaitEvent(t, rec, healed, -1, 5*time.Second, "+odown once s1 is reconnected", about("+odown", "master", master.Addr())) - healed
	// A split vote needs all three (quorum 3) and is retried after twice
	// the failover timeout (3s).
	awaitEvent(t, rec, healed, -1, 20*time.Second, "+switch-master once s1 is reconnected", func(e timedEvent) bool {
		h, p := splitPort(replica.Addr())
		return e.name == "+switch-master" && strings.HasSuffix(e.payload, " "+h+" "+p)
	})
	t.Logf("with s1 reconnected: +odown after %v, +switch-master after %v", odown, rec.since()-healed)
}

// A host holding the three groups' masters and sentinel1 is disconnected:
// the masters keep answering their clients (a split brain), sentinel1
// keeps answering the harness with the old masters, and the two other
// Sentinels fail every group over. Reconnected, sentinel1 learns the new
// masters and the old ones become their replicas.
func TestDisconnectingTheHostOfThreeMastersAndASentinelFailsOverEveryGroup(t *testing.T) {
	topo := rig.Topology{Sentinels: []string{"sentinel1", "sentinel2", "sentinel3"}, Quorum: 2,
		DownAfter: downAfter, FailoverTimeout: 3 * time.Second, ParallelSyncs: 1, MinReplicasMaxLag: 10 * time.Second, Seed: 17}
	h1 := rig.Host{Name: "h1", Members: []string{"sentinel1"}}
	h2 := rig.Host{Name: "h2"}
	for g := 1; g <= 3; g++ {
		grp := rig.Group{Name: fmt.Sprintf("group%d", g), MasterName: fmt.Sprintf("cache%d", g),
			Nodes: []string{fmt.Sprintf("group%d.redis1", g), fmt.Sprintf("group%d.redis2", g)}}
		topo.Groups = append(topo.Groups, grp)
		h1.Members = append(h1.Members, grp.Nodes[0])
		h2.Members = append(h2.Members, grp.Nodes[1])
	}
	topo.Hosts = []rig.Host{h1, h2}
	c, err := Backend{}.Start(t.Context(), topo, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	h, nodes, sentinels := c.Hosts()[0], c.Nodes(), c.Sentinels()
	var addrs []string
	for _, s := range sentinels {
		addrs = append(addrs, s.Addr())
	}
	rec := recordEvents(t, addrs)
	t.Cleanup(rec.stop)
	rec.start()

	cut := time.Now()
	if err := h.Do(t.Context(), fault.Disconnect); err != nil {
		t.Fatal(err)
	}
	for g := range 3 {
		if !ping(nodes[2*g].Addr(), "", time.Second) {
			t.Fatalf("the disconnected master of group%d does not answer its clients", g+1)
		}
	}
	deadline := cut.Add(20 * time.Second)
	for _, sn := range sentinels[1:] {
		for g, grp := range topo.Groups {
			want := nodes[2*g+1].Addr()
			for masterAddr(t, sn.Addr(), grp.MasterName) != want {
				if time.Now().After(deadline) {
					t.Fatalf("%s: %s is not at its replica %s %v after the host's disconnect", sn.Name(), grp.MasterName, want, time.Since(cut))
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	switched := time.Since(cut)
	// The cut sentinel1 heard none of it.
	for g, grp := range topo.Groups {
		if got := masterAddr(t, sentinels[0].Addr(), grp.MasterName); got != nodes[2*g].Addr() {
			t.Errorf("the cut sentinel1 says %s is at %s, want the old master %s: it must not hear the others", grp.MasterName, got, nodes[2*g].Addr())
		}
	}
	t.Logf("sentinel2 and sentinel3 switched every group within %v of the host's disconnect", switched)

	// Reconnected, sentinel1 hears the others' hellos; every Sentinel
	// agrees on one master per group and the group's other node
	// replicates from it (the old masters converted, or, after a cascade
	// at a short down-after, the new ones).
	healed := time.Now()
	if err := h.Do(t.Context(), fault.Reconnect); err != nil {
		t.Fatal(err)
	}
	deadline = healed.Add(30 * time.Second)
	for g, grp := range topo.Groups {
		for {
			var got []string
			for _, sn := range sentinels {
				got = append(got, masterAddr(t, sn.Addr(), grp.MasterName))
			}
			agreed := got[0] == got[1] && got[1] == got[2]
			var other *Node
			for _, n := range nodes[2*g : 2*g+2] {
				if n.Addr() != got[0] {
					other = n.(nodeInstance).n
				}
			}
			following := false
			if agreed && other != nil {
				other.mu.Lock()
				following = other.repl.role == roleReplica && other.repl.masterAddr == got[0]
				other.mu.Unlock()
			}
			if following {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s %v after the host's reconnect: the Sentinels say %v, want one of the group's nodes, followed by the other; events:\n%s", grp.MasterName, time.Since(healed), got,
					strings.Join(eventsOf(rec, 0, func(e timedEvent) bool { return e.name != "+sentinel" && e.name != "+slave" }), "\n"))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Logf("reconnected: every Sentinel agrees on every group's master, followed by the other node, within %v", time.Since(healed))
}

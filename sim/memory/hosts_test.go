package memory

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/rig"
)

// A host holding the three groups' masters is killed: the three masters
// refuse connections from the same instant, and the Sentinels, each
// monitoring the three, fail every group over to one of its replicas.
func TestKillingTheHostOfThreeMastersFailsOverEveryGroup(t *testing.T) {
	topo := rig.Topology{Sentinels: []string{"sentinel1", "sentinel2", "sentinel3"}, Quorum: 2,
		DownAfter: time.Second, FailoverTimeout: 3 * time.Second, ParallelSyncs: 1, MinReplicasMaxLag: 10 * time.Second}
	h1 := rig.Host{Name: "h1"}
	h2 := rig.Host{Name: "h2", Members: []string{"sentinel1"}}
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
	t.Cleanup(func() { c.Close(t.Context()) })
	hosts := c.Hosts()
	if len(hosts) != 2 || hosts[0].Name() != "h1" || hosts[0].Kind() != rig.KindHost {
		t.Fatalf("got hosts %v, want h1 and h2, of kind host", hosts)
	}
	nodes := c.Nodes()
	if len(nodes) != 6 {
		t.Fatalf("got %d nodes, want 6", len(nodes))
	}
	var masters []string
	for g := range 3 {
		masters = append(masters, nodes[2*g].Addr())
	}

	// Watch the masters: when does each first refuse a connection?
	refused := make([]time.Time, len(masters))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i, addr := range masters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				conn, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
				if errors.Is(err, syscall.ECONNREFUSED) {
					refused[i] = time.Now()
					return
				}
				if conn != nil {
					conn.Close()
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
	killed := time.Now()
	if err := hosts[0].Do(t.Context(), fault.Kill); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		close(stop)
		<-done
	}
	for i, at := range refused {
		if at.IsZero() {
			t.Fatalf("master of group%d (%s) still accepts connections after the host's kill", i+1, masters[i])
		}
	}
	// Each watcher dials every millisecond: the first refusals of the
	// three come within a few dials of each other. (That the host starts
	// its members' effects together, before checking any, is
	// rig.NewHost's test; here a kill is quick either way.)
	spread := slices.MaxFunc(refused, func(a, b time.Time) int { return a.Compare(b) }).Sub(slices.MinFunc(refused, func(a, b time.Time) int { return a.Compare(b) }))
	if spread > 100*time.Millisecond {
		t.Errorf("the masters first refused %v apart, want at the same instant (within 100ms)", spread)
	}
	t.Logf("refused from %v after the kill, within %v of each other", slices.MinFunc(refused, func(a, b time.Time) int { return a.Compare(b) }).Sub(killed), spread)

	// Every Sentinel moves every group to the group's replica.
	deadline := time.Now().Add(20 * time.Second)
	for _, sn := range c.Sentinels() {
		sc := sentinelClient(sn.Addr())
		defer sc.Close()
		for g, grp := range topo.Groups {
			want := nodes[2*g+1].Addr()
			for {
				a, err := sc.Do(t.Context(), "SENTINEL", "get-master-addr-by-name", grp.MasterName).StringSlice()
				if err == nil && len(a) == 2 && net.JoinHostPort(a[0], a[1]) == want {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: %s is at %v (%v) %v after the kill, want its replica %s", sn.Name(), grp.MasterName, a, err, time.Since(killed), want)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	t.Logf("every Sentinel switched every group within %v", time.Since(killed))

	// The host comes back whole.
	if err := hosts[0].Do(t.Context(), fault.Start); err != nil {
		t.Fatal(err)
	}
	for i, addr := range masters {
		if !ping(addr, "", time.Second) {
			t.Errorf("old master of group%d does not answer after the host's start", i+1)
		}
	}
}

package e2e

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/redis/go-redis/v9"

	"github.com/redisha-sim/redisha-sim/sim/docker"
	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/rig"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

// Every link fault through the relays of a small cluster (a master, a
// replica, two Sentinels, shared by the Its; down-after 10 s, so that no
// fault here fails the master over), each undone before the next; then
// scenario master-blackhole end to end.
var _ = Describe("Link faults on containers", Ordered, Label("docker", "link-faults"), func() {
	var (
		cl              rig.Cluster
		master, replica rig.Instance
		sentinel        rig.Instance
		masterLF        rig.LinkFaulter
		oneConn         func(addr string) *redis.Client
		pings           func(ctx context.Context, rc *redis.Client, n int) []time.Duration
		applyLinkFault  func(ctx context.Context, f fault.LinkFault)
		answersWithin   func(ctx context.Context, addr string, limit time.Duration) error
		errNoAnswer     = errors.New("no answer")
	)

	BeforeAll(func(ctx SpecContext) {
		var err error
		cl, err = docker.Backend{}.Start(ctx, rig.Topology{
			Groups:    []rig.Group{{Name: rig.DefaultGroup, MasterName: "mymaster", Nodes: []string{"redis1", "redis2"}}},
			Sentinels: []string{"sentinel1", "sentinel2"}, Quorum: 2,
			DownAfter: 10 * time.Second, FailoverTimeout: 60 * time.Second, ParallelSyncs: 1, MinReplicasMaxLag: 10 * time.Second,
		}, nil)
		if cl != nil {
			DeferCleanup(func(ctx SpecContext) { Expect(cl.Close(ctx)).To(Succeed()) }, NodeTimeout(time.Minute))
		}
		Expect(err).NotTo(HaveOccurred())
		master, replica, sentinel = cl.Nodes()[0], cl.Nodes()[1], cl.Sentinels()[0]
		masterLF = master.(rig.LinkFaulter)
		oneConn = func(addr string) *redis.Client {
			rc := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1,
				PoolSize: 1, DialTimeout: 2 * time.Second, ReadTimeout: 5 * time.Second})
			DeferCleanup(rc.Close)
			return rc
		}
		pings = func(ctx context.Context, rc *redis.Client, n int) []time.Duration {
			GinkgoHelper()
			var out []time.Duration
			for i := 0; i < n; i++ {
				start := time.Now()
				Expect(rc.Ping(ctx).Err()).To(Succeed())
				out = append(out, time.Since(start))
			}
			slices.Sort(out)
			return out
		}
		applyLinkFault = func(ctx context.Context, f fault.LinkFault) {
			GinkgoHelper()
			Expect(masterLF.LinkFault(ctx, f)).To(Succeed(), "%s on the master", f.Action)
		}
		answersWithin = func(ctx context.Context, addr string, limit time.Duration) error {
			c, err := (&net.Dialer{Timeout: limit}).DialContext(ctx, "tcp", addr)
			if err != nil {
				return err
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(limit))
			if _, err := c.Write([]byte("PING\r\n")); err != nil {
				return err
			}
			if _, err := c.Read(make([]byte, 16)); err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					return errNoAnswer
				}
				return err
			}
			return nil
		}
	}, NodeTimeout(3*time.Minute))

	It("keeps the addresses the harness and Sentinel know", func(ctx SpecContext) {
		info, err := oneConn(master.Addr()).Info(ctx, "replication").Result()
		Expect(err).NotTo(HaveOccurred())
		announced := cl.(*docker.Cluster).SentinelAddr(replica.Name())
		host, port, _ := net.SplitHostPort(announced)
		Expect(info).To(ContainSubstring("slave0:ip=" + host + ",port=" + port + ","))
		name, ok := cl.NodeByAddr(announced)
		Expect(ok).To(BeTrue())
		Expect(name).To(Equal(replica.Name()))
	}, SpecTimeout(30*time.Second))

	It("delay: PING round trips within 10 % of the delay, and undelay restores them", func(ctx SpecContext) {
		rc := oneConn(master.Addr())
		Expect(pings(ctx, rc, 5)[2]).To(BeNumerically("<", 50*time.Millisecond))
		const delay = 300 * time.Millisecond
		applyLinkFault(ctx, fault.LinkFault{Action: fault.Delay, Delay: delay})
		p := pings(ctx, rc, 7)
		GinkgoWriter.Printf("delay %v: PING round trips %v\n", delay, p)
		Expect(p[0]).To(BeNumerically(">=", delay))
		Expect(p[3]).To(BeNumerically("<=", delay+delay/10), "median round trip within 10 %% of %v: %v", delay, p)
		applyLinkFault(ctx, fault.LinkFault{Action: fault.Undelay})
		Expect(pings(ctx, rc, 5)[2]).To(BeNumerically("<", 50*time.Millisecond))
	}, SpecTimeout(time.Minute))

	It("blackhole: a connection hangs, and heal delivers what it held", func(ctx SpecContext) {
		rc := oneConn(master.Addr())
		pings(ctx, rc, 1)
		applyLinkFault(ctx, fault.LinkFault{Action: fault.Blackhole})
		done := make(chan error, 1)
		go func() { done <- rc.Ping(ctx).Err() }()
		Consistently(done, 2*time.Second).ShouldNot(Receive(), "a PING to the blackholed master returned")
		Expect(answersWithin(ctx, master.Addr(), 500*time.Millisecond)).To(MatchError(errNoAnswer), "a new connection hangs too")
		applyLinkFault(ctx, fault.LinkFault{Action: fault.Heal})
		Eventually(done, 2*time.Second).Should(Receive(BeNil()), "the held PING is answered after the heal")
	}, SpecTimeout(time.Minute))

	It("reset: connections fail at once, and heal restores them", func(ctx SpecContext) {
		rc := oneConn(master.Addr())
		pings(ctx, rc, 1)
		applyLinkFault(ctx, fault.LinkFault{Action: fault.Reset})
		start := time.Now()
		Expect(rc.Ping(ctx).Err()).To(HaveOccurred())
		Expect(time.Since(start)).To(BeNumerically("<", 500*time.Millisecond))
		err := answersWithin(ctx, master.Addr(), time.Second)
		Expect(err).To(HaveOccurred())
		Expect(err).NotTo(MatchError(errNoAnswer), "a new connection is reset, not left hanging")
		applyLinkFault(ctx, fault.LinkFault{Action: fault.Heal})
		Expect(pings(ctx, rc, 3)[1]).To(BeNumerically("<", 50*time.Millisecond))
	}, SpecTimeout(time.Minute))

	It("loss: the fraction of connections hangs, and heal restores them", func(ctx SpecContext) {
		applyLinkFault(ctx, fault.LinkFault{Action: fault.Loss, Loss: 0.5, Peers: []string{fault.PeersClients}, Direction: fault.Out})
		hung := 0
		for i := 0; i < 40; i++ {
			err := answersWithin(ctx, master.Addr(), 300*time.Millisecond)
			if errors.Is(err, errNoAnswer) {
				hung++
			} else {
				Expect(err).NotTo(HaveOccurred())
			}
		}
		GinkgoWriter.Printf("loss 0.5: %d of 40 connections hung\n", hung)
		Expect(hung).To(BeNumerically(">=", 10)) // Binomial(40, 0.5): outside [10, 30] under 1e-3
		Expect(hung).To(BeNumerically("<=", 30))
		applyLinkFault(ctx, fault.LinkFault{Action: fault.Heal})
		for i := 0; i < 10; i++ {
			Expect(answersWithin(ctx, master.Addr(), time.Second)).To(Succeed())
		}
	}, SpecTimeout(time.Minute))

	It("bandwidth: what the master sends is paced", func(ctx SpecContext) {
		rc := oneConn(master.Addr())
		Expect(rc.Set(ctx, "big", strings.Repeat("x", 100_000), 0).Err()).To(Succeed())
		applyLinkFault(ctx, fault.LinkFault{Action: fault.Bandwidth, Rate: 50_000, Peers: []string{fault.PeersClients}, Direction: fault.Out})
		start := time.Now()
		Expect(rc.Get(ctx, "big").Err()).To(Succeed())
		took := time.Since(start)
		GinkgoWriter.Printf("bandwidth 50000 B/s: a GET of 100000 bytes took %v\n", took)
		Expect(took).To(BeNumerically(">=", 1800*time.Millisecond))
		Expect(took).To(BeNumerically("<", 4*time.Second))
		applyLinkFault(ctx, fault.LinkFault{Action: fault.Heal})
		start = time.Now()
		Expect(rc.Get(ctx, "big").Err()).To(Succeed())
		Expect(time.Since(start)).To(BeNumerically("<", 500*time.Millisecond))
	}, SpecTimeout(time.Minute))

	It("one-way partition: a master that stops hearing the Sentinels still replicates", func(ctx SpecContext) {
		mc, rc, sc := oneConn(master.Addr()), oneConn(replica.Addr()), oneConn(sentinel.Addr())
		lastOKPing := func() int {
			m, err := sc.Do(ctx, "SENTINEL", "MASTER", "mymaster").StringSlice()
			Expect(err).NotTo(HaveOccurred())
			i := slices.Index(m, "last-ok-ping-reply")
			Expect(i).To(BeNumerically(">=", 0))
			v, _ := strconv.Atoi(m[i+1])
			return v
		}
		applyLinkFault(ctx, fault.LinkFault{Action: fault.Blackhole, Peers: []string{fault.PeersSentinels}, Direction: fault.In})
		Eventually(lastOKPing, 5*time.Second, 100*time.Millisecond).Should(BeNumerically(">", 2000), "Sentinel still hears the master")
		for i := 0; i < 3; i++ {
			v := "v" + strconv.Itoa(i)
			Expect(mc.Set(ctx, "oneway", v, 0).Err()).To(Succeed())
			Eventually(func() string { return rc.Get(ctx, "oneway").Val() }, 2*time.Second, 20*time.Millisecond).Should(Equal(v), "replication stopped")
		}
		applyLinkFault(ctx, fault.LinkFault{Action: fault.Heal})
		Eventually(lastOKPing, 5*time.Second, 100*time.Millisecond).Should(BeNumerically("<", 1500), "Sentinel hears the master again")
	}, SpecTimeout(time.Minute))

	It("master-blackhole runs end to end: the blackholed master hangs, is failed over, and rejoins after the heal", func(ctx SpecContext) {
		res := runScenario(ctx, "docker", "master-blackhole.yaml")
		bh := faultOf(res, fault.Blackhole)
		heal := faultOf(res, fault.Heal)
		Expect(roleAfter(res.Timeline, bh.Target, bh.T, timeline.RoleUnreachable)).To(BeTrue(), "the role poller saw the blackholed master hang")
		Expect(res.Report.Failovers).To(Equal(1))
		Expect(res.Timeline.ReadBack.Master).NotTo(Equal(bh.Target))
		Expect(roleAfter(res.Timeline, bh.Target, heal.T, timeline.RoleReplica)).To(BeTrue(), "the old master rejoined as a replica")
		Expect(res.Report.Passed()).To(BeTrue())
	}, SpecTimeout(runTimeout))
})

package proxy

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy/config"
	"github.com/redisha-sim/redisha-sim/proxy/redistest"
)

// Soak figures (issue 17): sessions opened and closed, forced failovers.
const (
	soakSessions  = 10000
	soakFailovers = 50
	// soakWorkers open sessions concurrently.
	soakWorkers = 16
)

// soakProxy is a proxy in front of a Sentinel-monitored pair: fe_master
// follows Sentinel (the seed's master checks at inter 1s), fe_plain routes
// round robin to both nodes without checks, so that an operator moves its
// traffic with the runtime API.
func soakProxy(t *testing.T, c *redistest.Cluster) *Proxy {
	t.Helper()
	var b strings.Builder
	b.WriteString("defaults\n mode tcp\n timeout connect 1s\n timeout server 15s\n timeout client 15s\n\n")
	b.WriteString("frontend fe_master\n bind 127.0.0.1:1\n default_backend master\n\n")
	fmt.Fprintf(&b, "backend master\n option tcp-check\n redis-sentinel %s %s role master\n", sentinelMasterName, sentinelAddrs(c.Sentinels))
	for i, n := range c.Nodes() {
		fmt.Fprintf(&b, " server redis%d %s check inter 1s rise 2 fall 3\n", i+1, n.Addr)
	}
	b.WriteString("\nfrontend fe_plain\n bind 127.0.0.1:2\n default_backend plain\n\nbackend plain\n balance roundrobin\n")
	for i, n := range c.Nodes() {
		fmt.Fprintf(&b, " server redis%d %s\n", i+1, n.Addr)
	}
	cfg, _, err := config.Parse("soak.cfg", strings.NewReader(b.String()), config.ParseOptions{})
	if err != nil {
		t.Fatalf("parse configuration: %v\n%s", err, b.String())
	}
	for _, f := range cfg.Frontends {
		f.Binds[0].Addr = "127.0.0.1:0"
	}
	cfg.Global.StatsSockets = []config.StatsSocket{{Network: "tcp", Address: "127.0.0.1:0", Level: "admin"}}
	master, _ := seedRules(t)
	cfg.Backend("master").CheckRules = master
	p, err := New(cfg, Options{}) // the log of 10,000 sessions would drown the test's
	if err != nil {
		t.Fatalf("start proxy: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// soakSession opens one session through addr, authenticates and pings, and
// closes it. It reports whether the proxy accepted the connection and
// whether Redis answered.
func soakSession(addr string) (opened, answered bool) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return false, false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write([]byte("AUTH " + password + "\r\nPING\r\n")); err != nil {
		return true, false
	}
	rd := bufio.NewReader(c)
	l1, err1 := rd.ReadString('\n')
	l2, err2 := rd.ReadString('\n')
	return true, err1 == nil && err2 == nil && l1 == "+OK\r\n" && l2 == "+PONG\r\n"
}

func TestSoakTenThousandSessionsAndFiftyFailoversLeaveNothingBehind(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test: not with -short")
	}
	t0 := time.Now()
	c := redistest.StartCluster(t, 1, password)
	c.WaitDiscovered(t)
	t.Cleanup(func() {
		if t.Failed() {
			logSentinels(t, c.Sentinels)
		}
	})
	p := soakProxy(t, c)
	mb, pb := p.Backend("master"), p.Backend("plain")
	waitSentinel(t, mb, 10*time.Second, "naming the master", agreedOn(c.Master.Addr))
	waitRouting(t, mb, []string{"redis1"}, 10*time.Second)
	masterAddr, plainAddr := frontAddr(p, "master"), p.Frontend("fe_plain").Addr().String()
	for _, a := range []string{masterAddr, plainAddr} {
		if _, ok := soakSession(a); !ok {
			t.Fatalf("a first session through %s is not answered", a)
		}
	}
	cli := func(cmd string) string {
		t.Helper()
		conn, err := net.Dial("tcp", p.RuntimeAddrs()[0].String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(3 * time.Second))
		conn.Write([]byte(cmd + "\n"))
		var b strings.Builder
		rd := bufio.NewReader(conn)
		for {
			l, err := rd.ReadString('\n')
			b.WriteString(l)
			if err != nil {
				return b.String()
			}
		}
	}
	cli("show stat") // the runtime API's first use, before the baseline
	baseG := settleGoroutines(0, 300*time.Millisecond)
	baseFD := openFDsAfterGC(t)
	setup := time.Since(t0)

	// Sessions, from soakWorkers clients at once, on both frontends, until
	// soakSessions are done and the failovers are over.
	var opened, answered, attempts atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range soakWorkers {
		wg.Go(func() {
			addr := []string{masterAddr, plainAddr}[w%2]
			for {
				select {
				case <-stop:
					return
				default:
				}
				attempts.Add(1)
				o, a := soakSession(addr)
				if o {
					opened.Add(1)
				}
				if a {
					answered.Add(1)
				}
			}
		})
	}
	stopWorkers := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopWorkers()

	// Failovers: even ones by Sentinel (SENTINEL FAILOVER; the proxy
	// follows and closes the old master's sessions), odd ones by an
	// operator on fe_plain (maint and shutdown sessions on the server
	// taking the traffic, ready on the other).
	nodes := c.Nodes()
	cur := 0 // index of the Sentinel master, and of plain's serving server
	plainOn := 0
	cli("set server plain/redis2 state maint")
	var sentinelSwitches, operatorSwitches int
	var switchTime time.Duration
	tf := time.Now()
	for i := range soakFailovers {
		if i%2 == 1 {
			from, to := plainOn, 1-plainOn
			if got := cli(fmt.Sprintf("set server plain/redis%d state ready", to+1)); got != "\n" {
				t.Fatalf("ready redis%d: got %q", to+1, got)
			}
			if got := cli(fmt.Sprintf("set server plain/redis%d state maint;shutdown sessions server plain/redis%d", from+1, from+1)); got != "\n\n" {
				t.Fatalf("maint redis%d: got %q", from+1, got)
			}
			// The killed sessions end as their goroutines see it.
			deadline := time.Now().Add(3 * time.Second)
			for st := pb.Servers()[from]; st.Sessions != 0 || st.Admin != AdminMaint; st = pb.Servers()[from] {
				if time.Now().After(deadline) {
					t.Fatalf("3s after shutdown sessions: redis%d has %d sessions, state %v", from+1, st.Sessions, st.Admin)
				}
				time.Sleep(5 * time.Millisecond)
			}
			plainOn = to
			operatorSwitches++
			continue
		}
		next := 1 - cur
		sen := c.Sentinels[i/2%3]
		// Every Sentinel must name the current master first: one that has
		// not yet taken the last switch from the others' hello messages
		// would fail over from the master before it (and drop its own
		// failover when the newer configuration arrives), and it would
		// already name nodes[next] below.
		for _, s := range c.Sentinels {
			if !sentinelNames(t, s, nodes[cur].Addr, 20*time.Second) {
				t.Fatalf("failover %d: Sentinel %s does not name the current master redis%d within 20s", i+1, s.Addr, cur+1)
			}
		}
		ts := time.Now()
		// SENTINEL FAILOVER answers OK when the failover starts; it can
		// still abort (on a loaded machine the Sentinel may find no
		// replica with recent enough INFO). The proxy can only follow a
		// switch that happened, so a request after which this Sentinel
		// has not switched within 10 s is made again, 3 times at most.
		for attempt := 1; ; attempt++ {
			deadline := time.Now().Add(20 * time.Second)
			for {
				_, err := sen.Do(t.Context(), "SENTINEL", "FAILOVER", sentinelMasterName)
				if err == nil {
					break
				}
				// INPROG or NOGOODSLAVE: the Sentinel has not yet seen the
				// last switch through.
				if time.Now().After(deadline) {
					t.Fatalf("failover %d: SENTINEL FAILOVER: %v", i+1, err)
				}
				time.Sleep(100 * time.Millisecond)
			}
			if sentinelNames(t, sen, nodes[next].Addr, 10*time.Second) {
				break
			}
			if attempt == 3 {
				t.Fatalf("failover %d: the Sentinel did not switch to redis%d after %d requests", i+1, next+1, attempt)
			}
			t.Logf("failover %d: the Sentinel did not switch within 10s of its request (aborted); asking again", i+1)
		}
		waitSentinel(t, mb, 20*time.Second, "naming the new master", agreedOn(nodes[next].Addr))
		deadline := time.Now().Add(10 * time.Second)
		for !mb.Servers()[next].Up {
			if time.Now().After(deadline) {
				t.Fatalf("failover %d: the new master redis%d is not UP within 10s of the switch", i+1, next+1)
			}
			time.Sleep(10 * time.Millisecond)
		}
		switchTime += time.Since(ts)
		cur = next
		sentinelSwitches++
	}
	failovers := time.Since(tf)
	for opened.Load() < soakSessions {
		if time.Since(tf) > 90*time.Second {
			t.Fatalf("only %d sessions opened in %v", opened.Load(), time.Since(tf))
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopWorkers()
	sessions := time.Since(tf)

	// Both frontends still serve.
	for _, a := range []string{masterAddr, plainAddr} {
		ok := false
		for range 20 {
			if _, ok = soakSession(a); ok {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !ok {
			t.Errorf("after the soak, sessions through %s are not answered", a)
		}
	}
	var total uint64
	for _, f := range p.Frontends() {
		total += f.total.Load()
	}
	if total < soakSessions {
		t.Errorf("the frontends counted %d sessions, want at least %d", total, soakSessions)
	}

	// Everything the sessions and failovers used is given back.
	deadline := time.Now().Add(10 * time.Second)
	var g, fd int
	for {
		g, fd = settleGoroutines(baseG, 100*time.Millisecond), openFDsAfterGC(t)
		if (g <= baseG && fd <= baseFD) || time.Now().After(deadline) {
			break
		}
	}
	if g > baseG {
		t.Errorf("goroutines: got %d after the soak, want at most the %d before", g, baseG)
	}
	if fd > baseFD {
		t.Errorf("descriptors: got %d after the soak, want at most the %d before", fd, baseFD)
	}
	t.Logf("measured: %d sessions opened (%d attempts, %d answered) by %d clients and %d failovers (%d Sentinel switches, mean %v each; %d operator switches with shutdown sessions) in %v (failovers done after %v); goroutines %d before, %d after; descriptors %d before, %d after; set-up %v",
		opened.Load(), attempts.Load(), answered.Load(), soakWorkers, sentinelSwitches+operatorSwitches, sentinelSwitches,
		(switchTime / time.Duration(max(sentinelSwitches, 1))).Round(time.Millisecond), operatorSwitches,
		sessions.Round(time.Second), failovers.Round(time.Second), baseG, g, baseFD, fd, setup.Round(time.Second))
}

// sentinelNames reports whether the Sentinel sen names addr as the master
// within d.
func sentinelNames(t *testing.T, sen *redistest.Server, addr string, d time.Duration) bool {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		v, err := sen.Do(t.Context(), "SENTINEL", "get-master-addr-by-name", sentinelMasterName)
		if err != nil {
			continue
		}
		if hp, ok := v.([]any); ok && len(hp) == 2 && fmt.Sprint(hp[0])+":"+fmt.Sprint(hp[1]) == addr {
			return true
		}
	}
	return false
}

// logSentinels logs what each Sentinel names as master and the end of its
// log: a failover that did not reach the proxy is explained there.
func logSentinels(t *testing.T, sens []*redistest.Server) {
	for _, s := range sens {
		v, err := s.Do(context.Background(), "SENTINEL", "get-master-addr-by-name", sentinelMasterName)
		t.Logf("sentinel %s names %v (err %v); its log ends:\n  %s", s.Addr, v, err, strings.Join(s.LogTail(40), "\n  "))
	}
}

package proxy

import (
	"strings"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy/config"
	"github.com/redisha-sim/redisha-sim/proxy/redistest"
	"github.com/redisha-sim/redisha-sim/proxy/tcpcheck"
)

// checkTimes are the check settings of the role-swap tests. They are
// distinct so that a mix-up between inter, fastinter and downinter shows in
// the timings.
type checkTimes struct {
	inter, fast, down time.Duration
	rise, fall        int
}

func (c checkTimes) apply(s *config.Server) {
	s.Inter, s.FastInter, s.DownInter, s.Rise, s.Fall = c.inter, c.fast, c.down, c.rise, c.fall
}

// masterProxy returns a proxy with a master port and a replica port over
// nodes, checked with the given rules.
func masterProxy(t *testing.T, nodes []*redistest.Server, masterRules, replicaRules []tcpcheck.Rule, ct checkTimes, mod func(*config.Server)) *Proxy {
	t.Helper()
	names := []string{"redis1", "redis2", "redis3"}
	apply := func(s *config.Server) {
		ct.apply(s)
		if mod != nil {
			mod(s)
		}
	}
	cfg := &config.Config{
		Frontends: []*config.Frontend{tcpFrontend("master", "back_master"), tcpFrontend("replica", "back_replica")},
		Backends: []*config.Backend{
			{Name: "back_master", CheckKind: config.CheckTCP, CheckRules: masterRules,
				Timeouts: config.Timeouts{Connect: time.Second, Server: 10 * time.Second},
				Servers:  servers(nodes, names, apply)},
			{Name: "back_replica", CheckKind: config.CheckTCP, CheckRules: replicaRules,
				Timeouts: config.Timeouts{Connect: time.Second, Server: 10 * time.Second},
				Servers:  servers(nodes, names, apply)},
		},
	}
	return start(t, cfg)
}

// waitRouting waits until the backend's UP servers are exactly want.
func waitRouting(t *testing.T, b *Backend, want []string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var up []string
		for _, s := range b.Servers() {
			if s.Up {
				up = append(up, s.Name)
			}
		}
		if strings.Join(up, ",") == strings.Join(want, ",") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("backend %s: UP servers %v, want %v after %v", b.Name, up, want, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var fastChecks = checkTimes{inter: 400 * time.Millisecond, fast: 100 * time.Millisecond, down: 250 * time.Millisecond, rise: 2, fall: 3}

func simpleMasterRules() (master, replica []tcpcheck.Rule) {
	mk := func(role string) []tcpcheck.Rule {
		return []tcpcheck.Rule{
			tcpcheck.Send("AUTH " + password + "\r\n"), tcpcheck.ExpectString("+OK"),
			tcpcheck.Send("info replication\r\n"), tcpcheck.ExpectString("role:" + role),
			tcpcheck.Send("QUIT\r\n"), tcpcheck.ExpectString("+OK"),
		}
	}
	return mk("master"), mk("slave")
}

func TestMasterPortReachesTheMaster(t *testing.T) {
	nodes := trio(t)
	mr, rr := simpleMasterRules()
	p := masterProxy(t, nodes, mr, rr, fastChecks, nil)
	waitRouting(t, p.Backend("back_master"), []string{"redis1"}, 3*time.Second)
	addr := p.Frontend("master").Addr().String()
	for i := 0; i < 5; i++ {
		if got := servedPort(t, addr); got != portOf(nodes[0]) {
			t.Fatalf("connection %d reached port %s, want the master's %s", i, got, portOf(nodes[0]))
		}
	}
	rc := dialRedis(t, addr)
	if got, err := rc.do("SET", "k", "v"); err != nil || got != "OK" {
		t.Fatalf("SET through the master port: got %q, %v", got, err)
	}
}

// swapRoles promotes nodes[1] and makes the others its replicas; it returns
// the instants the promotion and the old master's demotion completed.
func swapRoles(t *testing.T, nodes []*redistest.Server) (promoted, demoted time.Time) {
	t.Helper()
	ctx := t.Context()
	if _, err := nodes[1].Do(ctx, "REPLICAOF", "NO", "ONE"); err != nil {
		t.Fatal(err)
	}
	promoted = time.Now()
	if _, err := nodes[0].Do(ctx, "REPLICAOF", "127.0.0.1", portOf(nodes[1])); err != nil {
		t.Fatal(err)
	}
	demoted = time.Now()
	if _, err := nodes[2].Do(ctx, "REPLICAOF", "127.0.0.1", portOf(nodes[1])); err != nil {
		t.Fatal(err)
	}
	return promoted, demoted
}

// testMasterPortFollowsRoleSwap swaps roles and checks that the proxy
// marks the old master DOWN and the new one UP within the windows HAProxy's
// semantics give (sim/model/TIMING.md §1), with T, a failing check's duration, equal to
// inter (a replica answering role:slave never closes, so the check waits for
// its whole timeout):
//
//	old master DOWN: [0, inter] to the next check, then fall checks of T
//	                 separated by fastinter: [f·T+(f-1)·F, I+f·T+(f-1)·F]
//	new master UP:   the first passing check starts within T+D of the
//	                 promotion, then rise-1 more after fastinter:
//	                 [(r-1)·F, T+D+(r-1)·F]
func testMasterPortFollowsRoleSwap(t *testing.T, masterRules, replicaRules []tcpcheck.Rule, ct checkTimes) {
	nodes := trio(t)
	p := masterProxy(t, nodes, masterRules, replicaRules, ct, nil)
	b := p.Backend("back_master")
	waitRouting(t, b, []string{"redis1"}, 4*ct.inter+2*time.Second)
	// Let every check settle into its steady rhythm.
	time.Sleep(ct.inter + ct.down)
	sub := p.Events().Subscribe(256, p.Events().Last())
	defer sub.Close()

	promoted, demoted := swapRoles(t, nodes)
	T, I, F, D := ct.inter, ct.inter, ct.fast, ct.down
	f, r := time.Duration(ct.fall), time.Duration(ct.rise)
	slack := 150 * time.Millisecond
	upMin, upMax := (r-1)*F, T+D+(r-1)*F
	downMin, downMax := f*T+(f-1)*F, I+f*T+(f-1)*F

	var upAt, downAt time.Time
	for upAt.IsZero() || downAt.IsZero() {
		e := waitEvent(t, sub, downMax+slack+time.Second, func(e Event) bool {
			return e.Backend == "back_master" && (e.Type == EventServerUp || e.Type == EventServerDown)
		})
		switch {
		case e.Type == EventServerUp && e.Server == "redis2":
			upAt = at(p, e)
		case e.Type == EventServerDown && e.Server == "redis1":
			downAt = at(p, e)
		default:
			t.Fatalf("unexpected event %s %s (%s)", e.Type, e.Server, e.Message)
		}
	}
	t.Logf("new master UP after %v (window [%v, %v]); old master DOWN after %v (window [%v, %v])",
		upAt.Sub(promoted), upMin, upMax, downAt.Sub(demoted), downMin, downMax)
	if d := upAt.Sub(promoted); d < upMin-20*time.Millisecond || d > upMax+slack {
		t.Errorf("new master UP %v after promotion, want within [%v, %v]", d, upMin, upMax)
	}
	if d := downAt.Sub(demoted); d < downMin-20*time.Millisecond || d > downMax+slack {
		t.Errorf("old master DOWN %v after demotion, want within [%v, %v]", d, downMin, downMax)
	}
	addr := p.Frontend("master").Addr().String()
	for i := 0; i < 4; i++ {
		if got := servedPort(t, addr); got != portOf(nodes[1]) {
			t.Fatalf("after the swap, connection %d reached port %s, want the new master's %s", i, got, portOf(nodes[1]))
		}
	}
	// The replica port now serves the old master and redis3.
	waitRouting(t, p.Backend("back_replica"), []string{"redis1", "redis3"}, upMax+slack+time.Second)
}

func TestMasterPortFollowsRoleSwap(t *testing.T) {
	mr, rr := simpleMasterRules()
	testMasterPortFollowsRoleSwap(t, mr, rr, fastChecks)
}

func TestMasterPortFollowsRoleSwapWithSeedChecks(t *testing.T) {
	mr, rr := seedRules(t)
	testMasterPortFollowsRoleSwap(t, mr, rr, fastChecks)
}

func TestReplicaPortRoundRobins(t *testing.T) {
	nodes := trio(t)
	mr, rr := seedRules(t)
	p := masterProxy(t, nodes, mr, rr, fastChecks, nil)
	waitRouting(t, p.Backend("back_replica"), []string{"redis2", "redis3"}, 3*time.Second)
	addr := p.Frontend("replica").Addr().String()
	var got []string
	for i := 0; i < 6; i++ {
		got = append(got, servedPort(t, addr))
	}
	for i := 1; i < len(got); i++ {
		if got[i] == got[i-1] {
			t.Fatalf("replica port served %v: consecutive sessions went to the same replica", got)
		}
	}
	seen := map[string]bool{}
	for _, g := range got {
		seen[g] = true
	}
	if !seen[portOf(nodes[1])] || !seen[portOf(nodes[2])] || len(seen) != 2 {
		t.Fatalf("replica port served %v, want both replicas %s and %s only", got, portOf(nodes[1]), portOf(nodes[2]))
	}
}

// testShutdownSessions attaches a client to the master through the proxy,
// demotes the master and reports what that client sees once the proxy has
// marked it DOWN.
func testShutdownSessions(t *testing.T, shutdown bool) (reply string, err error) {
	nodes := trio(t)
	mr, rr := simpleMasterRules()
	p := masterProxy(t, nodes, mr, rr, fastChecks, func(s *config.Server) { s.ShutdownSessions = shutdown })
	waitRouting(t, p.Backend("back_master"), []string{"redis1"}, 3*time.Second)
	rc := dialRedis(t, p.Frontend("master").Addr().String())
	if got, err := rc.do("SET", "before", "1"); err != nil || got != "OK" {
		t.Fatalf("SET before the swap: %q, %v", got, err)
	}
	sub := p.Events().Subscribe(256, p.Events().Last())
	defer sub.Close()
	swapRoles(t, nodes)
	waitEvent(t, sub, 5*time.Second, isServer(EventServerDown, "back_master", "redis1"))
	return rc.do("SET", "after", "1")
}

func TestShutdownSessionsCutsClientsOfADownServer(t *testing.T) {
	reply, err := testShutdownSessions(t, true)
	if err == nil {
		t.Fatalf("with shutdown-sessions, the old master's client got %q, want its connection closed", reply)
	}
}

func TestWithoutShutdownSessionsClientsStayOnTheDemotedMaster(t *testing.T) {
	reply, err := testShutdownSessions(t, false)
	if err != nil || !strings.HasPrefix(reply, "READONLY") {
		t.Fatalf("without shutdown-sessions, got %q, %v; want the demoted master's READONLY error", reply, err)
	}
}

func TestSeedConfigurationRunsUnchanged(t *testing.T) {
	// The seed file itself, with only its addresses pointed at local
	// processes: inter 1s, default fall and rise.
	nodes := trio(t)
	cfg, _, err := config.ParseFile("../scenarios/haproxy-seed.cfg")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range cfg.Frontends {
		for i := range f.Binds {
			f.Binds[i].Addr = "127.0.0.1:0"
		}
	}
	for _, name := range []string{"back_redis_master1", "back_redis_slave1"} {
		for i, s := range cfg.Backend(name).Servers {
			s.Addr = nodes[i].Addr
		}
	}
	p := start(t, cfg)
	waitRouting(t, p.Backend("back_redis_master1"), []string{"redis1"}, 4*time.Second)
	waitRouting(t, p.Backend("back_redis_slave1"), []string{"redis2", "redis3"}, 4*time.Second)
	if got := servedPort(t, p.Frontend("front_redis_master1").Addr().String()); got != portOf(nodes[0]) {
		t.Fatalf("port 5000's equivalent reached %s, want the master %s", got, portOf(nodes[0]))
	}
}

package rig_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2/server"

	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/rig"
)

// fakeSentinels are Sentinels on loopback that answer
// get-master-addr-by-name from names and take SENTINEL FAILOVER by moving
// every one of them to next, recording who was asked.
type fakeSentinels struct {
	mu    sync.Mutex
	names []string // per Sentinel, "ip:port" of the master it names
	next  string
	asked []int
	// refuse, when set, is the error every FAILOVER gets.
	refuse string
}

func (f *fakeSentinels) start(t *testing.T) []rig.Instance {
	t.Helper()
	var out []rig.Instance
	for i := range f.names {
		srv, err := server.NewServer("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Close)
		srv.Register("SENTINEL", func(c *server.Peer, _ string, args []string) {
			f.mu.Lock()
			defer f.mu.Unlock()
			switch strings.ToLower(args[0]) {
			case "get-master-addr-by-name":
				host, port, _ := net.SplitHostPort(f.names[i])
				c.WriteLen(2)
				c.WriteBulk(host)
				c.WriteBulk(port)
			case "failover":
				f.asked = append(f.asked, i)
				if f.refuse != "" {
					c.WriteError(f.refuse)
					return
				}
				for j := range f.names {
					f.names[j] = f.next
				}
				c.WriteOK()
			default:
				c.WriteError("ERR unknown subcommand")
			}
		})
		out = append(out, instance{name: "sentinel" + string(rune('1'+i)), addr: srv.Addr().String()})
	}
	return out
}

type instance struct{ name, addr string }

func (i instance) Name() string                           { return i.name }
func (i instance) Kind() rig.Kind                         { return rig.KindSentinel }
func (i instance) Addr() string                           { return i.addr }
func (i instance) Do(context.Context, fault.Action) error { return nil }

type sentinelsOnly struct{ sentinels []rig.Instance }

func (c sentinelsOnly) Nodes() []rig.Instance            { return nil }
func (c sentinelsOnly) Sentinels() []rig.Instance        { return c.sentinels }
func (c sentinelsOnly) Hosts() []rig.Instance            { return nil }
func (c sentinelsOnly) NodeByAddr(string) (string, bool) { return "", false }
func (c sentinelsOnly) Close(context.Context) error      { return nil }

// A Sentinel that still names the master before the last switch (it has
// not yet had the others' hello messages) would fail over that master and
// drop its failover when the newer configuration reaches it: Failover
// asks the next Sentinel that names the majority's master instead.
func TestFailoverSkipsASentinelThatNamesAnotherMaster(t *testing.T) {
	f := &fakeSentinels{names: []string{"127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7002"}, next: "127.0.0.1:7003"}
	c := sentinelsOnly{f.start(t)}
	detail, err := rig.Failover(t.Context(), c, rig.FailoverOptions{MasterName: "mymaster", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.asked) != 1 || f.asked[0] != 1 {
		t.Errorf("Sentinels asked to fail over: %v, want only sentinel2 (index 1)", f.asked)
	}
	if want := "on sentinel2: the Sentinels moved the master from 127.0.0.1:7002 to 127.0.0.1:7003"; !strings.Contains(detail, want) {
		t.Errorf("detail %q, want it to contain %q", detail, want)
	}
}

// When every Sentinel that names the majority's master refuses, the error
// says why each Sentinel was not used, the lagging one included.
func TestFailoverErrorSaysWhyEachSentinelWasNotUsed(t *testing.T) {
	f := &fakeSentinels{names: []string{"127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7002"}, next: "127.0.0.1:7003",
		refuse: "INPROG Failover already in progress"}
	_, err := rig.Failover(t.Context(), sentinelsOnly{f.start(t)}, rig.FailoverOptions{MasterName: "mymaster", Timeout: 5 * time.Second})
	if err == nil {
		t.Fatal("Failover succeeded; want an error")
	}
	for _, want := range []string{
		"sentinel1: not asked: it names 127.0.0.1:7001, the others 127.0.0.1:7002",
		"sentinel2: INPROG", "sentinel3: INPROG",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if len(f.asked) != 2 || f.asked[0] != 1 || f.asked[1] != 2 {
		t.Errorf("Sentinels asked: %v, want sentinel2 and sentinel3 (1, 2)", f.asked)
	}
}

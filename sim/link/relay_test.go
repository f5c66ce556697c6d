package link_test

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"reflect"
	"syscall"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/link"
)

// echo is an upstream that echoes lines back.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					l, err := r.ReadString('\n')
					if err != nil {
						return
					}
					c.Write([]byte(l))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// nodeAddr is the source address the relays here take for a node.
var nodeAddr = netip.MustParseAddr("127.0.0.2")

func startRelay(t *testing.T) *link.Relay {
	t.Helper()
	r, err := link.NewRelay(link.RelayOptions{Listen: "127.0.0.1:0", Upstream: echo(t), Control: "127.0.0.1:0", Nodes: []netip.Addr{nodeAddr}})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- r.Serve(t.Context()) }()
	t.Cleanup(func() {
		r.Close()
		if err := <-errc; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return r
}

func dial(t *testing.T, r *link.Relay, from netip.Addr) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: time.Second}
	if from.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: from.AsSlice()}
	}
	c, err := d.Dial("tcp", r.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip sends a line and reads it back within limit.
func roundTrip(c net.Conn, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	c.SetDeadline(start.Add(limit))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return 0, err
	}
	buf := make([]byte, 5)
	for got := 0; got < len(buf); {
		n, err := c.Read(buf[got:])
		if err != nil {
			return 0, err
		}
		got += n
	}
	return time.Since(start), nil
}

func send(t *testing.T, r *link.Relay, f fault.LinkFault, peers ...netip.Addr) {
	t.Helper()
	if err := link.Send(t.Context(), http.DefaultClient, r.ControlAddr().String(), link.Request{Fault: f, Peers: peers}); err != nil {
		t.Fatal(err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestRelayBlackholeHoldsBytesAndHealDeliversThem(t *testing.T) {
	r := startRelay(t)
	c := dial(t, r, netip.Addr{})
	if _, err := roundTrip(c, time.Second); err != nil {
		t.Fatalf("before: %v", err)
	}
	send(t, r, fault.LinkFault{Action: fault.Blackhole, Peers: []string{fault.PeersClients}, Direction: fault.In})
	if _, err := roundTrip(c, 300*time.Millisecond); !isTimeout(err) {
		t.Fatalf("blackholed: got %v, want a timeout", err)
	}
	send(t, r, fault.LinkFault{Action: fault.Heal})
	// The held "ping\n" comes out first, then the new one.
	if _, err := roundTrip(c, time.Second); err != nil {
		t.Fatalf("healed: %v", err)
	}
	if _, err := roundTrip(c, time.Second); err != nil {
		t.Fatalf("healed, second: %v", err)
	}
}

func TestRelayResetsOnlyTheClassItIsSetOn(t *testing.T) {
	r := startRelay(t)
	client := dial(t, r, netip.Addr{})
	node := dial(t, r, nodeAddr)
	for _, c := range []net.Conn{client, node} {
		if _, err := roundTrip(c, time.Second); err != nil {
			t.Fatal(err)
		}
	}
	send(t, r, fault.LinkFault{Action: fault.Reset, Peers: []string{fault.PeersNodes}})
	if _, err := roundTrip(node, time.Second); !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("node connection after reset: got %v, want a reset", err)
	}
	if _, err := roundTrip(client, time.Second); err != nil {
		t.Fatalf("client connection after a reset of nodes: %v", err)
	}
	fresh := dial(t, r, nodeAddr)
	if _, err := roundTrip(fresh, time.Second); err == nil || isTimeout(err) {
		t.Fatalf("new node connection: got %v, want a reset", err)
	}
	send(t, r, fault.LinkFault{Action: fault.Heal})
	if _, err := roundTrip(dial(t, r, nodeAddr), time.Second); err != nil {
		t.Fatalf("healed: %v", err)
	}
}

func TestRelayDelaysPerPeerAddress(t *testing.T) {
	r := startRelay(t)
	const d = 200 * time.Millisecond
	// A fault on the instance at nodeAddr, mirrored here: what it hears
	// (in) is what this relay sends it (out).
	send(t, r, fault.LinkFault{Action: fault.Delay, Delay: d, Peers: []string{fault.PeersNodes}, Direction: fault.Out}, nodeAddr)
	took, err := roundTrip(dial(t, r, nodeAddr), 2*time.Second)
	if err != nil || took < d || took > d+d/2 {
		t.Fatalf("from the delayed peer: took %v (%v), want about %v", took, err, d)
	}
	took, err = roundTrip(dial(t, r, netip.MustParseAddr("127.0.0.3")), time.Second)
	if err != nil || took >= d {
		t.Fatalf("from a client: took %v (%v), want no delay", took, err)
	}
}

func TestRelayControlRejectsBadRequests(t *testing.T) {
	r := startRelay(t)
	err := link.Send(t.Context(), http.DefaultClient, r.ControlAddr().String(), link.Request{Fault: fault.LinkFault{Action: fault.Blackhole, Peers: []string{"martians"}}})
	if err == nil {
		t.Fatal("a fault on peer class martians was accepted")
	}
}

func TestPlaceMirrorsTheDirectionOnThePeersRelays(t *testing.T) {
	members := map[link.Class][]string{link.Nodes: {"n1", "n2"}, link.Sentinels: {"s1", "s2"}}
	got, err := link.Place("n1", link.Nodes, fault.LinkFault{Action: fault.Blackhole, Peers: []string{fault.PeersSentinels}, Direction: fault.In}, members)
	if err != nil {
		t.Fatal(err)
	}
	mirror := fault.LinkFault{Action: fault.Blackhole, Peers: []string{fault.PeersNodes}, Direction: fault.Out}
	want := []link.Placement{
		{Relay: "n1", Fault: fault.LinkFault{Action: fault.Blackhole, Peers: []string{fault.PeersSentinels}, Direction: fault.In}},
		{Relay: "s1", From: "n1", Fault: mirror},
		{Relay: "s2", From: "n1", Fault: mirror},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	// A delay without a direction is what the target sends (out): the
	// peers' relays delay what they pass to it (in).
	got, _ = link.Place("s1", link.Sentinels, fault.LinkFault{Action: fault.Delay, Delay: time.Second}, members)
	if len(got) != 4 || got[1].Relay != "n1" || got[1].Fault.Direction != fault.In || got[1].Fault.Peers[0] != fault.PeersSentinels || got[3].Relay != "s2" {
		t.Fatalf("delay on s1: got %+v", got)
	}
	// Clients have no relay: only the target's.
	got, _ = link.Place("n2", link.Nodes, fault.LinkFault{Action: fault.Reset, Peers: []string{fault.PeersClients}}, members)
	if len(got) != 1 {
		t.Fatalf("reset of clients on n2: got %+v, want the target's relay only", got)
	}
}

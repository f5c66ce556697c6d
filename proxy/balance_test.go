package proxy

import (
	"net"
	"strings"
	"testing"

	"github.com/redisha-sim/redisha-sim/proxy/config"
)

func pool(weights ...int) []*Server {
	var out []*Server
	for i, w := range weights {
		out = append(out, &Server{Name: string(rune('a' + i)), weight: w})
	}
	return out
}

func picks(sel Selector, c []*Server, n int, addr net.Addr) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(sel.Select(c, addr).Name)
	}
	return b.String()
}

func TestRoundRobinRotatesEqualWeightsInOrder(t *testing.T) {
	if got := picks(NewSelector(config.BalanceRoundRobin), pool(1, 1, 1), 6, nil); got != "abcabc" {
		t.Fatalf("got %q, want abcabc", got)
	}
}

func TestRoundRobinFollowsWeightsAndSpreadsThem(t *testing.T) {
	got := picks(NewSelector(config.BalanceRoundRobin), pool(1, 2, 3), 12, nil)
	count := map[rune]int{}
	for _, r := range got {
		count[r]++
	}
	if count['a'] != 2 || count['b'] != 4 || count['c'] != 6 {
		t.Fatalf("got %q (%v), want a×2 b×4 c×6", got, count)
	}
	// Smooth: every window of one period (6 picks) holds each server in
	// proportion to its weight, not a run of c's then b's.
	for i := 0; i+6 <= len(got); i++ {
		w := got[i : i+6]
		if strings.Count(w, "a") != 1 || strings.Count(w, "b") != 2 || strings.Count(w, "c") != 3 {
			t.Fatalf("got %q: window %q is not a×1 b×2 c×3", got, w)
		}
	}
}

func TestFirstTakesTheLowestIDIgnoringWeights(t *testing.T) {
	if got := picks(NewSelector(config.BalanceFirst), pool(1, 100), 3, nil); got != "aaa" {
		t.Fatalf("got %q, want aaa", got)
	}
}

func TestLeastConnTakesTheLeastLoadedAndRotatesTies(t *testing.T) {
	c := pool(1, 1, 1)
	c[0].cur, c[1].cur, c[2].cur = 2, 1, 1
	sel := NewSelector(config.BalanceLeastConn)
	if got := picks(sel, c, 2, nil); got != "bc" && got != "cb" {
		t.Fatalf("got %q, want b and c in turn", got)
	}
	c[1].cur = 5
	if got := sel.Select(c, nil).Name; got != "c" {
		t.Fatalf("got %q, want c", got)
	}
	// Weight counts: 4 sessions on weight 4 beat 2 on weight 1.
	w := pool(4, 1)
	w[0].cur, w[1].cur = 4, 2
	if got := sel.Select(w, nil).Name; got != "a" {
		t.Fatalf("weighted: got %q, want a", got)
	}
}

func TestSourceHashesLikeHAProxy(t *testing.T) {
	// Observed with HAProxy 2.6 and three equal servers: 127.0.0.1 -> c,
	// .2 -> a, .3 -> b, .4 -> c (h = address % 3 over the map [a b c]).
	sel := NewSelector(config.BalanceSource)
	c := pool(1, 1, 1)
	want := map[string]string{"127.0.0.1": "c", "127.0.0.2": "a", "127.0.0.3": "b", "127.0.0.4": "c"}
	for ip, w := range want {
		addr := &net.TCPAddr{IP: net.ParseIP(ip), Port: 40000}
		for i := 0; i < 3; i++ {
			if got := sel.Select(c, addr).Name; got != w {
				t.Fatalf("%s: got %q, want %q", ip, got, w)
			}
		}
	}
}

func TestBackupsServeOnlyWhenNoActiveServerIs(t *testing.T) {
	p := &Proxy{}
	b := &Backend{Name: "b", p: p, cfg: &config.Backend{}, changed: make(chan struct{})}
	mk := func(name string, backup bool) *Server {
		return &Server{Name: name, backend: b, cfg: &config.Server{Backup: backup}, weight: 1, sessions: map[*session]struct{}{}}
	}
	a, bk1, bk2 := mk("a", false), mk("bk1", true), mk("bk2", true)
	b.servers = []*Server{a, bk1, bk2}
	names := func(c []*Server) string {
		var n []string
		for _, s := range c {
			n = append(n, s.Name)
		}
		return strings.Join(n, ",")
	}
	if got, _ := b.candidates(nil, nil); names(got) != "a" {
		t.Fatalf("active up: got %s, want a", names(got))
	}
	a.admin = AdminMaint
	if got, _ := b.candidates(nil, nil); names(got) != "bk1" {
		t.Fatalf("active down: got %s, want the first backup only", names(got))
	}
	b.cfg.AllBackups = true
	if got, _ := b.candidates(nil, nil); names(got) != "bk1,bk2" {
		t.Fatalf("allbackups: got %s, want both backups", names(got))
	}
}

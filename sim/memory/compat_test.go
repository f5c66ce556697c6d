package memory

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy/redistest"
	"github.com/redisha-sim/redisha-sim/sim/fault"
)

// The in-memory node is checked against a real redis-server: the same
// requests, raw, on both; replies compared after blanking what legitimately
// differs (ids, offsets, ports, ages).

// rawConn sends requests exactly as given and reads one RESP reply each,
// rendered as text.
type rawConn struct {
	c  net.Conn
	rd *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{c: c, rd: bufio.NewReader(c)}
}

// inline sends an inline command; do sends a RESP array.
func (r *rawConn) inline(t *testing.T, line string) string {
	t.Helper()
	r.c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := r.c.Write([]byte(line + "\r\n")); err != nil {
		t.Fatal(err)
	}
	return r.reply(t)
}

func (r *rawConn) do(t *testing.T, args ...string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	r.c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := r.c.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	return r.reply(t)
}

func (r *rawConn) reply(t *testing.T) string {
	t.Helper()
	line, err := r.rd.ReadString('\n')
	if err != nil {
		return "<" + err.Error() + ">"
	}
	line = strings.TrimRight(line, "\r\n")
	switch line[0] {
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return "(nil)"
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r.rd, buf); err != nil {
			t.Fatal(err)
		}
		return "$" + string(buf[:n])
	case '*':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return "*(nil)"
		}
		parts := make([]string, n)
		for i := range parts {
			parts[i] = r.reply(t)
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	return line
}

var (
	hexIDs  = regexp.MustCompile(`[0-9a-f]{40}`)
	numbers = regexp.MustCompile(`\b\d+\b`)
)

// infoKeys is an INFO section's field names in order.
func infoKeys(info string) []string {
	var keys []string
	for _, l := range strings.Split(strings.TrimPrefix(info, "$"), "\r\n") {
		if k, _, ok := strings.Cut(l, ":"); ok {
			keys = append(keys, k)
		}
	}
	return keys
}

func infoField(info, key string) string {
	for _, l := range strings.Split(strings.TrimPrefix(info, "$"), "\r\n") {
		if v, ok := strings.CutPrefix(l, key+":"); ok {
			return v
		}
	}
	return ""
}

// blank hides ids and numbers.
func blank(s string) string { return numbers.ReplaceAllString(hexIDs.ReplaceAllString(s, "ID"), "N") }

// pair is a master and a replica of one kind (real or fake).
type pair struct {
	kind            string
	master, replica string
}

func realPair(t *testing.T) pair {
	t.Helper()
	redistest.Require(t)
	var nodes []*redistest.Server
	for i := 0; i < 2; i++ {
		n, err := redistest.Start(t.Context(), redistest.Options{Password: "pw"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.Close)
		nodes = append(nodes, n)
	}
	if err := nodes[1].ReplicaOf(t.Context(), nodes[0]); err != nil {
		t.Fatal(err)
	}
	return pair{"real", nodes[0].Addr, nodes[1].Addr}
}

func fakePair(t *testing.T) pair {
	t.Helper()
	nw := newNetwork(1)
	var nodes []*Node
	for _, name := range []string{"m", "r"} {
		addr, err := freeAddr()
		if err != nil {
			t.Fatal(err)
		}
		n := newNode(name, addr, nodeOptions{password: "pw", lag: time.Millisecond, minReplicasMaxLag: 10 * time.Second}, nw, slog.New(slog.DiscardHandler))
		nw.nodes[addr] = n
		if err := n.start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.shutdown(false) })
		nodes = append(nodes, n)
	}
	nodes[1].becomeReplicaOf(nodes[0].Addr())
	if err := waitFor(t.Context(), 5*time.Second, func() bool {
		nodes[1].mu.Lock()
		defer nodes[1].mu.Unlock()
		return nodes[1].repl.linkUp
	}); err != nil {
		t.Fatal(err)
	}
	return pair{"fake", nodes[0].Addr(), nodes[1].Addr()}
}

// transcript runs the same conversation on a pair and returns what it saw.
func transcript(t *testing.T, p pair) map[string]string {
	t.Helper()
	out := map[string]string{}
	m := dialRaw(t, p.master)
	out["noauth"] = m.do(t, "GET", "k")
	out["wrongpass"] = m.do(t, "AUTH", "nope")
	out["hello-noauth"] = m.do(t, "HELLO", "2")
	out["hello-wrongpass"] = m.do(t, "HELLO", "2", "AUTH", "default", "nope")
	out["auth"] = m.inline(t, "AUTH pw")
	out["inline-ping"] = m.inline(t, "PING")
	out["set"] = m.do(t, "SET", "k", "v")
	out["master-info"] = m.inline(t, "info replication")
	out["master-role"] = m.do(t, "ROLE")
	out["quit"] = m.inline(t, "QUIT")

	r := dialRaw(t, p.replica)
	r.do(t, "AUTH", "pw")
	deadline := time.Now().Add(3 * time.Second)
	for {
		if got := r.do(t, "GET", "k"); got == "$v" || time.Now().After(deadline) {
			out["replicated"] = got
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	out["readonly"] = r.do(t, "SET", "k", "x")
	out["replica-info"] = r.do(t, "INFO", "replication")
	out["replica-role"] = r.do(t, "ROLE")
	_, port, _ := net.SplitHostPort(p.master)
	out["replicaof-same"] = r.do(t, "REPLICAOF", "127.0.0.1", port)
	out["replicaof-badport"] = r.do(t, "REPLICAOF", "127.0.0.1", "notaport")
	out["promote"] = r.do(t, "REPLICAOF", "NO", "ONE")
	out["promoted-info"] = r.do(t, "INFO", "replication")
	out["promoted-set"] = r.do(t, "SET", "k2", "v")
	return out
}

func TestFakeNodeAnswersLikeRedis(t *testing.T) {
	real := transcript(t, realPair(t))
	fake := transcript(t, fakePair(t))
	// Replies that must be identical.
	for _, k := range []string{"noauth", "wrongpass", "hello-noauth", "hello-wrongpass", "auth", "inline-ping", "set",
		"quit", "replicated", "readonly", "replicaof-same", "replicaof-badport", "promote", "promoted-set"} {
		if real[k] != fake[k] {
			t.Errorf("%s:\n real %q\n fake %q", k, real[k], fake[k])
		}
	}
	// INFO replication: the same fields in the same order, and the same
	// values where they do not depend on ids, timing or offsets.
	for _, k := range []string{"master-info", "replica-info", "promoted-info"} {
		rk, fk := strings.Join(infoKeys(real[k]), ","), strings.Join(infoKeys(fake[k]), ",")
		if rk != fk {
			t.Errorf("%s fields:\n real %s\n fake %s", k, rk, fk)
		}
		for _, f := range []string{"role", "connected_slaves", "master_host", "master_link_status", "master_sync_in_progress",
			"slave_priority", "slave_read_only", "replica_announced", "master_failover_state", "repl_backlog_active", "repl_backlog_size"} {
			if rv, fv := infoField(real[k], f), infoField(fake[k], f); rv != fv {
				t.Errorf("%s %s: real %q, fake %q", k, f, rv, fv)
			}
		}
	}
	// A promoted replica keeps the old history as replid2.
	if infoField(fake["promoted-info"], "master_replid2") != infoField(fake["replica-info"], "master_replid") {
		t.Errorf("fake promotion does not keep the old replication id as replid2")
	}
	for _, k := range []string{"master-role", "replica-role"} {
		if blank(real[k]) != blank(fake[k]) {
			t.Errorf("%s:\n real %s\n fake %s", k, blank(real[k]), blank(fake[k]))
		}
	}
}

func TestRestartedNodeComesBackAsMasterWithOrWithoutItsSnapshot(t *testing.T) {
	for _, persistence := range []bool{false, true} {
		nw := newNetwork(2)
		var nodes []*Node
		for _, name := range []string{"m", "r"} {
			addr, _ := freeAddr()
			n := newNode(name, addr, nodeOptions{password: "pw", persistence: persistence, lag: time.Millisecond}, nw, slog.New(slog.DiscardHandler))
			nw.nodes[addr] = n
			if err := n.start(); err != nil {
				t.Fatal(err)
			}
			defer n.shutdown(false)
			nodes = append(nodes, n)
		}
		m := nodes[0]
		nodes[1].becomeReplicaOf(m.Addr())
		if err := waitFor(t.Context(), 3*time.Second, func() bool { nodes[1].mu.Lock(); defer nodes[1].mu.Unlock(); return nodes[1].repl.linkUp }); err != nil {
			t.Fatalf("replica link: %v", err)
		}
		c := dialRaw(t, m.Addr())
		c.do(t, "AUTH", "pw")
		c.do(t, "SET", "kept", "1")
		if err := m.do(t.Context(), fault.Stop); err != nil {
			t.Fatal(err)
		}
		if err := m.do(t.Context(), fault.Start); err != nil {
			t.Fatal(err)
		}
		c = dialRaw(t, m.Addr())
		c.do(t, "AUTH", "pw")
		info := c.do(t, "INFO", "replication")
		got := c.do(t, "GET", "kept")
		wantBacklog, wantGet := "0", "(nil)"
		if persistence {
			wantBacklog, wantGet = "1", "$1"
		}
		if infoField(info, "role") != "master" || infoField(info, "repl_backlog_active") != wantBacklog || got != wantGet {
			t.Errorf("persistence %v: role %s, backlog %s, GET %s; want master, %s, %s", persistence,
				infoField(info, "role"), infoField(info, "repl_backlog_active"), got, wantBacklog, wantGet)
		}
	}
}

func TestKilledMasterLosesWhatItHadNotReplicated(t *testing.T) {
	nw := newNetwork(3)
	var nodes []*Node
	for _, name := range []string{"m", "r"} {
		addr, _ := freeAddr()
		n := newNode(name, addr, nodeOptions{lag: 500 * time.Millisecond}, nw, slog.New(slog.DiscardHandler))
		nw.nodes[addr] = n
		if err := n.start(); err != nil {
			t.Fatal(err)
		}
		defer n.shutdown(false)
		nodes = append(nodes, n)
	}
	nodes[1].becomeReplicaOf(nodes[0].Addr())
	if err := waitFor(t.Context(), 3*time.Second, func() bool { nodes[1].mu.Lock(); defer nodes[1].mu.Unlock(); return nodes[1].repl.linkUp }); err != nil {
		t.Fatalf("replica link: %v", err)
	}
	c := dialRaw(t, nodes[0].Addr())
	r := dialRaw(t, nodes[1].Addr())
	c.do(t, "SET", "early", "1")
	if err := waitFor(t.Context(), 3*time.Second, func() bool { return r.do(t, "GET", "early") == "$1" }); err != nil {
		t.Fatalf("the first write never reached the replica: %v", err)
	}
	c.do(t, "SET", "late", "1") // acknowledged, still in the 500ms lag
	if err := nodes[0].do(t.Context(), fault.Kill); err != nil {
		t.Fatal(err)
	}
	// An absence shows only once the lag is over: wait past it.
	time.Sleep(700 * time.Millisecond)
	if got := r.do(t, "GET", "early"); got != "$1" {
		t.Errorf("replicated write: %s", got)
	}
	if got := r.do(t, "GET", "late"); got != "(nil)" {
		t.Errorf("unreplicated write survived the kill: %s", got)
	}
	if info := r.do(t, "INFO", "replication"); infoField(info, "master_link_status") != "down" || infoField(info, "master_link_down_since_seconds") == "" {
		t.Errorf("replica of a killed master: %s", info)
	}
}

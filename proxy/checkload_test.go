package proxy

import (
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy/config"
	"github.com/redisha-sim/redisha-sim/proxy/redistest"
	"github.com/redisha-sim/redisha-sim/proxy/tcpcheck"
)

// scrapeServer reads a server's metrics from one scrape of the proxy's
// exporter, by name.
func scrapeServer(t *testing.T, p *Proxy, backend, server string) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	p.metrics.handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	labels := `{proxy="` + backend + `",server="` + server + `"} `
	out := map[string]float64{}
	for _, l := range strings.Split(rec.Body.String(), "\n") {
		name, v, ok := strings.Cut(l, labels)
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		out[name] = f
	}
	return out
}

func TestCheckCountersCountEveryCheckAndItsBytes(t *testing.T) {
	redistest.Require(t)
	n, err := redistest.Start(t.Context(), redistest.Options{Password: password})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	sends := []string{"AUTH " + password + "\r\n", "PING\r\n", "QUIT\r\n"}
	replies := []string{"+OK\r\n", "+PONG\r\n", "+OK\r\n"}
	rules := []tcpcheck.Rule{
		tcpcheck.Send(sends[0]), tcpcheck.ExpectString("+OK"),
		tcpcheck.Send(sends[1]), tcpcheck.ExpectString("+PONG"),
		tcpcheck.Send(sends[2]), tcpcheck.ExpectString("+OK"),
	}
	perCheckOut := int64(len(strings.Join(sends, "")))
	perCheckIn := int64(len(strings.Join(replies, "")))
	// Without "timeout check", inter bounds the whole check: a generous
	// check timeout keeps a slow run (-race) from failing one.
	fast := func(s *config.Server) {
		s.Inter, s.Rise, s.Fall = 25*time.Millisecond, 2, 3
	}
	srvs := []*config.Server{
		{Name: "redis1", Addr: n.Addr, Check: true},
		{Name: "gone", Addr: refusedAddr(t), Check: true},
	}
	for _, s := range srvs {
		fast(s)
	}
	cfg := &config.Config{
		Frontends: []*config.Frontend{tcpFrontend("front", "back")},
		Backends: []*config.Backend{{Name: "back", CheckKind: config.CheckTCP, CheckRules: rules,
			Timeouts: config.Timeouts{Connect: time.Second, Check: 5 * time.Second, Server: 10 * time.Second}, Servers: srvs}},
	}
	p := start(t, cfg)
	b := p.Backend("back")

	const want = 20
	deadline := time.Now().Add(5 * time.Second)
	var st []ServerState
	for {
		st = b.Servers()
		if st[0].ChecksDone >= want && st[1].ChecksDone >= want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 5s at inter 25ms: %d and %d checks done, want %d each", st[0].ChecksDone, st[1].ChecksDone, want)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A snapshot holds whole checks: each passing check wrote every send
	// line and read every reply, exactly.
	ok := st[0]
	if !ok.LastCheck.Passed() || ok.CheckFails != 0 {
		t.Fatalf("redis1: %d failed checks, the last %s: want every check to pass", ok.CheckFails, ok.LastCheck.Describe())
	}
	if ok.ChecksStarted < ok.ChecksDone || ok.ChecksStarted > ok.ChecksDone+1 {
		t.Errorf("redis1: %d checks started, %d done: want done, or done plus the one running", ok.ChecksStarted, ok.ChecksDone)
	}
	if got, w := ok.CheckBytesSent, int64(ok.ChecksDone)*perCheckOut; got != w {
		t.Errorf("redis1: got %d bytes sent, want %d checks × %d bytes of send lines = %d", got, ok.ChecksDone, perCheckOut, w)
	}
	if got, w := ok.CheckBytesReceived, int64(ok.ChecksDone)*perCheckIn; got != w {
		t.Errorf("redis1: got %d bytes received, want %d checks × %d bytes of replies = %d", got, ok.ChecksDone, perCheckIn, w)
	}
	// A refused connection is a completed check that moved no bytes.
	gone := st[1]
	if gone.LastCheck.Status != tcpcheck.StatusL4Con || gone.CheckBytesSent != 0 || gone.CheckBytesReceived != 0 {
		t.Errorf("gone: last check %s, %d bytes sent, %d received: want L4CON and no bytes", gone.LastCheck.Status, gone.CheckBytesSent, gone.CheckBytesReceived)
	}

	// The exporter shows the same counters, consistent with each other.
	m := scrapeServer(t, p, "back", "redis1")
	done, started := m["haproxy_server_check_completed_total"], m["haproxy_server_check_started_total"]
	sent, received := m["haproxy_server_check_sent_bytes_total"], m["haproxy_server_check_received_bytes_total"]
	if done < want || started < done || sent != done*float64(perCheckOut) || received != done*float64(perCheckIn) {
		t.Errorf("metrics: %v started, %v completed, %v bytes sent, %v received: want sent = completed × %d, received = completed × %d",
			started, done, sent, received, perCheckOut, perCheckIn)
	}
	m = scrapeServer(t, p, "back", "gone")
	if v, ok := m["haproxy_server_check_sent_bytes_total"]; !ok || v != 0 || m["haproxy_server_check_completed_total"] < want {
		t.Errorf("gone: %v checks completed and %v bytes sent (exported: %v) in the metrics, want at least %d and 0", m["haproxy_server_check_completed_total"], v, ok, want)
	}
}

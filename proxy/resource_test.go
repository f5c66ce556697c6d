package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSlowAndOversizedClientsOfStatsAndRuntimeAPIAreBounded sends, all at
// once, clients that hold the stats listener (heads trickled, bodies
// announced and never sent, heads too large, bodies of 100 MB) and the
// runtime API (silent connections, endless lines), while sessions go
// through the data path: every session must be answered promptly, every
// hostile connection closed within the section's timeouts, the heap must
// stay bounded, and goroutines and descriptors come back to their baseline.
func TestSlowAndOversizedClientsOfStatsAndRuntimeAPIAreBounded(t *testing.T) {
	const (
		requestTimeout = 500 * time.Millisecond
		// per kind of hostile client
		slowClients = 40
		bigWriters  = 5
	)
	cfg := bareConfig(pongServer(t))
	cfg.Frontends[1].Timeouts.HTTPRequest = requestTimeout
	cfg.Frontends[1].Timeouts.Client = time.Second
	cfg.Global.StatsTimeout = requestTimeout
	p := start(t, cfg)
	statsAddr, cliAddr, feAddr := p.StatsAddrs()[0].String(), p.RuntimeAddrs()[0].String(), p.Frontend("fe").Addr().String()

	ping := func() (time.Duration, error) {
		t0 := time.Now()
		c, err := net.DialTimeout("tcp", feAddr, time.Second)
		if err != nil {
			return 0, err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		c.Write([]byte("PING\r\n"))
		l, err := bufio.NewReader(c).ReadString('\n')
		if err == nil && l != "+PONG\r\n" {
			err = fmt.Errorf("got %q", l)
		}
		return time.Since(t0), err
	}
	if _, err := ping(); err != nil {
		t.Fatalf("a first session: %v", err)
	}
	get(t, "http://"+statsAddr+"/stats", "admin", "1234")
	// The test's own keep-alive connections are not the proxy's.
	http.DefaultClient.CloseIdleConnections()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	baseHeap := ms.HeapInuse
	baseG := settleGoroutines(0, 300*time.Millisecond)
	baseFD := openFDsAfterGC(t)

	// held records how long the proxy let each hostile client hold on.
	var mu sync.Mutex
	held := map[string]time.Duration{}
	var failures []string
	hold := func(kind string, d time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		held[kind] = max(held[kind], d)
		if err != nil {
			failures = append(failures, kind+": "+err.Error())
		}
	}
	// untilClosed reads until the proxy closes c, for at most 10s.
	untilClosed := func(c net.Conn, t0 time.Time) (time.Duration, error) {
		c.SetReadDeadline(t0.Add(10 * time.Second))
		_, err := io.Copy(io.Discard, c)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return time.Since(t0), fmt.Errorf("still open after %v", time.Since(t0))
		}
		return time.Since(t0), nil
	}
	var wg sync.WaitGroup
	hostile := func(kind, addr string, n int, act func(c net.Conn)) {
		for range n {
			wg.Go(func() {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					hold(kind, 0, err)
					return
				}
				defer c.Close()
				t0 := time.Now()
				act(c)
				d, err := untilClosed(c, t0)
				hold(kind, d, err)
			})
		}
	}
	chunk := make([]byte, 64<<10)
	for i := range chunk {
		chunk[i] = 'a'
	}
	writeFor := func(c net.Conn, d time.Duration) {
		c.SetWriteDeadline(time.Now().Add(d))
		for {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	}
	hostile("stats: trickled head", statsAddr, slowClients, func(c net.Conn) {
		c.Write([]byte("GET /stats HTTP/1.1\r\nHost: x\r\n"))
		for range 20 {
			if _, err := c.Write([]byte("X: y\r\n")); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	hostile("stats: body announced, never sent", statsAddr, slowClients, func(c net.Conn) {
		c.Write([]byte("POST /stats HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWRtaW46MTIzNA==\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n"))
	})
	hostile("stats: unauthenticated body never sent", statsAddr, slowClients, func(c net.Conn) {
		c.Write([]byte("POST /stats HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"))
	})
	hostile("stats: head too large", statsAddr, bigWriters, func(c net.Conn) {
		c.Write([]byte("GET /stats HTTP/1.1\r\nHost: x\r\nX: "))
		writeFor(c, 3*time.Second)
	})
	hostile("stats: 100 MB body", statsAddr, bigWriters, func(c net.Conn) {
		c.Write([]byte("POST /stats HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWRtaW46MTIzNA==\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000000\r\n\r\n"))
		writeFor(c, 3*time.Second)
	})
	hostile("runtime: silent", cliAddr, slowClients, func(net.Conn) {})
	hostile("runtime: endless line", cliAddr, bigWriters, func(c net.Conn) { writeFor(c, 3*time.Second) })

	// Meanwhile the data path serves, and so does the stats page.
	var sessions, slow atomic.Int64
	var worst time.Duration
	attackOver := make(chan struct{})
	go func() { wg.Wait(); close(attackOver) }()
	var peakHeap uint64
	deadline := time.After(15 * time.Second)
serving:
	for {
		select {
		case <-attackOver:
			break serving
		case <-deadline:
			t.Fatal("the hostile clients were not all closed within 15s")
		default:
		}
		d, err := ping()
		if err != nil {
			t.Fatalf("session %d during the attack: %v", sessions.Load()+1, err)
		}
		sessions.Add(1)
		worst = max(worst, d)
		if d > 500*time.Millisecond {
			slow.Add(1)
		}
		if sessions.Load()%20 == 0 {
			if resp, _ := get(t, "http://"+statsAddr+"/stats;csv", "admin", "1234"); resp.StatusCode != http.StatusOK {
				t.Fatalf("stats page during the attack: %s", resp.Status)
			}
			runtime.ReadMemStats(&ms)
			peakHeap = max(peakHeap, ms.HeapInuse)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, f := range failures {
		t.Error(f)
	}
	// The runtime API answers again.
	if c, err := net.Dial("tcp", cliAddr); err != nil {
		t.Errorf("runtime API after the attack: %v", err)
	} else {
		c.Write([]byte("get weight back/redis1\n"))
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		if b, err := io.ReadAll(c); string(b) != "1 (initial 1)\n\n" {
			t.Errorf("runtime API after the attack: got %q, %v", b, err)
		}
		c.Close()
	}
	for kind, d := range held {
		limit := 3 * time.Second // the big writers stop writing after 3s
		switch {
		case strings.Contains(kind, "too large"), strings.Contains(kind, "100 MB"), strings.Contains(kind, "endless"):
		case strings.HasPrefix(kind, "runtime"):
			// The runtime API serves 10 at a time (stats maxconn): the
			// others wait their turn in the backlog.
			limit = time.Duration((slowClients+bigWriters+defaultStatsMaxConn-1)/defaultStatsMaxConn) * requestTimeout
		default:
			limit = 2500 * time.Millisecond // the trickle lasts 2s; the others wait for a timeout of 500ms
		}
		if d > limit+time.Second {
			t.Errorf("%s: held for up to %v, want at most %v", kind, d, limit)
		}
	}
	if slow.Load() > 0 {
		t.Errorf("%d of %d sessions took over 500ms during the attack (worst %v)", slow.Load(), sessions.Load(), worst)
	}
	growth := int64(peakHeap) - int64(baseHeap)
	if growth > 64<<20 {
		t.Errorf("heap in use grew by %d MiB during the attack, want at most 64", growth>>20)
	}
	http.DefaultClient.CloseIdleConnections()
	g := settleGoroutines(baseG, 5*time.Second)
	fd := openFDsAfterGC(t)
	for dl := time.Now().Add(5 * time.Second); fd > baseFD && time.Now().Before(dl); fd = openFDsAfterGC(t) {
		time.Sleep(20 * time.Millisecond)
	}
	if g > baseG {
		t.Errorf("goroutines: got %d after the attack, want at most the %d before", g, baseG)
	}
	if fd > baseFD {
		ents, _ := os.ReadDir("/proc/self/fd")
		for _, e := range ents {
			l, _ := os.Readlink("/proc/self/fd/" + e.Name())
			t.Logf("fd %s: %s", e.Name(), l)
		}
		t.Errorf("descriptors: got %d after the attack, want at most the %d before", fd, baseFD)
	}
	kinds := make([]string, 0, len(held))
	for k, d := range held {
		kinds = append(kinds, fmt.Sprintf("%s %v", k, d.Round(10*time.Millisecond)))
	}
	t.Logf("measured: %d hostile clients; longest held: %s; %d sessions served meanwhile (worst %v); heap in use +%d MiB at most; goroutines %d/%d, descriptors %d/%d before/after",
		4*slowClients+3*bigWriters, strings.Join(kinds, ", "), sessions.Load(), worst.Round(time.Millisecond), max(growth, 0)>>20, baseG, g, baseFD, fd)
}

// Command redisha-bench compares this project's proxy with HAProxy and
// with Redis reached directly: redis-benchmark through each, interleaved
// and repeated, then the memory each proxy needs per idle session.
//
//	go run ./cmd/redisha-bench -proxy bin/redisha-sim
//
// It needs redis-server, redis-benchmark (Debian's redis-tools) and
// haproxy. `make bench` runs it.
package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy/redistest"
	"github.com/redisha-sim/redisha-sim/sim/stats"
)

func main() {
	var (
		proxyBin = flag.String("proxy", "bin/redisha-sim", "redisha-sim binary (the proxy runs as its own process, as HAProxy does)")
		haproxy  = flag.String("haproxy", "haproxy", "HAProxy binary")
		reps     = flag.Int("reps", 3, "repetitions of every measurement")
		requests = flag.Int("n", 100000, "requests per redis-benchmark test (-c 1 uses a fifth)")
		sessions = flag.Int("sessions", 10000, "idle client sessions to hold (lowered to what the descriptor limit allows)")
		idleOnly = flag.Bool("idle-only", false, "measure only the idle sessions' memory")
	)
	flag.Parse()
	if err := run(*proxyBin, *haproxy, *reps, *requests, *sessions, *idleOnly, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "redisha-bench:", err)
		os.Exit(1)
	}
}

// target is what redis-benchmark talks to.
type target struct {
	name string
	port int
	// pid is the proxy's process (0 for Redis itself).
	pid int
}

// test is one redis-benchmark configuration.
type test struct {
	name    string
	clients int
	pipe    int
	div     int // fewer requests: -c 1 is slow
}

var tests = []test{
	{"-c 50", 50, 1, 1},
	{"-c 50 -P 16", 50, 16, 1},
	{"-c 1", 1, 1, 5},
}

// sample is one redis-benchmark result line.
type sample struct {
	rps, p50, p99 float64
}

func run(proxyBin, haproxyBin string, reps, n, sessions int, idleOnly bool, out io.Writer) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, bin := range []string{"redis-benchmark", haproxyBin, proxyBin} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s: %w (make deps; make build)", bin, err)
		}
	}
	// Every idle session costs the proxy two descriptors (client and
	// server side) under one limit; HAProxy wants 2 × maxconn and a few
	// more, and maxconn is sessions + 50 here.
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
		if most := int(lim.Max/2) - 100; sessions > most {
			fmt.Fprintf(out, "note: the descriptor limit (%d) allows %d idle sessions per proxy, not %d\n", lim.Max, most, sessions)
			sessions = most
		}
	}
	rs, err := redistest.Start(ctx, redistest.Options{Args: []string{"--maxclients", strconv.Itoa(sessions + 1000)}})
	if err != nil {
		return err
	}
	defer rs.Close()
	dir, err := os.MkdirTemp("", "redisha-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	ours, err := startProxy(ctx, dir, "redisha", rs.Port, sessions, proxyBin, "proxy", "--log-level", "warn", "-f")
	if err != nil {
		return err
	}
	defer ours.stop()
	hap, err := startProxy(ctx, dir, "haproxy", rs.Port, sessions, haproxyBin, "-db", "-f")
	if err != nil {
		return err
	}
	defer hap.stop()
	if !idleOnly {
		if err := throughput(ctx, rs, ours, hap, reps, n, out); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "\nIdle sessions: RSS while holding %d idle client sessions (each with its server connection)\n", sessions)
	for _, p := range []*proxyProc{ours, hap} {
		var per []float64
		var total uint64
		var fds int
		// Against the RSS before the first round: memory a process keeps
		// for later sessions still counts.
		var base uint64
		for r := 0; r < reps; r++ {
			before, after, n, err := idleSessions(ctx, p, rs, sessions)
			if err != nil {
				return fmt.Errorf("%s idle sessions: %w", p.name, err)
			}
			if r == 0 {
				base = before
			}
			total, fds = after, n
			per = append(per, float64(after-base)/float64(sessions)/1024)
		}
		fmt.Fprintf(out, "  %-8s RSS %6.1f MiB with the sessions, %.1f KiB per session (median of %d), %d descriptors open (%.1f per session)\n",
			p.name, float64(total)/(1<<20), stats.Median(per), reps, fds, float64(fds)/float64(sessions))
	}
	return nil
}

// throughput runs redis-benchmark through each target and prints the
// comparison.
func throughput(ctx context.Context, rs *redistest.Server, ours, hap *proxyProc, reps, n int, out io.Writer) error {
	targets := []target{{"direct", rs.Port, 0}, {"redisha", ours.port, ours.cmd.Process.Pid}, {"haproxy", hap.port, hap.cmd.Process.Pid}}

	fmt.Fprintf(out, "redis-benchmark -t set,get -n %d, %d repetitions, targets interleaved; %d CPUs\n\n", n, reps, numCPU())
	results := map[string][]sample{} // target/test/op
	cpu := map[string][]float64{}    // target: CPU seconds per million requests
	for r := 0; r < reps; r++ {
		for ti, t := range tests {
			// Rotate the order so that no target always goes first.
			for k := range targets {
				tg := targets[(k+r+ti)%len(targets)]
				cpu0 := cpuSeconds(tg.pid)
				nreq := n / t.div
				lines, err := benchmark(ctx, tg.port, t, nreq)
				if err != nil {
					return fmt.Errorf("%s %s: %w", tg.name, t.name, err)
				}
				if tg.pid != 0 {
					cpu[tg.name] = append(cpu[tg.name], (cpuSeconds(tg.pid)-cpu0)/(float64(2*nreq)/1e6))
				}
				for op, s := range lines {
					key := tg.name + "/" + t.name + "/" + op
					results[key] = append(results[key], s)
				}
			}
		}
	}
	tw := tabwriter.NewWriter(out, 0, 0, 1, ' ', 0)
	fmt.Fprintln(tw, "| test\t| op\t| direct req/s\t| redisha req/s\t| haproxy req/s\t| redisha/haproxy\t| redisha/direct\t| p50 ms direct / redisha / haproxy\t| p99 ms direct / redisha / haproxy\t|")
	fmt.Fprintln(tw, "|---\t|---\t|---\t|---\t|---\t|---\t|---\t|---\t|---\t|")
	for _, t := range tests {
		for _, op := range []string{"SET", "GET"} {
			med := func(tg string, f func(sample) float64) float64 {
				var xs []float64
				for _, s := range results[tg+"/"+t.name+"/"+op] {
					xs = append(xs, f(s))
				}
				return stats.Median(xs)
			}
			rps := func(s sample) float64 { return s.rps }
			p50 := func(s sample) float64 { return s.p50 }
			p99 := func(s sample) float64 { return s.p99 }
			d, o, h := med("direct", rps), med("redisha", rps), med("haproxy", rps)
			fmt.Fprintf(tw, "| %s\t| %s\t| %.0f\t| %.0f\t| %.0f\t| %.2f\t| %.2f\t| %.3f / %.3f / %.3f\t| %.3f / %.3f / %.3f\t|\n",
				t.name, op, d, o, h, o/h, o/d,
				med("direct", p50), med("redisha", p50), med("haproxy", p50),
				med("direct", p99), med("redisha", p99), med("haproxy", p99))
		}
	}
	tw.Flush()
	fmt.Fprintf(out, "\nProxy CPU per million requests (median over all tests): redisha %.2f s, haproxy %.2f s\n",
		stats.Median(cpu["redisha"]), stats.Median(cpu["haproxy"]))
	return nil
}

// proxyProc is a proxy process under test.
type proxyProc struct {
	name string
	port int
	cmd  *exec.Cmd
	log  *strings.Builder
}

func (p *proxyProc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

// startProxy writes the same TCP configuration for both proxies and starts
// one: a frontend and a backend with the Redis server, no health check
// (so that checks do not take CPU from the measurement), timeouts long
// enough for the idle sessions.
func startProxy(ctx context.Context, dir, name string, redisPort, sessions int, bin string, args ...string) (*proxyProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`global
    maxconn %d

defaults
    mode tcp
    timeout connect 4s
    timeout client 5m
    timeout server 5m

frontend fe
    bind 127.0.0.1:%d
    maxconn %d
    default_backend be

backend be
    server redis 127.0.0.1:%d
`, sessions+50, port, sessions+50, redisPort)
	path := filepath.Join(dir, name+".cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, append(args, path)...)
	log := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proxyProc{name: name, port: port, cmd: cmd, log: log}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
		if err == nil {
			c.Close()
			return p, nil
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("%s does not listen on %d: %v\n%s", name, port, err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// benchmark runs redis-benchmark and returns its SET and GET lines.
func benchmark(ctx context.Context, port int, t test, n int) (map[string]sample, error) {
	args := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-t", "set,get", "-n", strconv.Itoa(n),
		"-c", strconv.Itoa(t.clients), "-P", strconv.Itoa(t.pipe), "--csv"}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	outb, err := exec.CommandContext(ctx, "redis-benchmark", args...).Output()
	if err != nil {
		return nil, fmt.Errorf("redis-benchmark %s: %w", strings.Join(args, " "), err)
	}
	return parseBenchmarkCSV(strings.NewReader(string(outb)))
}

// parseBenchmarkCSV reads redis-benchmark --csv (Redis 7):
// "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms".
func parseBenchmarkCSV(r io.Reader) (map[string]sample, error) {
	recs, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(recs) < 2 {
		return nil, errors.New("no results")
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for _, need := range []string{"test", "rps", "p50_latency_ms", "p99_latency_ms"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("no %s column in %v", need, recs[0])
		}
	}
	out := map[string]sample{}
	for _, rec := range recs[1:] {
		f := func(name string) float64 {
			v, _ := strconv.ParseFloat(rec[col[name]], 64)
			return v
		}
		out[rec[col["test"]]] = sample{f("rps"), f("p50_latency_ms"), f("p99_latency_ms")}
	}
	return out, nil
}

// idleSessions opens n client connections to the proxy, waits until Redis
// sees them all (so the proxy holds both sides), and returns the proxy's
// RSS before and with them.
func idleSessions(ctx context.Context, p *proxyProc, rs *redistest.Server, n int) (before, after uint64, fds int, err error) {
	base, err := connectedClients(ctx, rs)
	if err != nil {
		return 0, 0, 0, err
	}
	before, err = rss(p.cmd.Process.Pid)
	if err != nil {
		return 0, 0, 0, err
	}
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
		// Let both sides close before the next measurement.
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if cc, err := connectedClients(ctx, rs); err == nil && cc <= base {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port))
	for i := 0; i < n; i++ {
		// The accept queue overflows when thousands of connections arrive
		// at once: retry a few times, and let the proxy catch up every
		// 1000 sessions.
		var c net.Conn
		for attempt := 0; ; attempt++ {
			c, err = net.DialTimeout("tcp", addr, 5*time.Second)
			if err == nil || attempt == 4 {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil {
			cc, _ := connectedClients(ctx, rs)
			return 0, 0, 0, fmt.Errorf("session %d (redis sees %d): %w\n%s", i, cc-base, err, tail(p.log.String(), 2000))
		}
		conns = append(conns, c)
		if (i+1)%1000 == 0 {
			for wait := 0; wait < 100; wait++ {
				if cc, err := connectedClients(ctx, rs); err == nil && cc >= base+i+1 {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		cc, err := connectedClients(ctx, rs)
		if err == nil && cc >= base+n {
			break
		}
		if time.Now().After(deadline) {
			return 0, 0, 0, fmt.Errorf("redis sees %d of %d sessions: %v\n%s", cc-base, n, err, p.log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A collection lets the Go runtime return what it no longer needs;
	// HAProxy has no such step. Wait a little for both.
	time.Sleep(2 * time.Second)
	after, err = rss(p.cmd.Process.Pid)
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.cmd.Process.Pid))
	return before, after, len(ents), err
}

func connectedClients(ctx context.Context, rs *redistest.Server) (int, error) {
	v, err := rs.Do(ctx, "INFO", "clients")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(fmt.Sprint(v), "\n") {
		if s, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_clients:"); ok {
			return strconv.Atoi(s)
		}
	}
	return 0, errors.New("no connected_clients in INFO clients")
}

// rss is a process's resident set size in bytes (/proc/PID/status).
func rss(pid int) (uint64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmRSS")
}

// cpuSeconds is a process's user and system CPU time (/proc/PID/stat),
// zero for pid 0.
func cpuSeconds(pid int) float64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // USER_HZ is 100 on Linux
}

func numCPU() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "processor\t:")
}

// tail is the end of s.
func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

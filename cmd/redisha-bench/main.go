// Command redisha-bench compares this project's proxy with HAProxy and
// with Redis reached directly: redis-benchmark through each, interleaved
// and repeated, then the memory each proxy needs per idle session.
//
//	go run ./cmd/redisha-bench -proxy bin/redisha-sim
//	go run ./cmd/redisha-bench -proxy bin/redisha-sim -reps 1 -rows c50 -n 10000 -no-idle   # a quick look
//
// Each process runs on CPUs of its own (taskset): redis-server,
// redis-benchmark, and the proxy under test, both proxies on the same CPUs
// with the same number of threads. With too few CPUs to separate them the
// output says what is shared. Every row gives medians with their ranges
// over the repetitions and a verdict, which says when the ranges overlap
// and nothing can be concluded.
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
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy/redistest"
)

func main() {
	var (
		proxyBin = flag.String("proxy", "bin/redisha-sim", "redisha-sim binary (the proxy runs as its own process, as HAProxy does)")
		haproxy  = flag.String("haproxy", "haproxy", "HAProxy binary")
		reps     = flag.Int("reps", minReps, fmt.Sprintf("repetitions of every measurement (a verdict needs %d or more)", minReps))
		requests = flag.Int("n", 100000, "requests per redis-benchmark test (-c 1 and 16 KiB values use fewer)")
		rows     = flag.String("rows", "all", "comma-separated rows to run: "+strings.Join(testKeys(), ", ")+"; a prefix such as c2000 selects its sizes; all for every row; none for no throughput rows")
		threads  = flag.Int("threads", 0, "threads of each proxy (HAProxy nbthread, our GOMAXPROCS); 0 picks from the CPUs")
		cpus     = flag.String("cpus", "", "CPUs to use, as a Linux CPU list (0-3,6); default: those this process may run on")
		pin      = flag.Bool("pin", true, "pin each process to its own CPUs with taskset")
		sessions = flag.Int("sessions", 10000, "idle client sessions to hold (lowered to what the descriptor limit allows)")
		idleOnly = flag.Bool("idle-only", false, "measure only the idle sessions' memory")
		noIdle   = flag.Bool("no-idle", false, "skip the idle sessions' memory")
	)
	flag.Parse()
	sel, err := selectTests(*rows)
	if err == nil {
		err = run(config{proxyBin: *proxyBin, haproxyBin: *haproxy, reps: *reps, n: *requests, tests: sel,
			threads: *threads, cpus: *cpus, pin: *pin, sessions: *sessions, idleOnly: *idleOnly, noIdle: *noIdle}, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "redisha-bench:", err)
		os.Exit(1)
	}
}

// config is what the flags chose.
type config struct {
	proxyBin, haproxyBin string
	reps, n              int
	tests                []test
	threads              int
	cpus                 string
	pin                  bool
	sessions             int
	idleOnly, noIdle     bool
}

// target is what redis-benchmark talks to.
type target struct {
	name string
	port int
	// pid is the proxy's process (0 for Redis itself).
	pid int
}

// test is one redis-benchmark configuration: a row of the table.
type test struct {
	key     string // what -rows selects it by
	name    string
	clients int
	pipe    int
	size    int // value size in bytes (-d)
	div     int // fewer requests: -c 1 and large values are slow
}

// tests are the rows: the first three with redis-benchmark's default
// 3-byte values; then many connections with values from 16 B to 16 KiB,
// since Redis traffic is not all tiny values.
var tests = []test{
	{"c50", "-c 50", 50, 1, 3, 1},
	{"c50-P16", "-c 50 -P 16", 50, 16, 3, 1},
	{"c1", "-c 1", 1, 1, 3, 5},
	{"c500-d16", "-c 500 -d 16", 500, 1, 16, 1},
	{"c500-d1k", "-c 500 -d 1024", 500, 1, 1024, 1},
	{"c500-d16k", "-c 500 -d 16384", 500, 1, 16384, 2},
	{"c2000-d16", "-c 2000 -d 16", 2000, 1, 16, 1},
	{"c2000-d1k", "-c 2000 -d 1024", 2000, 1, 1024, 1},
	{"c2000-d16k", "-c 2000 -d 16384", 2000, 1, 16384, 2},
}

func testKeys() []string {
	keys := make([]string, len(tests))
	for i, t := range tests {
		keys[i] = t.key
	}
	return keys
}

// selectTests reads -rows: "all", "none", or keys and key prefixes
// ("c50" is that row; "c2000", no row's key, is every c2000-* row), in
// the table's order.
func selectTests(spec string) ([]test, error) {
	spec = strings.TrimSpace(spec)
	switch spec {
	case "all", "":
		return tests, nil
	case "none":
		return nil, nil
	}
	want := map[string]bool{}
	for _, w := range strings.Split(spec, ",") {
		w = strings.TrimSpace(w)
		// A key names its row; a word that is no key names the rows it
		// prefixes.
		if slices.Contains(testKeys(), w) {
			want[w] = true
			continue
		}
		found := false
		for _, t := range tests {
			if strings.HasPrefix(t.key, w+"-") {
				want[t.key], found = true, true
			}
		}
		if !found {
			return nil, fmt.Errorf("-rows: no row %q (rows: %s)", w, strings.Join(testKeys(), ", "))
		}
	}
	var out []test
	for _, t := range tests {
		if want[t.key] {
			out = append(out, t)
		}
	}
	return out, nil
}

// sample is one redis-benchmark result line.
type sample struct {
	rps, p50, p99 float64
}

func run(c config, out io.Writer) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, bin := range []string{"redis-benchmark", c.haproxyBin, c.proxyBin} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s: %w (make deps; make build)", bin, err)
		}
	}
	if c.reps < 1 {
		return fmt.Errorf("-reps %d: want at least 1 (%d for a verdict)", c.reps, minReps)
	}
	// Every idle session costs the proxy two descriptors (client and
	// server side) under one limit; HAProxy wants 2 × maxconn and a few
	// more, and maxconn is sessions + 50 here. redis-benchmark -c 2000
	// needs 2000 of its own: raise the soft limit to the hard one, which
	// the children inherit.
	sessions := c.sessions
	if hard, ok := raiseNoFileLimit(); ok {
		if most := int(hard/2) - 100; sessions > most {
			fmt.Fprintf(out, "note: the descriptor limit (%d) allows %d idle sessions per proxy, not %d\n", hard, most, sessions)
			sessions = most
		}
	}
	cpus, err := allowedCPUs()
	if c.cpus != "" {
		cpus, err = parseCPUList(c.cpus)
	}
	if err != nil {
		return err
	}
	_, terr := exec.LookPath("taskset")
	l := planLayout(cpus, c.threads, c.pin && terr == nil)
	if !c.pin {
		l.note = "-pin=false: processes are not pinned, so the proxy, Redis and redis-benchmark compete for the CPUs"
	}
	rs, err := redistest.Start(ctx, redistest.Options{Args: []string{"--maxclients", strconv.Itoa(sessions + 3000)}})
	if err != nil {
		return err
	}
	defer rs.Close()
	if l.pinned {
		if err := pinRedis(ctx, rs, l.redis); err != nil {
			return err
		}
	}
	dir, err := os.MkdirTemp("", "redisha-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	ours, err := startProxy(ctx, dir, "redisha", rs.Port, sessions, l, []string{"GOMAXPROCS=" + strconv.Itoa(l.threads)}, c.proxyBin, "proxy", "--log-level", "warn", "-f")
	if err != nil {
		return err
	}
	defer ours.stop()
	hap, err := startProxy(ctx, dir, "haproxy", rs.Port, sessions, l, nil, c.haproxyBin, "-db", "-f")
	if err != nil {
		return err
	}
	defer hap.stop()
	if !c.idleOnly && len(c.tests) > 0 {
		if err := throughput(ctx, rs, ours, hap, c, l, out); err != nil {
			return err
		}
	}
	if c.noIdle {
		return nil
	}
	fmt.Fprintf(out, "\nIdle sessions: RSS while holding %d idle client sessions (each with its server connection)\n", sessions)
	for _, p := range []*proxyProc{ours, hap} {
		var per []float64
		var total uint64
		var fds int
		// Against the RSS before the first round: memory a process keeps
		// for later sessions still counts.
		var base uint64
		for r := 0; r < c.reps; r++ {
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
		ps := summarize(per)
		fmt.Fprintf(out, "  %-8s RSS %6.1f MiB with the sessions, %.1f KiB per session (median of %d, range %.1f-%.1f), %d descriptors open (%.1f per session)\n",
			p.name, float64(total)/(1<<20), ps.med, c.reps, ps.min, ps.max, fds, float64(fds)/float64(sessions))
	}
	return nil
}

// pinRedis moves every thread of the running redis-server to cpus.
func pinRedis(ctx context.Context, rs *redistest.Server, cpus []int) error {
	v, err := rs.Do(ctx, "INFO", "server")
	if err != nil {
		return err
	}
	pid := ""
	for _, line := range strings.Split(fmt.Sprint(v), "\n") {
		if s, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			pid = s
		}
	}
	if pid == "" {
		return errors.New("pin redis-server: no process_id in INFO server")
	}
	if outb, err := exec.CommandContext(ctx, "taskset", "-a", "-p", "-c", cpuList(cpus), pid).CombinedOutput(); err != nil {
		return fmt.Errorf("pin redis-server: taskset: %w: %s", err, outb)
	}
	return nil
}

// throughput runs redis-benchmark through each target, interleaved and
// repeated, and prints the comparison with medians, ranges and verdicts.
func throughput(ctx context.Context, rs *redistest.Server, ours, hap *proxyProc, c config, l layout, out io.Writer) error {
	targets := []target{{"direct", rs.Port, 0}, {"redisha", ours.port, ours.cmd.Process.Pid}, {"haproxy", hap.port, hap.cmd.Process.Pid}}

	fmt.Fprintf(out, "redis-benchmark -t set,get -n %d, %d repetition(s), targets interleaved; %d CPUs: %s\n", c.n, c.reps, numCPU(), l.describe())
	if l.note != "" {
		fmt.Fprintf(out, "note: %s\n", l.note)
	}
	if c.reps < minReps {
		fmt.Fprintf(out, "note: %d repetition(s): verdicts need %d or more, so none is given\n", c.reps, minReps)
	}
	fmt.Fprintln(out)
	results := map[string][]sample{} // target/test/op
	cpu := map[string][]float64{}    // target: CPU seconds per million requests
	for r := 0; r < c.reps; r++ {
		for ti, t := range c.tests {
			// Rotate the order so that no target always goes first.
			for k := range targets {
				tg := targets[(k+r+ti)%len(targets)]
				cpu0 := cpuSeconds(tg.pid)
				nreq := max(c.n/t.div, 1)
				lines, err := benchmark(ctx, tg.port, t, nreq, l)
				if err != nil {
					return fmt.Errorf("%s %s: %w", tg.name, t.name, err)
				}
				if tg.pid != 0 {
					cpu[tg.name] = append(cpu[tg.name], (cpuSeconds(tg.pid)-cpu0)/(float64(2*nreq)/1e6))
				}
				for op, s := range lines {
					key := tg.name + "/" + t.key + "/" + op
					results[key] = append(results[key], s)
				}
			}
		}
	}
	tw := tabwriter.NewWriter(out, 0, 0, 1, ' ', 0)
	fmt.Fprintln(tw, "| test\t| op\t| direct req/s\t| redisha req/s\t| haproxy req/s\t| redisha/haproxy\t| redisha/direct\t| p50 ms direct / redisha / haproxy\t| p99 ms redisha\t| p99 ms haproxy\t| verdict\t|")
	fmt.Fprintln(tw, "|---\t|---\t|---\t|---\t|---\t|---\t|---\t|---\t|---\t|---\t|---\t|")
	var verdicts []verdict
	for _, t := range c.tests {
		for _, op := range []string{"SET", "GET"} {
			sum := func(tg string, f func(sample) float64) summary {
				var xs []float64
				for _, s := range results[tg+"/"+t.key+"/"+op] {
					xs = append(xs, f(s))
				}
				return summarize(xs)
			}
			rps := func(s sample) float64 { return s.rps }
			p50 := func(s sample) float64 { return s.p50 }
			p99 := func(s sample) float64 { return s.p99 }
			d, o, h := sum("direct", rps), sum("redisha", rps), sum("haproxy", rps)
			ratio, lo, hi := ratioRange(o, h)
			v := compare(o, h)
			verdicts = append(verdicts, v)
			fmt.Fprintf(tw, "| %s\t| %s\t| %s\t| %s\t| %s\t| %.2f (%.2f-%.2f)\t| %.2f\t| %.3f / %.3f / %.3f\t| %s\t| %s\t| %s\t|\n",
				t.name, op, d, o, h, ratio, lo, hi, o.med/d.med,
				sum("direct", p50).med, sum("redisha", p50).med, sum("haproxy", p50).med,
				sum("redisha", p99).ms(), sum("haproxy", p99).ms(), v)
		}
	}
	tw.Flush()
	fmt.Fprintln(out, "\nreq/s and p99: median [min-max] over the repetitions; redisha/haproxy: ratio of the medians (lowest-highest ratio the ranges allow).")
	fmt.Fprintln(out, overall(verdicts))
	oc, hc := summarize(cpu["redisha"]), summarize(cpu["haproxy"])
	fmt.Fprintf(out, "\nProxy CPU seconds per million requests (median [min-max] over all tests): redisha %.2f [%.2f-%.2f], haproxy %.2f [%.2f-%.2f]\n",
		oc.med, oc.min, oc.max, hc.med, hc.min, hc.max)
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
func startProxy(ctx context.Context, dir, name string, redisPort, sessions int, l layout, env []string, bin string, args ...string) (*proxyProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`global
    maxconn %d
    nbthread %d

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
`, sessions+50, l.threads, port, sessions+50, redisPort)
	path := filepath.Join(dir, name+".cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	argv := append(append([]string{bin}, args...), path)
	if l.pinned {
		// taskset execs the proxy: the process keeps its pid.
		argv = append([]string{"taskset", "-c", cpuList(l.proxy)}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
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
func benchmark(ctx context.Context, port int, t test, n int, l layout) (map[string]sample, error) {
	args := []string{"redis-benchmark", "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-t", "set,get", "-n", strconv.Itoa(n),
		"-c", strconv.Itoa(t.clients), "-P", strconv.Itoa(t.pipe), "-d", strconv.Itoa(max(t.size, 1)), "--csv"}
	if l.benchThreads > 1 {
		args = append(args, "--threads", strconv.Itoa(l.benchThreads))
	}
	if l.pinned {
		args = append([]string{"taskset", "-c", cpuList(l.bench)}, args...)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	outb, err := exec.CommandContext(ctx, args[0], args[1:]...).Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", strings.Join(args, " "), err)
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

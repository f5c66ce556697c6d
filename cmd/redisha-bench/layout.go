package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// layout is where each process of a measurement runs: redis-server,
// redis-benchmark and the proxy under test each on CPUs of their own, so
// that they do not take each other's time. Both proxies get the same CPUs
// and the same number of threads (HAProxy's nbthread, our GOMAXPROCS).
type layout struct {
	redis, bench, proxy []int
	// threads is the proxies' thread count and benchThreads
	// redis-benchmark's (--threads when above 1).
	threads, benchThreads int
	// pinned is false when nothing is pinned.
	pinned bool
	// note says how the layout falls short of separate CPU sets, or is
	// empty when it does not.
	note string
}

// planLayout shares cpus between the three processes. With at least three
// CPUs each process gets its own: Redis one (it runs commands on one
// thread), the proxies threads (0 means half of what is left after Redis,
// at least one), redis-benchmark the rest. With two, Redis and
// redis-benchmark share the first and the proxy gets the second; with one,
// or without taskset, nothing is pinned. The note says so.
func planLayout(cpus []int, threads int, haveTaskset bool) layout {
	n := len(cpus)
	switch {
	case !haveTaskset:
		return layout{threads: max(threads, 1), benchThreads: 1,
			note: "taskset not found: processes are not pinned, so the proxy, Redis and redis-benchmark compete for the CPUs and the ratios are less trustworthy"}
	case n < 2:
		return layout{threads: max(threads, 1), benchThreads: 1,
			note: fmt.Sprintf("only %d CPU: nothing can be separated, so nothing is pinned and every process shares it; the ratios are less trustworthy", n)}
	case n == 2:
		l := layout{redis: cpus[:1], bench: cpus[:1], proxy: cpus[1:], threads: 1, benchThreads: 1, pinned: true,
			note: fmt.Sprintf("only 2 CPUs: redis-server and redis-benchmark share CPU %d, the proxy under test has CPU %d (1 thread); the client and the server compete with each other, which slows every target alike, but the proxy's CPU is its own", cpus[0], cpus[1])}
		if threads > 1 {
			l.note += fmt.Sprintf(" (-threads %d lowered to 1)", threads)
		}
		return l
	}
	rest := n - 1
	if threads <= 0 {
		threads = max(rest/2, 1)
	}
	note := ""
	if threads > rest-1 {
		note = fmt.Sprintf("-threads %d lowered to %d: %d CPUs leave %d for the proxy and redis-benchmark", threads, rest-1, n, rest)
		threads = rest - 1
	}
	return layout{
		redis: cpus[:1], proxy: cpus[1 : 1+threads], bench: cpus[1+threads:],
		threads: threads, benchThreads: n - 1 - threads, pinned: true, note: note,
	}
}

// describe is the layout in one line, for the output.
func (l layout) describe() string {
	if !l.pinned {
		return fmt.Sprintf("not pinned; proxies on %d thread(s)", l.threads)
	}
	return fmt.Sprintf("redis-server on CPU %s, redis-benchmark on CPU %s (%d thread(s)), the proxy under test on CPU %s (%d thread(s), both proxies alike)",
		cpuList(l.redis), cpuList(l.bench), l.benchThreads, cpuList(l.proxy), l.threads)
}

// cpuList formats CPUs as taskset -c reads them: "0,2,3".
func cpuList(cpus []int) string {
	s := make([]string, len(cpus))
	for i, c := range cpus {
		s[i] = strconv.Itoa(c)
	}
	return strings.Join(s, ",")
}

// parseCPUList reads a Linux CPU list ("0-3,6,8-9").
func parseCPUList(s string) ([]int, error) {
	var out []int
	seen := map[int]bool{}
	for _, part := range strings.Split(strings.TrimSpace(s), ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("CPU list %q: %q is not a CPU number", s, lo)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("CPU list %q: bad range %q", s, part)
			}
		}
		for c := a; c <= b; c++ {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	return out, nil
}

// allowedCPUs are the CPUs this process may run on
// (/proc/self/status Cpus_allowed_list).
func allowedCPUs() ([]int, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return parseCPUList(v)
		}
	}
	return nil, fmt.Errorf("no Cpus_allowed_list in /proc/self/status")
}

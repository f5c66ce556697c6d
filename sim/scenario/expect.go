package scenario

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Metric is a quantity a run's report measures and an expectation tests.
type Metric struct {
	Name string
	// Duration metrics compare with durations ("8s"), the others with
	// counts.
	Duration bool
	Help     string
}

// Metrics lists what expectations can test.
var Metrics = []Metric{
	{"write_interruption", true, "time from the last acknowledged write before the first fault to the first after it"},
	{"read_interruption", true, "the same for reads through the replica port"},
	{"longest_write_gap", true, "the longest time without an acknowledged write"},
	{"proxy_share", true, "time from Sentinel's +switch-master to the first acknowledged write"},
	{"two_master_window", true, "time writes went to a node that was not Sentinel's master"},
	{"role_overlap", true, "time two reachable nodes said role:master at once (Redis's own window)"},
	{"lost_writes", false, "acknowledged writes missing when read back"},
	{"unexpected_writes", false, "writes that failed definitely but are present"},
	{"indeterminate_writes", false, "writes whose outcome the client could not know"},
	{"ok_writes", false, "acknowledged writes"},
	{"failovers", false, "promotions (Sentinel's +switch-master to a new address)"},
	{"stale_reads", false, "reads that missed a key acknowledged before the read began"},
	{"false_down_marks", false, "times the proxy marked a healthy node DOWN (a replica that was a replica, Sentinel's master)"},
	{"check_rate", false, "health checks per second on the busiest node (this project's proxy, in-process or in a container; HAProxy counts none)"},
	{"check_bytes_rate", false, "health-check bytes per second, in and out, on the busiest node (this project's proxy; HAProxy counts none)"},
}

func metricByName(n string) (Metric, bool) {
	for _, m := range Metrics {
		if m.Name == n {
			return m, true
		}
	}
	return Metric{}, false
}

// Expectation is "metric op value", e.g. "write_interruption <= 8s". In a
// run with several groups (or workloads) the metric means the worst
// group's (workload's) value for times, or the sum for counts; a prefix
// tests one group ("group2.write_interruption") or one workload
// ("app.write_interruption"). Group and workload names are never shared,
// so the prefix names one or the other.
type Expectation struct {
	// Metric is the name as written, with its prefix if any.
	Metric string
	// Group is the group prefix ("" for the run as a whole). The parser
	// puts any prefix here; the scenario's validation moves one that
	// names a workload to Workload.
	Group string `json:",omitempty"`
	// Workload is the workload prefix ("" for the run as a whole).
	Workload string `json:",omitempty"`
	Op       string
	// Value is in seconds for duration metrics.
	Value float64
	Raw   string
}

var ops = []string{"<=", ">=", "==", "!=", "<", ">"}

// ParseExpectation reads "metric op value". Every metric is a count or a
// time, never negative: an expectation that no run could fail or pass
// (lost_writes >= 0, write_interruption <= -10s) is refused, as is a value
// that is not a finite number.
func ParseExpectation(raw string) (Expectation, error) {
	e := Expectation{Raw: raw}
	usage := fmt.Sprintf("write '<metric> <op> <value>', e.g. 'write_interruption <= 8s', with op one of %s", strings.Join(ops, " "))
	i := strings.IndexAny(raw, "<>=!")
	if i <= 0 {
		return e, fmt.Errorf("invalid expectation %q: %s", raw, usage)
	}
	j := i
	for j < len(raw) && strings.IndexByte("<>=!", raw[j]) >= 0 {
		j++
	}
	e.Metric, e.Op = strings.TrimSpace(raw[:i]), raw[i:j]
	rest := strings.TrimSpace(raw[j:])
	if !slices.Contains(ops, e.Op) {
		return e, fmt.Errorf("invalid expectation %q: %s; got operator %q", raw, usage, e.Op)
	}
	base := e.Metric
	if g, b, ok := strings.Cut(e.Metric, "."); ok {
		e.Group, base = g, b
	}
	m, ok := metricByName(base)
	if !ok {
		var names []string
		for _, m := range Metrics {
			names = append(names, m.Name)
		}
		return e, fmt.Errorf("unknown metric %q; valid: %s (with several groups or workloads also <group>.<metric> or <workload>.<metric>)", base, strings.Join(names, ", "))
	}
	if m.Duration {
		d, err := time.ParseDuration(rest)
		if err != nil {
			return e, fmt.Errorf("%s compares with a duration such as 8s, got %q", e.Metric, rest)
		}
		e.Value = d.Seconds()
	} else {
		n, err := strconv.ParseFloat(rest, 64)
		if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
			return e, fmt.Errorf("%s compares with a finite number such as 0 or 2, got %q", e.Metric, rest)
		}
		e.Value = n
	}
	// Measured values are never negative.
	var word string
	switch {
	case e.Value < 0 && (e.Op == "<" || e.Op == "<=" || e.Op == "=="), e.Value == 0 && e.Op == "<":
		word = "can never hold"
	case e.Value < 0, e.Value == 0 && e.Op == ">=":
		word = "always holds"
	}
	if word != "" {
		return e, fmt.Errorf("expectation %q %s: %s is never negative", raw, word, e.Metric)
	}
	return e, nil
}

// Holds reports whether a measured value (seconds for durations) meets the
// expectation.
func (e Expectation) Holds(v float64) bool {
	switch e.Op {
	case "<=":
		return v <= e.Value
	case ">=":
		return v >= e.Value
	case "==":
		return v == e.Value
	case "!=":
		return v != e.Value
	case "<":
		return v < e.Value
	}
	return v > e.Value
}

// IsDuration reports whether the metric is a duration.
func (e Expectation) IsDuration() bool {
	base := e.Metric
	if _, b, ok := strings.Cut(base, "."); ok {
		base = b
	}
	m, _ := metricByName(base)
	return m.Duration
}

package main

import (
	"fmt"
	"slices"

	"github.com/redisha-sim/redisha-sim/sim/stats"
)

// minReps is the fewest repetitions a verdict is given for.
const minReps = 5

// summary is a measurement's median and range over its repetitions.
type summary struct {
	med, min, max float64
	n             int
}

func summarize(xs []float64) summary {
	if len(xs) == 0 {
		return summary{}
	}
	return summary{med: stats.Median(xs), min: slices.Min(xs), max: slices.Max(xs), n: len(xs)}
}

// overlaps reports whether the two ranges share a value.
func (s summary) overlaps(o summary) bool { return s.min <= o.max && o.min <= s.max }

// String is "median [min-max]".
func (s summary) String() string {
	if s.n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f [%.0f-%.0f]", s.med, s.min, s.max)
}

// ms formats a latency summary in milliseconds.
func (s summary) ms() string {
	if s.n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f [%.3f-%.3f]", s.med, s.min, s.max)
}

// ratioRange is ours/theirs of the medians, and the widest ratio the
// ranges allow (lowest of ours over highest of theirs, and the reverse).
func ratioRange(ours, theirs summary) (med, lo, hi float64) {
	if theirs.med == 0 || theirs.min == 0 {
		return 0, 0, 0
	}
	return ours.med / theirs.med, ours.min / theirs.max, ours.max / theirs.min
}

// verdict compares our throughput with HAProxy's in one row.
type verdict int

const (
	verdictFewRuns verdict = iota // fewer than minReps repetitions
	verdictOverlap                // the ranges overlap: too wide to conclude
	verdictFaster                 // every run of ours beat every run of theirs
	verdictSlower                 // the reverse
)

func (v verdict) String() string {
	return [...]string{
		verdictFewRuns: fmt.Sprintf("too few runs (< %d)", minReps),
		verdictOverlap: "ranges overlap: too wide to conclude",
		verdictFaster:  "redisha faster",
		verdictSlower:  "haproxy faster",
	}[v]
}

// compare gives the verdict on throughputs (higher is better).
func compare(ours, theirs summary) verdict {
	switch {
	case ours.n < minReps || theirs.n < minReps:
		return verdictFewRuns
	case ours.overlaps(theirs):
		return verdictOverlap
	case ours.min > theirs.max:
		return verdictFaster
	}
	return verdictSlower
}

// overall sums up the rows' verdicts in one line.
func overall(vs []verdict) string {
	var n [4]int
	for _, v := range vs {
		n[v]++
	}
	s := fmt.Sprintf("Verdict over %d rows: redisha faster in %d, HAProxy faster in %d, too wide to conclude in %d",
		len(vs), n[verdictFaster], n[verdictSlower], n[verdictOverlap])
	if n[verdictFewRuns] > 0 {
		s += fmt.Sprintf(", too few runs in %d (use -reps %d or more)", n[verdictFewRuns], minReps)
	}
	switch {
	case len(vs) == 0:
		return "Verdict: no rows measured"
	case n[verdictFewRuns] == len(vs):
		return s + ": no conclusion"
	case n[verdictOverlap]+n[verdictFewRuns] > 0:
		return s + ": the spread is too wide to conclude in every row"
	}
	return s
}

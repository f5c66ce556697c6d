package main

import (
	"slices"
	"strings"
	"testing"
)

func TestSummaryIsTheMedianWithTheRange(t *testing.T) {
	got := summarize([]float64{5, 1, 4, 2, 3})
	if got.med != 3 || got.min != 1 || got.max != 5 || got.n != 5 {
		t.Errorf("got %+v, want median 3, range 1-5, n 5", got)
	}
	if got := summarize([]float64{1, 2, 3, 10}).med; got != 2.5 {
		t.Errorf("median of an even count: got %v, want 2.5", got)
	}
	if got := summarize(nil); got.n != 0 || got.String() != "-" {
		t.Errorf("no samples: got %+v %q, want n 0 and -", got, got.String())
	}
}

func TestVerdictNamesTheFasterOnlyWhenTheRangesAreApart(t *testing.T) {
	five := func(lo float64) summary { return summarize([]float64{lo, lo + 1, lo + 2, lo + 3, lo + 4}) }
	cases := []struct {
		name        string
		ours, their summary
		want        verdict
	}{
		{"ours above", five(100), five(90), verdictFaster},
		{"ours below", five(90), five(100), verdictSlower},
		{"overlapping", five(100), five(102), verdictOverlap},
		{"touching ends overlap", five(100), five(104), verdictOverlap},
		{"one range inside the other", summarize([]float64{80, 90, 100, 110, 120}), five(98), verdictOverlap},
		{"too few runs even when apart", summarize([]float64{200, 201}), summarize([]float64{1, 2}), verdictFewRuns},
		{"four runs are too few", summarize([]float64{200, 201, 202, 203}), five(1), verdictFewRuns},
	}
	for _, c := range cases {
		if got := compare(c.ours, c.their); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestRatioRangeIsTheWidestTheRangesAllow(t *testing.T) {
	med, lo, hi := ratioRange(summarize([]float64{90, 100, 110}), summarize([]float64{100, 100, 125}))
	if med != 1 || lo != 90.0/125 || hi != 110.0/100 {
		t.Errorf("got %v (%v-%v), want 1 (0.72-1.1)", med, lo, hi)
	}
	if med, _, _ := ratioRange(summarize([]float64{1}), summary{}); med != 0 {
		t.Errorf("against nothing: got %v, want 0", med)
	}
}

func TestOverallSaysWhenTheSpreadIsTooWideToConclude(t *testing.T) {
	cases := []struct {
		vs   []verdict
		want []string
	}{
		{[]verdict{verdictFaster, verdictFaster}, []string{"redisha faster in 2", "too wide to conclude in 0"}},
		{[]verdict{verdictFaster, verdictOverlap}, []string{"too wide to conclude in 1", "the spread is too wide to conclude in every row"}},
		{[]verdict{verdictFewRuns, verdictFewRuns}, []string{"too few runs in 2", "no conclusion"}},
		{nil, []string{"no rows"}},
	}
	for _, c := range cases {
		got := overall(c.vs)
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%v: got %q, want it to say %q", c.vs, got, w)
			}
		}
	}
	if got := overall([]verdict{verdictFaster}); strings.Contains(got, "too wide to conclude in every") {
		t.Errorf("all apart: got %q, which claims the spread is too wide", got)
	}
}

func TestLayoutGivesEachProcessItsOwnCPUsWhenThereAreEnough(t *testing.T) {
	cpus := []int{0, 1, 2, 3, 4, 5, 6, 7}
	l := planLayout(cpus, 0, true)
	if !l.pinned || l.note != "" {
		t.Fatalf("8 CPUs: got pinned %v, note %q; want pinned without a note", l.pinned, l.note)
	}
	all := append(append(slices.Clone(l.redis), l.bench...), l.proxy...)
	slices.Sort(all)
	if !slices.Equal(all, cpus) || len(slices.Compact(all)) != len(cpus) {
		t.Errorf("8 CPUs: redis %v, bench %v, proxy %v: want disjoint sets covering every CPU", l.redis, l.bench, l.proxy)
	}
	if len(l.proxy) != l.threads || len(l.bench) != l.benchThreads || len(l.redis) != 1 {
		t.Errorf("8 CPUs: got %d proxy CPUs for %d threads, %d bench CPUs for %d threads, %d redis CPUs", len(l.proxy), l.threads, len(l.bench), l.benchThreads, len(l.redis))
	}
	if l := planLayout(cpus[:3], 0, true); l.threads != 1 || l.benchThreads != 1 || l.note != "" {
		t.Errorf("3 CPUs: got %+v, want one CPU each and no note", l)
	}
	if l := planLayout(cpus, 10, true); l.threads != 6 || len(l.bench) != 1 || !strings.Contains(l.note, "lowered to 6") {
		t.Errorf("8 CPUs, 10 threads asked: got %+v, want 6 proxy threads, 1 bench CPU and a note", l)
	}
}

func TestLayoutSaysSoWhenThereAreTooFewCPUsToSeparate(t *testing.T) {
	l := planLayout([]int{0, 1}, 4, true)
	if !l.pinned || !slices.Equal(l.proxy, []int{1}) || !slices.Equal(l.redis, []int{0}) || !slices.Equal(l.bench, []int{0}) || l.threads != 1 {
		t.Errorf("2 CPUs: got %+v, want the proxy alone on CPU 1 with 1 thread, Redis and the benchmark on CPU 0", l)
	}
	if !strings.Contains(l.note, "only 2 CPUs") || !strings.Contains(l.note, "lowered to 1") {
		t.Errorf("2 CPUs: note %q, want it to say so and that -threads was lowered", l.note)
	}
	if l := planLayout([]int{3}, 0, true); l.pinned || !strings.Contains(l.note, "only 1 CPU") {
		t.Errorf("1 CPU: got %+v, want nothing pinned and a note", l)
	}
	if l := planLayout([]int{0, 1, 2, 3}, 0, false); l.pinned || !strings.Contains(l.note, "taskset") {
		t.Errorf("no taskset: got %+v, want nothing pinned and a note naming taskset", l)
	}
}

func TestCPUListReadsLinuxRanges(t *testing.T) {
	got, err := parseCPUList("0-2,5,7-8\n")
	if err != nil || !slices.Equal(got, []int{0, 1, 2, 5, 7, 8}) {
		t.Errorf("got %v, %v; want [0 1 2 5 7 8]", got, err)
	}
	for _, bad := range []string{"", "a", "3-1", "1-x", "-1"} {
		if _, err := parseCPUList(bad); err == nil {
			t.Errorf("%q: got no error", bad)
		}
	}
	if got := cpuList([]int{0, 2, 3}); got != "0,2,3" {
		t.Errorf("cpuList: got %q, want 0,2,3", got)
	}
}

func TestRowsAreSelectedByKeyOrPrefix(t *testing.T) {
	keys := func(ts []test) []string {
		var out []string
		for _, t := range ts {
			out = append(out, t.key)
		}
		return out
	}
	cases := []struct {
		spec string
		want []string
	}{
		{"c50", []string{"c50"}},
		{"c2000,c1", []string{"c1", "c2000-d16", "c2000-d1k", "c2000-d16k"}},
		{"c500-d16k", []string{"c500-d16k"}},
		{"none", nil},
	}
	for _, c := range cases {
		got, err := selectTests(c.spec)
		if err != nil || !slices.Equal(keys(got), c.want) {
			t.Errorf("%q: got %v, %v; want %v", c.spec, keys(got), err, c.want)
		}
	}
	if got, _ := selectTests("all"); len(got) != len(tests) {
		t.Errorf("all: got %d rows, want %d", len(got), len(tests))
	}
	if _, err := selectTests("c5"); err == nil || !strings.Contains(err.Error(), "c50-P16") {
		t.Errorf("unknown row: got %v, want an error listing the rows", err)
	}
}

// The many-connection rows span values from 16 B to 16 KiB, and the
// original rows are kept.
func TestRowsKeepTheOriginalsAndAddManyConnectionsWithMixedSizes(t *testing.T) {
	sizes := map[int]map[int]bool{}
	for _, r := range tests {
		if sizes[r.clients] == nil {
			sizes[r.clients] = map[int]bool{}
		}
		sizes[r.clients][r.size] = true
	}
	for _, c := range []int{500, 2000} {
		if !sizes[c][16] || !sizes[c][16384] {
			t.Errorf("-c %d rows: sizes %v, want 16 B and 16 KiB", c, sizes[c])
		}
	}
	for _, k := range []string{"c50", "c50-P16", "c1"} {
		if !slices.Contains(testKeys(), k) {
			t.Errorf("row %s is gone", k)
		}
	}
}

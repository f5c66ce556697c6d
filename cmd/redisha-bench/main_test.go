package main

import (
	"testing"

	"github.com/redisha-sim/redisha-sim/proxy/redistest"
)

// The parser reads what the installed redis-benchmark prints.
func TestBenchmarkReadsRedisBenchmarkCSV(t *testing.T) {
	redistest.Require(t)
	rs, err := redistest.Start(t.Context(), redistest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	got, err := benchmark(t.Context(), rs.Port, test{"c2", "-c 2", 2, 1, 16, 1}, 500, layout{threads: 1, benchThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"SET", "GET"} {
		s, ok := got[op]
		if !ok || s.rps <= 0 || s.p50 <= 0 || s.p99 < s.p50 {
			t.Errorf("%s: %+v (all: %v)", op, s, got)
		}
	}
}

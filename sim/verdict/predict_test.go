package verdict

import (
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

func TestPredictWriteInterruptionCoversTheObservedFigures(t *testing.T) {
	// sim/model/TIMING.md §3 and §6: observed medians and ranges with real HAProxy
	// 2.6 and Redis 7.0, and the parameters they were observed with.
	cases := []struct {
		name     string
		p        timeline.Params
		observed []time.Duration
	}{
		{"seed, down-after 5s", timeline.Params{DownAfter: 5 * time.Second, Inter: time.Second, Rise: 2, Fall: 3, OpTimeout: time.Second},
			[]time.Duration{7320 * time.Millisecond, 7370 * time.Millisecond, 7390 * time.Millisecond}},
		{"seed, down-after 1s", timeline.Params{DownAfter: time.Second, Inter: time.Second, Rise: 2, Fall: 3, OpTimeout: time.Second},
			[]time.Duration{3330 * time.Millisecond, 3470 * time.Millisecond}},
		{"fast checks", timeline.Params{DownAfter: 2 * time.Second, Inter: time.Second, FastInter: 250 * time.Millisecond, DownInter: time.Second, Rise: 2, OpTimeout: time.Second},
			[]time.Duration{3570 * time.Millisecond, 3630 * time.Millisecond, 3900 * time.Millisecond, 3980 * time.Millisecond}},
	}
	for _, c := range cases {
		lo, hi := PredictWriteInterruption(c.p)
		if lo >= hi {
			t.Errorf("%s: empty range [%v, %v]", c.name, lo, hi)
		}
		for _, w := range c.observed {
			if w < lo || w > hi {
				t.Errorf("%s: observed %v outside the predicted [%v, %v]", c.name, w, lo, hi)
			}
		}
	}
}

func TestPredictWriteInterruptionGrowsWithEachTerm(t *testing.T) {
	base := timeline.Params{DownAfter: 5 * time.Second, Inter: time.Second, Rise: 2, OpTimeout: time.Second}
	lo0, hi0 := PredictWriteInterruption(base)
	for name, p := range map[string]timeline.Params{
		"down-after": func() timeline.Params { p := base; p.DownAfter += time.Second; return p }(),
		"rise":       func() timeline.Params { p := base; p.Rise++; return p }(),
		"fastinter":  func() timeline.Params { p := base; p.FastInter = 2 * time.Second; return p }(),
	} {
		lo, hi := PredictWriteInterruption(p)
		if lo <= lo0 || hi <= hi0 {
			t.Errorf("%s: [%v, %v] does not grow from [%v, %v]", name, lo, hi, lo0, hi0)
		}
	}
	// downinter only widens the upper bound: the first check after the
	// promotion can come at once.
	p := base
	p.DownInter = 3 * time.Second
	if lo, hi := PredictWriteInterruption(p); lo != lo0 || hi != hi0+2*time.Second {
		t.Errorf("downinter 3s: [%v, %v], want [%v, %v]", lo, hi, lo0, hi0+2*time.Second)
	}
}

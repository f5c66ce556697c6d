package stats_test

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/stats"
)

// The expected values are those of R's quantile(x, p) (type 7) and
// NumPy's percentile(x, 100*p) with their defaults.
func TestQuantileInterpolatesBetweenClosestRanks(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []float64
		p    float64
		want float64
	}{
		{"empty input is zero", nil, 0.5, 0},
		{"empty p95 is zero", []float64{}, 0.95, 0},
		{"one value is every quantile (p0)", []float64{7}, 0, 7},
		{"one value is every quantile (p50)", []float64{7}, 0.5, 7},
		{"one value is every quantile (p100)", []float64{7}, 1, 7},
		{"two values: median is their mean", []float64{2, 1}, 0.5, 1.5},
		{"two values: p5", []float64{1, 2}, 0.05, 1.05},
		{"two values: p95", []float64{1, 2}, 0.95, 1.95},
		{"odd count: median is the middle", []float64{5, 1, 3, 2, 4}, 0.5, 3},
		{"odd count: p95 lies between the two largest", []float64{5, 1, 3, 2, 4}, 0.95, 4.8},
		{"odd count: p5", []float64{5, 1, 3, 2, 4}, 0.05, 1.2},
		{"even count: median is the mean of the middle two", []float64{4, 1, 3, 2}, 0.5, 2.5},
		{"even count: p95", []float64{4, 1, 3, 2}, 0.95, 3.85},
		{"p0 is the minimum", []float64{9, -3, 4}, 0, -3},
		{"p100 is the maximum", []float64{9, -3, 4}, 1, 9},
		{"p25 of 1..10", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.25, 3.25},
		{"p90 of 1..10", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.9, 9.1},
		{"ties", []float64{2, 2, 2, 5}, 0.5, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := stats.Quantile(c.in, c.p); math.Abs(got-c.want) > 1e-9 {
				t.Errorf("Quantile(%v, %v): got %v, want %v", c.in, c.p, got, c.want)
			}
		})
	}
}

func TestQuantileOfDurationsRoundsToTheNanosecond(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		name string
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{"empty input is zero", nil, 0.95, 0},
		{"one value", []time.Duration{3 * ms}, 0.95, 3 * ms},
		{"two values: median", []time.Duration{2 * time.Second, time.Second}, 0.5, 1500 * ms},
		{"odd count: p95", []time.Duration{5 * ms, ms, 3 * ms, 2 * ms, 4 * ms}, 0.95, 4800 * time.Microsecond},
		{"even count: p95", []time.Duration{4 * ms, ms, 3 * ms, 2 * ms}, 0.95, 3850 * time.Microsecond},
		{"a third of a nanosecond rounds down", []time.Duration{0, 1}, 1.0 / 3, 0},
		{"two thirds of a nanosecond rounds up", []time.Duration{0, 1}, 2.0 / 3, 1},
		{"p0 is the minimum", []time.Duration{9, 3, 4}, 0, 3},
		{"p100 is the maximum", []time.Duration{9, 3, 4}, 1, 9},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := stats.Quantile(c.in, c.p); got != c.want {
				t.Errorf("Quantile(%v, %v): got %v, want %v", c.in, c.p, got, c.want)
			}
		})
	}
}

func TestMedianIsTheHalfQuantile(t *testing.T) {
	if got := stats.Median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("even count: got %v, want 2.5", got)
	}
	if got := stats.Median([]time.Duration{3, 1, 2}); got != 2 {
		t.Errorf("odd count: got %v, want 2", got)
	}
	if got := stats.Median[float64](nil); got != 0 {
		t.Errorf("empty input: got %v, want 0", got)
	}
}

func TestQuantileLeavesItsInputUnsorted(t *testing.T) {
	in := []float64{3, 1, 2}
	stats.Quantile(in, 0.5)
	if want := []float64{3, 1, 2}; !slices.Equal(in, want) {
		t.Errorf("got %v, want %v", in, want)
	}
}

func TestQuantileSortedAgreesWithQuantile(t *testing.T) {
	in := []float64{10, 0, 7, 3, 3, 12, 5}
	s := stats.Sorted(in)
	for _, p := range []float64{0, 0.05, 0.25, 0.5, 0.95, 1} {
		if got, want := stats.QuantileSorted(s, p), stats.Quantile(in, p); got != want {
			t.Errorf("p %v: got %v, want %v", p, got, want)
		}
	}
}

func TestQuantileRefusesPOutsideZeroToOne(t *testing.T) {
	for _, p := range []float64{-0.01, 1.01, 95, math.NaN()} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("p %v: got no panic, want one", p)
				}
			}()
			stats.Quantile([]float64{1, 2}, p)
		}()
	}
}

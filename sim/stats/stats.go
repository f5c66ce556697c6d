// Package stats holds the one quantile rule the project uses wherever it
// prints a percentile or a median: the timing model's p5-p50-p95 band,
// the sweep and tune tables, summarize, the sweep chart, the benchmark
// and the e2e suite. A measured p95 and a predicted p95 are then computed
// the same way and can be compared.
//
// The rule is linear interpolation between the closest ranks, type 7 of
// Hyndman and Fan ("Sample quantiles in statistical packages", The
// American Statistician 50(4), 1996), the default of R's quantile() and of
// NumPy's percentile(). For the n values sorted ascending, x[0] to x[n-1],
// and p in [0, 1]:
//
//	h = (n-1)·p
//	Q(p) = x[⌊h⌋] + (h-⌊h⌋)·(x[⌊h⌋+1] - x[⌊h⌋])
//
// So Q(0) is the smallest value, Q(1) the largest, and Q(0.5) the usual
// median (the mean of the middle two for an even n). It was chosen
// because anyone can check a figure with R or NumPy's defaults, it never
// leaves the range of the data, it moves smoothly as p moves (a p95 over
// five runs is not simply the largest), and its median is the one the
// project already printed.
//
// time.Duration values are interpolated and rounded to the nanosecond.
// An empty input has no quantile: the functions return zero, and callers
// that print one check the count first. A p outside [0, 1] (or NaN) is a
// programming error and panics.
package stats

import (
	"fmt"
	"math"
	"slices"
)

// Number is what the functions accept: float64 and time.Duration (and
// other types built on float64 or int64).
type Number interface {
	~float64 | ~int64
}

// Sorted returns a sorted copy of xs, for QuantileSorted.
func Sorted[T Number](xs []T) []T {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s
}

// Quantile is the p-quantile of xs (p in [0, 1]) by the package's rule;
// xs is not modified.
func Quantile[T Number](xs []T, p float64) T {
	return QuantileSorted(Sorted(xs), p)
}

// Median is Quantile(xs, 0.5).
func Median[T Number](xs []T) T { return Quantile(xs, 0.5) }

// QuantileSorted is Quantile for values already sorted ascending, so that
// several quantiles of one sample sort it once.
func QuantileSorted[T Number](sorted []T, p float64) T {
	if !(p >= 0 && p <= 1) {
		panic(fmt.Sprintf("stats: quantile %v: want p in [0, 1]", p))
	}
	n := len(sorted)
	if n == 0 {
		return 0
	}
	h := float64(n-1) * p
	lo := int(math.Floor(h))
	if lo >= n-1 {
		return sorted[n-1]
	}
	frac := h - float64(lo)
	step := frac * float64(sorted[lo+1]-sorted[lo])
	if integral[T]() {
		step = math.Round(step)
	}
	return sorted[lo] + T(step)
}

// integral reports whether T holds whole numbers only (time.Duration),
// whose interpolated values are rounded.
func integral[T Number]() bool {
	half := 0.5
	return T(half) == 0
}

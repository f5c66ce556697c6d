package htmlreport

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/stats"
)

// seriesColors are the sweep chart's series colours, in order.
var seriesColors = []string{"#1f77b4", "#d95f02", "#2ca02c", "#7b3294", "#e7298a", "#8c564b", "#17becf", "#bcbd22", "#525252", "#d62728"}

func seriesColor(i int) string { return seriesColors[i%len(seriesColors)] }

// Geometry of the sweep chart, in px.
const (
	sweepWidth  = 1100.0
	sweepLeft   = 78.0
	sweepRight  = 28.0
	sweepPlotH  = 400.0
	sweepBottom = 56.0
)

func hasBand(p SweepPoint) bool { return p.ModelP5 != 0 || p.ModelP50 != 0 || p.ModelP95 != 0 }

// xTickLabel names a swept value: its point's label, else a duration.
func xTickLabel(v float64, label string) string {
	if label != "" {
		return label
	}
	return time.Duration(v * float64(time.Second)).String()
}

// renderSweep draws the interruption against the swept parameter as an SVG
// document; standalone adds a title line.
func renderSweep(d SweepData, standalone bool) string {
	d.Series = finite(d.Series)
	x0, x1 := sweepLeft, sweepWidth-sweepRight
	var over, main, grid strings.Builder

	y := 8.0
	if standalone && d.Title != "" {
		fmt.Fprintf(&over, `<text class="title" x="8" y="%s">%s</text>`+"\n", num(y+12), esc(d.Title))
		y += 24
	}
	var items []legendItem
	for i, s := range d.Series {
		items = append(items, legendItem{swDotLn, seriesColor(i), s.Label})
	}
	items = append(items,
		legendItem{swDot, "#777777", "one run (repeat)"},
		legendItem{swLine, "#777777", "median of the repeats"},
		legendItem{swBand, "#777777", "model p5–p95"},
		legendItem{swDash, "#777777", "model p50"})
	y += legend(&over, items, x0, y, x1) + 10
	top := y
	bottom := top + sweepPlotH

	// Ranges.
	type xv struct {
		x     float64
		label string
	}
	var xs []xv
	ymax := 0.0
	for _, s := range d.Series {
		for _, p := range s.Points {
			if !slices.ContainsFunc(xs, func(v xv) bool { return v.x == p.X }) {
				xs = append(xs, xv{p.X, p.XLabel})
			}
			for _, m := range p.Measured {
				ymax = max(ymax, m)
			}
			ymax = max(ymax, p.ModelP95, p.ModelP50)
		}
	}
	slices.SortFunc(xs, func(a, b xv) int { return cmp.Compare(a.x, b.x) })
	logX := d.LogX && len(xs) > 0 && xs[0].x > 0
	lo, hi := 0.0, 1.0
	if len(xs) > 0 {
		lo, hi = xs[0].x, xs[len(xs)-1].x
	}
	var xOf func(float64) float64
	if logX {
		llo, lhi := math.Log10(lo), math.Log10(hi)
		if lhi-llo < 1e-9 {
			llo, lhi = llo-0.5, lhi+0.5
		}
		pad := (lhi - llo) * 0.05
		llo, lhi = llo-pad, lhi+pad
		xOf = func(v float64) float64 { return x0 + (math.Log10(v)-llo)/(lhi-llo)*(x1-x0) }
	} else {
		if hi-lo < 1e-12 {
			lo, hi = lo-1, hi+1
		}
		pad := (hi - lo) * 0.05
		lo, hi = lo-pad, hi+pad
		xOf = func(v float64) float64 { return x0 + (v-lo)/(hi-lo)*(x1-x0) }
	}
	if ymax <= 0 {
		ymax = 1
	}
	ystep := niceStep(ymax*1.05, 8)
	ytop := math.Ceil(ymax*1.05/ystep) * ystep
	yOf := func(v float64) float64 { return bottom - v/ytop*(bottom-top) }

	// Axes and grid.
	for _, v := range ticks(0, ytop, ystep) {
		yy := yOf(v)
		fmt.Fprintf(&grid, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`, num(x0), num(yy), num(x1), num(yy), gridColor)
		fmt.Fprintf(&over, `<text x="%s" y="%s" text-anchor="end">%s</text>`+"\n", num(x0-6), num(yy+4), tickLabel(v, ystep))
	}
	lastRight := math.Inf(-1)
	for _, v := range xs {
		xx := xOf(v.x)
		fmt.Fprintf(&grid, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`, num(xx), num(top), num(xx), num(bottom), gridColor)
		fmt.Fprintf(&over, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#555"/>`, num(xx), num(bottom), num(xx), num(bottom+5))
		text := xTickLabel(v.x, v.label)
		w := textWidth(text, 11)
		if xx-w/2 < lastRight+6 {
			continue // would overlap the previous label
		}
		lastRight = xx + w/2
		fmt.Fprintf(&over, `<text x="%s" y="%s" text-anchor="middle">%s</text>`+"\n", num(xx), num(bottom+18), esc(text))
	}
	grid.WriteString("\n")
	fmt.Fprintf(&over, `<rect x="%s" y="%s" width="%s" height="%s" fill="none" stroke="#555"/>`+"\n", num(x0), num(top), num(x1-x0), num(bottom-top))
	xname := d.XName
	if logX {
		xname += " (log scale)"
	}
	fmt.Fprintf(&over, `<text class="axis" x="%s" y="%s" text-anchor="middle">%s</text>`+"\n", num((x0+x1)/2), num(bottom+42), esc(xname))
	fmt.Fprintf(&over, `<text class="axis" transform="translate(%s %s) rotate(-90)" text-anchor="middle">%s</text>`+"\n", num(20), num((top+bottom)/2), esc(d.YName))
	if len(xs) == 0 {
		fmt.Fprintf(&over, `<text x="%s" y="%s" text-anchor="middle">no data</text>`+"\n", num((x0+x1)/2), num((top+bottom)/2))
	}

	// Series: model bands first, then medians, then the runs on top.
	n := len(d.Series)
	for i, s := range d.Series {
		col := seriesColor(i)
		pts := slices.Clone(s.Points)
		slices.SortStableFunc(pts, func(a, b SweepPoint) int { return cmp.Compare(a.X, b.X) })
		fmt.Fprintf(&main, `<g class="series" data-series="%s">`+"\n", esc(s.Label))
		// Bands over each stretch of points that have one.
		for start := 0; start < len(pts); {
			if !hasBand(pts[start]) {
				start++
				continue
			}
			end := start
			for end+1 < len(pts) && hasBand(pts[end+1]) {
				end++
			}
			run := pts[start : end+1]
			var poly, mid strings.Builder
			for _, p := range run {
				fmt.Fprintf(&poly, "%s,%s ", num(xOf(p.X)), num(yOf(p.ModelP95)))
				fmt.Fprintf(&mid, "%s,%s ", num(xOf(p.X)), num(yOf(p.ModelP50)))
			}
			for j := len(run) - 1; j >= 0; j-- {
				fmt.Fprintf(&poly, "%s,%s ", num(xOf(run[j].X)), num(yOf(run[j].ModelP5)))
			}
			if len(run) == 1 {
				// A lone point: a short box instead of a polygon of no width.
				p := run[0]
				fmt.Fprintf(&main, `<rect class="band" x="%s" y="%s" width="12" height="%s" fill="%s" fill-opacity="0.16" stroke="%s" stroke-opacity="0.35" stroke-width="0.6"/>`+"\n",
					num(xOf(p.X)-6), num(yOf(p.ModelP95)), num(max(yOf(p.ModelP5)-yOf(p.ModelP95), 1)), col, col)
				fmt.Fprintf(&main, `<line class="p50" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1.5" stroke-dasharray="5 3"/>`+"\n",
					num(xOf(p.X)-6), num(yOf(p.ModelP50)), num(xOf(p.X)+6), num(yOf(p.ModelP50)), col)
			} else {
				fmt.Fprintf(&main, `<polygon class="band" points="%s" fill="%s" fill-opacity="0.16" stroke="%s" stroke-opacity="0.35" stroke-width="0.6"/>`+"\n",
					strings.TrimSpace(poly.String()), col, col)
				fmt.Fprintf(&main, `<polyline class="p50" points="%s" fill="none" stroke="%s" stroke-width="1.5" stroke-dasharray="5 3"/>`+"\n",
					strings.TrimSpace(mid.String()), col)
			}
			start = end + 1
		}
		var med strings.Builder
		for _, p := range pts {
			if len(p.Measured) > 0 {
				fmt.Fprintf(&med, "%s,%s ", num(xOf(p.X)), num(yOf(stats.Median(p.Measured))))
			}
		}
		if med.Len() > 0 {
			fmt.Fprintf(&main, `<polyline class="median" points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.TrimSpace(med.String()), col)
		}
		// Each series a little to the side of the others, so dots at the
		// same x stay apart.
		off := (float64(i) - float64(n-1)/2) * 6
		for _, p := range pts {
			for j, m := range p.Measured {
				jit := float64(j%5-2) * 1.5
				fmt.Fprintf(&main, `<circle class="dot" cx="%s" cy="%s" r="3.5" fill="%s" fill-opacity="0.8" stroke="#fff" stroke-width="0.6"><title>%s</title></circle>`,
					num(xOf(p.X)+off+jit), num(yOf(m)), col, esc(fmt.Sprintf("%s, %s %s: %.3fs", s.Label, d.XName, xTickLabel(p.X, p.XLabel), m)))
			}
			main.WriteString("\n")
		}
		main.WriteString("</g>\n")
	}

	height := math.Ceil(bottom + sweepBottom)
	var b strings.Builder
	label := d.Title
	if label == "" {
		label = d.YName + " against " + d.XName
	}
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="sw" width="%s" height="%s" viewBox="0 0 %s %s" role="img" aria-label="%s">`+"\n",
		num(sweepWidth), num(height), num(sweepWidth), num(height), esc(label))
	fmt.Fprintf(&b, "<title>%s</title>\n", esc(label))
	b.WriteString(`<style>
.sw text{font:11px ` + fontStack + `;fill:#222}
.sw .title{font-size:14px;font-weight:bold}
.sw .axis{font-size:12px;font-weight:bold}
</style>
`)
	fmt.Fprintf(&b, `<rect width="%s" height="%s" fill="#fff"/>`+"\n", num(sweepWidth), num(height))
	b.WriteString(grid.String())
	b.WriteString(main.String())
	b.WriteString(over.String())
	b.WriteString("</svg>\n")
	return b.String()
}

// finite drops the values a chart cannot place (NaN, ±Inf, negative
// interruptions) and the points left without a position.
func finite(series []SweepSeries) []SweepSeries {
	ok := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	out := make([]SweepSeries, 0, len(series))
	for _, s := range series {
		c := SweepSeries{Label: s.Label}
		for _, p := range s.Points {
			if !ok(p.X) {
				continue
			}
			q := p
			q.Measured = nil
			for _, m := range p.Measured {
				if ok(m) && m >= 0 {
					q.Measured = append(q.Measured, m)
				}
			}
			if !ok(p.ModelP5) || !ok(p.ModelP50) || !ok(p.ModelP95) {
				q.ModelP5, q.ModelP50, q.ModelP95 = 0, 0, 0
			}
			c.Points = append(c.Points, q)
		}
		out = append(out, c)
	}
	return out
}

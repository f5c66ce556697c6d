package htmlreport

import (
	"fmt"
	"html"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// fontStack is the fonts the charts and the page ask for; all are local,
// nothing is fetched.
const fontStack = `"DejaVu Sans",Helvetica,Arial,sans-serif`

// esc escapes text for HTML and XML alike: invalid UTF-8 and characters XML
// 1.0 forbids (control characters from error messages) become U+FFFD.
func esc(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return r
		case r < 0x20 || r == 0xFFFE || r == 0xFFFF:
			return '\uFFFD'
		}
		return r
	}, s)
	return html.EscapeString(s)
}

// num formats a coordinate rounded to 0.1 px, the resolution that keeps
// charts with thousands of marks small.
func num(v float64) string {
	v = math.Round(v*10) / 10
	if v == 0 {
		return "0" // not "-0"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// textWidth estimates the width of s in px at font size size: the
// average advance of DejaVu Sans, a little generous so labels do not touch.
func textWidth(s string, size float64) float64 {
	return float64(utf8.RuneCountInString(s)) * size * 0.62
}

// secs formats a time or duration in seconds with milliseconds, as the
// text report does.
func secs(d time.Duration) string { return fmt.Sprintf("%.3fs", d.Seconds()) }

// signed formats a duration with its sign.
func signed(d time.Duration) string {
	if d < 0 {
		return secs(d)
	}
	return "+" + secs(d)
}

// niceStep returns a step of 1, 2 or 5 times a power of ten that cuts span
// into about n parts.
func niceStep(span float64, n int) float64 {
	if span <= 0 || n < 1 {
		return 1
	}
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	switch norm := raw / mag; {
	case norm <= 1:
		return mag
	case norm <= 2:
		return 2 * mag
	case norm <= 5:
		return 5 * mag
	}
	return 10 * mag
}

// ticks returns the multiples of step in [lo, hi].
func ticks(lo, hi, step float64) []float64 {
	var out []float64
	for v := math.Ceil(lo/step-1e-9) * step; v <= hi+step*1e-9; v += step {
		t := math.Round(v/step) * step
		if t == 0 {
			t = 0 // not -0
		}
		out = append(out, t)
	}
	return out
}

// tickLabel formats a tick value with as many decimals as step needs.
func tickLabel(v, step float64) string {
	dec := 0
	for s := step; s < 1-1e-9 && dec < 6; s *= 10 {
		dec++
	}
	return strconv.FormatFloat(v, 'f', dec, 64)
}

// label is a text placed next to an x position, in the first row where it
// overlaps no other label.
type label struct {
	x     float64
	text  string
	class string
	color string // fill, "" for the default
	size  float64
	// Set by place.
	row   int
	left  float64 // the text's left edge
	right bool    // anchored at its end, left of x
}

// place assigns rows to labels so that none overlap, each starting just
// right of its x, or ending just left of it when it would pass maxX. It
// returns the number of rows used.
func place(ls []*label, maxX float64) int {
	sort.SliceStable(ls, func(i, j int) bool { return ls[i].x < ls[j].x })
	var ends []float64 // right edge of the last label in each row
	for _, l := range ls {
		size := l.size
		if size == 0 {
			size = 11
		}
		w := textWidth(l.text, size)
		l.left, l.right = l.x+3, false
		if l.left+w > maxX {
			l.left, l.right = l.x-3-w, true
		}
		l.row = -1
		for r, end := range ends {
			if l.left >= end+6 {
				l.row = r
				break
			}
		}
		if l.row < 0 {
			l.row = len(ends)
			ends = append(ends, 0)
		}
		ends[l.row] = l.left + w
	}
	return len(ends)
}

// draw writes a placed label with its baseline at y.
func (l *label) draw(b *strings.Builder, y float64) {
	anchor, x := "", l.x+3
	if l.right {
		anchor, x = ` text-anchor="end"`, l.x-3
	}
	fill := ""
	if l.color != "" {
		fill = ` fill="` + l.color + `"`
	}
	class := "lbl"
	if l.class != "" {
		class += " " + l.class
	}
	fmt.Fprintf(b, `<text class="%s" x="%s" y="%s"%s%s>%s</text>`+"\n", class, num(x), num(y), anchor, fill, esc(l.text))
}

// Legend swatch kinds.
const (
	swRect  = "rect"  // a filled box
	swHatch = "hatch" // a box filled with a pattern (color is its url)
	swLine  = "line"  // a solid line
	swDash  = "dash"  // a dashed line
	swDot   = "dot"   // a circle
	swMark  = "mark"  // a small square, as the operations are drawn
	swBand  = "band"  // a translucent box
	swDotLn = "dotln" // a circle on a line: a series
	swLight = "light" // a box, lighter: an inferred state
	swTick  = "tick"  // a thin upright mark
)

type legendItem struct {
	kind, color, label string
}

// legend draws items in rows from (x, y) wrapping at maxX and returns the
// height it took.
func legend(b *strings.Builder, items []legendItem, x, y, maxX float64) float64 {
	const rowH, sw = 18.0, 18.0
	cx, cy := x, y
	for _, it := range items {
		w := sw + 5 + textWidth(it.label, 11) + 18
		if cx+w > maxX && cx > x {
			cx, cy = x, cy+rowH
		}
		mid := cy + rowH/2
		switch it.kind {
		case swRect:
			fmt.Fprintf(b, `<rect x="%s" y="%s" width="%s" height="10" fill="%s"/>`, num(cx), num(mid-5), num(sw), it.color)
		case swHatch:
			fmt.Fprintf(b, `<rect x="%s" y="%s" width="%s" height="10" fill="%s" stroke="#8a8a8a" stroke-width="0.5"/>`, num(cx), num(mid-5), num(sw), it.color)
		case swLight:
			fmt.Fprintf(b, `<rect x="%s" y="%s" width="%s" height="10" fill="%s" fill-opacity="0.4"/>`, num(cx), num(mid-5), num(sw), it.color)
		case swTick:
			fmt.Fprintf(b, `<rect x="%s" y="%s" width="2" height="10" fill="%s"/>`, num(cx+sw/2-1), num(mid-5), it.color)
		case swBand:
			fmt.Fprintf(b, `<rect x="%s" y="%s" width="%s" height="12" fill="%s" fill-opacity="0.18" stroke="%s" stroke-opacity="0.4" stroke-width="0.5"/>`, num(cx), num(mid-6), num(sw), it.color, it.color)
		case swLine:
			fmt.Fprintf(b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="2"/>`, num(cx), num(mid), num(cx+sw), num(mid), it.color)
		case swDash:
			fmt.Fprintf(b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1.5" stroke-dasharray="4 3"/>`, num(cx), num(mid), num(cx+sw), num(mid), it.color)
		case swDot:
			fmt.Fprintf(b, `<circle cx="%s" cy="%s" r="4" fill="%s"/>`, num(cx+sw/2), num(mid), it.color)
		case swMark:
			fmt.Fprintf(b, `<rect x="%s" y="%s" width="4" height="4" fill="%s"/>`, num(cx+sw/2-2), num(mid-2), it.color)
		case swDotLn:
			fmt.Fprintf(b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="2"/><circle cx="%s" cy="%s" r="3.5" fill="%s"/>`,
				num(cx), num(mid), num(cx+sw), num(mid), it.color, num(cx+sw/2), num(mid), it.color)
		}
		fmt.Fprintf(b, `<text x="%s" y="%s">%s</text>`+"\n", num(cx+sw+5), num(mid+4), esc(it.label))
		cx += w
	}
	return cy + rowH - y
}

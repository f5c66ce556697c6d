package htmlreport

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/timeline"
	"github.com/redisha-sim/redisha-sim/sim/verdict"
)

// Colours of the run chart. The screenshot tests look for upColor and
// downColor.
const (
	upColor        = "#2ca02c"
	downColor      = "#d62728"
	transColor     = "#f2a900"
	otherColor     = "#a0a0a0"
	masterColor    = "#5b3a9e"
	slaveColor     = "#c9bde6"
	okColor        = "#1f77b4"
	failColor      = "#d62728"
	infoColor      = "#ff7f0e"
	faultColor     = "#7f0000"
	phaseColor     = "#6b6b6b"
	shadeColor     = "#d62728"
	twoMasterColor = "#9467bd"
	minorColor     = "#9a9a9a"
	laneBg         = "#f5f6f8"
	gridColor      = "#e3e3e3"
	hatchBg        = "#e4e4e4"
	noneColor      = "#eeeeee"
	progressColor  = "#636363"
)

// Geometry of the run chart, in px.
const (
	runWidth  = 1320.0
	runGutter = 170.0 // lane labels left of the plot
	runRight  = 24.0
	rowH      = 18.0 // a proxy, role or Sentinel row
	labelRowH = 14.0
	headerH   = 20.0 // a group's title
	opsH      = 78.0 // an operations lane
)

// sentinelStyle is how a Sentinel event is drawn: important events get a
// coloured dot and a label, the rest a grey tick.
var sentinelStyle = map[string]struct {
	color string
	label bool
}{
	"+sdown":                             {"#e6550d", true},
	"-sdown":                             {"#238b45", true},
	"+odown":                             {"#a50f15", true},
	"-odown":                             {"#41ab5d", true},
	"+try-failover":                      {progressColor, false},
	"+elected-leader":                    {progressColor, false},
	"+selected-slave":                    {progressColor, false},
	"+failover-state-send-slaveof-noone": {progressColor, false},
	"+failover-state-reconf-slaves":      {progressColor, false},
	"+promoted-slave":                    {masterColor, true},
	"+switch-master":                     {"#08519c", true},
	"+convert-to-slave":                  {"#8c6bb1", true},
	"+failover-end":                      {"#006d2c", true},
	"-failover-abort-not-elected":        {downColor, true},
	"-failover-abort-no-good-slave":      {downColor, true},
	"-failover-abort-slave-timeout":      {downColor, true},
	"+tilt":                              {"#000000", true},
	"-tilt":                              {"#000000", true},
}

// legendKeys are the legend's entries in order; an entry is shown when
// something drawn used its key.
var legendKeys = []struct {
	key  string
	item legendItem
}{
	{"kind:up", legendItem{swRect, upColor, "proxy: UP"}},
	{"kind:trans", legendItem{swRect, transColor, "going up/down (DOWN 1/2, UP 1/3)"}},
	{"kind:down", legendItem{swRect, downColor, "proxy: DOWN"}},
	{"kind:other", legendItem{swRect, otherColor, "MAINT, DRAIN, other"}},
	{"inferred", legendItem{swLight, upColor, "inferred: before the first change reported"}},
	{"kind:none", legendItem{swRect, noneColor, "no change reported"}},
	{"kind:" + timeline.RoleMaster, legendItem{swRect, masterColor, "role: master"}},
	{"kind:" + timeline.RoleReplica, legendItem{swRect, slaveColor, "role: slave"}},
	{"kind:" + timeline.RoleUnreachable, legendItem{swHatch, "url(#rt-hatch)", "unreachable"}},
	{"op:" + timeline.ResultOK, legendItem{swMark, okColor, "op ok"}},
	{"op:" + timeline.ResultFail, legendItem{swMark, failColor, "op failed"}},
	{"op:" + timeline.ResultInfo, legendItem{swMark, infoColor, "op indeterminate"}},
	{"sentinel:+sdown", legendItem{swDot, sentinelStyle["+sdown"].color, "+sdown"}},
	{"sentinel:-sdown", legendItem{swDot, sentinelStyle["-sdown"].color, "-sdown"}},
	{"sentinel:+odown", legendItem{swDot, sentinelStyle["+odown"].color, "+odown"}},
	{"sentinel:-odown", legendItem{swDot, sentinelStyle["-odown"].color, "-odown"}},
	{"sentinel:+promoted-slave", legendItem{swDot, sentinelStyle["+promoted-slave"].color, "+promoted-slave"}},
	{"sentinel:+switch-master", legendItem{swDot, sentinelStyle["+switch-master"].color, "+switch-master"}},
	{"sentinel:+convert-to-slave", legendItem{swDot, sentinelStyle["+convert-to-slave"].color, "+convert-to-slave"}},
	{"sentinel:+failover-end", legendItem{swDot, sentinelStyle["+failover-end"].color, "+failover-end"}},
	{"sentinel:abort", legendItem{swDot, downColor, "failover aborted"}},
	{"sentinel:tilt", legendItem{swDot, "#000000", "tilt"}},
	{"sentinel:progress", legendItem{swTick, progressColor, "failover step"}},
	{"sentinel:minor", legendItem{swTick, minorColor, "other Sentinel event"}},
	{"fault", legendItem{swDash, faultColor, "fault"}},
	{"phase", legendItem{swDash, phaseColor, "failover phase"}},
	{"interruption", legendItem{swBand, shadeColor, "write interruption"}},
	{"twomaster", legendItem{swBand, twoMasterColor, "two-master window"}},
}

// sentinelKey is an event's legend key.
func sentinelKey(name string) string {
	switch {
	case strings.HasPrefix(name, "-failover-abort"):
		return "sentinel:abort"
	case name == "+tilt" || name == "-tilt":
		return "sentinel:tilt"
	}
	return "sentinel:" + name
}

// interval is a bar in a state lane.
type interval struct {
	from, to time.Duration
	state    string // the text drawn in the bar
	kind     string // picks the colour: up, down, trans, other, none; master, slave, unreachable
	title    string // the tooltip
	// inferred marks a state the run did not record but implied; it is
	// drawn lighter.
	inferred bool
}

// stateRow is one lane of bars.
type stateRow struct {
	label string
	ivs   []interval
}

// proxyKind sorts a proxy state into a colour: "UP" is up, "DOWN" down,
// "UP 1/3" (going down) and "DOWN 1/2" (going up) transitional, "MAINT",
// "DRAIN", "NOLB" other. Without a state the event's name decides.
func proxyKind(state, name string) string {
	s := strings.TrimSpace(state)
	f := strings.Fields(s)
	switch {
	case s == "" && name == "server-up":
		return "up"
	case s == "" && name == "server-down":
		return "down"
	case len(f) == 2 && (f[0] == "UP" || f[0] == "DOWN") && strings.Contains(f[1], "/"):
		return "trans"
	case s == "UP" || strings.EqualFold(s, "no check"):
		return "up"
	case s == "DOWN":
		return "down"
	}
	return "other"
}

func kindColor(kind string) string {
	switch kind {
	case "up":
		return upColor
	case "down":
		return downColor
	case "trans":
		return transColor
	case timeline.RoleMaster:
		return masterColor
	case timeline.RoleReplica:
		return slaveColor
	case timeline.RoleUnreachable:
		return "url(#rt-hatch)"
	case "none":
		return noneColor
	}
	return otherColor
}

// darkKind tells whether a bar's text should be white.
func darkKind(kind string) bool {
	return kind == "up" || kind == "down" || kind == timeline.RoleMaster
}

// appendState adds a state starting at t to the row, merging it with the
// previous one when the state did not change.
func (r *stateRow) appendState(t time.Duration, iv interval) {
	if n := len(r.ivs); n > 0 {
		last := &r.ivs[n-1]
		if last.state == iv.state && last.kind == iv.kind {
			return
		}
		last.to = t
		if last.to <= last.from {
			r.ivs = r.ivs[:n-1]
		}
	}
	iv.from = t
	r.ivs = append(r.ivs, iv)
}

// close ends the row's last state at end.
func (r *stateRow) close(end time.Duration) {
	if n := len(r.ivs); n > 0 {
		r.ivs[n-1].to = max(end, r.ivs[n-1].from)
	}
}

// nodeOrder sorts node names: the timeline's nodes in order, then the rest
// by name.
func nodeOrder(tl *timeline.Timeline) func(a, b string) int {
	idx := map[string]int{}
	for i, n := range tl.Nodes {
		idx[n] = i + 1
	}
	return func(a, b string) int {
		ia, ib := idx[a], idx[b]
		switch {
		case ia > 0 && ib > 0:
			return ia - ib
		case ia > 0:
			return -1
		case ib > 0:
			return 1
		}
		return naturalCmp(a, b)
	}
}

// naturalCmp compares names with a numeric suffix by number: sentinel2
// before sentinel10.
func naturalCmp(a, b string) int {
	split := func(s string) (string, int, bool) {
		i := len(s)
		for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
			i--
		}
		n, err := strconv.Atoi(s[i:])
		return s[:i], n, err == nil
	}
	pa, na, oka := split(a)
	pb, nb, okb := split(b)
	if pa == pb && oka && okb && na != nb {
		return na - nb
	}
	return strings.Compare(a, b)
}

// snapshotWindow is how early a proxy event is taken for the proxy's first
// report of a server's state (a proxy in a container is polled from the
// start) rather than for a change.
const snapshotWindow = time.Second

// proxyRows builds a row of bars per (port, node) from the proxy events.
//
// A proxy that reports only changes (the in-process one) leaves a server's
// state before its first change unknown: when that change is a side change
// (server-up, server-down) later than snapshotWindow, the row starts with
// the other side, marked inferred. A node with no event on a port that has
// events gets a row saying no change was recorded.
func proxyRows(tl *timeline.Timeline, end time.Duration) []stateRow {
	type key struct{ port, node string }
	rows := map[key]*stateRow{}
	first := map[key]timeline.Event{}
	var keys []key
	for _, e := range tl.Events {
		if e.Kind != timeline.KindProxy {
			continue
		}
		k := key{e.Port, e.Node}
		r, ok := rows[k]
		if !ok {
			r = &stateRow{}
			rows[k], first[k] = r, e
			keys = append(keys, k)
		}
		state := e.State
		if state == "" {
			state = strings.TrimPrefix(e.Name, "server-")
		}
		r.appendState(e.T, interval{state: state, kind: proxyKind(e.State, e.Name),
			title: fmt.Sprintf("%s port, %s: %s (%s)", e.Port, e.Node, state, e.Name)})
	}
	for k, e := range first {
		r := rows[k]
		var prev, kind string
		switch e.Name {
		case "server-down":
			prev, kind = "UP", "up"
		case "server-up":
			prev, kind = "DOWN", "down"
		}
		if prev == "" || e.T < snapshotWindow || len(r.ivs) == 0 {
			continue
		}
		iv := interval{to: e.T, state: prev, kind: kind, inferred: true,
			title: fmt.Sprintf("%s port, %s: %s, inferred: the first change the proxy reported was %s", k.port, k.node, prev, e.Name)}
		r.ivs = append([]interval{iv}, r.ivs...)
	}
	ports := map[string]bool{}
	for _, k := range keys {
		ports[k.port] = true
	}
	for _, port := range sortedKeys(ports) {
		for _, n := range tl.Nodes {
			k := key{port, n}
			if _, ok := rows[k]; ok {
				continue
			}
			rows[k] = &stateRow{ivs: []interval{{to: end, state: "no change reported", kind: "none",
				title: fmt.Sprintf("%s port, %s: the proxy reported no change of this server", port, n)}}}
			keys = append(keys, k)
		}
	}
	portRank := func(p string) int {
		switch p {
		case timeline.PortMaster:
			return 0
		case timeline.PortReplica:
			return 1
		}
		return 2
	}
	byNode := nodeOrder(tl)
	slices.SortStableFunc(keys, func(a, b key) int {
		if ra, rb := portRank(a.port), portRank(b.port); ra != rb {
			return ra - rb
		}
		if a.port != b.port {
			return strings.Compare(a.port, b.port)
		}
		return byNode(a.node, b.node)
	})
	out := make([]stateRow, 0, len(keys))
	for _, k := range keys {
		r := rows[k]
		node := k.node
		if node == "" {
			node = "?"
		}
		r.label = k.port + " · " + node
		r.close(end)
		out = append(out, *r)
	}
	return out
}

// roleRows builds a row of bars per node from the role events.
func roleRows(tl *timeline.Timeline, end time.Duration) []stateRow {
	rows := map[string]*stateRow{}
	var nodes []string
	for _, e := range tl.Events {
		if e.Kind != timeline.KindRole || e.Node == "" {
			continue
		}
		r, ok := rows[e.Node]
		if !ok {
			r = &stateRow{label: e.Node}
			rows[e.Node] = r
			nodes = append(nodes, e.Node)
		}
		state := e.Role
		if e.Role == timeline.RoleReplica && e.Master != "" {
			state = "slave of " + e.Master
		}
		r.appendState(e.T, interval{state: state, kind: e.Role, title: e.Node + ": " + state})
	}
	slices.SortStableFunc(nodes, nodeOrder(tl))
	out := make([]stateRow, 0, len(nodes))
	for _, n := range nodes {
		r := rows[n]
		r.close(end)
		out = append(out, *r)
	}
	return out
}

// runChart draws the timeline of a run: lanes sharing one time axis.
type runChart struct {
	tl     *timeline.Timeline
	r      *verdict.Report
	t0, t1 time.Duration
	x0, x1 float64
	// Layers, drawn in this order; text in bars goes on top of the lines
	// that cross the chart.
	rows, shade, grid, main, over, top strings.Builder
	// used names what was drawn, for the legend.
	used map[string]bool
}

func (c *runChart) x(t time.Duration) float64 {
	return c.x0 + float64(t-c.t0)/float64(c.t1-c.t0)*(c.x1-c.x0)
}

func (c *runChart) in(t time.Duration) bool { return t >= c.t0 && t <= c.t1 }

func (c *runChart) use(what string) { c.used[what] = true }

// clip returns the part of [from, to] in view as x coordinates, at least
// 1 px wide so that short states stay visible.
func (c *runChart) clip(from, to time.Duration) (x, w float64, ok bool) {
	from, to = max(from, c.t0), min(to, c.t1)
	if to < from || (to == from && from != c.t0 && from != c.t1) {
		return 0, 0, false
	}
	x = c.x(from)
	return x, max(c.x(to)-x, 1), true
}

// header draws a group's title and returns the y below it.
func (c *runChart) header(y float64, title, sub string) float64 {
	fmt.Fprintf(&c.rows, `<line x1="8" y1="%s" x2="%s" y2="%s" stroke="#cfcfcf"/>`+"\n", num(y+0.5), num(runWidth-8), num(y+0.5))
	fmt.Fprintf(&c.rows, `<text class="h" x="8" y="%s">%s</text>`, num(y+14), esc(title))
	if sub != "" {
		fmt.Fprintf(&c.rows, `<text class="sub" x="%s" y="%s">%s</text>`, num(8+textWidth(title, 12)+8), num(y+14), esc(sub))
	}
	c.rows.WriteString("\n")
	return y + headerH
}

// rowLabel draws a lane's label right-aligned in the gutter and its
// background band.
func (c *runChart) rowLabel(y, h float64, text string, i int) {
	if i%2 == 0 {
		fmt.Fprintf(&c.rows, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s"/>`, num(c.x0), num(y), num(c.x1-c.x0), num(h), laneBg)
	}
	fmt.Fprintf(&c.rows, `<text x="%s" y="%s" text-anchor="end">%s</text>`+"\n", num(c.x0-8), num(y+h/2+4), esc(text))
}

// stateLane draws rows of bars from y and returns the y below them.
func (c *runChart) stateLane(y float64, rows []stateRow, class string) float64 {
	fmt.Fprintf(&c.main, `<g class="%s">`+"\n", class)
	for i, r := range rows {
		ry := y + float64(i)*rowH
		c.rowLabel(ry, rowH, r.label, i)
		for _, iv := range r.ivs {
			x, w, ok := c.clip(iv.from, iv.to)
			if !ok {
				continue
			}
			fill, bar, texts := kindColor(iv.kind), "bar", []string{iv.state}
			c.use("kind:" + iv.kind)
			opacity := ""
			if iv.inferred {
				bar, opacity, texts = "bar inferred", ` fill-opacity="0.4"`, []string{iv.state + " (inferred)", iv.state}
				c.use("inferred")
			}
			fmt.Fprintf(&c.main, `<rect class="%s" x="%s" y="%s" width="%s" height="%s" fill="%s"%s><title>%s</title></rect>`+"\n",
				bar, num(x), num(ry+2), num(w), num(rowH-4), fill, opacity,
				esc(fmt.Sprintf("%s, %s to %s", iv.title, secs(iv.from), secs(iv.to))))
			// The text is outlined in the bar's colour, so that lines
			// crossing the chart do not run through it.
			tc, halo := "in", fill
			if !darkKind(iv.kind) || iv.inferred {
				tc = "ind"
			}
			switch {
			case iv.kind == timeline.RoleUnreachable:
				halo = hatchBg
			case iv.inferred:
				halo = "none"
			}
			for _, t := range texts {
				if w >= textWidth(t, 10)+8 {
					fmt.Fprintf(&c.top, `<text class="%s" x="%s" y="%s" text-anchor="middle" stroke="%s">%s</text>`+"\n", tc, num(x+w/2), num(ry+rowH/2+3.5), halo, esc(t))
					break
				}
			}
		}
	}
	c.main.WriteString("</g>\n")
	return y + float64(len(rows))*rowH
}

// faultLane draws the labels of the faults and of the failover's phases;
// their lines cross the whole chart.
func (c *runChart) faultLane(y float64) float64 {
	var ls []*label
	for _, e := range c.tl.Events {
		if e.Kind != timeline.KindFault || !c.in(e.T) {
			continue
		}
		text := strings.TrimSpace(e.Name + " " + e.Target)
		if e.Err != "" {
			text += " (failed)"
		}
		ls = append(ls, &label{x: c.x(e.T), text: text, class: "fl", color: faultColor})
	}
	for _, p := range c.r.Phases {
		if p.Name == "fault" || !p.Found || !c.in(p.At) {
			continue
		}
		ls = append(ls, &label{x: c.x(p.At), text: p.Name + " " + signed(p.Since), color: "#333333"})
	}
	if len(ls) == 0 {
		fmt.Fprintf(&c.main, `<text class="sub" x="%s" y="%s">no fault in this run</text>`+"\n", num(c.x0+4), num(y+12))
		return y + labelRowH + 4
	}
	n := place(ls, c.x1)
	for _, l := range ls {
		l.draw(&c.over, y+float64(l.row)*labelRowH+11)
	}
	return y + float64(n)*labelRowH + 4
}

// sentinelLane draws a row of markers per Sentinel, with the important
// events labelled above them.
func (c *runChart) sentinelLane(y float64) float64 {
	bySource := map[string][]timeline.Event{}
	var sources []string
	for _, e := range c.tl.Events {
		if e.Kind != timeline.KindSentinel || !c.in(e.T) {
			continue
		}
		src := e.Source
		if src == "" {
			src = "sentinel"
		}
		if _, ok := bySource[src]; !ok {
			sources = append(sources, src)
		}
		bySource[src] = append(bySource[src], e)
	}
	slices.SortFunc(sources, naturalCmp)

	// Label each important event once: the same event from the other
	// Sentinels within 2s is not labelled again.
	type key struct{ name, what string }
	last := map[key]time.Duration{}
	var ls []*label
	for _, e := range c.tl.Events {
		st, ok := sentinelStyle[e.Name]
		if e.Kind != timeline.KindSentinel || !ok || !st.label || !c.in(e.T) {
			continue
		}
		what := sentinelWhat(e)
		k := key{e.Name, what}
		if t, seen := last[k]; seen && e.T-t < 2*time.Second {
			continue
		}
		last[k] = e.T
		ls = append(ls, &label{x: c.x(e.T), text: strings.TrimSpace(e.Name + " " + what), color: st.color, size: 10, class: "small"})
	}
	n := place(ls, c.x1)
	rowsY := y + float64(n)*labelRowH + 2
	for _, l := range ls {
		ly := y + float64(l.row)*labelRowH + 11
		fmt.Fprintf(&c.grid, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-opacity="0.35"/>`+"\n",
			num(l.x), num(ly-9), num(l.x), num(rowsY+float64(len(sources))*rowH), l.color)
		l.draw(&c.over, ly)
	}
	for i, src := range sources {
		ry := rowsY + float64(i)*rowH
		c.rowLabel(ry, rowH, src, i)
		mid := ry + rowH/2
		// Minor events first, so the important ones are drawn over them.
		for _, important := range []bool{false, true} {
			for _, e := range bySource[src] {
				st, ok := sentinelStyle[e.Name]
				if (ok && st.label) != important {
					continue
				}
				tip := esc(fmt.Sprintf("%s %s %s: %s", secs(e.T), src, e.Name, e.Detail))
				x := c.x(e.T)
				switch {
				case important:
					c.use(sentinelKey(e.Name))
				case ok:
					c.use("sentinel:progress")
				default:
					c.use("sentinel:minor")
				}
				switch {
				case important:
					fmt.Fprintf(&c.main, `<circle cx="%s" cy="%s" r="4" fill="%s" stroke="#fff" stroke-width="0.8"><title>%s</title></circle>`+"\n", num(x), num(mid), st.color, tip)
				case ok:
					fmt.Fprintf(&c.main, `<rect x="%s" y="%s" width="2" height="10" fill="%s"><title>%s</title></rect>`+"\n", num(x-1), num(mid-5), st.color, tip)
				default:
					fmt.Fprintf(&c.main, `<rect x="%s" y="%s" width="1" height="8" fill="%s"><title>%s</title></rect>`+"\n", num(x-0.5), num(mid-4), minorColor, tip)
				}
			}
		}
	}
	return rowsY + float64(len(sources))*rowH
}

// sentinelWhat names what a Sentinel event is about: the new master of a
// +switch-master, else the node, prefixed with its type unless a master.
func sentinelWhat(e timeline.Event) string {
	if e.Name == "+switch-master" {
		if e.Node == "" {
			return ""
		}
		return "→ " + e.Node
	}
	typ := ""
	if f := strings.Fields(e.Detail); len(f) > 0 && f[0] != "master" {
		typ = f[0]
	}
	return strings.TrimSpace(typ + " " + e.Node)
}

// opsLane draws the operations of kind as a latency scatter (log scale):
// acknowledged ones merged per pixel, every failed and indeterminate one on
// top.
func (c *runChart) opsLane(y float64, kind, title string, i int) float64 {
	h := opsH
	c.rowLabel(y, h, "", i)
	fmt.Fprintf(&c.rows, `<text x="8" y="%s">%s</text>`+"\n", num(y+h/2+4), esc(title))
	maxLat := 10 * time.Millisecond
	for _, op := range c.tl.Ops {
		if op.Kind == kind && c.in(op.End) {
			maxLat = max(maxLat, op.End-op.Start)
		}
	}
	const loMS = 0.1
	hiMS := math.Pow(10, math.Ceil(math.Log10(float64(maxLat)/1e6)-1e-9))
	lo, hi := math.Log10(loMS), math.Log10(hiMS)
	top, bottom := y+4, y+h-4
	yOf := func(lat time.Duration) float64 {
		ms := max(float64(lat)/1e6, loMS)
		return bottom - (math.Log10(ms)-lo)/(hi-lo)*(bottom-top)
	}
	decades := int(math.Round(hi - lo))
	every := 1
	if decades > 5 {
		every = 2
	}
	for d := 0; d <= decades; d += every {
		ms := loMS * math.Pow(10, float64(d))
		ty := bottom - float64(d)/float64(decades)*(bottom-top)
		fmt.Fprintf(&c.grid, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-dasharray="2 3"/>`+"\n", num(c.x0), num(ty), num(c.x1), num(ty), gridColor)
		fmt.Fprintf(&c.rows, `<text class="small" x="%s" y="%s" text-anchor="end">%s</text>`+"\n", num(c.x0-6), num(ty+3.5), latencyLabel(ms))
	}
	// One path per result keeps thousands of marks small; each mark moves
	// relative to the one before (short numbers).
	type cell struct{ x, y int }
	type path struct {
		b      strings.Builder
		px, py float64 // the previous mark's corner, rounded
		seen   map[cell]bool
	}
	paths := map[string]*path{}
	size := map[string]float64{timeline.ResultOK: 2, timeline.ResultFail: 3, timeline.ResultInfo: 3}
	for _, op := range c.tl.Ops {
		if op.Kind != kind || !c.in(op.End) {
			continue
		}
		res := op.Result
		if res != timeline.ResultOK && res != timeline.ResultFail {
			res = timeline.ResultInfo
		}
		x, yy := c.x(op.End), yOf(op.End-op.Start)
		// Acknowledged operations merge per pixel; the others only when
		// they would be drawn on the very same spot.
		k := cell{int(math.Round(x * 10)), int(math.Round(yy * 10))}
		if res == timeline.ResultOK {
			k = cell{int(math.Round(x)), int(math.Round(yy))}
		}
		c.use("op:" + res)
		p := paths[res]
		if p == nil {
			p = &path{seen: map[cell]bool{}}
			paths[res] = p
		}
		if p.seen[k] {
			continue
		}
		p.seen[k] = true
		s := size[res]
		cx, cy := math.Round((x-s/2)*10)/10, math.Round((yy-s/2)*10)/10
		if p.b.Len() == 0 {
			fmt.Fprintf(&p.b, "M%s %s", num(cx), num(cy))
		} else {
			fmt.Fprintf(&p.b, "m%s %s", num(cx-p.px), num(cy-p.py))
		}
		fmt.Fprintf(&p.b, "h%sv%sh-%sz", num(s), num(s), num(s))
		p.px, p.py = cx, cy
	}
	fmt.Fprintf(&c.main, `<g class="ops-%s">`+"\n", kind)
	for _, res := range []string{timeline.ResultOK, timeline.ResultInfo, timeline.ResultFail} {
		if p := paths[res]; p != nil {
			fmt.Fprintf(&c.main, `<path class="op-%s" fill="%s" d="%s"/>`+"\n", res, resultColor(res), p.b.String())
		}
	}
	c.main.WriteString("</g>\n")
	return y + h
}

func resultColor(res string) string {
	switch res {
	case timeline.ResultOK:
		return okColor
	case timeline.ResultFail:
		return failColor
	}
	return infoColor
}

func latencyLabel(ms float64) string {
	if ms >= 1000 {
		return strconv.FormatFloat(ms/1000, 'f', -1, 64) + "s"
	}
	return strconv.FormatFloat(ms, 'f', -1, 64) + "ms"
}

// axis draws time ticks with labels above (top) or below the line at y.
func (c *runChart) axis(y float64, top bool, step float64) {
	fmt.Fprintf(&c.over, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#555"/>`+"\n", num(c.x0), num(y), num(c.x1), num(y))
	for _, v := range ticks(c.t0.Seconds(), c.t1.Seconds(), step) {
		x := c.x(time.Duration(v * float64(time.Second)))
		ty, ly := y, y+15
		if top {
			ty, ly = y-5, y-8
		}
		fmt.Fprintf(&c.over, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#555"/>`, num(x), num(ty), num(x), num(ty+5))
		fmt.Fprintf(&c.over, `<text class="small" x="%s" y="%s" text-anchor="middle">%s</text>`+"\n", num(x), num(ly), tickLabel(v, step))
	}
}

// renderRun draws the timeline chart of a run as an SVG document;
// standalone adds a title line (a page has its own heading).
func renderRun(d RunData, rep *verdict.Report, standalone bool) string {
	tl := d.Timeline
	c := &runChart{tl: tl, r: rep, x0: runGutter, x1: runWidth - runRight, used: map[string]bool{}}
	c.t0, c.t1 = d.From, d.To
	if c.t1 <= 0 {
		c.t1 = tl.End
		for _, e := range tl.Events {
			c.t1 = max(c.t1, e.T)
		}
		for _, op := range tl.Ops {
			c.t1 = max(c.t1, op.End)
		}
	}
	if c.t1 <= c.t0 {
		c.t1 = c.t0 + time.Second
	}
	end := max(tl.End, c.t1)

	y := 8.0
	title := d.Title
	if title == "" {
		title = "Scenario " + tl.Scenario
	}
	if standalone {
		fmt.Fprintf(&c.over, `<text class="title" x="8" y="%s">%s — timeline</text>`+"\n", num(y+12), esc(title))
		y += 22
	}

	// The write interruption, as a bracket over the axis.
	it := rep.WriteInterruption
	if rep.Fault != nil && it.Interrupted {
		text := "write interruption " + secs(it.Duration)
		if !it.Recovered {
			text += " (not recovered)"
		}
		if rep.Worst != "" {
			text += ", worst group " + rep.Worst
		}
		if rep.WorstWorkload != "" {
			text += ", worst workload " + rep.WorstWorkload
		}
		if x, w, ok := c.clip(it.LastOK, it.FirstOK); ok {
			by := y + 14
			fmt.Fprintf(&c.over, `<path d="M%s %sv-5h%sv5" fill="none" stroke="%s" stroke-width="1.5"/>`+"\n", num(x), num(by), num(w), shadeColor)
			tw := textWidth(text, 11)
			tx, anchor := x+w/2, "middle"
			switch {
			case tw+8 > w && x+w+4+tw <= c.x1:
				tx, anchor = x+w+4, "start"
			case tw+8 > w:
				tx, anchor = x-4, "end"
			}
			fmt.Fprintf(&c.over, `<text class="lbl hi" x="%s" y="%s" text-anchor="%s" fill="%s">%s</text>`+"\n", num(tx), num(by-8), anchor, shadeColor, esc(text))
		}
	}
	y += 36
	axisTop := y
	step := niceStep((c.t1 - c.t0).Seconds(), 16)
	y += 6

	if len(tl.Groups) == 0 {
		y = c.block(y, axisTop, end)
	} else {
		// A block of lanes per group, each as its own run would have it
		// (verdict.GroupTimeline), under a labelled header.
		for _, g := range tl.Groups {
			gr := rep
			for _, x := range rep.Groups {
				if x.Name == g.Name {
					gr = x.Report
				}
			}
			c.tl, c.r = verdict.GroupTimeline(tl, g), gr
			top := y
			fmt.Fprintf(&c.rows, `<rect class="group" x="0" y="%s" width="%s" height="22" fill="%s"/>`+"\n", num(y), num(runWidth), groupBg)
			fmt.Fprintf(&c.rows, `<text class="title" x="8" y="%s">%s</text>`+"\n", num(y+16), esc(groupTitle(g, gr)))
			y = c.block(y+26, top, end) + 10
		}
		c.tl, c.r = tl, rep
	}
	axisBottom := y

	// The grid and the lines across the whole chart.
	for _, v := range ticks(c.t0.Seconds(), c.t1.Seconds(), step) {
		x := c.x(time.Duration(v * float64(time.Second)))
		fmt.Fprintf(&c.grid, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`+"\n", num(x), num(axisTop), num(x), num(axisBottom), gridColor)
	}
	c.axis(axisTop, true, step)
	c.axis(axisBottom, false, step)
	fmt.Fprintf(&c.over, `<text x="%s" y="%s" text-anchor="middle">time since the start of the run (s)</text>`+"\n", num((c.x0+c.x1)/2), num(axisBottom+32))
	y = axisBottom + 44

	var items []legendItem
	for _, k := range legendKeys {
		if c.used[k.key] {
			items = append(items, k.item)
		}
	}
	y += legend(&c.over, items, c.x0, y, c.x1)
	height := math.Ceil(y + 8)

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="rt" width="%s" height="%s" viewBox="0 0 %s %s" role="img" aria-label="%s">`+"\n",
		num(runWidth), num(height), num(runWidth), num(height), esc(title+" timeline"))
	fmt.Fprintf(&b, `<title>%s</title>`+"\n", esc(title+" — timeline"))
	b.WriteString(`<style>
.rt text{font:11px ` + fontStack + `;fill:#222}
.rt .title{font-size:14px;font-weight:bold}
.rt .h{font-size:12px;font-weight:bold}
.rt .sub{fill:#666}
.rt .small{font-size:10px}
.rt .in,.rt .ind{font-size:10px;fill:#fff;stroke-width:3px;paint-order:stroke;stroke-linejoin:round}
.rt .ind{fill:#222}
.rt .fl{font-weight:bold}
.rt .hi{font-weight:bold}
.rt .lbl{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}
</style>
<defs><pattern id="rt-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="` + hatchBg + `"/><line x1="0" y1="0" x2="0" y2="6" stroke="#8a8a8a" stroke-width="2.5"/></pattern></defs>
`)
	fmt.Fprintf(&b, `<rect width="%s" height="%s" fill="#fff"/>`+"\n", num(runWidth), num(height))
	for _, l := range []*strings.Builder{&c.rows, &c.shade, &c.grid, &c.main, &c.over, &c.top} {
		b.WriteString(l.String())
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// block draws the lanes of one group from y (c.tl and c.r being the
// group's), with its interruption shaded and its phases and faults marked
// from top to the block's bottom, and returns the y below it.
func (c *runChart) block(y, top float64, end time.Duration) float64 {
	y = c.header(y, "Faults and failover phases", "phase labels: time since the previous phase")
	y = c.faultLane(y) + 4
	if slices.ContainsFunc(c.tl.Events, func(e timeline.Event) bool { return e.Kind == timeline.KindSentinel }) {
		y = c.header(y, "Sentinel", "events per Sentinel; the first of each labelled")
		y = c.sentinelLane(y) + 6
	}
	if pr := proxyRows(c.tl, end); len(pr) > 0 {
		y = c.header(y, "Proxy", "each server's state per port (port · node)")
		y = c.stateLane(y, pr, "lane-proxy") + 6
	}
	roles := roleRows(c.tl, end)
	if len(roles) > 0 {
		rolesY := c.header(y, "Roles", "each node's role as polled")
		y = c.stateLane(rolesY, roles, "lane-roles")
		for _, w := range c.r.TwoMaster.Windows {
			if x, wd, ok := c.clip(w.From, w.To); ok && w.Why == "roles" {
				c.use("twomaster")
				fmt.Fprintf(&c.over, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s" fill-opacity="0.25" stroke="%s" stroke-width="1.5" stroke-dasharray="4 2"><title>two nodes said role:master, %s to %s</title></rect>`+"\n",
					num(x), num(rolesY), num(max(wd, 2)), num(y-rolesY), twoMasterColor, twoMasterColor, secs(w.From), secs(w.To))
			}
		}
		y += 6
	}
	if len(c.tl.Workloads) == 0 {
		y = c.opsLanes(y, "Operations", "latency (log scale) at completion; acknowledged ones merged per pixel")
	} else {
		// A run with several workloads: each workload's operations in
		// lanes of their own, under a header naming it, its client and
		// its write interruption (verdict.WorkloadTimeline).
		tl, r := c.tl, c.r
		for _, w := range tl.Workloads {
			c.tl = verdict.WorkloadTimeline(tl, w.Name)
			c.r = verdict.Judge(c.tl, nil)
			y = c.opsLanes(y, "Operations of "+w.Name, workloadSub(w, c.r))
		}
		c.tl, c.r = tl, r
	}
	y += 6
	rep, it := c.r, c.r.WriteInterruption
	if rep.Fault != nil && it.Interrupted {
		if x, w, ok := c.clip(it.LastOK, it.FirstOK); ok {
			c.use("interruption")
			fmt.Fprintf(&c.shade, `<rect class="interruption" x="%s" y="%s" width="%s" height="%s" fill="%s" fill-opacity="0.1"/>`+"\n",
				num(x), num(top), num(w), num(y-top), shadeColor)
		}
	}
	for _, p := range rep.Phases {
		if p.Found && p.Name != "fault" && c.in(p.At) {
			x := c.x(p.At)
			c.use("phase")
			fmt.Fprintf(&c.over, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-dasharray="2 3"/>`+"\n", num(x), num(top), num(x), num(y), phaseColor)
		}
	}
	for _, e := range c.tl.Events {
		if e.Kind == timeline.KindFault && c.in(e.T) {
			x := c.x(e.T)
			c.use("fault")
			fmt.Fprintf(&c.over, `<line class="fault" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1.5" stroke-dasharray="6 3"><title>%s</title></line>`+"\n",
				num(x), num(top), num(x), num(y), faultColor, esc(fmt.Sprintf("%s fault %s %s", secs(e.T), e.Name, e.Target)))
		}
	}
	return y
}

// opsLanes draws the operations of c.tl, writes then reads, under a
// header, with the writes' two-master windows of c.r shaded, and returns
// the y below them (y itself without operations).
func (c *runChart) opsLanes(y float64, title, sub string) float64 {
	hasOps := func(kind string) bool {
		return slices.ContainsFunc(c.tl.Ops, func(op timeline.Op) bool { return op.Kind == kind })
	}
	if !hasOps(timeline.OpWrite) && !hasOps(timeline.OpRead) {
		return y
	}
	y = c.header(y, title, sub)
	i := 0
	if hasOps(timeline.OpWrite) {
		wy := y
		y = c.opsLane(y, timeline.OpWrite, "writes", i)
		i++
		for _, w := range c.r.TwoMaster.Windows {
			if x, wd, ok := c.clip(w.From, w.To); ok && w.Why == "writes" {
				c.use("twomaster")
				fmt.Fprintf(&c.shade, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s" fill-opacity="0.3"><title>writes acknowledged by %s, not Sentinel's master: %s to %s</title></rect>`+"\n",
					num(x), num(wy), num(max(wd, 2)), num(opsH), twoMasterColor, esc(w.Node), secs(w.From), secs(w.To))
			}
		}
	}
	if hasOps(timeline.OpRead) {
		y = c.opsLane(y+10, timeline.OpRead, "reads", i)
	}
	return y
}

// workloadSub describes a workload under its lanes' header: its client
// and its own write interruption.
func workloadSub(w timeline.Workload, r *verdict.Report) string {
	t := w.Client
	if w.Detail != "" {
		t += ", " + w.Detail
	}
	it := r.WriteInterruption
	switch {
	case r.Fault == nil || !it.Interrupted:
		t += "; no write interruption"
	case !it.Recovered:
		t += "; write interruption " + secs(it.Duration) + " (not recovered)"
	default:
		t += "; write interruption " + secs(it.Duration)
	}
	return t + "; latency (log scale)"
}

// groupBg is the band behind a group's title.
const groupBg = "#e8ecf3"

// groupTitle heads a group's block: its name, master name and write
// interruption.
func groupTitle(g timeline.Group, r *verdict.Report) string {
	t := g.Name
	if g.MasterName != "" && g.MasterName != g.Name {
		t += " (master name " + g.MasterName + ")"
	}
	it := r.WriteInterruption
	switch {
	case r.Fault == nil || !it.Interrupted:
		t += ": no write interruption"
	case !it.Recovered:
		t += ": write interruption " + secs(it.Duration) + " (not recovered)"
	default:
		t += ": write interruption " + secs(it.Duration)
	}
	return t
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

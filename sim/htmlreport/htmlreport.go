// Package htmlreport renders runs and sweeps as self-contained HTML pages:
// one file each, with inline CSS and hand-drawn inline SVG charts, no
// scripts and nothing fetched from the network.
//
// A run's page has the settings, a summary of the verdict, the measured
// figures against the timing model's prediction, a timeline chart (faults,
// Sentinel events, the proxy's view of every server, every node's role and
// every operation on one time axis) and the failover's phases. A sweep's
// page charts the write interruption against the swept parameter with the
// model's band, then its table and notes.
package htmlreport

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/timeline"
	"github.com/redisha-sim/redisha-sim/sim/verdict"
)

// Metric compares a measured figure with the timing model's prediction.
type Metric struct {
	// Name is what is measured: "write interruption", "proxy share",
	// "detection", "two-master window".
	Name     string
	Measured time.Duration
	// Known is false when the figure was not measured in this run.
	Known bool
	// P5, P50, P95 and Max are the model's prediction.
	P5, P50, P95, Max time.Duration
	// Outside is set by the caller when Measured lies outside [P5, P95];
	// the row is then flagged.
	Outside bool
}

// RunData is what a run's page shows.
type RunData struct {
	// Title heads the page; "" means "Scenario <name>".
	Title    string
	Timeline *timeline.Timeline
	// Report is the verdict on Timeline; nil means judge it here without
	// expectations.
	Report *verdict.Report
	// Predicted are the figures to compare with the model; may be empty.
	Predicted []Metric
	// From and To limit the timeline chart to a part of the run; zero To
	// means the whole run.
	From, To time.Duration
}

// WriteRun writes the page of a run.
func WriteRun(w io.Writer, d RunData) error {
	if d.Timeline == nil {
		return fmt.Errorf("write run report: no timeline")
	}
	rep := d.Report
	if rep == nil {
		rep = verdict.Judge(d.Timeline, nil)
	}
	var b strings.Builder
	title := d.Title
	if title == "" {
		title = "Scenario " + d.Timeline.Scenario
	}
	pageStart(&b, title)
	runHeader(&b, title, d.Timeline)
	runSummary(&b, d.Timeline, rep)
	groupTable(&b, rep)
	if len(d.Predicted) > 0 {
		predicted(&b, d.Predicted)
	}
	b.WriteString("<h2>Timeline</h2>\n<div class=\"chart\">\n")
	b.WriteString(renderRun(d, rep, false))
	b.WriteString("</div>\n<p class=\"note\">Hover a bar or a marker for its details.</p>\n")
	if len(rep.Groups) == 0 {
		phaseTable(&b, rep, "")
		for _, d := range rep.ElectionDelays {
			fmt.Fprintf(&b, "<p class=\"note\">%s</p>\n", esc(d.String()))
		}
	}
	for _, g := range rep.Groups {
		phaseTable(&b, g.Report, g.Name)
	}
	expectations(&b, rep)
	pageEnd(&b)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write run report: %w", err)
	}
	return nil
}

// RunSVG returns only the timeline chart of WriteRun as a standalone SVG
// document, for embedding in a README.
func RunSVG(d RunData) string {
	if d.Timeline == nil {
		return emptySVG("no timeline")
	}
	rep := d.Report
	if rep == nil {
		rep = verdict.Judge(d.Timeline, nil)
	}
	return renderRun(d, rep, true)
}

// SweepPoint is one value of the swept parameter.
type SweepPoint struct {
	// X is the swept parameter in seconds (e.g. proxy.inter).
	X float64
	// XLabel names it on the axis ("250ms"); "" means X as a duration.
	XLabel string
	// Measured is the write interruption of each repeat, in seconds.
	Measured []float64
	// ModelP5, ModelP50 and ModelP95 are the model's band in seconds; all
	// zero means none.
	ModelP5, ModelP50, ModelP95 float64
}

// SweepSeries is one line of a sweep, e.g. "down_after=5s".
type SweepSeries struct {
	Label  string
	Points []SweepPoint
}

// SweepData is what a sweep's page shows.
type SweepData struct {
	Title string
	// XName and YName label the axes: "proxy.inter", "write interruption
	// (s)".
	XName, YName string
	Series       []SweepSeries
	// LogX draws the swept parameter on a log scale (when every X is
	// positive); default linear.
	LogX bool
	// Header and Rows are the sweep's table.
	Header []string
	Rows   [][]string
	// Notes are free text paragraphs, e.g. a tuning recommendation; one
	// with line breaks is shown preformatted.
	Notes []string
}

// WriteSweep writes the page of a sweep.
func WriteSweep(w io.Writer, d SweepData) error {
	var b strings.Builder
	title := d.Title
	if title == "" {
		title = "Sweep of " + d.XName
	}
	pageStart(&b, title)
	fmt.Fprintf(&b, "<h1>%s</h1>\n", esc(title))
	runs := 0
	for _, s := range d.Series {
		for _, p := range s.Points {
			runs += len(p.Measured)
		}
	}
	fmt.Fprintf(&b, "<p class=\"sub\">%d series, %d runs; %s against %s.</p>\n", len(d.Series), runs, esc(d.YName), esc(d.XName))
	b.WriteString("<div class=\"chart\">\n")
	b.WriteString(renderSweep(d, false))
	b.WriteString("</div>\n")
	if len(d.Header) > 0 || len(d.Rows) > 0 {
		b.WriteString("<h2>Results</h2>\n<table class=\"data\">\n")
		if len(d.Header) > 0 {
			b.WriteString("<thead><tr>")
			for _, h := range d.Header {
				fmt.Fprintf(&b, "<th>%s</th>", esc(h))
			}
			b.WriteString("</tr></thead>\n")
		}
		b.WriteString("<tbody>\n")
		for _, r := range d.Rows {
			b.WriteString("<tr>")
			for _, c := range r {
				fmt.Fprintf(&b, "<td>%s</td>", esc(c))
			}
			b.WriteString("</tr>\n")
		}
		b.WriteString("</tbody></table>\n")
	}
	if len(d.Notes) > 0 {
		b.WriteString("<h2>Notes</h2>\n")
		for _, n := range d.Notes {
			if strings.Contains(n, "\n") {
				fmt.Fprintf(&b, "<pre>%s</pre>\n", esc(strings.TrimRight(n, "\n")))
			} else {
				fmt.Fprintf(&b, "<p>%s</p>\n", esc(n))
			}
		}
	}
	pageEnd(&b)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write sweep report: %w", err)
	}
	return nil
}

// SweepSVG returns only the chart of WriteSweep as a standalone SVG
// document.
func SweepSVG(d SweepData) string { return renderSweep(d, true) }

func emptySVG(text string) string {
	return `<svg xmlns="http://www.w3.org/2000/svg" width="400" height="40" viewBox="0 0 400 40"><rect width="400" height="40" fill="#fff"/><text x="8" y="24" font-family="sans-serif" font-size="12">` + esc(text) + "</text></svg>\n"
}

// css is the page's style; it must hold no '<' or '&' so that the page
// stays well-formed XML.
const css = `body{margin:0;background:#fff;color:#222;font:14px/1.45 ` + fontStack + `}
main{max-width:1340px;margin:0 auto;padding:14px 24px 40px}
h1{font-size:22px;margin:4px 0 2px}
h2{font-size:16px;margin:22px 0 8px;padding-bottom:3px;border-bottom:1px solid #ddd}
.sub{color:#555;margin:0 0 8px}
.note{color:#666;font-size:12px;margin:2px 0}
table{border-collapse:collapse;font-size:13px}
th,td{border:1px solid #d4d4d4;padding:3px 9px;text-align:left;vertical-align:top}
th{background:#f1f3f6;font-weight:bold}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.params td{border:none;padding:1px 14px 1px 0}
table.params td.k{color:#666}
tr.outside td{background:#fdecec}
tr.missing td{color:#888}
.flag{color:#b3001b;font-weight:bold}
.okflag{color:#1b7a2e}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:6px 0}
.card{border:1px solid #d4d4d4;border-radius:6px;padding:7px 12px;min-width:150px}
.card .k{color:#555;font-size:12px}
.card .v{font-size:20px;font-weight:bold;font-variant-numeric:tabular-nums}
.card .d{color:#555;font-size:12px}
.card.bad{border-color:#d62728;background:#fff4f4}
.card.bad .v{color:#b3001b}
.card.good .v{color:#1b7a2e}
.chart svg{max-width:100%;height:auto;display:block}
pre{background:#f6f8fa;border:1px solid #ddd;padding:8px 10px;font-size:13px;overflow-x:auto}
.band{position:relative;width:240px;height:16px;background:#f2f2f2;border-radius:3px}
.band .r{position:absolute;top:4px;height:8px;background:#9ecae1}
.band .w{position:absolute;top:7px;height:2px;background:#9ecae1}
.band .p{position:absolute;top:1px;width:2px;height:14px;background:#08519c}
.band .m{position:absolute;top:3px;width:10px;height:10px;margin-left:-5px;border-radius:50%;background:#222}
.band .m.out{background:#d62728}
`

func pageStart(b *strings.Builder, title string) {
	fmt.Fprintf(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n<title>%s</title>\n<style>\n%s</style>\n</head>\n<body>\n<main>\n", esc(title), css)
}

func pageEnd(b *strings.Builder) {
	b.WriteString("</main>\n</body>\n</html>\n")
}

// runHeader writes the title, what ran and the settings.
func runHeader(b *strings.Builder, title string, tl *timeline.Timeline) {
	fmt.Fprintf(b, "<h1>%s</h1>\n", esc(title))
	fmt.Fprintf(b, "<p class=\"sub\">Scenario <b>%s</b> on the <b>%s</b> backend, through <b>%s</b>; %s long",
		esc(tl.Scenario), esc(tl.Backend), esc(tl.Proxy), secs(tl.End))
	if !tl.Start.IsZero() {
		fmt.Fprintf(b, ", started %s", esc(tl.Start.UTC().Format("2006-01-02 15:04:05 UTC")))
	}
	if tl.InitialMaster != "" {
		fmt.Fprintf(b, "; initial master %s", esc(tl.InitialMaster))
	}
	b.WriteString(".</p>\n")
	p := tl.Params
	dur := func(d time.Duration) string {
		if d == 0 {
			return "–"
		}
		return d.String()
	}
	kv := [][2]string{
		{"Sentinels", fmt.Sprint(p.Sentinels)}, {"quorum", fmt.Sprint(p.Quorum)},
		{"down-after", dur(p.DownAfter)}, {"failover-timeout", dur(p.FailoverTimeout)},
		{"inter", dur(p.Inter)}, {"fastinter", dur(p.FastInter)}, {"downinter", dur(p.DownInter)},
		{"rise", fmt.Sprint(p.Rise)}, {"fall", fmt.Sprint(p.Fall)}, {"timeout check", dur(p.TimeoutCheck)},
		{"write rate", fmt.Sprintf("%g/s", p.WriteRate)}, {"op timeout", dur(p.OpTimeout)}, {"role poll", dur(p.RolePoll)},
	}
	b.WriteString("<table class=\"params\"><tbody>\n")
	const perRow = 5
	for i := 0; i < len(kv); i += perRow {
		b.WriteString("<tr>")
		for _, x := range kv[i:min(i+perRow, len(kv))] {
			fmt.Fprintf(b, "<td class=\"k\">%s</td><td>%s</td>", esc(x[0]), esc(x[1]))
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</tbody></table>\n")
}

// card writes one figure of the summary.
func card(b *strings.Builder, class, key, value, detail string) {
	fmt.Fprintf(b, "<div class=\"card %s\"><div class=\"k\">%s</div><div class=\"v\">%s</div><div class=\"d\">%s</div></div>\n",
		class, esc(key), esc(value), esc(detail))
}

func runSummary(b *strings.Builder, tl *timeline.Timeline, r *verdict.Report) {
	b.WriteString("<h2>Summary</h2>\n<div class=\"cards\">\n")
	it := r.WriteInterruption
	wi, tmKey := "write interruption", "two-master window"
	if r.Worst != "" {
		wi += ", worst group " + r.Worst
		tmKey += ", longest in " + r.TwoMasterGroup
	}
	switch {
	case r.Fault == nil:
		card(b, "", wi, "–", "no fault in this run")
	case !it.Interrupted:
		card(b, "good", wi, "none", "no write failed after the fault at "+secs(r.Fault.T))
	case !it.Recovered:
		card(b, "bad", wi, secs(it.Duration)+"+", fmt.Sprintf("NOT RECOVERED: no write succeeded after %s", secs(it.LastOK)))
	default:
		card(b, "", wi, secs(it.Duration), fmt.Sprintf("last ok %s, first ok %s, %d failed between", secs(it.LastOK), secs(it.FirstOK), it.Failed))
	}
	if ri := r.ReadInterruption; r.Fault != nil && ri.Interrupted {
		d := fmt.Sprintf("last ok %s, first ok %s", secs(ri.LastOK), secs(ri.FirstOK))
		class := ""
		if !ri.Recovered {
			d, class = "not recovered", "bad"
		}
		card(b, class, "read interruption", secs(ri.Duration), d)
	}
	if r.ProxyShare > 0 {
		card(b, "", "proxy share", secs(r.ProxyShare), "+switch-master to the first ok write")
	}
	lw := r.Lost
	switch {
	case !lw.Checked:
		card(b, "", "lost writes", "not checked", lw.Reason)
	case lw.Lost > 0:
		var on []string
		for _, n := range sortedKeys(lw.LostOn) {
			on = append(on, fmt.Sprintf("%d by %s", lw.LostOn[n], n))
		}
		card(b, "bad", "lost writes", fmt.Sprint(lw.Lost), fmt.Sprintf("of %d acknowledged (%s)", lw.Acked, strings.Join(on, ", ")))
	default:
		card(b, "good", "lost writes", "0", fmt.Sprintf("of %d acknowledged", lw.Acked))
	}
	tm := r.TwoMaster
	d := fmt.Sprintf("%d writes to a node Sentinel did not name", tm.WrongWrites)
	if tm.RoleOverlap > 0 {
		d += fmt.Sprintf("; two nodes said master for %s", secs(tm.RoleOverlap))
	}
	class := "good"
	if tm.Total > 0 {
		class = "bad"
	}
	card(b, class, tmKey, secs(tm.Total), d)
	card(b, "", "writes", fmt.Sprint(r.Writes.Total), fmt.Sprintf("ok %d, failed %d, indeterminate %d", r.Writes.OK, r.Writes.Failed, r.Writes.Indeterminate))
	if r.Reads.Total > 0 {
		card(b, "", "reads", fmt.Sprint(r.Reads.Total), fmt.Sprintf("ok %d, failed %d, indeterminate %d; stale %d", r.Reads.OK, r.Reads.Failed, r.Reads.Indeterminate, r.Stale.Count))
	}
	card(b, "", "failovers", fmt.Sprint(r.Failovers), "changes of the master Sentinels agree on")
	if n := len(r.Expectations); n > 0 {
		failed := 0
		for _, e := range r.Expectations {
			if !e.Held {
				failed++
			}
		}
		class, v := "good", "all held"
		if failed > 0 {
			class, v = "bad", fmt.Sprintf("%d failed", failed)
		}
		card(b, class, "expectations", v, fmt.Sprintf("%d held of %d", n-failed, n))
	}
	b.WriteString("</div>\n")
}

// predicted writes the measured figures against the model's prediction,
// each with a bar: the p5–p95 band, the p50 tick, the whisker to the
// maximum and the measured dot.
func predicted(b *strings.Builder, ms []Metric) {
	b.WriteString("<h2>Measured against the model</h2>\n<table class=\"data\">\n<thead><tr><th>metric</th><th>measured</th><th>p5</th><th>p50</th><th>p95</th><th>max</th><th>model range</th><th>verdict</th></tr></thead>\n<tbody>\n")
	for _, m := range ms {
		class, verdict := "", "<span class=\"okflag\">within p5–p95</span>"
		measured := secs(m.Measured)
		switch {
		case !m.Known:
			class, verdict, measured = "missing", "not measured in this run", "–"
		case m.Outside:
			class, verdict = "outside", "<span class=\"flag\">⚠ outside p5–p95</span>"
		}
		fmt.Fprintf(b, "<tr class=\"%s\"><td>%s</td><td class=\"num\">%s</td><td class=\"num\">%s</td><td class=\"num\">%s</td><td class=\"num\">%s</td><td class=\"num\">%s</td><td>%s</td><td>%s</td></tr>\n",
			class, esc(m.Name), measured, secs(m.P5), secs(m.P50), secs(m.P95), secs(m.Max), bandBar(m), verdict)
	}
	b.WriteString("</tbody></table>\n")
}

// bandBar draws a metric's prediction and measurement with positioned
// boxes (CSS, no SVG).
func bandBar(m Metric) string {
	top := max(m.Max, m.P95)
	if m.Known {
		top = max(top, m.Measured)
	}
	if top <= 0 {
		return ""
	}
	scale := float64(top) * 1.08
	pct := func(d time.Duration) string {
		return fmt.Sprintf("%.1f%%", math.Max(0, float64(d)/scale*100))
	}
	var s strings.Builder
	s.WriteString(`<div class="band">`)
	fmt.Fprintf(&s, `<div class="w" style="left:%s;width:%s"></div>`, pct(m.P95), pct(max(m.Max-m.P95, 0)))
	fmt.Fprintf(&s, `<div class="r" style="left:%s;width:%s"></div>`, pct(m.P5), pct(max(m.P95-m.P5, 0)))
	fmt.Fprintf(&s, `<div class="p" style="left:%s"></div>`, pct(m.P50))
	if m.Known {
		out := ""
		if m.Outside {
			out = " out"
		}
		fmt.Fprintf(&s, `<div class="m%s" style="left:%s" title="measured %s"></div>`, out, pct(m.Measured), secs(m.Measured))
	}
	s.WriteString(`</div>`)
	return s.String()
}

// groupTable writes a row per group of a run with several: the figures
// whose worst (or sum) the summary shows, and the failovers delayed by
// their election.
func groupTable(b *strings.Builder, r *verdict.Report) {
	if len(r.Groups) == 0 {
		return
	}
	fmt.Fprintf(b, "<h2>Groups</h2>\n<p class=\"note\">The summary shows the worst group's interruption (%s), the lost writes, failovers and stale reads of all groups, and the longest two-master window (%s).</p>\n", esc(r.Worst), esc(r.TwoMasterGroup))
	b.WriteString("<table class=\"data\">\n<thead><tr><th>group</th><th>write interruption</th><th>lost writes</th><th>two-master window</th><th>failovers</th><th>stale reads</th></tr></thead>\n<tbody>\n")
	for _, g := range r.Groups {
		gr := g.Report
		it := "–"
		switch w := gr.WriteInterruption; {
		case gr.Fault != nil && !w.Interrupted:
			it = "none"
		case gr.Fault != nil && !w.Recovered:
			it = secs(w.Duration) + "+ (not recovered)"
		case gr.Fault != nil:
			it = secs(w.Duration)
		}
		lost := "not checked"
		if gr.Lost.Checked {
			lost = fmt.Sprintf("%d of %d", gr.Lost.Lost, gr.Lost.Acked)
		}
		fmt.Fprintf(b, "<tr><td>%s</td><td class=\"num\">%s</td><td class=\"num\">%s</td><td class=\"num\">%s</td><td class=\"num\">%d</td><td class=\"num\">%d</td></tr>\n",
			esc(g.Name), it, lost, secs(gr.TwoMaster.Total), gr.Failovers, gr.Stale.Count)
	}
	b.WriteString("</tbody></table>\n")
	for _, d := range r.ElectionDelays {
		fmt.Fprintf(b, "<p class=\"note\">%s</p>\n", esc(d.String()))
	}
}

// phaseTable writes the phases of a failover; group names the group in a
// run with several.
func phaseTable(b *strings.Builder, r *verdict.Report, group string) {
	if len(r.Phases) == 0 {
		return
	}
	total := r.WriteInterruption.Duration
	heading := "Phases of the failover"
	if group != "" {
		heading += ": " + group
	}
	b.WriteString("<h2>" + esc(heading) + "</h2>\n<table class=\"data\">\n<thead><tr><th>phase</th><th>at</th><th>since previous</th><th>share</th><th>what</th></tr></thead>\n<tbody>\n")
	for _, p := range r.Phases {
		if !p.Found {
			fmt.Fprintf(b, "<tr class=\"missing\"><td>%s</td><td class=\"num\">–</td><td class=\"num\">–</td><td class=\"num\"></td><td>did not happen (%s)</td></tr>\n", esc(p.Name), esc(p.What))
			continue
		}
		since, share := "", ""
		if p.Name != "fault" {
			since = signed(p.Since)
			if total > 0 {
				share = fmt.Sprintf("%.0f%%", 100*p.Since.Seconds()/total.Seconds())
			}
		}
		fmt.Fprintf(b, "<tr><td>%s</td><td class=\"num\">%s</td><td class=\"num\">%s</td><td class=\"num\">%s</td><td>%s</td></tr>\n",
			esc(p.Name), secs(p.At), since, share, esc(p.What))
	}
	b.WriteString("</tbody></table>\n")
	if r.ProxyShare > 0 {
		fmt.Fprintf(b, "<p class=\"note\">The proxy's share (+switch-master to the first ok write): %s.</p>\n", secs(r.ProxyShare))
	}
}

func expectations(b *strings.Builder, r *verdict.Report) {
	if len(r.Expectations) == 0 {
		return
	}
	b.WriteString("<h2>Expectations</h2>\n<table class=\"data\">\n<thead><tr><th>result</th><th>expectation</th><th>measured</th></tr></thead>\n<tbody>\n")
	for _, e := range r.Expectations {
		res := "<span class=\"okflag\">held</span>"
		class := ""
		if !e.Held {
			res, class = "<span class=\"flag\">FAILED</span>", "outside"
		}
		val := fmt.Sprintf("%g", e.Measured)
		if e.IsDuration() {
			val = secs(time.Duration(e.Measured * float64(time.Second)))
		}
		if e.Unknown != "" {
			val = "unknown: " + e.Unknown
		}
		fmt.Fprintf(b, "<tr class=\"%s\"><td>%s</td><td>%s</td><td>%s</td></tr>\n", class, res, esc(e.Raw), esc(val))
	}
	b.WriteString("</tbody></table>\n")
}

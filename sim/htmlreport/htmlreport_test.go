package htmlreport

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/stats"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
	"github.com/redisha-sim/redisha-sim/sim/verdict"
)

func ms(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }

const detailMaster = "master mymaster 10.0.0.1 6379"

// masterKill is the timeline of a realistic master kill: a write every 5ms
// and a read every 10ms, redis1 killed at 10s, Sentinel promoting redis2
// from 15s, the proxy marking it UP at 17.25s, the first acknowledged write
// at 17.3s, and redis1 back at 21s as a replica.
func masterKill() *timeline.Timeline {
	tl := &timeline.Timeline{
		Scenario: "master-kill", Backend: "memory", Proxy: "in-process proxy",
		Start: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC), End: 25 * time.Second,
		Nodes: []string{"redis1", "redis2", "redis3"}, InitialMaster: "redis1",
		Params: timeline.Params{DownAfter: 5 * time.Second, FailoverTimeout: 10 * time.Second, Quorum: 2, Sentinels: 3,
			Inter: time.Second, FastInter: 250 * time.Millisecond, DownInter: time.Second, Rise: 2, Fall: 2,
			WriteRate: 200, OpTimeout: 500 * time.Millisecond, RolePoll: 50 * time.Millisecond},
		ReadBack: &timeline.ReadBack{Master: "redis2", At: 25 * time.Second, Settled: true},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	latency := func() time.Duration {
		l := ms(0.3 + rng.Float64()*1.2)
		if rng.IntN(20) == 0 {
			l = ms(3 + rng.Float64()*17)
		}
		return l
	}
	for i := 0; i < 5000; i++ {
		start := ms(float64(i) * 5)
		op := timeline.Op{Kind: timeline.OpWrite, Client: i % 4, Key: fmt.Sprintf("k%d", i), Start: start}
		switch {
		case start < ms(9990):
			op.End, op.Result, op.Node, op.Final = start+latency(), timeline.ResultOK, "redis1", "present"
			if start >= ms(9975) {
				op.Final = "absent" // acknowledged, not replicated before the kill
			}
		case start < ms(10000):
			op.End, op.Result, op.Err = ms(10000.3), timeline.ResultInfo, "EOF"
		case start < ms(17295):
			op.End, op.Result, op.Err, op.Final = start+ms(0.2), timeline.ResultFail, "connection refused", "absent"
			if i%40 == 0 {
				op.End, op.Result, op.Err = start+500*time.Millisecond, timeline.ResultInfo, "i/o timeout"
			}
		case start == ms(17295):
			op.End, op.Result, op.Node, op.Final = ms(17300), timeline.ResultOK, "redis2", "present"
		default:
			op.End, op.Result, op.Node, op.Final = start+latency(), timeline.ResultOK, "redis2", "present"
		}
		tl.Ops = append(tl.Ops, op)
	}
	for i := 0; i < 2500; i++ {
		start := ms(float64(i) * 10)
		node := []string{"redis2", "redis3"}[i%2]
		op := timeline.Op{Kind: timeline.OpRead, Client: 9, Key: fmt.Sprintf("k%d", i), Start: start, End: start + latency(),
			Result: timeline.ResultOK, Node: node, Found: true}
		if start >= ms(16000) && start < ms(16060) {
			op.Result, op.Err, op.End = timeline.ResultFail, "connection reset", start+ms(0.4)
		}
		tl.Ops = append(tl.Ops, op)
	}

	ev := func(at float64, e timeline.Event) {
		e.T = ms(at)
		tl.Events = append(tl.Events, e)
	}
	fault := func(at float64, name string) {
		ev(at, timeline.Event{Kind: timeline.KindFault, Source: "engine", Name: name, Target: "redis1", Took: 20 * time.Millisecond})
	}
	sentinel := func(at float64, src int, name, node, detail string) {
		ev(at, timeline.Event{Kind: timeline.KindSentinel, Source: fmt.Sprintf("sentinel%d", src), Name: name, Node: node, Detail: detail})
	}
	proxy := func(at float64, port, node, name, state string) {
		ev(at, timeline.Event{Kind: timeline.KindProxy, Source: "proxy", Port: port, Node: node, Name: name, State: state})
	}
	role := func(at float64, node, role, master string) {
		ev(at, timeline.Event{Kind: timeline.KindRole, Source: "poller", Name: "role", Node: node, Role: role, Master: master})
	}
	const slave2 = "slave 10.0.0.2:6379 10.0.0.2 6379 @ mymaster 10.0.0.1 6379"
	const slave3 = "slave 10.0.0.3:6379 10.0.0.3 6379 @ mymaster 10.0.0.2 6379"

	role(0, "redis1", timeline.RoleMaster, "")
	role(0, "redis2", timeline.RoleReplica, "redis1")
	role(0, "redis3", timeline.RoleReplica, "redis1")
	fault(10000, "kill")
	role(10100, "redis1", timeline.RoleUnreachable, "")
	// The in-process proxy reports changes only: each server's first event
	// is its first change.
	proxy(11000, timeline.PortMaster, "redis1", "server-down", "DOWN")
	proxy(12000, timeline.PortMaster, "redis1", "server-down", "DOWN") // no change: no new bar
	sentinel(15050, 1, "+sdown", "redis1", detailMaster)
	sentinel(15120, 2, "+sdown", "redis1", detailMaster)
	sentinel(15130, 2, "+odown", "redis1", detailMaster+" #quorum 2/2")
	sentinel(15135, 2, "+new-epoch", "", "1")
	sentinel(15136, 2, "+try-failover", "redis1", detailMaster)
	sentinel(15150, 1, "+vote-for-leader", "", "abc 1")
	sentinel(15180, 3, "+sdown", "redis1", detailMaster)
	sentinel(15190, 3, "+odown", "redis1", detailMaster+" #quorum 3/2")
	sentinel(15200, 1, "+odown", "redis1", detailMaster+" #quorum 3/2")
	sentinel(15400, 2, "+elected-leader", "redis1", detailMaster)
	sentinel(15402, 2, "+selected-slave", "redis2", slave2)
	sentinel(15403, 2, "+failover-state-send-slaveof-noone", "redis2", slave2)
	role(16000, "redis2", timeline.RoleMaster, "")
	sentinel(16000, 2, "+promoted-slave", "redis2", slave2)
	sentinel(16001, 2, "+failover-state-reconf-slaves", "redis1", detailMaster)
	sentinel(16100, 2, "+slave-reconf-sent", "redis3", slave3)
	role(16150, "redis3", timeline.RoleReplica, "redis2")
	sentinel(16600, 2, "+slave-reconf-inprog", "redis3", slave3)
	proxy(16800, timeline.PortReplica, "redis2", "server-down", "DOWN")
	sentinel(16900, 2, "+slave-reconf-done", "redis3", slave3)
	sentinel(16950, 2, "+failover-end", "redis1", detailMaster)
	sentinel(16951, 2, "+switch-master", "redis2", "mymaster 10.0.0.1 6379 10.0.0.2 6379")
	sentinel(17020, 1, "+switch-master", "redis2", "mymaster 10.0.0.1 6379 10.0.0.2 6379")
	sentinel(17080, 3, "+switch-master", "redis2", "mymaster 10.0.0.1 6379 10.0.0.2 6379")
	proxy(17250, timeline.PortMaster, "redis2", "server-up", "UP")
	fault(21000, "start")
	role(21200, "redis1", timeline.RoleMaster, "")
	sentinel(21500, 2, "+convert-to-slave", "redis1", "slave 10.0.0.1:6379 10.0.0.1 6379 @ mymaster 10.0.0.2 6379")
	role(21550, "redis1", timeline.RoleReplica, "redis2")
	proxy(23000, timeline.PortReplica, "redis1", "server-up", "UP")
	tl.Sort()
	return tl
}

func judge(t *testing.T, tl *timeline.Timeline) *verdict.Report {
	t.Helper()
	var exps []scenario.Expectation
	for _, raw := range []string{"write_interruption <= 8s", "lost_writes == 0"} {
		e, err := scenario.ParseExpectation(raw)
		if err != nil {
			t.Fatalf("parse expectation %q: %v", raw, err)
		}
		exps = append(exps, e)
	}
	r := verdict.Judge(tl, exps)
	if it := r.WriteInterruption; !it.Recovered || it.FirstOK != ms(17300) {
		t.Fatalf("the fixture's interruption: got %+v, want recovered at 17.3s", it)
	}
	return r
}

// predictions compares r's figures with a made-up model: the proxy's
// share falls outside it.
func predictions(r *verdict.Report) []Metric {
	return []Metric{
		{Name: "write interruption", Known: true, Measured: r.WriteInterruption.Duration, P5: 6 * time.Second, P50: 7 * time.Second, P95: 8500 * time.Millisecond, Max: 10 * time.Second},
		{Name: "proxy share", Known: true, Measured: r.ProxyShare, P5: ms(50), P50: ms(150), P95: ms(300), Max: ms(1300), Outside: true},
		{Name: "two-master window", P5: 0, P50: 0, P95: ms(100), Max: ms(500)},
	}
}

func runPage(t *testing.T, d RunData) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteRun(&b, d); err != nil {
		t.Fatalf("WriteRun: %v", err)
	}
	return b.String()
}

// elem is a parsed XML element.
type elem struct {
	name   string
	attr   map[string]string
	text   string // character data directly inside
	kids   []*elem
	parent *elem
}

// parseXML parses s strictly as XML (the pages are written to be
// well-formed XML as well as HTML) and returns its root element.
func parseXML(t *testing.T, s string) *elem {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(s))
	d.Strict = true
	root := &elem{name: "#document"}
	cur := root
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			e := &elem{name: tk.Name.Local, attr: map[string]string{}, parent: cur}
			for _, a := range tk.Attr {
				e.attr[a.Name.Local] = a.Value
			}
			cur.kids = append(cur.kids, e)
			cur = e
		case xml.EndElement:
			cur = cur.parent
		case xml.CharData:
			cur.text += string(tk)
		}
	}
	if len(root.kids) != 1 {
		t.Fatalf("got %d root elements, want 1", len(root.kids))
	}
	return root.kids[0]
}

// all returns e's descendants that match.
func (e *elem) all(match func(*elem) bool) []*elem {
	var out []*elem
	for _, k := range e.kids {
		if match(k) {
			out = append(out, k)
		}
		out = append(out, k.all(match)...)
	}
	return out
}

// textContent returns all the character data inside e.
func (e *elem) textContent() string {
	s := e.text
	for _, k := range e.kids {
		s += k.textContent()
	}
	return s
}

func (e *elem) hasClass(c string) bool {
	for _, f := range strings.Fields(e.attr["class"]) {
		if f == c {
			return true
		}
	}
	return false
}

func named(name string) func(*elem) bool { return func(e *elem) bool { return e.name == name } }

func classed(name, class string) func(*elem) bool {
	return func(e *elem) bool { return e.name == name && e.hasClass(class) }
}

// only returns the single element that matches.
func only(t *testing.T, root *elem, what string, match func(*elem) bool) *elem {
	t.Helper()
	es := root.all(match)
	if len(es) != 1 {
		t.Fatalf("got %d %s, want 1", len(es), what)
	}
	return es[0]
}

func attrFloat(t *testing.T, e *elem, name string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(e.attr[name], 64)
	if err != nil {
		t.Fatalf("<%s %s=%q>: %v", e.name, name, e.attr[name], err)
	}
	return v
}

// checkNoExternalURL fails when the page refers to anything on the
// network; the SVG namespace is a name, not a fetch.
func checkNoExternalURL(t *testing.T, page string) {
	t.Helper()
	rest := strings.ReplaceAll(page, `xmlns="http://www.w3.org/2000/svg"`, "")
	for _, s := range []string{"http://", "https://", "//fonts.", "<script", "@import", "<link"} {
		if i := strings.Index(rest, s); i >= 0 {
			t.Errorf("page holds %q: ...%s...", s, rest[max(0, i-60):min(len(rest), i+60)])
		}
	}
}

func TestRunReportIsWellFormedAndSelfContained(t *testing.T) {
	tl := masterKill()
	r := judge(t, tl)
	page := runPage(t, RunData{Timeline: tl, Report: r, Predicted: predictions(r)})
	root := parseXML(t, page)
	if root.name != "html" {
		t.Fatalf("root element %q, want html", root.name)
	}
	if n := len(root.all(named("svg"))); n != 1 {
		t.Errorf("got %d svg elements, want the one timeline chart", n)
	}
	checkNoExternalURL(t, page)
	if len(page) > 600_000 {
		t.Errorf("page is %d bytes for %d operations, want it under 600kB", len(page), len(tl.Ops))
	}
}

func TestRunReportShowsHeaderSummaryAndPhases(t *testing.T) {
	tl := masterKill()
	r := judge(t, tl)
	page := runPage(t, RunData{Timeline: tl, Report: r})
	root := parseXML(t, page)
	text := root.textContent()
	for _, want := range []string{"master-kill", "memory", "in-process proxy", "down-after", "5s", "fastinter", "250ms",
		secs(r.WriteInterruption.Duration), "lost writes", "two-master window", "1 failed", "lost_writes == 0", "FAILED"} {
		if !strings.Contains(text, want) {
			t.Errorf("page text lacks %q", want)
		}
	}
	if len(r.Phases) != 7 {
		t.Fatalf("got %d phases, want 7", len(r.Phases))
	}
	var cells []string
	for _, td := range root.all(named("td")) {
		cells = append(cells, td.textContent())
	}
	for _, p := range r.Phases {
		if !p.Found {
			t.Errorf("phase %s not found in the fixture", p.Name)
		}
		if !containsString(cells, p.Name) {
			t.Errorf("no table cell names phase %q", p.Name)
		}
		if p.Found && !containsString(cells, secs(p.At)) {
			t.Errorf("no table cell holds phase %s's time %s", p.Name, secs(p.At))
		}
	}
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestRunReportFlagsMetricsOutsideThePrediction(t *testing.T) {
	tl := masterKill()
	r := judge(t, tl)
	page := runPage(t, RunData{Timeline: tl, Report: r, Predicted: predictions(r)})
	root := parseXML(t, page)
	rows := map[string]*elem{}
	for _, tr := range root.all(named("tr")) {
		if tds := tr.all(named("td")); len(tds) > 0 {
			rows[tds[0].textContent()] = tr
		}
	}
	for _, m := range predictions(r) {
		tr := rows[m.Name]
		if tr == nil {
			t.Fatalf("no row for metric %q", m.Name)
		}
		text := tr.textContent()
		if got := tr.hasClass("outside"); got != m.Outside {
			t.Errorf("%s row flagged outside: got %v, want %v", m.Name, got, m.Outside)
		}
		if got := strings.Contains(text, "outside"); got != m.Outside {
			t.Errorf("%s row says outside: got %v, want %v (%q)", m.Name, got, m.Outside, text)
		}
		if !m.Known && !strings.Contains(text, "not measured") {
			t.Errorf("%s row: got %q, want it to say not measured", m.Name, text)
		}
	}
}

// proxyBars returns the bars of the proxy lane by class: "recorded",
// "inferred", "none" (no change reported), and by colour.
func proxyBars(t *testing.T, svg *elem) (byClass map[string]int, byFill map[string]int, bars []*elem) {
	t.Helper()
	bars = only(t, svg, "proxy lane", classed("g", "lane-proxy")).all(named("rect"))
	byClass, byFill = map[string]int{}, map[string]int{}
	for _, b := range bars {
		switch {
		case b.hasClass("inferred"):
			byClass["inferred"]++
		case b.attr["fill"] == noneColor:
			byClass["none"]++
		default:
			byClass["recorded"]++
			byFill[b.attr["fill"]]++
		}
	}
	return byClass, byFill, bars
}

func TestRunChartHasOneBarPerProxyStateInterval(t *testing.T) {
	tl := masterKill()
	svg := parseXML(t, RunSVG(RunData{Timeline: tl, Report: judge(t, tl)}))
	// Recorded: master redis1 DOWN (the repeated DOWN merged), redis2 UP;
	// replica redis1 UP, redis2 DOWN. Each of them is a first change, so
	// each row starts with the other side, inferred. Nothing happened to
	// redis3 on either port.
	byClass, byFill, bars := proxyBars(t, svg)
	if len(bars) != 10 || byClass["recorded"] != 4 || byClass["inferred"] != 4 || byClass["none"] != 2 {
		t.Errorf("got %d bars %v, want 10: 4 recorded, 4 inferred, 2 without a change", len(bars), byClass)
	}
	if byFill[upColor] != 2 || byFill[downColor] != 2 {
		t.Errorf("got recorded bars %v, want 2 UP and 2 DOWN", byFill)
	}
	for _, label := range []string{"master · redis1", "master · redis3", "replica · redis3", "no change reported", "UP (inferred)"} {
		if !strings.Contains(svg.textContent(), label) {
			t.Errorf("chart text lacks %q", label)
		}
	}
	// master · redis1: inferred UP from the start to 11s, then DOWN.
	scale := (runWidth - runRight - runGutter) / tl.End.Seconds()
	for _, b := range bars {
		if !strings.HasPrefix(b.textContent(), "master port, redis1") {
			continue
		}
		x, w := attrFloat(t, b, "x"), attrFloat(t, b, "width")
		if b.hasClass("inferred") {
			if b.attr["fill"] != upColor || math.Abs(x-runGutter) > 0.1 || math.Abs(w-11*scale) > 0.2 {
				t.Errorf("inferred bar %s at x=%v w=%v, want UP from %v over %v", b.attr["fill"], x, w, runGutter, 11*scale)
			}
		} else if b.attr["fill"] != downColor || math.Abs(x-(runGutter+11*scale)) > 0.1 {
			t.Errorf("recorded bar %s at x=%v, want DOWN from %v", b.attr["fill"], x, runGutter+11*scale)
		}
	}
}

func TestProxyLaneTakesEarlyEventsForTheFirstReport(t *testing.T) {
	// A proxy in a container is polled from the start: its first events
	// are its report of every server, not changes, and nothing is
	// inferred. States between the sides are amber.
	tl := masterKill()
	var events []timeline.Event
	for _, e := range tl.Events {
		if e.Kind != timeline.KindProxy {
			events = append(events, e)
		}
	}
	proxy := func(at float64, port, node, name, state string) {
		events = append(events, timeline.Event{T: ms(at), Kind: timeline.KindProxy, Port: port, Node: node, Name: name, State: state})
	}
	proxy(50, timeline.PortMaster, "redis1", "server-up", "UP")
	proxy(50, timeline.PortMaster, "redis2", "server-down", "DOWN")
	proxy(50, timeline.PortMaster, "redis3", "server-down", "DOWN")
	proxy(50, timeline.PortReplica, "redis1", "server-down", "DOWN 1/2")
	proxy(50, timeline.PortReplica, "redis2", "server-up", "UP")
	proxy(50, timeline.PortReplica, "redis3", "server-up", "UP")
	proxy(11000, timeline.PortMaster, "redis1", "server-down", "DOWN")
	proxy(17250, timeline.PortMaster, "redis2", "server-up", "UP 1/3")
	proxy(17500, timeline.PortMaster, "redis2", "server-up", "UP")
	tl.Events = events
	tl.Sort()
	svg := parseXML(t, RunSVG(RunData{Timeline: tl}))
	byClass, byFill, bars := proxyBars(t, svg)
	// master: redis1 UP, DOWN; redis2 DOWN, UP 1/3, UP; redis3 DOWN.
	// replica: redis1 DOWN 1/2; redis2 UP; redis3 UP.
	if len(bars) != 9 || byClass["recorded"] != 9 {
		t.Errorf("got %d bars %v, want 9, all recorded", len(bars), byClass)
	}
	if byFill[upColor] != 4 || byFill[downColor] != 3 || byFill[transColor] != 2 {
		t.Errorf("got %v, want 4 UP, 3 DOWN, 2 between", byFill)
	}
}

func TestProxyKindsColourStates(t *testing.T) {
	for _, c := range []struct{ state, name, want string }{
		{"UP", "server-up", "up"}, {"DOWN", "server-down", "down"}, {"UP 1/3", "", "trans"}, {"DOWN 1/2", "", "trans"},
		{"MAINT", "server-down", "other"}, {"DRAIN", "server-up", "other"}, {"no check", "server-up", "up"},
		{"", "server-up", "up"}, {"", "server-down", "down"},
	} {
		if got := proxyKind(c.state, c.name); got != c.want {
			t.Errorf("proxyKind(%q, %q) = %q, want %q", c.state, c.name, got, c.want)
		}
	}
}

func TestRunChartDrawsRolesFaultsAndSentinels(t *testing.T) {
	tl := masterKill()
	svg := parseXML(t, RunSVG(RunData{Timeline: tl, Report: judge(t, tl)}))
	roles := only(t, svg, "roles lane", classed("g", "lane-roles")).all(named("rect"))
	// redis1 master, unreachable, master, slave; redis2 slave, master;
	// redis3 slave of redis1, slave of redis2.
	if len(roles) != 8 {
		t.Errorf("got %d role bars, want 8", len(roles))
	}
	if n := len(svg.all(classed("line", "fault"))); n != 2 {
		t.Errorf("got %d fault lines, want 2 (kill, start)", n)
	}
	text := svg.textContent()
	for _, want := range []string{"kill redis1", "start redis1", "+sdown redis1", "+odown redis1", "+promoted-slave slave redis2",
		"+switch-master → redis2", "+convert-to-slave slave redis1", "sentinel1", "sentinel2", "sentinel3", "+switch-master +0.951s"} {
		if !strings.Contains(text, want) {
			t.Errorf("chart text lacks %q", want)
		}
	}
	// Each important Sentinel event is labelled once, not once per
	// Sentinel.
	if n := strings.Count(text, "+switch-master → redis2"); n != 1 {
		t.Errorf("+switch-master labelled %d times, want 1", n)
	}
}

func TestRunChartDrawsEveryFailedOperation(t *testing.T) {
	tl := masterKill()
	r := judge(t, tl)
	svg := parseXML(t, RunSVG(RunData{Timeline: tl, Report: r}))
	writes := only(t, svg, "writes lane", classed("g", "ops-write"))
	marks := func(g *elem, class string) int {
		n := 0
		for _, p := range g.all(classed("path", class)) {
			n += strings.Count(strings.ToLower(p.attr["d"]), "m")
		}
		return n
	}
	if got, want := marks(writes, "op-fail"), r.Writes.Failed; got != want {
		t.Errorf("got %d failed write marks, want %d", got, want)
	}
	if got, want := marks(writes, "op-info"), r.Writes.Indeterminate; got != want {
		t.Errorf("got %d indeterminate write marks, want %d", got, want)
	}
	if got := marks(writes, "op-ok"); got == 0 || got >= r.Writes.OK {
		t.Errorf("got %d ok write marks for %d ok writes, want some, merged", got, r.Writes.OK)
	}
	reads := only(t, svg, "reads lane", classed("g", "ops-read"))
	if got, want := marks(reads, "op-fail"), r.Reads.Failed; got != want {
		t.Errorf("got %d failed read marks, want %d", got, want)
	}
}

func TestRunChartShadesTheWriteInterruption(t *testing.T) {
	tl := masterKill()
	r := judge(t, tl)
	svg := parseXML(t, RunSVG(RunData{Timeline: tl, Report: r}))
	shade := only(t, svg, "interruption shading", classed("rect", "interruption"))
	scale := (runWidth - runRight - runGutter) / tl.End.Seconds()
	it := r.WriteInterruption
	if x, want := attrFloat(t, shade, "x"), runGutter+it.LastOK.Seconds()*scale; math.Abs(x-want) > 0.1 {
		t.Errorf("shading starts at x=%v, want %v (%s)", x, want, secs(it.LastOK))
	}
	if w, want := attrFloat(t, shade, "width"), it.Duration.Seconds()*scale; math.Abs(w-want) > 0.2 {
		t.Errorf("shading is %v wide, want %v (%s)", w, want, secs(it.Duration))
	}
	if !strings.Contains(svg.textContent(), "write interruption "+secs(it.Duration)) {
		t.Errorf("the interruption is not labelled with its duration %s", secs(it.Duration))
	}
}

func TestRunSVGIsAStandaloneDocument(t *testing.T) {
	tl := masterKill()
	s := RunSVG(RunData{Timeline: tl, Report: judge(t, tl)})
	if !strings.HasPrefix(s, `<svg xmlns="http://www.w3.org/2000/svg"`) {
		t.Errorf("got %.60q, want an svg element with its namespace", s)
	}
	root := parseXML(t, s)
	if root.name != "svg" || root.attr["width"] == "" || root.attr["viewBox"] == "" {
		t.Errorf("got <%s width=%q viewBox=%q>, want a sized svg", root.name, root.attr["width"], root.attr["viewBox"])
	}
	checkNoExternalURL(t, s)
}

func TestRunChartLimitsToTheRequestedWindow(t *testing.T) {
	tl := masterKill()
	svg := parseXML(t, RunSVG(RunData{Timeline: tl, Report: judge(t, tl), From: 9 * time.Second, To: 19 * time.Second}))
	if strings.Contains(svg.textContent(), "start redis1") {
		t.Error("the fault at 21s is drawn in a 9s-19s window")
	}
	_, _, bars := proxyBars(t, svg)
	for _, b := range bars {
		if x, w := attrFloat(t, b, "x"), attrFloat(t, b, "width"); x < runGutter-0.05 || x+w > runWidth-runRight+0.15 {
			t.Errorf("bar %q spans x %v..%v, outside the plot", b.textContent(), x, x+w)
		}
	}
}

func TestRunReportEscapesText(t *testing.T) {
	tl := masterKill()
	tl.Scenario = `a<b & "c"`
	tl.Events = append(tl.Events, timeline.Event{T: ms(15500), Kind: timeline.KindSentinel, Source: "sentinel1", Name: "+tilt",
		Detail: "#tilt mode entered \x1b[1m<i>"})
	tl.Sort()
	page := runPage(t, RunData{Title: `<script>alert("x")</script>`, Timeline: tl})
	root := parseXML(t, page)
	if strings.Contains(page, "<script") || strings.Contains(page, "<i>") {
		t.Error("page holds unescaped markup from its data")
	}
	if !strings.Contains(root.textContent(), `a<b & "c"`) {
		t.Error("the scenario's name does not read back as text")
	}
}

func TestRunReportWithoutFault(t *testing.T) {
	tl := masterKill()
	var events []timeline.Event
	for _, e := range tl.Events {
		if e.Kind != timeline.KindFault {
			events = append(events, e)
		}
	}
	tl.Events = events
	page := runPage(t, RunData{Timeline: tl})
	root := parseXML(t, page)
	if !strings.Contains(root.textContent(), "no fault in this run") {
		t.Error("the page does not say there was no fault")
	}
	if len(root.all(classed("rect", "interruption"))) != 0 {
		t.Error("an interruption is shaded without a fault")
	}
}

func TestWriteRunNeedsATimeline(t *testing.T) {
	if err := WriteRun(io.Discard, RunData{}); err == nil {
		t.Error("got no error without a timeline")
	}
}

func sweep() SweepData {
	d := SweepData{
		Title: "Sweep of proxy.inter", XName: "proxy.inter", YName: "write interruption (s)",
		Header: []string{"down_after", "inter", "median", "p95", "model p5–p95"},
		Notes: []string{"With down_after=5s, inter=250ms halves the proxy's share <b>& more</b>.",
			"Recommended:\n  down-after-milliseconds 5000\n  inter 250ms fastinter 100ms"},
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for si, da := range []float64{5, 10} {
		s := SweepSeries{Label: fmt.Sprintf("down_after=%gs", da)}
		for _, inter := range []float64{0.1, 0.25, 0.5, 1, 2} {
			p := SweepPoint{X: inter, XLabel: time.Duration(inter * float64(time.Second)).String()}
			for range 5 {
				p.Measured = append(p.Measured, da+0.8+inter*1.2+rng.Float64()*1.5)
			}
			if si == 0 || inter >= 0.5 { // the second series has no model below 500ms
				p.ModelP5, p.ModelP50, p.ModelP95 = da+0.5+inter, da+1.2+inter*1.2, da+2.5+inter*2
			}
			s.Points = append(s.Points, p)
			d.Rows = append(d.Rows, []string{s.Label, p.XLabel, fmt.Sprintf("%.3fs", stats.Median(p.Measured)), "", ""})
		}
		d.Series = append(d.Series, s)
	}
	return d
}

func TestSweepReportIsWellFormedAndSelfContained(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSweep(&b, sweep()); err != nil {
		t.Fatalf("WriteSweep: %v", err)
	}
	page := b.String()
	root := parseXML(t, page)
	checkNoExternalURL(t, page)
	if n := len(root.all(named("svg"))); n != 1 {
		t.Errorf("got %d svg elements, want 1", n)
	}
	if n := len(root.all(named("th"))); n != 5 {
		t.Errorf("got %d header cells, want 5", n)
	}
	if n := len(root.all(named("tr"))); n != 11 {
		t.Errorf("got %d table rows, want 11", n)
	}
	pres := root.all(named("pre"))
	if len(pres) != 1 || !strings.Contains(pres[0].textContent(), "\n  inter 250ms") {
		t.Errorf("got %d <pre>, want the multi-line note preformatted", len(pres))
	}
	if strings.Contains(page, "<b>& more") || !strings.Contains(root.textContent(), "<b>& more</b>") {
		t.Error("a note's markup is not escaped")
	}
}

func TestSweepChartDrawsRunsMediansAndBands(t *testing.T) {
	d := sweep()
	svg := parseXML(t, SweepSVG(d))
	if n := len(svg.all(classed("circle", "dot"))); n != 50 {
		t.Errorf("got %d dots, want 50 (2 series × 5 values × 5 repeats)", n)
	}
	if n := len(svg.all(classed("polyline", "median"))); n != 2 {
		t.Errorf("got %d median lines, want 2", n)
	}
	bands := svg.all(func(e *elem) bool { return e.hasClass("band") })
	if len(bands) != 2 {
		t.Errorf("got %d model bands, want 2", len(bands))
	}
	// The second series' band starts at 500ms: 3 points, 6 vertices.
	if n := len(strings.Fields(bands[1].attr["points"])); n != 6 {
		t.Errorf("second band has %d vertices, want 6", n)
	}
	text := svg.textContent()
	for _, want := range []string{"down_after=5s", "down_after=10s", "proxy.inter", "write interruption (s)", "250ms", "model p5–p95"} {
		if !strings.Contains(text, want) {
			t.Errorf("chart text lacks %q", want)
		}
	}
}

func TestSweepChartSkipsValuesItCannotPlace(t *testing.T) {
	d := sweep()
	d.Series[0].Points[0].Measured = append(d.Series[0].Points[0].Measured, math.NaN(), math.Inf(1))
	d.Series[0].Points = append(d.Series[0].Points, SweepPoint{X: math.Inf(1), Measured: []float64{1}})
	s := SweepSVG(d)
	svg := parseXML(t, s)
	if strings.Contains(s, "NaN") || strings.Contains(s, "Inf") {
		t.Error("the chart holds NaN or Inf coordinates")
	}
	if n := len(svg.all(classed("circle", "dot"))); n != 50 {
		t.Errorf("got %d dots, want the 50 finite ones", n)
	}
}

func TestEmptyRunRenders(t *testing.T) {
	tl := &timeline.Timeline{Scenario: "empty"}
	root := parseXML(t, runPage(t, RunData{Timeline: tl}))
	if n := len(root.all(named("svg"))); n != 1 {
		t.Errorf("got %d svg elements, want 1", n)
	}
}

func TestSweepChartWithoutDataSaysSo(t *testing.T) {
	svg := parseXML(t, SweepSVG(SweepData{XName: "proxy.inter", YName: "s"}))
	if !strings.Contains(svg.textContent(), "no data") {
		t.Error("an empty sweep chart does not say so")
	}
}

// screenshot renders page with headless Chromium and returns the image. It
// skips when chromium is not on PATH, unless REDISHA_REQUIRE_CHROMIUM is
// set; with REDISHA_SCREENSHOT_DIR set it keeps the page, the picture and
// the chart alone (svg) there.
func screenshot(t *testing.T, name, page, svg string) image.Image {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("REDISHA_REQUIRE_CHROMIUM") != "" {
			t.Fatalf("chromium is not on PATH and REDISHA_REQUIRE_CHROMIUM is set: install the Debian package chromium")
		}
		t.Skip("chromium is not on PATH (Debian package chromium); set REDISHA_REQUIRE_CHROMIUM=1 to fail instead")
	}
	dir := t.TempDir()
	htmlPath := filepath.Join(dir, name+".html")
	pngPath := filepath.Join(dir, name+".png")
	if err := os.WriteFile(htmlPath, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--no-first-run", "--no-default-browser-check", "--disable-dev-shm-usage",
		"--window-size=1400,1800", "--user-data-dir="+filepath.Join(dir, "profile"),
		"--screenshot="+pngPath, "file://"+htmlPath)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	cmd.WaitDelay = 5 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	b, err := os.ReadFile(pngPath)
	if err != nil {
		t.Fatalf("chromium wrote no screenshot: %v", err)
	}
	if keep := os.Getenv("REDISHA_SCREENSHOT_DIR"); keep != "" {
		if err := os.MkdirAll(keep, 0o755); err != nil {
			t.Fatal(err)
		}
		for path, data := range map[string][]byte{name + ".png": b, name + ".html": []byte(page), name + ".svg": []byte(svg)} {
			if err := os.WriteFile(filepath.Join(keep, path), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("screenshot kept in %s", filepath.Join(keep, name+".png"))
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode screenshot: %v", err)
	}
	return img
}

func hexColor(t *testing.T, s string) color.RGBA {
	t.Helper()
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "#"), 16, 32)
	if err != nil {
		t.Fatalf("colour %q: %v", s, err)
	}
	return color.RGBA{uint8(v >> 16), uint8(v >> 8), uint8(v), 255}
}

// pixelStats returns the share of pixels that are not white and how many
// pixels are within a small distance of each colour.
func pixelStats(img image.Image, colors []color.RGBA) (nonWhite float64, counts []int) {
	counts = make([]int, len(colors))
	b := img.Bounds()
	n, total := 0, 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			r, g, bl = r>>8, g>>8, bl>>8
			total++
			if r < 245 || g < 245 || bl < 245 {
				n++
			}
			for i, c := range colors {
				if absDiff(r, uint32(c.R)) <= 6 && absDiff(g, uint32(c.G)) <= 6 && absDiff(bl, uint32(c.B)) <= 6 {
					counts[i]++
				}
			}
		}
	}
	return float64(n) / float64(total), counts
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

func TestRunReportRendersInABrowser(t *testing.T) {
	tl := masterKill()
	r := judge(t, tl)
	page := runPage(t, RunData{Timeline: tl, Report: r, Predicted: predictions(r)})
	img := screenshot(t, "run", page, RunSVG(RunData{Timeline: tl, Report: judge(t, tl)}))
	nonWhite, counts := pixelStats(img, []color.RGBA{hexColor(t, upColor), hexColor(t, downColor)})
	if nonWhite < 0.08 {
		t.Errorf("only %.1f%% of the screenshot is not white, want at least 8%%", 100*nonWhite)
	}
	for i, what := range []string{"UP green", "DOWN red"} {
		if counts[i] < 200 {
			t.Errorf("got %d pixels of %s, want at least 200", counts[i], what)
		}
	}
}

func TestSweepReportRendersInABrowser(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSweep(&b, sweep()); err != nil {
		t.Fatalf("WriteSweep: %v", err)
	}
	img := screenshot(t, "sweep", b.String(), SweepSVG(sweep()))
	nonWhite, counts := pixelStats(img, []color.RGBA{hexColor(t, seriesColor(0)), hexColor(t, seriesColor(1))})
	if nonWhite < 0.04 {
		t.Errorf("only %.1f%% of the screenshot is not white, want at least 4%%", 100*nonWhite)
	}
	for i, c := range counts {
		if c < 100 {
			t.Errorf("got %d pixels of series %d's colour, want at least 100", c, i)
		}
	}
}

func TestSweepChartOnALogScaleSpacesRatiosEqually(t *testing.T) {
	d := sweep()
	d.LogX = true
	svg := parseXML(t, SweepSVG(d))
	if !strings.Contains(svg.textContent(), "proxy.inter (log scale)") {
		t.Error("the axis does not say it is a log scale")
	}
	med := svg.all(classed("polyline", "median"))[0]
	var xs []float64
	for _, pt := range strings.Fields(med.attr["points"]) {
		x, _, _ := strings.Cut(pt, ",")
		v, err := strconv.ParseFloat(x, 64)
		if err != nil {
			t.Fatalf("median point %q: %v", pt, err)
		}
		xs = append(xs, v)
	}
	if len(xs) != 5 {
		t.Fatalf("got %d median points, want 5", len(xs))
	}
	// 250ms to 500ms and 1s to 2s are both a doubling.
	if a, b := xs[2]-xs[1], xs[4]-xs[3]; math.Abs(a-b) > 0.2 {
		t.Errorf("a doubling spans %vpx at 250ms and %vpx at 1s, want the same", a, b)
	}
}

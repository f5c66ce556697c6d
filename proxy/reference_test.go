package proxy

import (
	"bufio"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy/config"
)

// refRow is one row of a checked table of REFERENCE.md.
type refRow struct {
	line  int
	cells []string
}

var checkMarker = regexp.MustCompile(`^<!-- check: (.+) -->$`)

// referenceTables reads the tables of REFERENCE.md that follow a
// "<!-- check: <name> -->" marker: for each name, the rows after the
// header, with their cells unquoted (backticks removed, "\|" unescaped).
func referenceTables(t *testing.T) map[string][]refRow {
	t.Helper()
	f, err := os.Open("REFERENCE.md")
	if err != nil {
		t.Fatalf("open reference: %v", err)
	}
	defer f.Close()
	out := map[string][]refRow{}
	cur, sep := "", false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if m := checkMarker.FindStringSubmatch(line); m != nil {
			if _, dup := out[m[1]]; dup {
				t.Errorf("REFERENCE.md:%d: a second table for %q", n, m[1])
			}
			cur, sep = m[1], false
			out[cur] = nil
			continue
		}
		if cur == "" {
			continue
		}
		if !strings.HasPrefix(line, "|") {
			if line != "" || len(out[cur]) > 0 || sep {
				cur = ""
			}
			continue
		}
		if strings.HasPrefix(line, "|---") {
			sep = true
			continue
		}
		if !sep {
			continue // the header row
		}
		line = strings.ReplaceAll(strings.Trim(line, "|"), `\|`, "\x00")
		var cells []string
		for _, c := range strings.Split(line, "|") {
			c = strings.ReplaceAll(strings.TrimSpace(c), "\x00", "|")
			cells = append(cells, strings.Trim(c, "`"))
		}
		out[cur] = append(out[cur], refRow{line: n, cells: cells})
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read reference: %v", err)
	}
	return out
}

func TestReferenceDocumentsEveryKeywordOfTheParserAndNoOther(t *testing.T) {
	tables := referenceTables(t)
	want := map[string]map[string]config.Support{} // context: name: support
	for _, k := range config.Keywords() {
		if want[k.Context] == nil {
			want[k.Context] = map[string]config.Support{}
		}
		if _, dup := want[k.Context][k.Name]; dup {
			t.Errorf("config.Keywords lists %q twice in context %q", k.Name, k.Context)
		}
		want[k.Context][k.Name] = k.Support
	}
	documented := map[string]map[string]bool{}
	for name, rows := range tables {
		ctx, ok := strings.CutPrefix(name, "keywords ")
		if !ok {
			continue
		}
		if want[ctx] == nil {
			t.Errorf("REFERENCE.md documents keyword context %q, which the parser does not have", ctx)
			continue
		}
		documented[ctx] = map[string]bool{}
		for _, r := range rows {
			if len(r.cells) < 2 {
				t.Errorf("REFERENCE.md:%d: want | keyword | status | ..., got %q", r.line, r.cells)
				continue
			}
			kw, status := r.cells[0], config.Support(r.cells[1])
			if documented[ctx][kw] {
				t.Errorf("REFERENCE.md:%d: %s %q is documented twice", r.line, ctx, kw)
			}
			documented[ctx][kw] = true
			got, ok := want[ctx][kw]
			switch {
			case !ok:
				t.Errorf("REFERENCE.md:%d: %s keyword %q is documented but the parser does not know it", r.line, ctx, kw)
			case got != status:
				t.Errorf("REFERENCE.md:%d: %s keyword %q is documented as %q, the parser has it %q", r.line, ctx, kw, status, got)
			}
		}
	}
	for ctx, kws := range want {
		for kw, s := range kws {
			if !documented[ctx][kw] {
				t.Errorf("%s keyword %q (%s) is in the parser's table but not in REFERENCE.md", ctx, kw, s)
			}
		}
	}
}

// refProxy starts a proxy with one checked server that nothing listens on.
func refProxy(t *testing.T) *Proxy {
	t.Helper()
	cfg := &config.Config{
		Frontends: []*config.Frontend{tcpFrontend("fe", "be")},
		Backends: []*config.Backend{{Name: "be", Servers: []*config.Server{
			{Name: "s", Addr: "127.0.0.1:1", Check: true, Inter: time.Hour},
		}}},
	}
	return start(t, cfg)
}

func TestReferenceDocumentsEveryRuntimeCommandAndNoOther(t *testing.T) {
	rows := referenceTables(t)["runtime"]
	documented := map[string]bool{}
	for _, r := range rows {
		documented[r.cells[0]] = true
		if !slices.ContainsFunc(runtimeHelp, func(h [2]string) bool { return h[0] == r.cells[0] }) {
			t.Errorf("REFERENCE.md:%d: runtime command %q is documented but not in the runtime API's command table", r.line, r.cells[0])
		}
	}
	p := refProxy(t)
	fill := strings.NewReplacer("<bk>/<srv>", "be/s", "[<backend>]", "be", "<w>[%]", "1", "[json|typed]", "", "ready|drain|maint", "ready", "up|down", "up")
	for _, h := range runtimeHelp {
		if !documented[h[0]] {
			t.Errorf("runtime command %q is in the command table but not in REFERENCE.md", h[0])
		}
		if h[0] == "prompt" || h[0] == "quit" {
			continue // the connection loop answers these
		}
		cmd := strings.TrimSpace(fill.Replace(h[0]))
		if strings.ContainsAny(cmd, "<>[]|") {
			t.Errorf("runtime command %q: no sample for its arguments (got %q)", h[0], cmd)
			continue
		}
		if got := p.runtimeCommand(cmd, "admin"); strings.Contains(got, "Unknown command") {
			t.Errorf("runtime command %q: got %q, want an answer", cmd, got)
		}
	}
}

func TestReferenceDocumentsEveryMetricAndNoOther(t *testing.T) {
	rows := referenceTables(t)["metrics"]
	p := refProxy(t)
	mfs, err := p.metrics.reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	exported := map[string]bool{}
	for _, mf := range mfs {
		exported[mf.GetName()] = true
	}
	documented := map[string]bool{}
	for _, r := range rows {
		documented[r.cells[0]] = true
		if !exported[r.cells[0]] {
			t.Errorf("REFERENCE.md:%d: metric %q is documented but the proxy does not export it", r.line, r.cells[0])
		}
	}
	if len(exported) == 0 {
		t.Fatal("the proxy exports no metric")
	}
	for name := range exported {
		if !documented[name] {
			t.Errorf("metric %q is exported but not in REFERENCE.md", name)
		}
	}
}

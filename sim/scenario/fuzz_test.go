package scenario

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// FuzzParse feeds the loader any file and any --set lines (one per line
// of sets). It must not panic or hang, must refuse with one line per
// problem, and what it accepts must be within the bounds.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "")
	}
	f.Add([]byte(aliasBomb()), "")
	f.Add([]byte("name: x\n"), "topology.nodes=-1\nsentinel.count=-2")
	f.Add([]byte("name: x\n"), "faults=[{at: 1s, action: kill, target: master}]\nfaults[0].at=2s")
	f.Add([]byte("name: x\n"), "expect=[&a [x, x], *a]")
	f.Add([]byte("proxy: {config: seed.cfg}\n"), "topology.nodes=2")
	f.Add([]byte("\xef\xbb\xbf{}"), "proxy.shutdown_sessions=maybe")
	f.Add([]byte("topology: {groups: 3, hosts: [h1, h2, h3]}\nfaults: [{at: 1s, action: kill, target: \"host:h1\"}]\n"), "topology.groups=2")
	f.Add([]byte("topology:\n  hosts: [a, b]\n  groups: [{name: x, hosts: [a]}, {nodes: 2, master_name: m}]\nsentinel: {hosts: [b]}\n"), "topology.groups[1].nodes=4")
	fsys := fstest.MapFS{"seed.cfg": {Data: []byte("frontend f\n  mode tcp\n  bind :0\n  default_backend b\nbackend b\n  mode tcp\n  server r1 127.0.0.1:1 check\n")}}
	f.Fuzz(func(t *testing.T, data []byte, sets string) {
		var setList []string
		if sets != "" {
			setList = strings.Split(sets, "\n")
		}
		// In a file system of its own: a fuzzed proxy.config must not
		// open files of this machine (a FIFO would block).
		s, err := parse("f.yaml", data, setList, fsys)
		if err != nil {
			if es, ok := err.(Errors); ok {
				for _, e := range es {
					if e.Msg == "" {
						t.Errorf("an error without a message: %+v", e)
					}
					if strings.ContainsAny(e.Error(), "\n\r") {
						t.Errorf("an error of more than one line: %q", e.Error())
					}
				}
			}
			return
		}
		groups := s.ResolvedGroups()
		oneByDefault := len(s.Topology.Groups.List) == 0 && s.Topology.Groups.Count <= 1
		if n := s.Topology.Nodes; n < 2 || n > MaxNodes || (oneByDefault && len(s.NodeNames()) != n) {
			t.Errorf("accepted %d nodes (%d names)", n, len(s.NodeNames()))
		}
		if len(groups) < 1 || len(groups) > MaxGroups || len(s.NodeNames()) > MaxRunNodes {
			t.Errorf("accepted %d groups of %d nodes in all", len(groups), len(s.NodeNames()))
		}
		for _, g := range groups {
			if len(g.Nodes) < 2 || len(g.Nodes) > MaxNodes {
				t.Errorf("accepted group %s of %d nodes", g.Name, len(g.Nodes))
			}
		}
		placed := 0
		for _, h := range s.ResolvedHosts() {
			placed += len(h.Members)
		}
		if len(s.Topology.Hosts) > 0 && placed != len(s.NodeNames())+len(s.SentinelNames()) {
			t.Errorf("accepted hosts placing %d of %d nodes and Sentinels", placed, len(s.NodeNames())+len(s.SentinelNames()))
		}
		if c := s.Sentinel.Count; c < 1 || c > MaxSentinels {
			t.Errorf("accepted %d sentinels", c)
		}
		for _, c := range []Clients{s.Workload.Writers, s.Workload.Readers} {
			if c.Count < 0 || c.Count > MaxClients || !(c.Rate > 0 && c.Rate <= MaxRate) {
				t.Errorf("accepted clients %+v", c)
			}
		}
		for _, d := range []Duration{s.Duration, s.Settle, s.Warmup, s.Proxy.Inter, s.Sentinel.DownAfter} {
			if d.D < 0 || d.D > MaxDuration {
				t.Errorf("accepted duration %v", d)
			}
		}
		for _, e := range s.Expectations {
			if math.IsNaN(e.Value) {
				t.Errorf("accepted NaN in %q", e.Raw)
			}
		}
	})
}

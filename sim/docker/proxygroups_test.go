package docker

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/scenarios"
	"github.com/redisha-sim/redisha-sim/sim/rig"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/undertest"
)

// threeGroups is master-kill with the seed's three-set file and three
// groups, and its nodes at placeholder addresses.
func threeGroups(t *testing.T, kind string) (*scenario.Scenario, []undertest.NodeAddr) {
	t.Helper()
	s, err := scenario.LoadFS(scenarios.FS, "master-kill.yaml", []string{"proxy.config=haproxy-seed-three-sets.cfg"})
	if err != nil {
		t.Fatal(err)
	}
	s.Proxy.Kind = kind
	s.Topology.Groups = scenario.Groups{Count: 3}
	var nodes []undertest.NodeAddr
	for i, n := range s.NodeNames() {
		nodes = append(nodes, undertest.NodeAddr{Name: n, Addr: fmt.Sprintf("10.1.0.%d:6379", 10+i)})
	}
	return s, nodes
}

// A proxy container in front of three groups: one frontend pair per group
// on the file's ports, and the server states of every group's backends
// reported on the right node and port.
func TestContainerProxyServesAndFollowsEveryGroup(t *testing.T) {
	s, nodes := threeGroups(t, "haproxy")
	layout, text, err := ProxyConfigFor(s, nodes, nil)
	if err != nil {
		t.Fatal(err)
	}
	csv := "# pxname,svname,status,check_status\n" +
		"front_redis_master2,FRONTEND,OPEN,\n" +
		"back_redis_master1,redis1,UP,L7OK\n" +
		"back_redis_master2,redis1,UP,L7OK\n" +
		"back_redis_master2,redis2,DOWN,L7TOUT\n" +
		"back_redis_slave3,redis3,UP,L7OK\n" +
		"stats,BACKEND,UP,\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, csv) }))
	defer srv.Close()
	p := &containerProxy{c: &Container{clientsIP: netip.MustParseAddr("10.2.0.5")}, layout: layout, statsURL: srv.URL}

	var got []string
	for _, f := range p.Frontends() {
		got = append(got, fmt.Sprintf("%s %s %s", f.Group, f.MasterAddr, f.ReplicaAddr))
	}
	want := "group1 10.2.0.5:5000 10.2.0.5:5001|group2 10.2.0.5:5002 10.2.0.5:5003|group3 10.2.0.5:5004 10.2.0.5:5005"
	if strings.Join(got, "|") != want {
		t.Errorf("frontends:\ngot  %s\nwant %s", strings.Join(got, "|"), want)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	var mu sync.Mutex
	events := map[string]bool{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Watch(ctx, func(e rig.ProxyEvent) {
			mu.Lock()
			defer mu.Unlock()
			events[e.Port+"/"+e.Node] = e.Up
			if len(events) == 4 {
				cancel()
			}
		})
	}()
	<-done
	wantEvents := map[string]bool{"master/group1.redis1": true, "master/group2.redis1": true, "master/group2.redis2": false, "replica/group3.redis3": true}
	if fmt.Sprint(events) != fmt.Sprint(wantEvents) {
		t.Errorf("events: got %v, want %v", events, wantEvents)
	}
	// Real HAProxy accepts the rendered configuration.
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy not installed: the rendered configuration is not checked")
	}
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.CommandContext(t.Context(), haproxy, "-c", "-f", path).CombinedOutput(); err != nil {
		t.Errorf("haproxy -c: %v\n%s\n%s", err, out, text)
	}
}

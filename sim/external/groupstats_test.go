package external_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redisha-sim/redisha-sim/sim/external"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
)

// serveCSV serves a stats CSV whose servers are the rows given as
// "backend,server,addr" and returns its URL.
func serveCSV(t *testing.T, rows ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("# pxname,svname,status,addr\n")
	for _, r := range rows {
		be, rest, _ := strings.Cut(r, ",")
		sv, addr, _ := strings.Cut(rest, ",")
		fmt.Fprintf(&b, "%s,%s,UP,%s\n%[1]s,BACKEND,UP,\n", be, sv, addr)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, b.String()) }))
	t.Cleanup(srv.Close)
	return srv.URL + "/stats;csv"
}

// twoGroupsBehindStats loads a scenario of groups cache (cache-redis1 at
// 10.0.0.1:6379, cache-redis2 at 10.0.0.2:6379) and sessions
// (sessions-redis1 at 10.0.1.1:6379, sessions-redis2 at 10.0.1.2:6379),
// each with its ports of one proxy followed through url; backends adds
// YAML to each group's entry.
func twoGroupsBehindStats(t *testing.T, url string, backends [2]string) *scenario.Scenario {
	t.Helper()
	y := fmt.Sprintf(`name: stats
backend: external
topology:
  groups:
    - {name: cache, master_name: cache, proxy: {master: "haproxy:5000", replica: "haproxy:5001"}%s}
    - {name: sessions, master_name: sessions, proxy: {master: "haproxy:5002", replica: "haproxy:5003"}%s}
external:
  sentinels: [127.0.0.1:26379]
  proxy: {stats_csv: %q}
  nodes:
    - {name: cache-redis1, addr: "10.0.0.1:6379", group: cache}
    - {name: cache-redis2, addr: "10.0.0.2:6379", group: cache}
    - {name: sessions-redis1, addr: "10.0.1.1:6379", group: sessions}
    - {name: sessions-redis2, addr: "10.0.1.2:6379", group: sessions}
`, backends[0], backends[1], url)
	path := filepath.Join(t.TempDir(), "stats.yaml")
	if err := os.WriteFile(path, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := scenario.Load(path, nil)
	if err != nil {
		t.Fatalf("load:\n%s\n%v", y, err)
	}
	return s
}

func TestEachGroupsBackendsAreFoundByItsNodesAddresses(t *testing.T) {
	// The sessions set comes first and both sets name their servers
	// alike: only the addresses tell them apart.
	url := serveCSV(t,
		"bk_master_a,redis1,10.0.1.1:6379", "bk_master_a,redis2,10.0.1.2:6379",
		"bk_replica_a,redis1,10.0.1.1:6379", "bk_replica_a,redis2,10.0.1.2:6379",
		"bk_master_b,redis1,10.0.0.1:6379", "bk_master_b,redis2,10.0.0.2:6379",
		"bk_replica_b,redis1,10.0.0.1:6379", "bk_replica_b,redis2,10.0.0.2:6379")
	v, err := external.InspectProxy(t.Context(), twoGroupsBehindStats(t, url, [2]string{}), 0)
	if err != nil {
		t.Fatal(err)
	}
	for b, want := range map[string]string{"bk_master_a": "sessions master", "bk_replica_a": "sessions replica", "bk_master_b": "cache master", "bk_replica_b": "cache replica"} {
		if got := v.Groups[b] + " " + v.Ports[b]; got != want {
			t.Errorf("backend %s: got %q, want %q", b, got, want)
		}
	}
	if got := v.Servers["bk_master_a/redis2"]; got != "sessions-redis2" {
		t.Errorf("bk_master_a/redis2: got %q, want sessions-redis2", got)
	}
	if got := v.Servers["bk_replica_b/redis1"]; got != "cache-redis1" {
		t.Errorf("bk_replica_b/redis1: got %q, want cache-redis1", got)
	}
}

func TestAStatsCSVThatCannotServeEachGroupGivesOneClearError(t *testing.T) {
	byName := []string{ // no addresses: servers named as the end of the nodes' names
		"back_redis_master1,redis1,", "back_redis_master1,redis2,",
		"back_redis_master2,redis1,", "back_redis_master2,redis2,",
		"back_redis_master3,redis1,", "back_redis_master3,redis2,"}
	byAddr := []string{
		"back_redis_master1,s1,10.0.0.1:6379", "back_redis_master1,s2,10.0.0.2:6379",
		"back_redis_master2,s1,10.0.1.1:6379", "back_redis_master2,s2,10.0.1.2:6379"}
	for name, tc := range map[string]struct {
		rows     []string
		backends [2]string
		want     string
	}{
		"three candidates for two groups": {byName, [2]string{}, "backends back_redis_master1, back_redis_master2, back_redis_master3 could each serve the master port of group cache: say which with topology.groups[0].master_backend"},
		"one backend for both":            {byAddr, [2]string{", master_backend: back_redis_master2", ""}, "backend back_redis_master2 serves group cache and group sessions: say which backend serves each with topology.groups[1].master_backend"},
		"a group without servers":         {byAddr[:2], [2]string{}, "no server is a node of group sessions (by its addr column, its name or the end of its name; backends: back_redis_master1)"},
		"no such backend":                 {byAddr, [2]string{"", ", master_backend: bk_sessions"}, `topology.groups[1].master_backend "bk_sessions": the proxy's stats`},
	} {
		url := serveCSV(t, tc.rows...)
		_, err := external.InspectProxy(t.Context(), twoGroupsBehindStats(t, url, tc.backends), 0)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: got %v, want one line with %q", name, err, tc.want)
		}
	}
}

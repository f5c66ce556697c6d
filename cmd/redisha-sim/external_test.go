package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redisha-sim/redisha-sim/proxy/redistest"
)

// externalYAML describes a redistest cluster as an external deployment,
// with sentinels as its Sentinels' addresses.
func externalYAML(c *redistest.Cluster, sentinels []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: staging\nbackend: external\nduration: 5s\nexternal:\n  sentinels: [%s]\n  nodes:\n", strings.Join(sentinels, ", "))
	for i, n := range c.Nodes() {
		fmt.Fprintf(&b, "    - {name: redis%d, addr: %q, faults: {kill: \"kill -9 {pid}\"}}\n", i+1, n.Addr)
	}
	b.WriteString("faults:\n  - {at: 2s, action: kill, target: master}\n")
	return b.String()
}

func TestRunOnAnExternalDeploymentWithoutAllowFaultsIsADryRun(t *testing.T) {
	c := redistest.StartCluster(t, 1, "")
	c.WaitDiscovered(t)
	var sentinels []string
	for _, s := range c.Sentinels {
		sentinels = append(sentinels, s.Addr)
	}
	dir := t.TempDir()
	files := map[string]string{
		"dry.yaml":         externalYAML(c, sentinels),
		"unreachable.yaml": externalYAML(c, append(sentinels, "127.0.0.1:1")),
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stderr, code := runLimited(t, dir, "run", "dry.yaml")
	if code != 0 {
		t.Fatalf("dry run: exit %d, want 0; stderr:\n%s", code, stderr)
	}
	if _, err := c.Master.Do(t.Context(), "PING"); err != nil {
		t.Fatalf("the master does not answer after the dry run: %v", err)
	}
	if n, err := c.Master.Client().DBSize(t.Context()).Result(); err != nil || n != 0 {
		t.Errorf("keys on the master after the dry run: got %d (%v), want 0", n, err)
	}
	for _, args := range [][]string{{"run", "unreachable.yaml"}, {"run", "--allow-faults", "unreachable.yaml"}} {
		stderr, code := runLimited(t, dir, args...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code != 2 || len(lines) != 1 || !strings.Contains(lines[0], "sentinel 127.0.0.1:1: dial tcp 127.0.0.1:1: connect: connection refused") {
			t.Errorf("%v: got exit %d and\n%s\nwant exit 2 and one line naming the unreachable Sentinel", args, code, stderr)
		}
	}
	if _, err := c.Master.Do(t.Context(), "PING"); err != nil {
		t.Fatalf("the master does not answer after the refused runs: %v", err)
	}
}

// The new fields of the external section: bad input is one line naming
// file, line and field, exit 2, before anything is touched; a stats CSV
// that cannot be read refuses the run (also with --allow-faults) before
// any fault.
func TestBadExternalFieldsAreOneLineAndExit2(t *testing.T) {
	c := redistest.StartCluster(t, 1, "")
	c.WaitDiscovered(t)
	var sentinels []string
	for _, s := range c.Sentinels {
		sentinels = append(sentinels, s.Addr)
	}
	dir := t.TempDir()
	files := map[string]string{
		"stats-url.yaml":   strings.Replace(externalYAML(c, sentinels), "faults:\n", "  proxy: {master: \"127.0.0.1:1\", stats_csv: \"ftp://x:y@127.0.0.1/stats\"}\nfaults:\n", 1),
		"stats-down.yaml":  strings.Replace(externalYAML(c, sentinels), "faults:\n", "  proxy: {master: \"127.0.0.1:1\", stats_csv: \"http://127.0.0.1:1/stats;csv\"}\nfaults:\n", 1),
		"degraded.yaml":    strings.Replace(externalYAML(c, sentinels), "  nodes:\n", "  allow_degraded: sometimes\n  nodes:\n", 1),
		"sentinel-op.yaml": strings.Replace(externalYAML(c, sentinels), "target: master}", "target: sentinel1}", 1),
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "stats-url.yaml"}, "stats-url.yaml:9:45: external.proxy.stats_csv: ftp://x:xxxxx@127.0.0.1/stats: want an http:// or https:// URL"},
		{[]string{"run", "degraded.yaml"}, "degraded.yaml:6:19: external.allow_degraded: want true or false"},
		{[]string{"run", "sentinel-op.yaml"}, "sentinel-op.yaml:10:22: faults[0].action: backend external has no command to kill sentinel1"},
		{[]string{"run", "--allow-faults", "stats-down.yaml"}, "check the external deployment: the proxy's stats http://127.0.0.1:1/stats;csv: Get "},
	} {
		stderr, code := runLimited(t, dir, tc.args...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code != 2 || len(lines) != 1 || !strings.Contains(lines[0], tc.want) || strings.Contains(stderr, "x:y@") {
			t.Errorf("%v: got exit %d and\n%s\nwant exit 2 and one line containing %q", tc.args, code, stderr, tc.want)
		}
	}
	if _, err := c.Master.Do(t.Context(), "PING"); err != nil {
		t.Fatalf("the master does not answer after the refused runs: %v", err)
	}
	if n, err := c.Master.Client().DBSize(t.Context()).Result(); err != nil || n != 0 {
		t.Errorf("keys on the master after the refused runs: got %d (%v), want 0", n, err)
	}
}

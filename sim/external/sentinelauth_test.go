package external_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy/redistest"
	"github.com/redisha-sim/redisha-sim/sim/external"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
)

// Real redis-sentinel processes with requirepass: the deployment is
// inspected with external.sentinel_password, and refused with one clear
// error without it.
func TestADeploymentWhoseSentinelsHaveAPasswordIsInspectedWithIt(t *testing.T) {
	const pw = "sentinel-secret"
	nodes := redistest.StartGroup(t, 2, "")
	var addrs []string
	for range 2 {
		s, err := redistest.Start(t.Context(), redistest.Options{Sentinel: true, Password: pw, Args: []string{
			fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2", redistest.MasterName, nodes[0].Port)}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		addrs = append(addrs, s.Addr)
	}
	load := func(password string) *scenario.Scenario {
		t.Helper()
		var b strings.Builder
		fmt.Fprintf(&b, "name: auth\nbackend: external\nexternal:\n  master_name: %s\n  sentinels: [%s]\n", redistest.MasterName, strings.Join(addrs, ", "))
		if password != "" {
			fmt.Fprintf(&b, "  sentinel_password: %s\n", password)
		}
		b.WriteString("  nodes:\n")
		for i, n := range nodes {
			fmt.Fprintf(&b, "    - {name: redis%d, addr: %q}\n", i+1, n.Addr)
		}
		path := filepath.Join(t.TempDir(), "auth.yaml")
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := scenario.Load(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	with := load(pw)
	// Sentinel lists the replica after its first INFO of the master.
	var err error
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var st *external.State
		if st, err = external.Inspect(t.Context(), with, 0); err == nil {
			if st.Master != "redis1" {
				t.Errorf("master %q, want redis1", st.Master)
			}
			break
		}
	}
	if err != nil {
		t.Fatalf("inspect with the Sentinels' password: %v", err)
	}
	_, err = external.Inspect(t.Context(), load(""), 0)
	if err == nil || !strings.Contains(err.Error(), "sentinel "+addrs[0]+": NOAUTH") {
		t.Errorf("inspect without the password: got %v, want the first Sentinel's NOAUTH", err)
	}
}

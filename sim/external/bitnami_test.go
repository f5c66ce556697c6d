package external_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redisha-sim/redisha-sim/sim/external"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
)

// The worked Kubernetes example, with its addresses pointed at local
// processes (no Kubernetes cluster here): it validates, and its dry run
// shows the kubectl commands the faults would run, on the pods the
// targets name, and changes nothing.
func TestTheBitnamiExamplesDryRunShowsItsKubectlCommands(t *testing.T) {
	c := deployment(t)
	s, err := scenario.Load(filepath.Join("..", "..", "scenarios", "external-bitnami.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range c.Nodes() {
		s.External.Nodes[i].Addr = n.Addr
	}
	for i, se := range c.Sentinels {
		s.External.Sentinels[i].Addr = se.Addr
	}
	size := func() int64 {
		v, err := c.Master.Client().DBSize(t.Context()).Result()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := size()
	var out bytes.Buffer
	if err := external.Plan(t.Context(), s, 0, &out); err != nil {
		t.Fatalf("plan: %v", err)
	}
	for _, want := range []string{
		"redis-node-0 is the master of mymaster",
		`kill master (now redis-node-0): sh -c "kubectl -n redis delete pod redis-node-0 --grace-period=0 --force"`,
		`start crashed (now redis-node-0): sh -c "sleep 5; kubectl -n redis wait --for=condition=Ready pod/redis-node-0 --timeout=140s"`,
		"pause master (now redis-node-0): CLIENT PAUSE 10000 ALL",
		"failover master (now redis-node-0): SENTINEL FAILOVER mymaster",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("plan:\n%s\nwant it to contain %q", out.String(), want)
		}
	}
	if after := size(); after != before {
		t.Errorf("keys on the master: %d after the dry run, want %d as before", after, before)
	}
}

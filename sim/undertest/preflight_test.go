package undertest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redisha-sim/redisha-sim/scenarios"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
)

// writeFiles writes name→body into a new directory and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestPreflightPlacesProxyConfigErrorsAtTheScenarioField(t *testing.T) {
	seed, err := scenarios.FS.ReadFile("haproxy-seed.cfg")
	if err != nil {
		t.Fatal(err)
	}
	dir := writeFiles(t, map[string]string{
		"seed.cfg":    string(seed),
		"bad.cfg":     "backend b\n  mode tcp\n  bogus-keyword 1\n  server r1 127.0.0.1:1 check\n",
		"bad.yaml":    "name: bad\nproxy:\n  config: bad.cfg\n",
		"small.yaml":  "name: small\ntopology: {nodes: 2}\nproxy:\n  config: seed.cfg\n",
		"seed.yaml":   "name: seed\nproxy:\n  config: seed.cfg\n",
		"inline.yaml": "name: inline\n",
	})
	for _, c := range []struct {
		file, want string
		sets       []string
	}{
		{"bad.yaml", filepath.Join(dir, "bad.yaml") + ":3:11: proxy.config: " + filepath.Join(dir, "bad.cfg") + ":3: ", nil},
		{"small.yaml", filepath.Join(dir, "small.yaml") + ":4:11: proxy.config: backend back_redis_master1 has 3 servers but the topology has 2 nodes", nil},
		{"seed.yaml", filepath.Join(dir, "seed.yaml") + ":3:11: proxy.config: backend back_redis_master1 has 3 servers but the topology has 2 nodes", []string{"topology.nodes=2"}},
	} {
		s, err := scenario.Load(filepath.Join(dir, c.file), c.sets)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		err = Preflight(s)
		var errs scenario.Errors
		if !errors.As(err, &errs) || len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), c.want) {
			t.Errorf("%s: got %v, want one error beginning %q", c.file, err, c.want)
		}
	}
	for _, f := range []string{"seed.yaml", "inline.yaml"} {
		s, err := scenario.Load(filepath.Join(dir, f), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := Preflight(s); err != nil {
			t.Errorf("%s: got %v, want no error", f, err)
		}
	}
}

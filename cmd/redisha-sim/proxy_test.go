package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy/config"
	"github.com/redisha-sim/redisha-sim/scenarios"
)

const threeSetsFile = "../../scenarios/haproxy-seed-three-sets.cfg"

// The seed's configuration completed to its three sets loads unchanged
// with proxy -c: valid, exit 0.
func TestProxyCheckLoadsTheSeedsThreeSetConfigUnchanged(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), "proxy", "-c", "-f", threeSetsFile)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("proxy -c -f %s: %v\n%s%s", threeSetsFile, err, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "Configuration file is valid") {
		t.Errorf("stdout: got %q, want it to say the configuration is valid", out.String())
	}
	// Only the seed's own warnings (log targets, its comment after the
	// stats uri), once each.
	if n := strings.Count(errb.String(), "warning"); n != 3 {
		t.Errorf("got %d warnings, want the seed's 3:\n%s", n, errb.String())
	}
}

// The file is the seed's completed as its author describes: six frontends
// on 5000-5005, each pair a master backend and a round-robin replica
// backend with the seed's exact checks, and the stats listener on 9000.
func TestThreeSetConfigIsTheSeedCompleted(t *testing.T) {
	text, err := os.ReadFile(threeSetsFile)
	if err != nil {
		t.Fatal(err)
	}
	seedText, err := scenarios.FS.ReadFile("haproxy-seed.cfg")
	if err != nil {
		t.Fatal(err)
	}
	// The seed's first set and stats listener, line for line.
	if !bytes.Contains(text, seedText[:bytes.Index(seedText, []byte("#Listen on all IP's"))]) ||
		!bytes.HasSuffix(text, seedText[bytes.Index(seedText, []byte("#Listen on all IP's")):]) {
		t.Error("the file does not hold the seed's text verbatim around the added sets")
	}
	cfg, _, err := config.Parse("three-sets", bytes.NewReader(text), config.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	seed, _, err := config.Parse("seed", bytes.NewReader(seedText), config.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		for j, role := range []string{"master", "slave"} {
			port := fmt.Sprint(5000 + 2*(i-1) + j)
			f := cfg.Frontend(fmt.Sprintf("front_redis_%s%d", role, i))
			b := cfg.Backend(fmt.Sprintf("back_redis_%s%d", role, i))
			want := seed.Backend("back_redis_" + role + "1")
			if f == nil || b == nil {
				t.Fatalf("set %d: no %s frontend or backend", i, role)
			}
			if len(f.Binds) != 1 || f.Binds[0].Addr != ":"+port || f.DefaultBackend != b.Name {
				t.Errorf("%s: binds %+v to %s, want :%s to %s", f.Name, f.Binds, f.DefaultBackend, port, b.Name)
			}
			if fmt.Sprint(b.CheckRules) != fmt.Sprint(want.CheckRules) || b.Balance != want.Balance || b.Mode != want.Mode {
				t.Errorf("%s: checks %v balance %v, want the seed's %v %v", b.Name, b.CheckRules, b.Balance, want.CheckRules, want.Balance)
			}
			if len(b.Servers) != 3 || b.Servers[0].Inter != time.Second || !b.Servers[2].Check {
				t.Errorf("%s: servers %+v, want three checked every 1s", b.Name, b.Servers)
			}
		}
	}
	if n := len(cfg.Frontends); n != 7 {
		t.Errorf("got %d frontends, want 6 and the stats listener", n)
	}
	st := cfg.Frontend("stats")
	if st == nil || st.Stats == nil || !slices.ContainsFunc(st.Binds, func(b config.Bind) bool { return strings.HasSuffix(b.Addr, ":9000") }) {
		t.Errorf("stats listener: got %+v, want the seed's on 9000", st)
	}
}

// Real HAProxy accepts the file as it is.
func TestHAProxyAcceptsTheThreeSetConfig(t *testing.T) {
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy not installed")
	}
	out, err := exec.CommandContext(t.Context(), haproxy, "-c", "-f", threeSetsFile).CombinedOutput()
	if err != nil {
		t.Fatalf("haproxy -c -f %s: %v\n%s", threeSetsFile, err, out)
	}
}

// A configuration with more master backends than the scenario has groups
// is bad input: one line naming the scenario's field, the configuration's
// file and line and the backend, exit 2.
func TestRunRefusesAConfigWhosePairsDoNotFitTheGroups(t *testing.T) {
	seed, err := scenarios.FS.ReadFile("haproxy-seed.cfg")
	if err != nil {
		t.Fatal(err)
	}
	extra := "\nfrontend front_other\n bind *:5002\n default_backend back_other\n\nbackend back_other\n option tcp-check\n" +
		" tcp-check send info\\ replication\\r\\n\n tcp-check expect string role:master\n server r1 10.0.0.1:6379 check\n"
	dir := t.TempDir()
	for name, body := range map[string]string{
		"two.cfg":  string(seed) + extra,
		"two.yaml": "name: two\nproxy:\n  config: two.cfg\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	line := strings.Count(string(seed)+extra[:strings.Index(extra, "\nbackend back_other")], "\n") + 2
	want := fmt.Sprintf("redisha-sim: two.yaml:3:11: proxy.config: two.cfg:%d: backend 'back_other': no group for this master backend: "+
		"the configuration has 2 backend(s) whose check expects role:master (back_redis_master1, back_other) for 1 group(s)", line)
	for _, sub := range []string{"run", "model"} {
		stderr, code := runLimited(t, dir, sub, "two.yaml")
		if code != exitBadInput || strings.TrimRight(stderr, "\n") != want {
			t.Errorf("%s: exit %d, stderr:\n%s\nwant exit %d and\n%s", sub, code, stderr, exitBadInput, want)
		}
	}
}

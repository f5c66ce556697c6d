package docker

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRelayStdoutPassesWhatFollowsTheProtocolLine(t *testing.T) {
	var out bytes.Buffer
	first := make(chan error, 1)
	relayStdout(strings.NewReader(RunnerProtocolLine+"\nreport line 1\nreport line 2\n"), &out, first)
	if err := <-first; !errors.Is(err, errLineSeen) {
		t.Fatalf("relayStdout: got %v, want errLineSeen", err)
	}
	if out.String() != "report line 1\nreport line 2\n" {
		t.Fatalf("relayed %q, want the two report lines", out.String())
	}
}

func TestRelayStdoutRefusesARunnerOfAnotherProtocol(t *testing.T) {
	for name, in := range map[string]string{
		"an older binary's usage": "Error: unknown command \"runner\" for \"redisha-sim\"\n",
		"another protocol":        "redisha-sim runner protocol 0\nreport\n",
		"nothing":                 "",
		"a line without end":      strings.Repeat("x", 10000),
	} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			first := make(chan error, 1)
			relayStdout(strings.NewReader(in), &out, first)
			err := <-first
			if !errors.Is(err, ErrRunnerProtocol) {
				t.Fatalf("relayStdout(%.40q): got %v, want ErrRunnerProtocol", in, err)
			}
			if len(err.Error()) > 300 {
				t.Errorf("the error quotes too much of the line: %d bytes", len(err.Error()))
			}
			if out.Len() > 0 {
				t.Errorf("relayed %q from a runner that was refused", out.String())
			}
		})
	}
}

func TestRunnerFilesCopyTheScenarioDirectoryButNotItsLinks(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "s.yaml"), []byte("name: s\n"), 0o644))
	must(t, os.MkdirAll(filepath.Join(dir, "cfg"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "cfg", "haproxy.cfg"), []byte("global\n"), 0o600))
	must(t, os.Symlink("/etc/passwd", filepath.Join(dir, "passwd")))
	r, err := runnerFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		got[h.Name] = string(b)
	}
	want := map[string]string{"scenario/": "", "out/": "", "scenario/s.yaml": "name: s\n", "scenario/cfg/haproxy.cfg": "global\n"}
	if len(got) != len(want) {
		t.Fatalf("got entries %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("entry %s: got %q, want %q", k, got[k], v)
		}
	}
}

func TestRunnerFilesRefuseABigDirectory(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "big"))
	must(t, err)
	must(t, f.Truncate(maxCopyIn+1))
	f.Close()
	if _, err := runnerFiles(dir); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("runnerFiles of a %d MB directory: got %v, want an error", (maxCopyIn+1)>>20, err)
	}
}

func TestChooseModeTakesTheChoiceOrTheEnvironment(t *testing.T) {
	t.Setenv(EnvMode, ModeRunner)
	if m, _, err := ChooseMode(t.Context(), ""); err != nil || m != ModeRunner {
		t.Errorf("ChooseMode with %s=runner: got %q %v, want runner", EnvMode, m, err)
	}
	if m, _, err := ChooseMode(t.Context(), ModeDirect); err != nil || m != ModeDirect {
		t.Errorf("ChooseMode(direct): got %q %v, want direct", m, err)
	}
	t.Setenv(EnvMode, "vm")
	if _, _, err := ChooseMode(t.Context(), ""); err == nil || !strings.Contains(err.Error(), "want direct, runner or auto") {
		t.Errorf("ChooseMode with %s=vm: got %v, want an error naming the valid modes", EnvMode, err)
	}
}

func TestARunnerTakesTheHostsRunIDAndOwner(t *testing.T) {
	t.Setenv(EnvRunID, "0badc0de")
	t.Setenv(EnvOwnerLabels, `{"redisha-sim.owner.host":"h","redisha-sim.owner.pid":"7","redisha-sim.owner.start":"b/1","other":"x"}`)
	if id := runIDFromEnv(); id != "0badc0de" {
		t.Errorf("run ID: got %q, want the host's", id)
	}
	got := ownerLabels()
	if len(got) != 3 || got[LabelOwnerHost] != "h" || got[LabelOwnerPID] != "7" || got[LabelOwnerStart] != "b/1" {
		t.Errorf("owner labels: got %v, want the host's three", got)
	}
	t.Setenv(EnvRunID, "../../x")
	if id := runIDFromEnv(); id == "../../x" || len(id) != 8 {
		t.Errorf("run ID from a bad %s: got %q, want a new one", EnvRunID, id)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// CheckCopiedIn and runnerFiles agree: a file is said to be copied in
// exactly when the runner's tar holds it.
func TestCheckCopiedInSaysWhatRunnerFilesCopies(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "scenario")
	deep := filepath.Join(dir, "a", "b", "c", "d", "e", "f", "g", "h")
	must(t, os.MkdirAll(filepath.Join(deep, "i"), 0o755))
	must(t, os.MkdirAll(filepath.Join(root, "elsewhere"), 0o755))
	files := map[string]bool{ // path from root: copied in?
		"scenario/s.yaml":               true,
		"scenario/a/b/c/d/e/f/g/h/x":    true,
		"scenario/a/b/c/d/e/f/g/h/i/y":  false,
		"elsewhere/z.cfg":               false,
		"outside.cfg":                   false,
		"scenario/linkdir/w.cfg":        false,
		"scenario/link.cfg":             false,
		"scenario/missing-but-inside.x": true,
	}
	for _, f := range []string{"scenario/s.yaml", "scenario/a/b/c/d/e/f/g/h/x", "scenario/a/b/c/d/e/f/g/h/i/y", "elsewhere/z.cfg", "outside.cfg"} {
		must(t, os.WriteFile(filepath.Join(root, f), []byte(f), 0o644))
	}
	must(t, os.WriteFile(filepath.Join(root, "elsewhere", "w.cfg"), []byte("w"), 0o644))
	must(t, os.Symlink(filepath.Join(root, "elsewhere"), filepath.Join(dir, "linkdir")))
	must(t, os.Symlink(filepath.Join(root, "outside.cfg"), filepath.Join(dir, "link.cfg")))

	r, err := runnerFiles(dir)
	must(t, err)
	inTar := map[string]bool{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(t, err)
		inTar[h.Name] = true
	}
	for f, want := range files {
		err := CheckCopiedIn(dir, filepath.Join(root, f))
		if got := err == nil; got != want {
			t.Errorf("CheckCopiedIn(%s): got %v, want copied in %v", f, err, want)
		}
		rel, _ := filepath.Rel(dir, filepath.Join(root, f))
		if _, statErr := os.Stat(filepath.Join(root, f)); statErr == nil && !strings.HasPrefix(rel, "..") {
			if inTar["scenario/"+filepath.ToSlash(rel)] != want {
				t.Errorf("runnerFiles: %s in the tar %v, CheckCopiedIn says %v", f, !want, want)
			}
		}
	}
	if err := CheckCopiedIn(dir, filepath.Join(dir, "..", "outside.cfg")); err == nil || !strings.Contains(err.Error(), "outside the scenario's directory") {
		t.Errorf("CheckCopiedIn(../outside.cfg): got %v, want outside the scenario's directory", err)
	}
}

package scenario

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestFilesListsWhatTheScenarioNamesOnDiskByField(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"client.py", "bin/app", "h.cfg"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "s.yaml")
	y := "backend: docker\nproxy: {config: h.cfg}\nworkloads:\n" +
		"  - {name: a, client: command, command: [sh, client.py, --rate, '5']}\n" +
		"  - {name: b, client: command, command: [./bin/app]}\n" +
		"  - {name: c}\n"
	s, err := Parse(file, []byte(y), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := s.Files()
	want := []FileRef{
		{"proxy.config", filepath.Join(dir, "h.cfg")},
		{"workloads[0].command[1]", filepath.Join(dir, "client.py")},
		{"workloads[1].command[0]", filepath.Join(dir, "bin/app")},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if e := s.ErrorAt(got[1].Field, "m"); e.Line != 4 {
		t.Errorf("ErrorAt(%s): got line %d, want 4", got[1].Field, e.Line)
	}
}

package scenarios

import (
	"io/fs"
	"testing"

	"github.com/redisha-sim/redisha-sim/sim/scenario"
)

// Every scenario of this directory loads and validates, and refers only to
// files that exist here.
func TestEveryScenarioLoads(t *testing.T) {
	files, err := fs.Glob(FS, "*.yaml")
	if err != nil || len(files) < 6 {
		t.Fatalf("found %d scenarios (%v)", len(files), err)
	}
	for _, f := range files {
		s, err := scenario.LoadFS(FS, f, nil)
		if err != nil {
			t.Errorf("%s:\n%v", f, err)
			continue
		}
		if s.Description == "" || len(s.Expectations) == 0 {
			t.Errorf("%s: every scenario says what it shows and what it expects", f)
		}
	}
	if _, err := scenario.LoadFS(FS, Default, nil); err != nil {
		t.Fatalf("the default scenario %s: %v", Default, err)
	}
}

package scenario

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// FileRef is a file on disk a scenario refers to.
type FileRef struct {
	// Field is the field that names it (proxy.config,
	// workloads[0].command[1]), for ErrorAt.
	Field string
	// Path is the file as the run opens it (Path: relative paths from
	// the scenario's directory).
	Path string
}

// Files lists the files on disk the scenario refers to: the proxy's
// configuration file, and each command client's program (when given as a
// path, with a slash) and scripts (the arguments findCommand checks).
// An embedded scenario refers to none on disk.
func (s *Scenario) Files() []FileRef {
	if s.FS != nil {
		return nil
	}
	var out []FileRef
	if s.Proxy.Config != "" {
		out = append(out, FileRef{Field: "proxy.config", Path: s.Path(s.Proxy.Config)})
	}
	for i, w := range s.WorkloadList {
		if w.Client != ClientCommand {
			continue
		}
		for j, a := range w.Command {
			if (j == 0 && strings.Contains(a, "/")) || (j > 0 && slices.Contains(scriptExts, filepath.Ext(a))) {
				out = append(out, FileRef{Field: fmt.Sprintf("workloads[%d].command[%d]", i, j), Path: s.Path(a)})
			}
		}
	}
	return out
}

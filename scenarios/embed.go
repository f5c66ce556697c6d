// Package scenarios holds the failover scenarios (YAML) and the HAProxy
// configurations they use, embedded so the command runs them with no files
// on disk. The files are the data; this package only exposes them.
package scenarios

import "embed"

// FS holds every scenario and configuration of this directory.
//
//go:embed *.yaml *.cfg
var FS embed.FS

// Default is the scenario "redisha-sim run" runs without an argument.
const Default = "master-kill.yaml"

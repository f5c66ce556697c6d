package proxy

import (
	"fmt"
	"os"
)

// The data paths a Proxy can move a routed session's bytes with
// (Options.DataPath).
const (
	// DataPathGoroutine runs each direction of a session as a goroutine
	// parked in the runtime's poller (session.go, transfer_unix.go).
	DataPathGoroutine = "goroutine"
	// DataPathLoop hands each session, once its server connection is
	// established, to one of the proxy's own epoll loops (Linux only;
	// loop_linux.go).
	DataPathLoop = "loop"
)

// DataPathEnv names the environment variable that chooses the data path
// when Options.DataPath is empty.
const DataPathEnv = "REDISHA_PROXY_DATAPATH"

// resolveDataPath picks the data path: opt, else the environment, else the
// platform's default.
func resolveDataPath(opt string) (string, error) {
	src := "Options.DataPath"
	if opt == "" {
		opt, src = os.Getenv(DataPathEnv), DataPathEnv
	}
	switch opt {
	case "":
		return defaultDataPath, nil
	case DataPathGoroutine, DataPathLoop:
		return opt, nil
	}
	return "", fmt.Errorf("data path: %s is %q, want %q or %q", src, opt, DataPathGoroutine, DataPathLoop)
}

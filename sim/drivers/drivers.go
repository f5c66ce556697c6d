// Package drivers holds the command-client drivers redisha-sim ships,
// embedded in the binary: redispy/driver.py runs redis-py's Sentinel
// client (Debian's python3-redis) behind the client protocol (see the
// README's "Client protocol"). The engine writes a driver to a temporary
// directory when a workload needs it.
package drivers

import _ "embed"

// RedisPy is the redis-py Sentinel driver, a python3 program.
//
//go:embed redispy/driver.py
var RedisPy []byte

package scenario

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Client kinds of a workload (Spec.Client).
const (
	// ClientProxy goes through the proxy under test's ports (the default).
	ClientProxy = "proxy"
	// ClientGoRedisSentinel is go-redis's FailoverClient, straight to the
	// Sentinels.
	ClientGoRedisSentinel = "go-redis-sentinel"
	// ClientRedisPySentinel is redis-py's Sentinel, run as the shipped
	// command driver.
	ClientRedisPySentinel = "redis-py-sentinel"
	// ClientCommand is any program speaking the client protocol.
	ClientCommand = "command"
)

// ClientKinds lists the client kinds, in the order errors name them.
var ClientKinds = []string{ClientProxy, ClientGoRedisSentinel, ClientRedisPySentinel, ClientCommand}

// Bounds of workloads.
const (
	// MaxWorkloads bounds the workloads of a run.
	MaxWorkloads = 16
	// MaxPool bounds a workload's pool and go_redis.pool_size.
	MaxPool = 1000
	// MaxArgs bounds a command's argv.
	MaxArgs = 64
	// DefaultReadyTimeout is a command client's ready_timeout.
	DefaultReadyTimeout = 15 * time.Second
	// MaxRetries bounds go_redis.max_retries.
	MaxRetries = 100
)

// Spec is one workload of a run: a named client kind and its writers and
// readers. The scenario's workload field is the shorthand of one proxy
// workload with no name.
type Spec struct {
	// Name names the workload in reports and tags its operations (Op.Workload)
	// in a run with several (required then, unique).
	Name string `yaml:"name"`
	// Client is proxy (the default), go-redis-sentinel, redis-py-sentinel or
	// command.
	Client string `yaml:"client"`
	// Command is the program of a command client: argv, the program
	// resolved from the scenario's directory when it contains a slash,
	// else from PATH.
	Command []string `yaml:"command"`
	// ReadyTimeout bounds the wait for a command client's ready line
	// (default 15s).
	ReadyTimeout Duration `yaml:"ready_timeout"`
	// Connection is the writers' and readers' connection mode when they
	// give none: per-op, persistent (pooled is its older name) for proxy
	// clients.
	Connection string `yaml:"connection"`
	// Pool, for a proxy workload, makes its writers share a pool of that
	// many persistent connections (and its readers another), as
	// applications share their client's pool: an operation waits at most
	// its timeout for a free connection, and a failed connection is
	// redialed by its next operation (default 0: a connection per client).
	Pool    int     `yaml:"pool"`
	Writers Clients `yaml:"writers"`
	Readers Clients `yaml:"readers"`
	// GoRedis are the options of a go-redis-sentinel client.
	GoRedis GoRedisOptions `yaml:"go_redis"`
}

// GoRedisOptions are go-redis FailoverOptions a go-redis-sentinel
// workload exposes. Zero values take the defaults stated.
type GoRedisOptions struct {
	// PoolSize is the pool of each of the workload's writer and reader
	// clients (default 10).
	PoolSize int `yaml:"pool_size"`
	// RouteByLatency, RouteRandomly and ReplicaOnly route the readers
	// (through a FailoverClusterClient); with none set, readers read from
	// replicas only.
	RouteByLatency bool `yaml:"route_by_latency"`
	RouteRandomly  bool `yaml:"route_randomly"`
	ReplicaOnly    bool `yaml:"replica_only"`
	// DialTimeout, ReadTimeout and WriteTimeout are go-redis's (default:
	// the operation's timeout).
	DialTimeout  Duration `yaml:"dial_timeout"`
	ReadTimeout  Duration `yaml:"read_timeout"`
	WriteTimeout Duration `yaml:"write_timeout"`
	// MaxRetries is go-redis's retries of a failed command (default 0:
	// none, every failure is recorded; go-redis's own default is 3).
	MaxRetries int `yaml:"max_retries"`
}

// Workloads are the run's workloads, defaults filled in: the workloads
// list, or the workload shorthand as one unnamed proxy workload.
func (s *Scenario) Workloads() []Spec {
	if len(s.WorkloadList) > 0 {
		return s.WorkloadList
	}
	return []Spec{{Client: ClientProxy, Connection: s.Workload.Writers.Connection, Writers: s.Workload.Writers, Readers: s.Workload.Readers}}
}

// PerOpProxyWriters reports whether the run's first workload (the one
// the run's parameters and the timing model describe) writes through the
// proxy with a new connection per write.
func (s *Scenario) PerOpProxyWriters() bool {
	w := s.Workloads()[0]
	return (w.Client == ClientProxy || w.Client == "") && w.Pool == 0 && (w.Writers.Connection == "per-op" || w.Writers.Connection == "")
}

// CommandDir is the directory a command client runs in: the scenario's
// own, so that the relative paths of its argv are from there.
func (s *Scenario) CommandDir() string {
	if s.File == "" || s.FS != nil {
		return ""
	}
	return filepath.Dir(s.File)
}

// CommandPath is a command client's program: a path with a slash is from
// the scenario's directory, a bare name as PATH finds it.
func (s *Scenario) CommandPath(prog string) string {
	if strings.Contains(prog, "/") {
		return s.Path(prog)
	}
	return prog
}

// scriptExts are the arguments findCommand checks as files: scripts an
// interpreter in argv[0] would run.
var scriptExts = []string{".py", ".js", ".mjs", ".rb", ".jar", ".sh", ".pl", ".php"}

// normalizeWorkloads checks the workloads list; clients checks and fills
// a writers or readers block. When the list is given, the workload
// shorthand must not be, and takes the first workload's values (for the
// run's parameters).
func (s *Scenario) normalizeWorkloads(bad func(path, format string, args ...any), dur func(string, *Duration, time.Duration, bool), clients func(string, *Clients, int, float64)) {
	if len(s.WorkloadList) == 0 {
		return
	}
	if len(s.WorkloadList) > MaxWorkloads {
		bad("workloads", "%d workloads: at most %d", len(s.WorkloadList), MaxWorkloads)
		return
	}
	if s.Workload != (Workload{}) {
		bad("workload", "give workload or workloads, not both (workload is the shorthand of one proxy workload)")
	}
	seen := map[string]int{}
	var groupNames []string
	if groups := s.ResolvedGroups(); len(groups) > 1 {
		for _, g := range groups {
			groupNames = append(groupNames, g.Name)
		}
	}
	for i := range s.WorkloadList {
		w := &s.WorkloadList[i]
		p := fmt.Sprintf("workloads[%d]", i)
		switch {
		case w.Name == "" && len(s.WorkloadList) > 1:
			bad(p+".name", "missing: every workload of several needs a name")
		case w.Name != "" && !namePattern.MatchString(w.Name):
			bad(p+".name", "invalid name %q: want a letter, then letters, digits, _ or -", w.Name)
		case w.Name != "":
			if j, dup := seen[w.Name]; dup {
				bad(p+".name", "duplicate name %q (also workloads[%d])", w.Name, j)
			}
			seen[w.Name] = i
			if slices.Contains(groupNames, w.Name) {
				bad(p+".name", "%q also names a group (topology.groups): an expectation's prefix (%s.write_interruption) could not tell them apart; rename the workload", w.Name, w.Name)
			}
		}
		switch w.Client {
		case "":
			w.Client = ClientProxy
		case ClientProxy, ClientGoRedisSentinel, ClientRedisPySentinel, ClientCommand:
		default:
			bad(p+".client", "unknown client %q; valid: %s", w.Client, oneOf(ClientKinds))
		}
		switch {
		case w.Client == ClientCommand && len(w.Command) == 0:
			bad(p+".command", "missing: a command client needs its program's argv, e.g. [python3, my_client.py]")
		case w.Client != ClientCommand && len(w.Command) > 0:
			bad(p+".command", "only a command client takes a command (client is %s)", w.Client)
		case len(w.Command) > MaxArgs:
			bad(p+".command", "%d arguments: at most %d", len(w.Command), MaxArgs)
		case w.Client == ClientCommand && w.Command[0] == "":
			bad(p+".command", "the program is empty")
		case w.Client == ClientCommand:
			if err := s.findCommand(w.Command); err != nil {
				bad(p+".command", "%v", err)
			}
		case w.Client == ClientRedisPySentinel:
			if _, err := exec.LookPath("python3"); err != nil {
				bad(p+".client", "redis-py-sentinel runs python3, which is not on PATH (install python3 and python3-redis)")
			}
		}
		if w.ReadyTimeout.Set() && w.Client != ClientCommand && w.Client != ClientRedisPySentinel {
			bad(p+".ready_timeout", "only a command or redis-py-sentinel client takes a ready_timeout (client is %s)", w.Client)
		}
		dur(p+".ready_timeout", &w.ReadyTimeout, DefaultReadyTimeout, true)
		switch w.Connection {
		case "":
		case "per-op", "persistent", "pooled":
			if w.Client != ClientProxy {
				bad(p+".connection", "only a proxy client takes a connection mode (client is %s)", w.Client)
			}
		default:
			bad(p+".connection", "unknown connection mode %q; valid: per-op, persistent (or its older name pooled)", w.Connection)
		}
		switch {
		case w.Pool < 0 || w.Pool > MaxPool:
			bad(p+".pool", "must be from 1 to %d (0: no pool), got %d", MaxPool, w.Pool)
		case w.Pool > 0 && w.Client != ClientProxy:
			bad(p+".pool", "only a proxy client takes a pool (client is %s; go-redis-sentinel has go_redis.pool_size)", w.Client)
		}
		wConn, rConn := w.Writers.Connection, w.Readers.Connection
		clients(p+".writers", &w.Writers, 1, DefaultWriteRate)
		clients(p+".readers", &w.Readers, 0, DefaultReadRate)
		if w.Connection != "" && wConn == "" {
			w.Writers.Connection = w.Connection
		}
		if w.Connection != "" && rConn == "" {
			w.Readers.Connection = w.Connection
		}
		if w.Connection == "" {
			w.Connection = w.Writers.Connection
		}
		g := &w.GoRedis
		if *g != (GoRedisOptions{}) && w.Client != ClientGoRedisSentinel {
			bad(p+".go_redis", "only a go-redis-sentinel client takes go_redis options (client is %s)", w.Client)
		}
		switch {
		case g.PoolSize < 0 || g.PoolSize > MaxPool:
			bad(p+".go_redis.pool_size", "must be from 1 to %d (0: the default 10), got %d", MaxPool, g.PoolSize)
		case g.PoolSize == 0:
			g.PoolSize = 10
		}
		if g.MaxRetries < -1 || g.MaxRetries > MaxRetries {
			bad(p+".go_redis.max_retries", "must be from -1 to %d (0: no retries), got %d", MaxRetries, g.MaxRetries)
		}
		dur(p+".go_redis.dial_timeout", &g.DialTimeout, w.Writers.Timeout.D, true)
		dur(p+".go_redis.read_timeout", &g.ReadTimeout, w.Writers.Timeout.D, true)
		dur(p+".go_redis.write_timeout", &g.WriteTimeout, w.Writers.Timeout.D, true)
	}
	first := s.WorkloadList[0]
	s.Workload = Workload{Writers: first.Writers, Readers: first.Readers}
}

// findCommand checks that a command's program exists (a path with a
// slash from the scenario's directory, a bare name on PATH), and the
// scripts among its arguments too (by their extension, from the
// scenario's directory). Commands need the scenario on disk.
func (s *Scenario) findCommand(argv []string) error {
	if s.FS != nil {
		return errors.New("a command client needs a scenario file on disk (this one is embedded)")
	}
	prog := argv[0]
	if !strings.Contains(prog, "/") {
		if _, err := exec.LookPath(prog); err != nil {
			return fmt.Errorf("program %q not found on PATH", prog)
		}
	} else if st, err := os.Stat(s.CommandPath(prog)); err != nil || st.IsDir() {
		return fmt.Errorf("program %q not found (relative paths are from the scenario's directory, %s)", prog, s.dirName())
	}
	for _, a := range argv[1:] {
		if !slices.Contains(scriptExts, filepath.Ext(a)) {
			continue
		}
		if _, err := os.Stat(s.Path(a)); err != nil {
			return fmt.Errorf("script %q not found (relative paths are from the scenario's directory, %s)", a, s.dirName())
		}
	}
	return nil
}

func (s *Scenario) dirName() string {
	if d := filepath.Dir(s.File); d != "" {
		return d
	}
	return "."
}

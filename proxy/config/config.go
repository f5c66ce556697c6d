// Package config holds the proxy's configuration: the subset of HAProxy's
// configuration language that TCP proxying of Redis uses, read from a file by
// Parse or built as a struct by Go callers.
//
// Go callers fill the structs and call Config.Normalize, which applies the
// same defaults as the parser. Zero values mean "the default" throughout; where
// HAProxy accepts an explicit zero (weight 0, retries 0) the struct takes -1,
// as go-redis does for its options.
//
// # Sentinel-aware routing
//
// One keyword is redisha-sim's own; HAProxy does not know it. In a backend,
// listen or defaults section,
//
//	redis-sentinel <master-name> <host:port>[,<host:port>...] [role master|replica] [quorum <n>] [password <password>]
//
// makes the backend follow the Redis Sentinels at the listed addresses (one
// word, separated by commas) for the master they monitor as master-name:
// role master (the default) routes to the master they agree on, role
// replica to its replicas. quorum is how many Sentinels must name the same
// master, from 1 to the number of addresses (default: a majority);
// password is the Sentinels' own requirepass. The line is stored in
// Backend.Sentinel; Render writes it back, so a rendered configuration that
// uses it is for this proxy only.
package config

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy/tcpcheck"
)

// Defaults HAProxy applies when a setting is absent.
const (
	DefaultInter   = 2 * time.Second
	DefaultRise    = 2
	DefaultFall    = 3
	DefaultWeight  = 1
	MaxWeight      = 256
	DefaultRetries = 3
)

// Pos is where a configuration item was read: a file name and a 1-based line.
// Items built by Go callers have a zero Pos.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string {
	if p.File == "" && p.Line == 0 {
		return "<config>"
	}
	return p.File + ":" + strconv.Itoa(p.Line)
}

// Config is a whole proxy configuration.
type Config struct {
	Global Global
	// Frontends accept connections. A "listen" section appears here and in
	// Backends under the same name.
	Frontends []*Frontend
	// Backends hold the servers that frontends route to.
	Backends []*Backend
}

// Global holds process-wide settings.
type Global struct {
	// MaxConn caps the concurrent client connections of the whole process.
	// Zero means no cap.
	MaxConn int
	// SpreadChecks adds a random -N%..+N% to every check interval (0-50).
	// Zero, the default, means none.
	SpreadChecks int
	// StatsSockets are runtime API endpoints ("stats socket").
	StatsSockets []StatsSocket
	// StatsTimeout closes an idle runtime API connection. Zero means 10s.
	StatsTimeout time.Duration
	// StatsMaxConn caps the runtime API's concurrent connections, over all
	// its sockets; more wait in the kernel's backlog. Zero means 10,
	// HAProxy's default.
	StatsMaxConn int
}

// StatsSocket is one runtime API listener.
type StatsSocket struct {
	Pos Pos
	// Network is "unix" or "tcp".
	Network string
	// Address is a socket path or a host:port.
	Address string
	// Level is "user", "operator" or "admin" (the default).
	Level string
	// Mode is the unix socket's permission bits; zero keeps the umask's.
	Mode uint32
}

// Mode is a section's protocol mode.
type Mode int

const (
	ModeTCP Mode = iota
	ModeHTTP
)

func (m Mode) String() string {
	if m == ModeHTTP {
		return "http"
	}
	return "tcp"
}

// Timeouts are the inactivity and connection timeouts of a section. A zero
// timeout is not set: it never fires, as in HAProxy.
type Timeouts struct {
	// Connect bounds each attempt to connect to a server.
	Connect time.Duration
	// Client is the longest the client side may stay inactive.
	Client time.Duration
	// Server is the longest the server side may stay inactive.
	Server time.Duration
	// Tunnel, when set, replaces Client and Server once a session is
	// established.
	Tunnel time.Duration
	// Check bounds a health check's reads once it has connected; without it,
	// the whole check is bounded by the server's inter.
	Check time.Duration
	// Queue bounds the wait for a free server slot (maxconn). Zero means
	// Connect.
	Queue time.Duration
	// ClientFin and ServerFin replace Client and Server on a side that has
	// half-closed.
	ClientFin time.Duration
	ServerFin time.Duration
	// HTTPRequest bounds the whole of a request to a stats section (mode
	// http), from its first byte to the end of its body. Zero means
	// Client.
	HTTPRequest time.Duration
}

// Frontend accepts client connections and hands them to a backend.
type Frontend struct {
	Name string
	Pos  Pos
	// Listen is true for the frontend half of a "listen" section.
	Listen bool
	Mode   Mode
	Binds  []Bind
	// DefaultBackend names the backend that receives every connection. A
	// listen section routes to its own backend half.
	DefaultBackend string
	Timeouts       Timeouts
	// MaxConn caps this frontend's concurrent sessions; zero means no cap.
	MaxConn int
	// TCPKeepAlive enables TCP keep-alive on client connections.
	TCPKeepAlive bool
	// Stats is set when the section serves the statistics page (mode http).
	Stats *Stats

	// kwPos records where keywords were read, for messages about them.
	kwPos map[string]Pos
}

// Bind is one listening address.
type Bind struct {
	Pos Pos
	// Addr is host:port; an empty host (from "*" or "0.0.0.0") means all
	// addresses.
	Addr string
	// Name is the optional "name" of the bind line.
	Name string
}

// Balance is a load-balancing algorithm.
type Balance int

const (
	BalanceRoundRobin Balance = iota
	BalanceFirst
	BalanceLeastConn
	BalanceSource
)

var balanceNames = map[Balance]string{
	BalanceRoundRobin: "roundrobin",
	BalanceFirst:      "first",
	BalanceLeastConn:  "leastconn",
	BalanceSource:     "source",
}

func (b Balance) String() string { return balanceNames[b] }

// ParseBalance reads a "balance" algorithm name.
func ParseBalance(s string) (Balance, error) {
	for b, n := range balanceNames {
		if n == s {
			return b, nil
		}
	}
	return 0, fmt.Errorf("unknown balance algorithm %q: valid are first, roundrobin, leastconn, source", s)
}

// CheckKind says how a backend's servers are health-checked.
type CheckKind int

const (
	// CheckConnect only opens a TCP connection (HAProxy's default check).
	CheckConnect CheckKind = iota
	// CheckTCP runs the backend's tcp-check rules ("option tcp-check").
	CheckTCP
	// CheckRedis sends PING and expects +PONG ("option redis-check").
	CheckRedis
)

// Backend is a pool of servers with a balancing algorithm and health checks.
type Backend struct {
	Name string
	Pos  Pos
	// Listen is true for the backend half of a "listen" section.
	Listen  bool
	Mode    Mode
	Balance Balance
	// CheckKind and CheckRules define the health check of servers with
	// "check". CheckRules are used with CheckTCP; an implied connect is added
	// when the first rule is not one.
	CheckKind  CheckKind
	CheckRules []tcpcheck.Rule
	Timeouts   Timeouts
	// Retries is how many times a failed connection to a server is retried.
	// Zero means 3; -1 means no retry.
	Retries int
	// Redispatch lets a retry go to another server ("option redispatch").
	Redispatch bool
	// RedispatchAfter is the optional interval of "option redispatch N":
	// N > 0 redispatches on every Nth retry, N < 0 on the Nth retry before
	// the last. Zero means -1: the last retry.
	RedispatchAfter int
	// AllBackups uses every backup server at once when no active server is
	// up, instead of only the first one.
	AllBackups bool
	// TCPKeepAlive enables TCP keep-alive on server connections.
	TCPKeepAlive bool
	// LogHealthChecks logs every check status change, not only UP/DOWN.
	LogHealthChecks bool
	Servers         []*Server
	// Sentinel, when set, makes the backend follow Redis Sentinel
	// (a redisha-sim extension; HAProxy has no equivalent).
	Sentinel *Sentinel

	kwPos map[string]Pos
}

// InitState is a server's health before its first check (HAProxy 3.1's
// "init-state").
type InitState int

const (
	// InitUp starts UP but marks the server DOWN at the first failed check:
	// HAProxy's default, which routes to servers nobody has checked yet.
	InitUp InitState = iota
	// InitFullyUp starts fully UP: fall failures are needed to mark it DOWN.
	InitFullyUp
	// InitDown starts DOWN and marks the server UP at the first passed check.
	InitDown
	// InitFullyDown starts fully DOWN: rise passed checks are needed.
	InitFullyDown
)

var initStateNames = map[InitState]string{
	InitUp: "up", InitFullyUp: "fully-up", InitDown: "down", InitFullyDown: "fully-down",
}

func (s InitState) String() string { return initStateNames[s] }

// Server is one backend server.
type Server struct {
	Name string
	Pos  Pos
	// Addr is the server's host:port.
	Addr string
	// Check enables health checks.
	Check bool
	// Inter is the check interval while the server is fully UP (default 2s).
	Inter time.Duration
	// FastInter is the interval while the server is changing state or not
	// checked yet (default Inter).
	FastInter time.Duration
	// DownInter is the interval while the server is fully DOWN (default
	// Inter).
	DownInter time.Duration
	// Rise is the number of passed checks that mark a DOWN server UP
	// (default 2).
	Rise int
	// Fall is the number of failed checks that mark an UP server DOWN
	// (default 3).
	Fall int
	// CheckPort and CheckAddr override where checks connect.
	CheckPort int
	CheckAddr string
	// Backup servers are used only when no active server is UP.
	Backup bool
	// Disabled servers start in maintenance.
	Disabled bool
	// Weight is the server's share of the load, 1-256 (default 1; -1 means
	// weight 0: no new sessions).
	Weight int
	// MaxConn caps the server's concurrent sessions; zero means no cap.
	MaxConn int
	// InitState is the health before the first check (default InitUp).
	InitState InitState
	// ShutdownSessions closes the server's sessions when it is marked DOWN
	// ("on-marked-down shutdown-sessions").
	ShutdownSessions bool
	// ShutdownBackupSessions closes the sessions of every backup server when
	// this (active) server is marked UP ("on-marked-up
	// shutdown-backup-sessions").
	ShutdownBackupSessions bool
}

// Sentinel configures Sentinel-aware routing of a backend.
type Sentinel struct {
	Pos Pos
	// MasterName is the name Sentinel monitors the master under.
	MasterName string
	// Addrs are the Sentinels' host:port addresses.
	Addrs []string
	// Role is "master" or "replica": which nodes the backend routes to.
	Role string
	// Password authenticates to the Sentinels (sentinel requirepass).
	Password string
	// Quorum is how many Sentinels must name the same master (default: a
	// majority of Addrs).
	Quorum int
}

// Stats configures the statistics page of a section in mode http.
type Stats struct {
	Pos Pos
	// URI is the page's path (default "/haproxy?stats").
	URI string
	// Realm is the basic-auth realm (default "HAProxy Statistics").
	Realm string
	// Auth lists the accepted users; empty means no authentication.
	Auth []Credential
	// Admin enables the admin actions ("stats admin if TRUE").
	Admin bool
	// Refresh makes the page reload itself; zero means never.
	Refresh time.Duration
	// HideVersion leaves the version out of the page.
	HideVersion bool
	// MetricsPath serves Prometheus metrics ("http-request use-service
	// prometheus-exporter if { path /metrics }"); empty means none.
	MetricsPath string
}

// Credential is one "stats auth" user.
type Credential struct {
	User     string
	Password string
}

// posOf is where kw was read in a section, or the section's own line.
func posOf(m map[string]Pos, kw string, section Pos) Pos {
	if p, ok := m[kw]; ok {
		return p
	}
	return section
}

// Frontend returns the frontend called name, or nil.
func (c *Config) Frontend(name string) *Frontend {
	for _, f := range c.Frontends {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// Backend returns the backend called name, or nil.
func (c *Config) Backend(name string) *Backend {
	for _, b := range c.Backends {
		if b.Name == name {
			return b
		}
	}
	return nil
}

// Server returns the server called name, or nil.
func (b *Backend) Server(name string) *Server {
	for _, s := range b.Servers {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// EffectiveWeight is the weight in use: Weight with its default applied.
func (s *Server) EffectiveWeight() int {
	switch {
	case s.Weight < 0:
		return 0
	case s.Weight == 0:
		return DefaultWeight
	}
	return s.Weight
}

// EffectiveRetries is Retries with its default applied.
func (b *Backend) EffectiveRetries() int {
	switch {
	case b.Retries < 0:
		return 0
	case b.Retries == 0:
		return DefaultRetries
	}
	return b.Retries
}

// CheckAddress is where the server's health checks connect.
func (s *Server) CheckAddress() string {
	host, port, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return s.Addr
	}
	if s.CheckAddr != "" {
		host = s.CheckAddr
	}
	if s.CheckPort != 0 {
		port = strconv.Itoa(s.CheckPort)
	}
	return net.JoinHostPort(host, port)
}

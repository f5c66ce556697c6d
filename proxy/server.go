package proxy

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy/config"
	"github.com/redisha-sim/redisha-sim/proxy/health"
	"github.com/redisha-sim/redisha-sim/proxy/tcpcheck"
)

// AdminState is the state an operator puts a server in.
type AdminState int

const (
	// AdminReady: the server takes traffic when healthy.
	AdminReady AdminState = iota
	// AdminDrain: the server keeps its sessions but takes no new ones.
	AdminDrain
	// AdminMaint: the server is out of service and not checked.
	AdminMaint
)

func (a AdminState) String() string {
	return [...]string{"ready", "drain", "maint"}[a]
}

// Server is a backend server at run time. Its state is guarded by its
// backend's lock; byte counters are atomic.
type Server struct {
	Name    string
	ID      int
	Addr    string
	cfg     *config.Server
	backend *Backend
	params  health.Params

	health   health.Counter
	checked  bool // has "check"
	checksOn bool // checks enabled ("disable health" clears it)
	admin    AdminState
	// forcedDown is set by "set server health down" on a server without
	// checks, which has no counter to hold the state.
	forcedDown bool
	weight     int // current weight, 0-256
	// cur counts sessions assigned to the server (connecting or
	// established), for maxconn and leastconn.
	cur, maxCur int
	total       uint64
	sessions    map[*session]struct{}

	// kick asks the check loop for a check now; sentinelFast lets the next
	// passing check put the server UP at once (Sentinel named it master).
	kick         chan struct{}
	sentinelFast bool

	// checking is true while a check runs (the stats show "* L7OK").
	checking    bool
	lastCheck   tcpcheck.Result
	lastCheckAt time.Time
	lastChange  time.Time
	downSince   time.Time
	downtime    time.Duration
	checkFails  uint64 // failed checks (chkfail)
	downTrans   uint64 // UP to DOWN transitions (chkdown)
	connErrors  uint64 // failed connection attempts (econ)
	retries     uint64 // retried connection attempts (wretr)
	redispatch  uint64 // sessions moved to another server (wredis)
	// The checks' own load, which HAProxy does not count: checks started
	// and completed (a result reached, passed or not), and the bytes they
	// wrote to and read from the server.
	checksStarted, checksDone uint64
	checkSent, checkReceived  int64

	bytesIn  atomic.Int64 // from clients
	bytesOut atomic.Int64 // to clients
}

// up reports whether the server counts as UP for routing, ignoring
// maintenance, drain and maxconn.
func (s *Server) up() bool {
	if s.forcedDown {
		return false
	}
	if !s.checked || !s.checksOn {
		return true
	}
	return s.health.Up()
}

// usable reports whether the server may take sessions: in service and UP.
func (s *Server) usable() bool {
	return s.admin != AdminMaint && s.up()
}

// eligible reports whether the server may take a new session now, ignoring
// maxconn.
func (s *Server) eligible() bool {
	return s.usable() && s.admin != AdminDrain && s.weight > 0
}

func (s *Server) full() bool {
	return s.cfg.MaxConn > 0 && s.cur >= s.cfg.MaxConn
}

// status is the server's state as HAProxy's stats page shows it.
func (s *Server) status() string {
	switch {
	case s.admin == AdminMaint:
		return "MAINT"
	case s.forcedDown:
		return "DOWN"
	case !s.checked || !s.checksOn:
		if s.admin == AdminDrain {
			return "DRAIN"
		}
		return "no check"
	}
	st := s.health.Status()
	if s.admin == AdminDrain && s.health.Up() {
		if s.health.FullyUp() {
			return "DRAIN"
		}
		return "DRAIN" + st[2:]
	}
	return st
}

// checkStatusWord is the "status: 2/3 UP" part of a health check log line.
func (s *Server) checkStatusWord() string {
	h := s.health
	if h.Up() {
		return strconv.Itoa(h.Health-h.Rise+1) + "/" + strconv.Itoa(h.Fall) + " UP"
	}
	return strconv.Itoa(h.Health) + "/" + strconv.Itoa(h.Rise) + " DOWN"
}

// ServerState is a snapshot of a server for stats and tests.
type ServerState struct {
	Backend, Name, Addr string
	ID                  int
	// Status is as the stats page shows it: "UP", "UP 1/3", "DOWN",
	// "DOWN 1/2", "MAINT", "DRAIN", "no check".
	Status string
	// Up is true when the server takes traffic (UP and not in
	// maintenance; drain counts as up).
	Up         bool
	Admin      AdminState
	Checked    bool
	ChecksOn   bool
	Health     health.Counter
	Weight     int
	Backup     bool
	Sessions   int
	MaxSess    int
	TotalSess  uint64
	SessLimit  int
	BytesIn    int64
	BytesOut   int64
	LastCheck  tcpcheck.Result
	LastCheckT time.Time
	// Checking is true while a check runs.
	Checking bool
	// LastChange is when the server last changed state.
	LastChange time.Time
	// Downtime is the total time spent DOWN, the current stretch included.
	Downtime   time.Duration
	CheckFails uint64
	DownTrans  uint64
	ConnErrors uint64
	Retries    uint64
	Redispatch uint64
	Params     health.Params
	// ChecksStarted and ChecksDone count the health checks run against the
	// server: started, and completed with a result (passed or failed; a
	// check cut short by the proxy's shutdown is started, not completed).
	// CheckBytesSent and CheckBytesReceived are the bytes those checks
	// wrote to the server (tcp-check send) and read from it (what expect
	// rules received). HAProxy has no such counters: they are an
	// extension, kept out of the CSV and JSON stats so that those stay
	// HAProxy's format, and exported as Prometheus metrics (metrics.go).
	ChecksStarted, ChecksDone          uint64
	CheckBytesSent, CheckBytesReceived int64
}

// snapshot copies the server's state; the backend's lock must be held.
func (s *Server) snapshot(now time.Time) ServerState {
	down := s.downtime
	if !s.downSince.IsZero() {
		down += now.Sub(s.downSince)
	}
	return ServerState{
		Backend: s.backend.Name, Name: s.Name, Addr: s.Addr, ID: s.ID,
		Status: s.status(), Up: s.usable(), Admin: s.admin,
		Checked: s.checked, ChecksOn: s.checksOn, Health: s.health,
		Weight: s.weight, Backup: s.cfg.Backup,
		Sessions: s.cur, MaxSess: s.maxCur, TotalSess: s.total, SessLimit: s.cfg.MaxConn,
		BytesIn: s.bytesIn.Load(), BytesOut: s.bytesOut.Load(),
		LastCheck: s.lastCheck, LastCheckT: s.lastCheckAt, Checking: s.checking, LastChange: s.lastChange,
		Downtime: down, CheckFails: s.checkFails, DownTrans: s.downTrans,
		ConnErrors: s.connErrors, Retries: s.retries, Redispatch: s.redispatch,
		ChecksStarted: s.checksStarted, ChecksDone: s.checksDone,
		CheckBytesSent: s.checkSent, CheckBytesReceived: s.checkReceived,
		Params: s.params,
	}
}

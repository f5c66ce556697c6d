package sentinel

import (
	"math"
	"strings"
	"time"
)

// Sentinel's timing, as sentinel.c's defaults (Redis 7.0).
const (
	PingPeriod             = time.Second      // SENTINEL_PING_PERIOD
	InfoPeriod             = 10 * time.Second // SENTINEL_INFO_PERIOD
	FastInfoPeriod         = time.Second      // INFO to a replica of a master in trouble
	PublishPeriod          = 2 * time.Second  // SENTINEL_PUBLISH_PERIOD
	AskPeriod              = time.Second      // SENTINEL_ASK_PERIOD
	MaxDesync              = 1000             // SENTINEL_MAX_DESYNC, ms
	ElectionTimeout        = 10 * time.Second // SENTINEL_ELECTION_TIMEOUT
	TiltTrigger            = 2 * time.Second  // SENTINEL_TILT_TRIGGER
	TiltPeriod             = 30 * time.Second // SENTINEL_TILT_PERIOD
	SlaveReconfTimeout     = 10 * time.Second // SENTINEL_SLAVE_RECONF_TIMEOUT
	MinLinkReconnectPeriod = 15 * time.Second // SENTINEL_MIN_LINK_RECONNECT_PERIOD
	MaxPendingCommands     = 100              // SENTINEL_MAX_PENDING_COMMANDS
	DefaultHz              = 10               // CONFIG_DEFAULT_HZ
	DefaultSlavePriority   = 100              // SENTINEL_DEFAULT_SLAVE_PRIORITY
)

// Never is a time long before any run: a timestamp not set yet (0 in
// sentinel.c, whose times are Unix milliseconds).
const Never = time.Duration(math.MinInt64 / 4)

// Rand is the random source the core draws from (a *rand.Rand).
type Rand interface{ IntN(n int) int }

// NextTick is the period to the next Tick: sentinel.c runs its timer at a
// random 10-19 Hz so that Sentinels desynchronise.
func NextTick(r Rand) time.Duration {
	hz := DefaultHz + r.IntN(DefaultHz)
	return time.Duration(1000/hz) * time.Millisecond
}

// Flags are an instance's SRI_* flags.
type Flags uint16

// The SRI_* flags.
const (
	FlagMaster Flags = 1 << iota
	FlagSlave
	FlagSentinel
	FlagSDown
	FlagODown
	FlagMasterDown
	FlagFailoverInProgress
	FlagPromoted
	FlagReconfSent
	FlagReconfInprog
	FlagReconfDone
	// FlagForceFailover marks a failover SENTINEL FAILOVER started
	// (SRI_FORCE_FAILOVER): it needs no election.
	FlagForceFailover
)

// FailoverState is a master's SENTINEL_FAILOVER_STATE_*.
type FailoverState int

// The failover states.
const (
	FailoverNone FailoverState = iota
	FailoverWaitStart
	FailoverSelectSlave
	FailoverSendSlaveofNoOne
	FailoverWaitPromotion
	FailoverReconfSlaves
	FailoverUpdateConfig
)

var failoverStateNames = [...]string{"none", "wait_start", "select_slave", "send_slaveof_noone", "wait_promotion", "reconf_slaves", "update_config"}

// String is the state's name in SENTINEL MASTER's failover-state.
func (s FailoverState) String() string { return failoverStateNames[s] }

// Link is the state of a Sentinel's connections to one instance
// (sentinel.c's instanceLink): the command connection and, for masters and
// replicas, the pub/sub connection of the hello channel.
type Link struct {
	// CC and PC say whether the command and pub/sub connections are open.
	CC, PC bool
	// Disconnected is set while a connection the instance needs is closed.
	Disconnected bool
	// Pending counts commands sent on CC and not answered.
	Pending int
	// Gen changes whenever CC is opened or closed: a reply the driver
	// tagged with another generation is for a connection that is gone.
	Gen                                                    uint32
	CCConnTime, PCConnTime, PCLastActivity                 time.Duration
	ActPingTime, LastPingTime, LastPongTime, LastAvailTime time.Duration
	LastReconnTime                                         time.Duration
}

func newLink(now time.Duration) Link {
	return Link{Disconnected: true, ActPingTime: now, LastAvailTime: now, LastPongTime: now,
		LastPingTime: Never, LastReconnTime: Never, CCConnTime: Never, PCConnTime: Never, PCLastActivity: Never}
}

// Instance is a master, a replica or another Sentinel as this Sentinel
// sees it (sentinelRedisInstance).
type Instance struct {
	Flags Flags
	// Name is the master's name, a replica's "ip:port", a Sentinel's run id.
	Name  string
	Addr  string
	RunID string
	// Master is the master of a replica or a Sentinel; nil for a master.
	Master    *Master
	Link      Link
	DownAfter time.Duration

	SDownSince, ODownSince time.Duration
	LastPubTime            time.Duration
	LastHelloTime          time.Duration
	LastMasterDownReply    time.Duration
	InfoRefresh            time.Duration
	RoleReported           Flags // FlagMaster or FlagSlave
	RoleReportedTime       time.Duration
	SlaveConfChangeTime    time.Duration
	MasterLinkDownTime     time.Duration
	// SlaveMasterAddr is the master a replica reports it follows
	// ("host:port"), "" before its INFO says.
	SlaveMasterAddr     string
	SlaveMasterLinkUp   bool
	SlavePriority       int
	SlaveReplOffset     int64
	SlaveReconfSentTime time.Duration
	// Leader and LeaderEpoch: for a Sentinel, its last vote it reported;
	// for a master, this Sentinel's own vote for its failover leader.
	Leader      string
	LeaderEpoch uint64
}

// Is reports whether any of f is set.
func (ri *Instance) Is(f Flags) bool { return ri.Flags&f != 0 }

// Type is "master", "slave" or "sentinel", as events name it.
func (ri *Instance) Type() string {
	switch {
	case ri.Is(FlagMaster):
		return "master"
	case ri.Is(FlagSlave):
		return "slave"
	}
	return "sentinel"
}

var flagNames = []struct {
	f    Flags
	name string
}{
	{FlagSDown, "s_down"}, {FlagODown, "o_down"}, {FlagMaster, "master"}, {FlagSlave, "slave"}, {FlagSentinel, "sentinel"},
	{0, "disconnected"}, {FlagMasterDown, "master_down"}, {FlagFailoverInProgress, "failover_in_progress"},
	{FlagPromoted, "promoted"}, {FlagReconfSent, "reconf_sent"}, {FlagReconfInprog, "reconf_inprog"}, {FlagReconfDone, "reconf_done"},
	{FlagForceFailover, "force_failover"},
}

// FlagString is the flags field of SENTINEL MASTER/REPLICAS/SENTINELS, in
// sentinel.c's order.
func (ri *Instance) FlagString() string {
	var out []string
	for _, f := range flagNames {
		if f.f == 0 {
			if ri.Link.Disconnected {
				out = append(out, f.name)
			}
			continue
		}
		if ri.Is(f.f) {
			out = append(out, f.name)
		}
	}
	return strings.Join(out, ",")
}

// MasterConfig is what "sentinel monitor" and its settings give.
type MasterConfig struct {
	Name            string
	Addr            string
	Quorum          int
	DownAfter       time.Duration
	FailoverTimeout time.Duration
	ParallelSyncs   int
}

// Master is a monitored master with its replicas, the other Sentinels
// watching it and its failover.
type Master struct {
	Instance
	Quorum          int
	ParallelSyncs   int
	FailoverTimeout time.Duration
	Slaves          []*Instance
	Sentinels       []*Instance
	ConfigEpoch     uint64
	FailoverEpoch   uint64
	FailoverState   FailoverState
	// FailoverStateChangeTime is when the state last changed;
	// FailoverStartTime when this Sentinel last started a failover or
	// voted for another Sentinel's (plus a random desync).
	FailoverStateChangeTime time.Duration
	FailoverStartTime       time.Duration
	Promoted                *Instance
	delayLogged             time.Duration
}

// CurrentAddr is sentinelGetCurrentMasterAddress: the promoted replica's
// address once the failover reached reconf-slaves.
func (m *Master) CurrentAddr() string {
	if m.Is(FlagFailoverInProgress) && m.Promoted != nil && m.FailoverState >= FailoverReconfSlaves {
		return m.Promoted.Addr
	}
	return m.Addr
}

// Sentinel is one Sentinel's state: its masters and the epoch they share.
type Sentinel struct {
	// MyID is this Sentinel's run id; Addr its announced "ip:port".
	MyID string
	Addr string
	// CurrentEpoch is shared by every master (sentinel.current_epoch).
	CurrentEpoch uint64
	Masters      []*Master
	Tilt         bool
	TiltStart    time.Duration
	PrevTick     time.Duration

	d   Driver
	rnd Rand
}

// New returns a Sentinel with no master; d carries out its decisions and
// rnd is its random source.
func New(myID, addr string, d Driver, rnd Rand) *Sentinel {
	return &Sentinel{MyID: myID, Addr: addr, d: d, rnd: rnd, PrevTick: Never}
}

// Monitor adds a master, as "sentinel monitor" does.
func (s *Sentinel) Monitor(now time.Duration, c MasterConfig) *Master {
	m := &Master{Quorum: c.Quorum, ParallelSyncs: c.ParallelSyncs, FailoverTimeout: c.FailoverTimeout,
		FailoverStartTime: Never, FailoverStateChangeTime: Never, delayLogged: Never}
	m.Instance = newInstance(FlagMaster, c.Name, c.Addr, c.DownAfter, nil, now)
	s.Masters = append(s.Masters, m)
	return m
}

func newInstance(f Flags, name, addr string, downAfter time.Duration, m *Master, now time.Duration) Instance {
	role := FlagMaster
	if f&FlagSlave != 0 {
		role = FlagSlave
	}
	return Instance{Flags: f, Name: name, Addr: addr, DownAfter: downAfter, Master: m, Link: newLink(now),
		SDownSince: Never, ODownSince: Never, LastPubTime: Never, LastHelloTime: Never, LastMasterDownReply: Never,
		InfoRefresh: Never, RoleReported: role, RoleReportedTime: now, SlaveConfChangeTime: Never,
		SlavePriority: DefaultSlavePriority, SlaveReconfSentTime: Never}
}

// MasterByName is sentinelGetMasterByName.
func (s *Sentinel) MasterByName(name string) *Master {
	for _, m := range s.Masters {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// MasterByAddr finds the master monitored at addr.
func (s *Sentinel) MasterByAddr(addr string) *Master {
	for _, m := range s.Masters {
		if m.Addr == addr {
			return m
		}
	}
	return nil
}

// Instances calls f for every instance: each master, then its replicas
// and its Sentinels.
func (s *Sentinel) Instances(f func(ri *Instance)) {
	for _, m := range s.Masters {
		f(&m.Instance)
		for _, sl := range m.Slaves {
			f(sl)
		}
		for _, si := range m.Sentinels {
			f(si)
		}
	}
}

// Restart is a Sentinel process starting again with the state its config
// file kept: masters, replicas and Sentinels, with fresh links and no
// failover in progress.
func (s *Sentinel) Restart(now time.Duration) {
	s.Instances(func(ri *Instance) {
		ri.Link = newLink(now)
		ri.Flags &^= FlagSDown | FlagODown | FlagMasterDown
	})
	for _, m := range s.Masters {
		m.Flags &^= FlagFailoverInProgress | FlagForceFailover
		m.FailoverState = FailoverNone
	}
	s.Tilt, s.PrevTick = false, now
}

// Tick is sentinelTimer: every instance's periodic work, then at most one
// switch to a promoted replica.
func (s *Sentinel) Tick(now time.Duration) {
	s.checkTilt(now)
	var switchTo *Master
	for _, m := range s.Masters {
		s.handleInstance(&m.Instance, m, now)
		for i := 0; i < len(m.Slaves); i++ {
			s.handleInstance(m.Slaves[i], m, now)
		}
		for i := 0; i < len(m.Sentinels); i++ {
			s.handleInstance(m.Sentinels[i], m, now)
		}
		if m.FailoverState == FailoverUpdateConfig {
			switchTo = m
		}
	}
	if switchTo != nil {
		s.switchToPromoted(switchTo, now)
	}
}

// checkTilt is sentinelCheckTiltCondition: the timer stalled (a paused
// process) or the clock went backwards.
func (s *Sentinel) checkTilt(now time.Duration) {
	if s.PrevTick != Never {
		if d := now - s.PrevTick; d < 0 || d > TiltTrigger {
			s.Tilt, s.TiltStart = true, now
			s.emit(Event{Type: EventTilt})
		}
	}
	s.PrevTick = now
}

// handleInstance is sentinelHandleRedisInstance.
func (s *Sentinel) handleInstance(ri *Instance, m *Master, now time.Duration) {
	s.reconnect(ri, now)
	s.sendPeriodic(ri, m, now)
	if s.Tilt {
		if now-s.TiltStart < TiltPeriod {
			return
		}
		s.Tilt = false
		s.emit(Event{Type: EventTiltExit})
	}
	s.checkSDown(ri, m, now)
	if ri.Is(FlagMaster) {
		s.checkODown(m, now)
		if s.startFailoverIfNeeded(m, now) {
			s.askMasterState(m, true, now)
		}
		s.failoverStateMachine(m, now)
		s.askMasterState(m, false, now)
	}
}

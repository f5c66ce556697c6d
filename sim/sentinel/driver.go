package sentinel

import (
	"fmt"
	"strconv"
	"time"
)

// LinkKind names one of an instance's two connections.
type LinkKind int

// The connections.
const (
	CmdLink    LinkKind = iota // commands and PING
	PubSubLink                 // the hello channel subscription
)

// Driver carries out the core's decisions on the driver's connections and
// publishes its events. The core calls it synchronously; a driver must not
// call back into the core from these methods: replies come later, as
// inputs.
type Driver interface {
	// Connect opens a connection to ri (a pub/sub one subscribes to the
	// hello channel). It reports whether the connection is open; a
	// connection that fails later is reported with LinkClosed.
	Connect(ri *Instance, kind LinkKind) bool
	// Close closes a connection to ri the core gave up on.
	Close(ri *Instance, kind LinkKind)
	// Ping sends PING on ri's command connection; the answer comes back
	// through PingReply.
	Ping(ri *Instance)
	// Info sends INFO; the answer comes back through InfoReply.
	Info(ri *Instance)
	// Hello publishes h on ri's hello channel (to a Sentinel: PUBLISH to
	// it directly); success comes back through HelloPublished.
	Hello(ri *Instance, h Hello)
	// AskMasterDown sends SENTINEL is-master-down-by-addr to the Sentinel
	// si about m's address, with this Sentinel's current epoch and runID
	// ("*" when not asking for a vote); the answer comes back through
	// MasterDownReply.
	AskMasterDown(si *Instance, m *Master, epoch uint64, runID string)
	// SlaveOf sends Sentinel's SLAVEOF transaction to ri: replicate addr,
	// or become a master when addr is "". Its answer comes back through
	// Replied.
	SlaveOf(ri *Instance, addr string)
	// Event publishes an event (and logs it).
	Event(e Event)
}

// Hello is a hello message: a Sentinel's address, run id, current epoch
// and its view of one master.
type Hello struct {
	Addr         string
	RunID        string
	CurrentEpoch uint64
	MasterName   string
	MasterAddr   string
	ConfigEpoch  uint64
}

// MasterDownReply is the answer to is-master-down-by-addr: the master is
// down to the other Sentinel, and its vote (Leader "" for "*").
type MasterDownReply struct {
	Down        bool
	Leader      string
	LeaderEpoch uint64
}

// Info is what sentinelRefreshInstanceInfo reads of an INFO reply.
type Info struct {
	RunID string
	// Role is FlagMaster, FlagSlave or 0 when not reported.
	Role Flags
	// Slaves are the replicas a master lists ("ip:port").
	Slaves []string
	// MasterLinkDownTime is master_link_down_since_seconds.
	MasterLinkDownTime time.Duration
	// For a replica: the master it follows ("host:port"), its link,
	// priority and offset.
	MasterAddr      string
	MasterLinkUp    bool
	SlavePriority   int
	SlaveReplOffset int64
}

// EventType is the name of a Sentinel event (and of the channel it is
// published on).
type EventType string

// The events the core publishes.
const (
	EventTilt                   EventType = "+tilt"
	EventTiltExit               EventType = "-tilt"
	EventSDown                  EventType = "+sdown"
	EventSDownExit              EventType = "-sdown"
	EventODown                  EventType = "+odown"
	EventODownExit              EventType = "-odown"
	EventSentinel               EventType = "+sentinel"
	EventSlave                  EventType = "+slave"
	EventNewEpoch               EventType = "+new-epoch"
	EventConfigUpdateFrom       EventType = "+config-update-from"
	EventSwitchMaster           EventType = "+switch-master"
	EventVoteForLeader          EventType = "+vote-for-leader"
	EventReboot                 EventType = "+reboot"
	EventRoleChange             EventType = "+role-change"
	EventRoleChangeWrong        EventType = "-role-change"
	EventPromotedSlave          EventType = "+promoted-slave"
	EventFailoverReconfSlaves   EventType = "+failover-state-reconf-slaves"
	EventConvertToSlave         EventType = "+convert-to-slave"
	EventFixSlaveConfig         EventType = "+fix-slave-config"
	EventSlaveReconfInprog      EventType = "+slave-reconf-inprog"
	EventSlaveReconfDone        EventType = "+slave-reconf-done"
	EventTryFailover            EventType = "+try-failover"
	EventAbortNotElected        EventType = "-failover-abort-not-elected"
	EventElectedLeader          EventType = "+elected-leader"
	EventFailoverSelectSlave    EventType = "+failover-state-select-slave"
	EventAbortNoGoodSlave       EventType = "-failover-abort-no-good-slave"
	EventSelectedSlave          EventType = "+selected-slave"
	EventFailoverSendSlaveofNo1 EventType = "+failover-state-send-slaveof-noone"
	EventAbortSlaveTimeout      EventType = "-failover-abort-slave-timeout"
	EventFailoverWaitPromotion  EventType = "+failover-state-wait-promotion"
	EventSlaveReconfSentTimeout EventType = "-slave-reconf-sent-timeout"
	EventSlaveReconfSent        EventType = "+slave-reconf-sent"
	EventFailoverEndForTimeout  EventType = "+failover-end-for-timeout"
	EventFailoverEnd            EventType = "+failover-end"
	EventSlaveReconfSentBe      EventType = "+slave-reconf-sent-be"
	// EventFailoverDelayed is not published by sentinel.c (it logs
	// "Next failover delay"); drivers log it.
	EventFailoverDelayed EventType = "failover-delayed"
)

// Event is something the core publishes, with what sentinelEvent formats
// into its message.
type Event struct {
	Type EventType
	// Inst is the instance the event is about; nil for the global ones
	// (+tilt, +new-epoch, +vote-for-leader, +switch-master).
	Inst *Instance
	// Master is the master the event concerns (for +switch-master and
	// +vote-for-leader too).
	Master *Master
	// Epoch: +new-epoch, +vote-for-leader.
	Epoch uint64
	// Leader: +vote-for-leader.
	Leader string
	// Count and Quorum: +odown's "#quorum n/q".
	Count, Quorum int
	// Role: the reported role of a role change.
	Role Flags
	// From and To: +switch-master's old and new address.
	From, To string
	// Delay: when a delayed failover may start (EventFailoverDelayed).
	Delay time.Duration
}

// Detail is the part of the event's message after the instance: what
// sentinelEvent's "%@" is followed by, or the whole message of a global
// event (without the instance part).
func (e Event) Detail() string {
	switch e.Type {
	case EventTilt:
		return "#tilt mode entered"
	case EventTiltExit:
		return "#tilt mode exited"
	case EventNewEpoch:
		return strconv.FormatUint(e.Epoch, 10)
	case EventVoteForLeader:
		return e.Leader + " " + strconv.FormatUint(e.Epoch, 10)
	case EventODown:
		return fmt.Sprintf("#quorum %d/%d", e.Count, e.Quorum)
	case EventRoleChange, EventRoleChangeWrong:
		word := "slave"
		if e.Role == FlagMaster {
			word = "master"
		}
		return "new reported role is " + word
	}
	return ""
}

func (s *Sentinel) emit(e Event) { s.d.Event(e) }

// Package sentinel is Redis Sentinel's algorithm as a pure state machine,
// after Redis 7.0's src/sentinel.c, written once for the in-memory
// emulation (sim/memory, real time and in-process connections) and the
// discrete-event model (sim/model, virtual time).
//
// It holds no goroutine, socket, clock or package-level randomness. The
// driver owns those and feeds the core events, each with the current time
// as a time.Duration on the driver's own monotonic base:
//
//   - Tick(now): the timer, 10-19 times a second (NextTick draws the
//     period as sentinel.c's serverCron does);
//   - PingReply, InfoReply (INFO already parsed into an Info),
//     HelloPublished, HelloReceived (a hello already parsed), MasterDownReply,
//     Replied and LinkClosed: what came back on the links;
//   - IsMasterDownByAddr: another Sentinel's request, with the vote.
//
// The core answers through the Driver the driver implements: connect or
// close a link, send PING, INFO, a hello, SENTINEL is-master-down-by-addr
// or Sentinel's SLAVEOF transaction, and publish an Event. Randomness (the
// failover start desync) comes from the Rand the driver passes in.
//
// One Sentinel monitors any number of masters (Monitor); the masters share
// one CurrentEpoch, as in sentinel.c: a vote request below it is refused,
// and voting for another Sentinel's failover of a master pushes back this
// Sentinel's own failover of that master (failover_start_time).
//
// What it covers of sentinel.c, by function:
//
//   - links: sentinelReconnectInstance, sentinelSendPing,
//     sentinelPingReplyCallback, sentinelSendPeriodicCommands, the link
//     closing in sentinelCheckSubjectivelyDown, instanceLinkCloseConnection;
//   - hellos: sentinelSendHello, sentinelProcessHelloMessage;
//   - INFO: sentinelRefreshInstanceInfo (role changes, +convert-to-slave,
//     +fix-slave-config, the reconfiguration steps of the other replicas),
//     sentinelMasterLooksSane, sentinelRedisInstanceNoDownFor,
//     sentinelForceHelloUpdateForMaster;
//   - detection: sentinelCheckSubjectivelyDown, sentinelCheckObjectivelyDown,
//     TILT (sentinelCheckTiltCondition);
//   - election: sentinelAskMasterStateToOtherSentinels, the reply callback,
//     sentinelCommand's is-master-down-by-addr, sentinelVoteLeader,
//     sentinelGetLeader;
//   - failover: sentinelStartFailoverIfNeeded, sentinelStartFailover,
//     sentinelFailoverStateMachine and its steps, sentinelSelectSlave with
//     compareSlavesForPromotion,
//     sentinelFailoverReconfNextSlave, sentinelFailoverDetectEnd,
//     sentinelAbortFailover, sentinelCommand's "failover" (ForceFailover), sentinelFailoverSwitchToPromotedSlave,
//     sentinelResetMasterAndChangeAddress, sentinelResetMaster (with
//     SENTINEL_RESET_NO_SENTINELS), sentinelGetCurrentMasterAddress.
//
// Not covered: scripts, the config file (a restarted Sentinel keeps its
// state in memory, see Restart), SENTINEL SET/RESET, replica
// announcement options, TLS and authentication.
package sentinel

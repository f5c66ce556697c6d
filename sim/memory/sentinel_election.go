package memory

import (
	"net"
	"strconv"

	"github.com/redisha-sim/redisha-sim/sim/sentinel"
)

// AskMasterDown sends SENTINEL is-master-down-by-addr to another Sentinel.
func (d *coreDriver) AskMasterDown(si *sentinel.Instance, m *sentinel.Master, epoch uint64, runID string) {
	s := (*Sentinel)(d)
	host, port, _ := net.SplitHostPort(m.Addr)
	req := request{cmd: "IS-MASTER-DOWN-BY-ADDR", args: []string{host, port, strconv.FormatUint(epoch, 10), runID}}
	s.sendCmd(si, req, func(r reply) {
		res, ok := r.val.([]any)
		if !ok || len(res) != 3 {
			s.core.Replied(si)
			return
		}
		var mr sentinel.MasterDownReply
		down, _ := res[0].(int64)
		mr.Down = down == 1
		if leader, _ := res[1].(string); leader != "*" {
			epoch, _ := res[2].(int64)
			mr.Leader, mr.LeaderEpoch = leader, uint64(epoch)
		}
		s.core.MasterDownReply(si, s.now(), mr)
	})
}

// peerRequest answers another Sentinel.
func (s *Sentinel) peerRequest(req request) reply {
	switch req.cmd {
	case "PING":
		return reply{val: "PONG"}
	case "PUBLISH":
		if h, ok := parseHello(req.args[1]); ok {
			s.core.HelloReceived(s.now(), h, nil)
		}
		return reply{val: int64(1)}
	case "IS-MASTER-DOWN-BY-ADDR":
		return s.isMasterDownByAddr(req.args)
	}
	return reply{err: "ERR unknown command"}
}

// isMasterDownByAddr answers SENTINEL is-master-down-by-addr.
func (s *Sentinel) isMasterDownByAddr(args []string) reply {
	if len(args) != 4 {
		return reply{err: "ERR wrong number of arguments for 'sentinel|is-master-down-by-addr' command"}
	}
	epoch, err := strconv.ParseUint(args[2], 10, 64)
	if err != nil {
		return reply{err: "ERR value is not an integer or out of range"}
	}
	r, _ := s.core.IsMasterDownByAddr(s.now(), net.JoinHostPort(args[0], args[1]), epoch, args[3])
	down, leader, leaderEpoch := int64(0), "*", int64(0)
	if r.Down {
		down = 1
	}
	if r.Leader != "" {
		leader, leaderEpoch = r.Leader, int64(r.LeaderEpoch)
	}
	return reply{val: []any{down, leader, leaderEpoch}}
}

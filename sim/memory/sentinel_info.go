package memory

import (
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/sentinel"
)

// Info sends INFO; the reply is parsed for the core.
func (d *coreDriver) Info(ri *sentinel.Instance) {
	s := (*Sentinel)(d)
	s.sendCmd(ri, request{cmd: "INFO"}, func(r reply) {
		text, ok := r.val.(string)
		if !ok {
			s.core.Replied(ri)
			return
		}
		info := parseInfo(text)
		s.core.InfoReply(ri, s.now(), &info)
	})
}

// parseInfo reads what sentinelRefreshInstanceInfo reads of INFO: the
// replica fields only after "role:slave", as Redis prints them.
func parseInfo(text string) sentinel.Info {
	var info sentinel.Info
	var host, port string
	info.SlavePriority = sentinel.DefaultSlavePriority
	for _, line := range strings.Split(text, "\r\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch {
		case k == "run_id":
			info.RunID = v
		case strings.HasPrefix(k, "slave") && strings.Contains(v, "ip="):
			var ip, p string
			for _, f := range strings.Split(v, ",") {
				if x, ok := strings.CutPrefix(f, "ip="); ok {
					ip = x
				}
				if x, ok := strings.CutPrefix(f, "port="); ok {
					p = x
				}
			}
			if ip != "" && p != "" {
				info.Slaves = append(info.Slaves, net.JoinHostPort(ip, p))
			}
		case k == "master_link_down_since_seconds":
			n, _ := strconv.Atoi(v)
			info.MasterLinkDownTime = time.Duration(n) * time.Second
		case k == "role":
			if v == "master" {
				info.Role = sentinel.FlagMaster
			} else if v == "slave" {
				info.Role = sentinel.FlagSlave
			}
		case info.Role == sentinel.FlagSlave && k == "master_host":
			host = v
		case info.Role == sentinel.FlagSlave && k == "master_port":
			port = v
		case info.Role == sentinel.FlagSlave && k == "master_link_status":
			info.MasterLinkUp = v == "up"
		case info.Role == sentinel.FlagSlave && k == "slave_priority":
			info.SlavePriority, _ = strconv.Atoi(v)
		case info.Role == sentinel.FlagSlave && k == "slave_repl_offset":
			info.SlaveReplOffset, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if host != "" || port != "" {
		info.MasterAddr = net.JoinHostPort(host, port)
	}
	return info
}

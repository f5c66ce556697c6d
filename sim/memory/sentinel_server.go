package memory

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/alicebob/miniredis/v2/server"

	"github.com/redisha-sim/redisha-sim/sim/sentinel"
)

// startServer opens the Sentinel's RESP port: SENTINEL, INFO, ROLE and,
// from miniredis, PING and pub/sub for the events; with a password, only
// after AUTH.
func (s *Sentinel) startServer() error {
	ln, err := listenRetry(s.addr)
	if err != nil {
		return fmt.Errorf("start %s: %w", s.name, err)
	}
	m := miniredis.NewMiniRedis()
	c, err := m.Dial()
	if err != nil {
		ln.Close()
		return err
	}
	c.Close()
	srv := m.Server()
	srv.Register("SENTINEL", s.sentinelCommand)
	srv.Register("ROLE", func(c *server.Peer, _ string, _ []string) {
		c.WriteLen(2)
		c.WriteBulk("sentinel")
		c.WriteLen(len(s.cfg.masters))
		for _, m := range s.cfg.masters {
			c.WriteBulk(m.name)
		}
	})
	gate := newPasswordGate(s.cfg.password)
	srv.SetPreHook(func(c *server.Peer, cmd string, args ...string) bool {
		if !s.waitRunning() {
			c.Close()
			return true
		}
		if gate.check(c, cmd, args) {
			return true
		}
		switch cmd {
		case "INFO":
			c.WriteBulk(s.infoText())
			return true
		case "CLIENT":
			if len(args) > 0 && strings.EqualFold(args[0], "SETINFO") {
				c.WriteOK()
				return true
			}
		}
		return false
	})
	s.mu.Lock()
	s.m, s.ln = m, ln
	s.mu.Unlock()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			if s.ln != ln {
				s.mu.Unlock()
				conn.Close()
				return
			}
			s.conns[conn] = struct{}{}
			s.mu.Unlock()
			go serveConn(conn, srv, nil)
		}
	}()
	return nil
}

// waitRunning blocks while the Sentinel is paused; false once stopped.
func (s *Sentinel) waitRunning() bool {
	for {
		s.mu.Lock()
		st, ch := s.state, s.resumed
		s.mu.Unlock()
		switch st {
		case nodeRunning:
			return true
		case nodeStopped:
			return false
		}
		<-ch
	}
}

func (s *Sentinel) stopServer() {
	s.mu.Lock()
	ln, m := s.ln, s.m
	s.ln, s.m = nil, nil
	conns := s.conns
	s.conns = map[net.Conn]struct{}{}
	s.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	for c := range conns {
		c.Close()
	}
	if m != nil {
		m.Close()
	}
}

func (s *Sentinel) infoText() string {
	var b strings.Builder
	s.call(func() {
		tilt := 0
		if s.core.Tilt {
			tilt = 1
		}
		fmt.Fprintf(&b, "# Sentinel\r\nsentinel_masters:%d\r\nsentinel_tilt:%d\r\nsentinel_tilt_since_seconds:-1\r\nsentinel_running_scripts:0\r\nsentinel_scripts_queue_length:0\r\nsentinel_simulate_failure_flags:0\r\n", len(s.core.Masters), tilt)
		for i, m := range s.core.Masters {
			status := "ok"
			switch {
			case m.Is(sentinel.FlagODown):
				status = "odown"
			case m.Is(sentinel.FlagSDown):
				status = "sdown"
			}
			fmt.Fprintf(&b, "master%d:name=%s,status=%s,address=%s,slaves=%d,sentinels=%d\r\n", i, m.Name, status, m.Addr, len(m.Slaves), len(m.Sentinels)+1)
		}
	})
	return b.String()
}

// resp is a reply built in the loop and written by the connection.
type resp struct {
	err    string
	status string
	bulk   *string
	nilArr bool
	arr    []any // strings, int64, []any (nested)
	dicts  [][]string
}

func writeAny(c *server.Peer, v any) {
	switch x := v.(type) {
	case string:
		c.WriteBulk(x)
	case int64:
		c.WriteInt(int(x))
	case []any:
		c.WriteLen(len(x))
		for _, e := range x {
			writeAny(c, e)
		}
	case []string:
		c.WriteLen(len(x))
		for _, e := range x {
			c.WriteBulk(e)
		}
	}
}

func (s *Sentinel) sentinelCommand(c *server.Peer, _ string, args []string) {
	if len(args) == 0 {
		c.WriteError("ERR wrong number of arguments for 'sentinel' command")
		return
	}
	var r resp
	sub := strings.ToLower(args[0])
	ok := s.call(func() { r = s.sentinelReply(sub, args[1:]) })
	switch {
	case !ok:
		c.Close()
	case r.err != "":
		c.WriteError(r.err)
	case r.status != "":
		c.WriteInline(r.status)
	case r.bulk != nil:
		c.WriteBulk(*r.bulk)
	case r.nilArr:
		c.WriteLen(-1)
	case r.dicts != nil:
		c.WriteLen(len(r.dicts))
		for _, d := range r.dicts {
			c.WriteStrings(d)
		}
	default:
		writeAny(c, r.arr)
	}
}

func (s *Sentinel) sentinelReply(sub string, args []string) resp {
	// named finds the master args[0] names, as sentinelGetMasterByNameOrReplyError.
	var m *sentinel.Master
	named := func() (bool, resp) {
		if len(args) < 1 {
			return false, resp{err: fmt.Sprintf("ERR wrong number of arguments for 'sentinel|%s' command", sub)}
		}
		if m = s.core.MasterByName(args[0]); m == nil {
			return false, resp{err: "ERR No such master with that name"}
		}
		return true, resp{}
	}
	switch sub {
	case "get-master-addr-by-name":
		if len(args) != 1 {
			return resp{err: "ERR wrong number of arguments for 'sentinel|get-master-addr-by-name' command"}
		}
		m := s.core.MasterByName(args[0])
		if m == nil {
			return resp{nilArr: true}
		}
		host, port, _ := net.SplitHostPort(m.CurrentAddr())
		return resp{arr: []any{host, port}}
	case "masters":
		d := [][]string{}
		for _, m := range s.core.Masters {
			d = append(d, s.instanceDict(&m.Instance))
		}
		return resp{dicts: d}
	case "master":
		if ok, e := named(); !ok {
			return e
		}
		return resp{arr: stringsToAny(s.instanceDict(&m.Instance))}
	case "replicas", "slaves":
		if ok, e := named(); !ok {
			return e
		}
		d := [][]string{}
		for _, sl := range m.Slaves {
			d = append(d, s.instanceDict(sl))
		}
		return resp{dicts: d}
	case "sentinels":
		if ok, e := named(); !ok {
			return e
		}
		d := [][]string{}
		for _, si := range m.Sentinels {
			d = append(d, s.instanceDict(si))
		}
		return resp{dicts: d}
	case "is-master-down-by-addr":
		r := s.isMasterDownByAddr(args)
		if r.err != "" {
			return resp{err: r.err}
		}
		return resp{arr: r.val.([]any)}
	case "ckquorum":
		if ok, e := named(); !ok {
			return e
		}
		usable := 1
		for _, si := range m.Sentinels {
			if !si.Is(sentinel.FlagSDown | sentinel.FlagODown) {
				usable++
			}
		}
		voters := len(m.Sentinels) + 1
		var problems []string
		if usable < m.Quorum {
			problems = append(problems, "Not enough available Sentinels to reach the specified quorum for this master")
		}
		if usable < voters/2+1 {
			problems = append(problems, "Not enough available Sentinels to reach the majority and authorize a failover")
		}
		if len(problems) > 0 {
			return resp{err: fmt.Sprintf("NOQUORUM %d usable Sentinels. %s", usable, strings.Join(problems, ". "))}
		}
		return resp{status: fmt.Sprintf("OK %d usable Sentinels. Quorum and failover authorization can be reached", usable)}
	case "failover":
		// sentinelCommand's "failover": exactly the master name.
		if len(args) != 1 {
			return resp{err: "ERR wrong number of arguments for 'sentinel|failover' command"}
		}
		if ok, e := named(); !ok {
			return e
		}
		if err := s.core.ForceFailover(m, s.now()); err != nil {
			return resp{err: err.Error()}
		}
		s.log.Info("executing user requested FAILOVER", "master", m.Name)
		return resp{status: "OK"}
	case "myid":
		id := s.myid
		return resp{bulk: &id}
	}
	return resp{err: fmt.Sprintf("ERR unknown subcommand '%s'. Try SENTINEL HELP.", sub)}
}

func stringsToAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, x := range ss {
		out[i] = x
	}
	return out
}

// instanceDict is addReplySentinelRedisInstance: field/value pairs, values
// as strings.
func (s *Sentinel) instanceDict(ri *sentinel.Instance) []string {
	now := s.now()
	host, port, _ := net.SplitHostPort(ri.Addr)
	msSince := func(t time.Duration) string {
		if t < 0 {
			return "0"
		}
		return strconv.FormatInt((now - t).Milliseconds(), 10)
	}
	l := &ri.Link
	d := []string{"name", ri.Name, "ip", host, "port", port, "runid", ri.RunID, "flags", ri.FlagString(),
		"link-pending-commands", strconv.Itoa(l.Pending), "link-refcount", strconv.Itoa(s.linkRefcount(ri))}
	// m is the master ri is, nil for a replica or a Sentinel.
	var m *sentinel.Master
	for _, x := range s.core.Masters {
		if ri == &x.Instance {
			m = x
		}
	}
	if m != nil && m.Is(sentinel.FlagFailoverInProgress) {
		d = append(d, "failover-state", m.FailoverState.String())
	}
	d = append(d, "last-ping-sent", msSince(l.ActPingTime), "last-ok-ping-reply", msSince(l.LastAvailTime),
		"last-ping-reply", msSince(l.LastPongTime))
	if ri.Is(sentinel.FlagSDown) {
		d = append(d, "s-down-time", msSince(ri.SDownSince))
	}
	if ri.Is(sentinel.FlagODown) {
		d = append(d, "o-down-time", msSince(ri.ODownSince))
	}
	d = append(d, "down-after-milliseconds", strconv.FormatInt(ri.DownAfter.Milliseconds(), 10))
	if ri.Is(sentinel.FlagSentinel) {
		leader := ri.Leader
		if leader == "" {
			leader = "?"
		}
		return append(d, "last-hello-message", msSince(ri.LastHelloTime), "voted-leader", leader,
			"voted-leader-epoch", strconv.FormatUint(ri.LeaderEpoch, 10))
	}
	role := "slave"
	if ri.RoleReported == sentinel.FlagMaster {
		role = "master"
	}
	d = append(d, "info-refresh", msSince(ri.InfoRefresh), "role-reported", role, "role-reported-time", msSince(ri.RoleReportedTime))
	if m != nil {
		return append(d, "config-epoch", strconv.FormatUint(m.ConfigEpoch, 10), "num-slaves", strconv.Itoa(len(m.Slaves)),
			"num-other-sentinels", strconv.Itoa(len(m.Sentinels)), "quorum", strconv.Itoa(m.Quorum),
			"failover-timeout", strconv.FormatInt(m.FailoverTimeout.Milliseconds(), 10), "parallel-syncs", strconv.Itoa(m.ParallelSyncs))
	}
	status, mhost, mport := "err", "?", "0"
	if ri.SlaveMasterLinkUp {
		status = "ok"
	}
	if ri.SlaveMasterAddr != "" {
		mhost, mport, _ = net.SplitHostPort(ri.SlaveMasterAddr)
	}
	return append(d, "master-link-down-time", strconv.FormatInt(ri.MasterLinkDownTime.Milliseconds(), 10),
		"master-link-status", status, "master-host", mhost, "master-port", mport,
		"slave-priority", strconv.Itoa(ri.SlavePriority), "slave-repl-offset", strconv.FormatInt(ri.SlaveReplOffset, 10),
		"replica-announced", "1")
}

// linkRefcount is link-refcount: sentinel.c shares one link to a Sentinel
// among every master that Sentinel also monitors
// (sentinelTryConnectionSharing), so its count is the number of masters
// listing that Sentinel. The connection is shared here too (sharedConn);
// the link's state is kept per master (so PINGs go once per master).
func (s *Sentinel) linkRefcount(ri *sentinel.Instance) int {
	if !ri.Is(sentinel.FlagSentinel) {
		return 1
	}
	n := 0
	for _, m := range s.core.Masters {
		for _, si := range m.Sentinels {
			if si.RunID == ri.RunID {
				n++
			}
		}
	}
	return max(n, 1)
}

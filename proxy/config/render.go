package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/redisha-sim/redisha-sim/proxy/tcpcheck"
)

// Render writes a configuration in HAProxy's syntax, each section with
// every setting spelled out (no defaults section). Parsing the result gives
// the same configuration back; HAProxy 2.6 accepts it unless it uses
// redisha-sim's extensions (init-state, redis-sentinel).
func Render(c *Config) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("global")
	if c.Global.MaxConn > 0 {
		w("    maxconn %d", c.Global.MaxConn)
	}
	if c.Global.SpreadChecks > 0 {
		w("    spread-checks %d", c.Global.SpreadChecks)
	}
	for _, s := range c.Global.StatsSockets {
		addr := s.Address
		if s.Network == "tcp" {
			addr = "ipv4@" + addr
		}
		line := "    stats socket " + quote(addr) + " level " + s.Level
		if s.Mode != 0 {
			line += fmt.Sprintf(" mode %o", s.Mode)
		}
		w("%s", line)
	}
	if c.Global.StatsTimeout > 0 {
		w("    stats timeout %s", FormatTime(c.Global.StatsTimeout))
	}
	if c.Global.StatsMaxConn > 0 {
		w("    stats maxconn %d", c.Global.StatsMaxConn)
	}
	// Sections in their file order (frontends, then backends, for
	// configurations built in Go), so that parsing gives the same lists.
	type section struct {
		line int
		fe   *Frontend
		be   *Backend
	}
	var secs []section
	for _, f := range c.Frontends {
		secs = append(secs, section{line: f.Pos.Line, fe: f})
	}
	for _, be := range c.Backends {
		if !be.Listen {
			secs = append(secs, section{line: be.Pos.Line, be: be})
		}
	}
	sort.SliceStable(secs, func(i, j int) bool { return secs[i].line < secs[j].line })
	for _, sec := range secs {
		b.WriteString("\n")
		switch f := sec.fe; {
		case f != nil && f.Listen:
			w("listen %s", f.Name)
			renderFrontend(&b, f)
			if be := c.Backend(f.Name); be != nil {
				renderBackendBody(&b, be)
			}
		case f != nil:
			w("frontend %s", f.Name)
			renderFrontend(&b, f)
		default:
			w("backend %s", sec.be.Name)
			renderBackendBody(&b, sec.be)
		}
	}
	return b.String()
}

func renderFrontend(b *strings.Builder, f *Frontend) {
	w := func(format string, args ...any) { fmt.Fprintf(b, "    "+format+"\n", args...) }
	w("mode %s", f.Mode)
	for _, bd := range f.Binds {
		addr := bd.Addr
		if strings.HasPrefix(addr, ":") {
			addr = "*" + addr
		}
		if bd.Name != "" {
			w("bind %s name %s", addr, quote(bd.Name))
		} else {
			w("bind %s", addr)
		}
	}
	if f.DefaultBackend != "" && !f.Listen {
		w("default_backend %s", f.DefaultBackend)
	}
	if f.MaxConn > 0 {
		w("maxconn %d", f.MaxConn)
	}
	if f.TCPKeepAlive {
		w("option clitcpka")
	}
	renderTimeout(b, "client", f.Timeouts.Client)
	renderTimeout(b, "client-fin", f.Timeouts.ClientFin)
	renderTimeout(b, "http-request", f.Timeouts.HTTPRequest)
	if st := f.Stats; st != nil {
		w("stats enable")
		w("stats uri %s", quote(st.URI))
		w("stats realm %s", quote(st.Realm))
		for _, a := range st.Auth {
			w("stats auth %s", quote(a.User+":"+a.Password))
		}
		if st.Admin {
			w("stats admin if TRUE")
		}
		if st.Refresh > 0 {
			w("stats refresh %s", FormatTime(st.Refresh))
		}
		if st.HideVersion {
			w("stats hide-version")
		}
		if st.MetricsPath != "" {
			w("http-request use-service prometheus-exporter if { path %s }", quote(st.MetricsPath))
		}
	}
}

func renderTimeout(b *strings.Builder, kind string, d interface{ Milliseconds() int64 }) {
	if ms := d.Milliseconds(); ms > 0 {
		fmt.Fprintf(b, "    timeout %s %dms\n", kind, ms)
	}
}

func renderBackendBody(b *strings.Builder, be *Backend) {
	w := func(format string, args ...any) { fmt.Fprintf(b, "    "+format+"\n", args...) }
	if !be.Listen {
		w("mode %s", be.Mode)
	}
	if be.Mode == ModeTCP {
		w("balance %s", be.Balance)
	}
	switch be.CheckKind {
	case CheckTCP:
		w("option tcp-check")
	case CheckRedis:
		w("option redis-check")
	}
	if be.Redispatch {
		if be.RedispatchAfter != 0 {
			w("option redispatch %d", be.RedispatchAfter)
		} else {
			w("option redispatch")
		}
	}
	if be.AllBackups {
		w("option allbackups")
	}
	if be.LogHealthChecks {
		w("option log-health-checks")
	}
	if be.TCPKeepAlive {
		w("option srvtcpka")
	}
	if be.Retries != 0 {
		w("retries %d", be.EffectiveRetries())
	}
	to := be.Timeouts
	renderTimeout(b, "connect", to.Connect)
	renderTimeout(b, "server", to.Server)
	renderTimeout(b, "check", to.Check)
	renderTimeout(b, "tunnel", to.Tunnel)
	renderTimeout(b, "queue", to.Queue)
	renderTimeout(b, "server-fin", to.ServerFin)
	for _, r := range be.CheckRules {
		w("tcp-check %s", renderRule(r))
	}
	if sn := be.Sentinel; sn != nil {
		w("%s", renderSentinel(sn))
	}
	for _, s := range be.Servers {
		w("server %s", renderServer(s))
	}
}

func renderRule(r tcpcheck.Rule) string {
	comment := ""
	if r.Comment != "" {
		comment = " comment " + quote(r.Comment)
	}
	switch r.Action {
	case tcpcheck.ActComment:
		return "comment " + quote(r.Comment)
	case tcpcheck.ActConnect:
		s := "connect"
		if r.Port != 0 {
			s += " port " + strconv.Itoa(r.Port)
		}
		if r.Addr != "" {
			s += " addr " + r.Addr
		}
		return s + comment
	case tcpcheck.ActSend:
		return "send " + escape(string(r.Data)) + comment
	}
	s := "expect"
	switch {
	case r.MinRecv > 0:
		s += " min-recv " + strconv.Itoa(r.MinRecv)
	case r.MinRecv < 0:
		s += " min-recv 0"
	}
	for _, st := range []struct {
		kw string
		v  tcpcheck.Status
	}{{"ok-status", r.OKStatus}, {"error-status", r.ErrorStatus}, {"tout-status", r.TimeoutStatus}} {
		if st.v != tcpcheck.StatusUnknown {
			s += " " + st.kw + " " + st.v.Code()
		}
	}
	if r.Comment != "" {
		s += comment
	}
	if r.Negate {
		s += " !"
	}
	return s + " " + r.Match.String() + " " + escape(r.Pattern)
}

// renderSentinel writes redisha-sim's redis-sentinel line; HAProxy does
// not know it.
func renderSentinel(sn *Sentinel) string {
	addrs := make([]string, len(sn.Addrs))
	for i, a := range sn.Addrs {
		addrs[i] = escape(a)
	}
	line := "redis-sentinel " + quote(sn.MasterName) + " " + strings.Join(addrs, ",")
	if sn.Role != "" {
		line += " role " + sn.Role
	}
	if sn.Quorum > 0 {
		line += " quorum " + strconv.Itoa(sn.Quorum)
	}
	if sn.Password != "" {
		line += " password " + quote(sn.Password)
	}
	return line
}

func renderServer(s *Server) string {
	parts := []string{s.Name, s.Addr}
	if s.Check {
		parts = append(parts, "check")
	}
	add := func(kw, v string) { parts = append(parts, kw, v) }
	if s.Inter > 0 {
		add("inter", FormatTime(s.Inter))
	}
	if s.FastInter > 0 {
		add("fastinter", FormatTime(s.FastInter))
	}
	if s.DownInter > 0 {
		add("downinter", FormatTime(s.DownInter))
	}
	if s.Rise > 0 {
		add("rise", strconv.Itoa(s.Rise))
	}
	if s.Fall > 0 {
		add("fall", strconv.Itoa(s.Fall))
	}
	if s.CheckPort > 0 {
		add("port", strconv.Itoa(s.CheckPort))
	}
	if s.CheckAddr != "" {
		add("addr", s.CheckAddr)
	}
	if s.Backup {
		parts = append(parts, "backup")
	}
	if s.Disabled {
		parts = append(parts, "disabled")
	}
	if s.Weight != 0 {
		add("weight", strconv.Itoa(s.EffectiveWeight()))
	}
	if s.MaxConn > 0 {
		add("maxconn", strconv.Itoa(s.MaxConn))
	}
	if s.InitState != InitUp {
		add("init-state", s.InitState.String())
	}
	if s.ShutdownSessions {
		add("on-marked-down", "shutdown-sessions")
	}
	if s.ShutdownBackupSessions {
		add("on-marked-up", "shutdown-backup-sessions")
	}
	return strings.Join(parts, " ")
}

// escape writes a word with HAProxy's backslash escapes so that it reads
// back as one word with the same bytes.
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == ' ' || c == '#' || c == '\\' || c == '"' || c == '\'':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	if b.Len() == 0 {
		return `""`
	}
	return b.String()
}

// quote is escape for names and texts.
func quote(s string) string { return escape(s) }

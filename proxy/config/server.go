package config

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

func (p *parser) kwDefaultServer(s *section, w []string) error {
	return p.serverParams(s.srv, w[1:], true)
}

func (p *parser) kwServer(s *section, w []string) error {
	if len(w) < 3 {
		return usage("write 'server <name> <address>:<port> [param*]', e.g. 'server redis1 10.0.0.1:6379 check inter 1s'")
	}
	name := w[1]
	if !validName(name) {
		return usage("invalid server name '%s': use letters, digits, '-', '_', '.' and ':'", name)
	}
	if s.be.Server(name) != nil {
		return usage("server name '%s' is already used in this backend", name)
	}
	addr := w[2]
	if strings.HasPrefix(addr, "ipv4@") || strings.HasPrefix(addr, "ipv6@") {
		addr = addr[5:]
	}
	if strings.Contains(addr, "@") || strings.HasPrefix(addr, "/") {
		return usage("address '%s' is not supported: servers are TCP host:port", w[2])
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return usage("invalid address '%s': want <host>:<port>, e.g. 10.0.0.1:6379", w[2])
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return usage("invalid port in '%s': want a number from 1 to 65535", w[2])
	}
	srv := *s.srv
	srv.Name, srv.Pos, srv.Addr = name, p.pos, net.JoinHostPort(host, port)
	err = p.serverParams(&srv, w[3:], false)
	var wn warning
	if err != nil && !asWarning(err, &wn) {
		return err
	}
	s.be.Servers = append(s.be.Servers, &srv)
	return err
}

func asWarning(err error, w *warning) bool {
	ww, ok := err.(warning)
	if ok {
		*w = ww
	}
	return ok
}

// Server parameters HAProxy has that this proxy does not implement. Those
// that take a value list it.
var serverIgnored = map[string]bool{
	"slowstart": true, "observe": true, "error-limit": true, "on-error": true, "minconn": true,
	"maxqueue": true, "id": true, "cookie": true, "track": true, "agent-check": false, "agent-port": true,
	"agent-inter": true, "agent-send": true, "agent-addr": true, "resolvers": true, "resolve-prefer": true,
	"resolve-net": true, "init-addr": true, "check-sni": true, "redir": true, "namespace": true,
	"tcp-ut": true, "pool-max-conn": true, "pool-purge-delay": true, "pool-low-conn": true,
	"log-proto": true, "max-reuse": true, "shard": true, "non-stick": false, "no-agent-check": false,
	"no-tfo": false, "tfo": false, "stick": false, "check-via-socks4": false, "socks4": true,
}

// intParamRange is the valid range of each numeric server parameter.
var intParamRange = map[string][2]int{
	"rise": {1, 1 << 20}, "fall": {1, 1 << 20}, "port": {1, 65535}, "weight": {0, MaxWeight}, "maxconn": {0, 1 << 30},
}

var serverParamNames = []string{
	"check", "no-check", "inter", "fastinter", "downinter", "rise", "fall", "port", "addr",
	"backup", "no-backup", "disabled", "enabled", "weight", "maxconn", "init-state",
	"on-marked-down", "on-marked-up",
}

// serverParams applies server keywords to srv. In default-server lines
// (isDefault), check/backup/disabled may appear as HAProxy allows.
func (p *parser) serverParams(srv *Server, w []string, isDefault bool) error {
	var ignored []string
	need := func(i int) (string, error) {
		if i+1 >= len(w) {
			return "", usage("'%s' needs a value", w[i])
		}
		return w[i+1], nil
	}
	for i := 0; i < len(w); i++ {
		kw := w[i]
		switch kw {
		case "check":
			srv.Check = true
		case "no-check":
			srv.Check = false
		case "backup":
			srv.Backup = true
		case "no-backup":
			srv.Backup = false
		case "disabled":
			srv.Disabled = true
		case "enabled":
			srv.Disabled = false
		case "inter", "fastinter", "downinter":
			v, err := need(i)
			if err != nil {
				return err
			}
			d, err := ParseTime(v)
			if err != nil {
				return usage("'%s': %v", kw, err)
			}
			if d <= 0 {
				return usage("'%s' must be greater than zero", kw)
			}
			*map[string]*time.Duration{"inter": &srv.Inter, "fastinter": &srv.FastInter, "downinter": &srv.DownInter}[kw] = d
			i++
		case "rise", "fall", "port", "weight", "maxconn":
			v, err := need(i)
			if err != nil {
				return err
			}
			lo, hi := intParamRange[kw][0], intParamRange[kw][1]
			n, err := strconv.Atoi(v)
			if err != nil || n < lo || n > hi {
				return usage("invalid '%s' value '%s': want a number from %d to %d", kw, v, lo, hi)
			}
			switch kw {
			case "rise":
				srv.Rise = n
			case "fall":
				srv.Fall = n
			case "port":
				srv.CheckPort = n
			case "weight":
				if n == 0 {
					n = -1
				}
				srv.Weight = n
			case "maxconn":
				srv.MaxConn = n
			}
			i++
		case "addr":
			v, err := need(i)
			if err != nil {
				return err
			}
			srv.CheckAddr = v
			i++
		case "init-state":
			v, err := need(i)
			if err != nil {
				return err
			}
			found := false
			for st, n := range initStateNames {
				if n == v {
					srv.InitState, found = st, true
				}
			}
			if !found {
				return usage("invalid init-state '%s'; valid: fully-up, up, down, fully-down", v)
			}
			i++
		case "on-marked-down":
			v, err := need(i)
			if err != nil {
				return err
			}
			if v != "shutdown-sessions" {
				return usage("invalid on-marked-down action '%s'; valid: shutdown-sessions", v)
			}
			srv.ShutdownSessions = true
			i++
		case "on-marked-up":
			v, err := need(i)
			if err != nil {
				return err
			}
			if v != "shutdown-backup-sessions" {
				return usage("invalid on-marked-up action '%s'; valid: shutdown-backup-sessions", v)
			}
			srv.ShutdownBackupSessions = true
			i++
		default:
			if slices.Contains(serverRefused, kw) {
				return usage("server option '%s' is not supported: this proxy speaks plain TCP to servers", kw)
			}
			takesValue, ok := serverIgnored[kw]
			if !ok {
				return usage("unknown server option '%s'%s (valid: %s)", kw, didYouMean(kw, serverParamNames), strings.Join(serverParamNames, ", "))
			}
			ignored = append(ignored, kw)
			if takesValue {
				i++
			}
		}
	}
	if len(ignored) > 0 {
		return warn("server options %s ignored: not supported by this proxy", strings.Join(ignored, ", "))
	}
	return nil
}

// stats returns the section's stats settings, creating them.
func (p *parser) stats(s *section) *Stats {
	if s.fe.Stats == nil {
		s.fe.Stats = &Stats{Pos: p.pos}
	}
	return s.fe.Stats
}

// statsKeywords are the stats keywords a message lists as valid.
var statsKeywords = append(slices.Clone(statsSupported), "show-legends", "show-node", "show-desc", "scope")

func (p *parser) kwStats(s *section, w []string) error {
	if len(w) < 2 {
		return usage("missing stats keyword; valid: %s", oneOf(statsKeywords...))
	}
	if s.fe == nil {
		return usage("the stats page is served by a frontend or listen section in 'mode http'")
	}
	if slices.Contains(statsGlobalOnly, w[1]) {
		return usage("'stats %s' belongs in the global section", w[1])
	}
	st := p.stats(s)
	switch w[1] {
	case "enable":
		return extraArgs(w, 2)
	case "uri":
		if len(w) < 3 {
			return usage("'stats uri' needs a path, e.g. /haproxy_stats")
		}
		if !strings.HasPrefix(w[2], "/") {
			return usage("invalid uri '%s': it must start with '/'", w[2])
		}
		st.URI = w[2]
		if len(w) > 3 {
			// HAProxy 2.6 silently ignores these words; we say so.
			return warn("extra words after the uri ignored: %q (start comments with '#')", strings.Join(w[3:], " "))
		}
	case "realm":
		if len(w) < 3 {
			return usage("'stats realm' needs a text (escape spaces with '\\ ')")
		}
		st.Realm = w[2]
		return extraArgs(w, 3)
	case "auth":
		if len(w) < 3 {
			return usage("'stats auth' needs user:password")
		}
		user, pass, ok := strings.Cut(w[2], ":")
		if !ok || user == "" {
			return usage("invalid credentials '%s': want user:password", w[2])
		}
		st.Auth = append(st.Auth, Credential{User: user, Password: pass})
		return extraArgs(w, 3)
	case "admin":
		if len(w) < 4 || (w[2] != "if" && w[2] != "unless") {
			return usage("write 'stats admin if TRUE'")
		}
		switch {
		case w[2] == "if" && w[3] == "TRUE", w[2] == "unless" && w[3] == "FALSE":
			st.Admin = true
		case w[2] == "if" && w[3] == "FALSE", w[2] == "unless" && w[3] == "TRUE":
			st.Admin = false
		default:
			return usage("condition '%s %s' is not supported: ACLs are not implemented; write 'stats admin if TRUE'", w[2], w[3])
		}
		return extraArgs(w, 4)
	case "refresh":
		if len(w) < 3 {
			return usage("'stats refresh' needs a delay, e.g. 10s (a bare number is in seconds)")
		}
		d, err := parseTime(w[2], time.Second)
		if err != nil {
			return usage("%v", err)
		}
		st.Refresh = d
		return extraArgs(w, 3)
	case "hide-version":
		st.HideVersion = true
		return extraArgs(w, 2)
	default:
		if slices.Contains(statsIgnored, w[1]) {
			return warn("'stats %s' ignored", w[1])
		}
		return usage("unknown stats keyword '%s'; valid: %s", w[1], oneOf(statsKeywords...))
	}
	return nil
}

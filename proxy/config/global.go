package config

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
)

// Global keywords HAProxy has that change nothing for this proxy: accepted
// with a warning that says so.
var globalIgnored = map[string]string{
	"daemon":          "this proxy runs in the foreground",
	"master-worker":   "this proxy runs as a single process",
	"nbproc":          "this proxy runs as a single process",
	"nbthread":        "the Go runtime schedules on GOMAXPROCS threads",
	"cpu-map":         "the Go runtime schedules on GOMAXPROCS threads",
	"user":            "drop privileges with your service manager",
	"group":           "drop privileges with your service manager",
	"uid":             "drop privileges with your service manager",
	"gid":             "drop privileges with your service manager",
	"chroot":          "use your service manager's sandboxing",
	"pidfile":         "the process does not write a pid file",
	"quiet":           "logging is controlled by the command line",
	"description":     "",
	"node":            "",
	"ca-base":         "TLS is not supported",
	"crt-base":        "TLS is not supported",
	"hard-stop-after": "use the command's --grace flag",
	"ulimit-n":        "raise the limit with your service manager",
}

func (p *parser) globalKeyword(w []string) {
	kw := w[0]
	switch {
	case kw == "log":
		if len(w) < 2 {
			p.errorf(kw, "missing target: write 'log <address> <facility> [level]'")
			return
		}
		p.warnf(kw, "log target '%s' not used: this proxy logs to standard error", strings.Join(w[1:], " "))
	case kw == "maxconn":
		p.report(kw, intArg(w, 1, 1, 1<<30, &p.cfg.Global.MaxConn))
	case kw == "spread-checks":
		p.report(kw, intArg(w, 1, 0, 50, &p.cfg.Global.SpreadChecks))
	case kw == "stats":
		p.globalStats(w)
	case hasPrefixIn(kw, globalPrefixIgnored):
		p.warnf(kw, "tuning keyword not used by this proxy: ignored")
	default:
		if why, ok := globalIgnored[kw]; ok {
			if why == "" {
				p.warnf(kw, "ignored")
			} else {
				p.warnf(kw, "ignored: %s", why)
			}
			return
		}
		valid := append(slices.Clone(noEffect), globalSupported...)
		p.errorf(kw, "unknown keyword in the global section%s (valid: log, maxconn, spread-checks, stats socket, stats timeout, tune.*; accepted and ignored: %s)", didYouMean(kw, append(valid, sortedKeys(globalIgnored)...)), strings.Join(sortedKeys(globalIgnored), ", "))
	}
}

func (p *parser) globalStats(w []string) {
	if len(w) < 2 {
		p.errorf("stats", "missing argument; valid in global: 'stats socket <path|addr:port> [level <level>] [mode <octal>]', 'stats timeout <time>'")
		return
	}
	kw := "stats " + w[1]
	switch w[1] {
	case "socket":
		if len(w) < 3 {
			p.errorf(kw, "missing address: write 'stats socket /path/to/sock' or 'stats socket ipv4@127.0.0.1:9999'")
			return
		}
		s := StatsSocket{Pos: p.pos, Level: "admin"}
		addr := w[2]
		switch {
		case strings.HasPrefix(addr, "ipv4@"), strings.HasPrefix(addr, "ipv6@"):
			s.Network, s.Address = "tcp", addr[5:]
		case strings.HasPrefix(addr, "unix@"):
			s.Network, s.Address = "unix", addr[5:]
		case strings.HasPrefix(addr, "/") || strings.HasPrefix(addr, "."):
			s.Network, s.Address = "unix", addr
		default:
			s.Network, s.Address = "tcp", addr
		}
		if s.Network == "tcp" {
			if _, err := normalizeHostPort(s.Address); err != nil {
				p.errorf(kw, "invalid address '%s': %v", addr, err)
				return
			}
		}
		for i := 3; i < len(w); i++ {
			switch w[i] {
			case "level":
				if i+1 >= len(w) || !(w[i+1] == "user" || w[i+1] == "operator" || w[i+1] == "admin") {
					p.errorf(kw, "'level' needs one of: user, operator, admin")
					return
				}
				s.Level = w[i+1]
				i++
			case "mode":
				if i+1 >= len(w) {
					p.errorf(kw, "'mode' needs an octal permission, e.g. 600")
					return
				}
				m, err := strconv.ParseUint(w[i+1], 8, 32)
				if err != nil || m > 0o777 {
					p.errorf(kw, "invalid mode '%s': want an octal permission such as 600 or 660", w[i+1])
					return
				}
				s.Mode = uint32(m)
				i++
			default:
				if !slices.Contains(socketIgnored, w[i]) {
					p.errorf(kw, "unknown option '%s'; valid: level, mode", w[i])
					return
				}
				p.warnf(kw, "option '%s' ignored", w[i])
				if w[i] != "expose-fd" || i+1 < len(w) {
					i++
				}
			}
		}
		p.cfg.Global.StatsSockets = append(p.cfg.Global.StatsSockets, s)
	case "timeout":
		p.report(kw, timeArg(w, 2, &p.cfg.Global.StatsTimeout))
	case "maxconn":
		if len(w) < 3 {
			p.errorf(kw, "missing number: write 'stats maxconn <connections>'")
			return
		}
		n, err := strconv.Atoi(w[2])
		if err != nil || n < 1 || n > 100000 {
			p.errorf(kw, "invalid number '%s': want 1 to 100000", w[2])
			return
		}
		p.cfg.Global.StatsMaxConn = n
	default:
		if slices.Contains(globalStatsIgnored, w[1]) {
			p.warnf(kw, "ignored")
			return
		}
		p.errorf(kw, "unknown stats keyword in global section; valid: socket, timeout, maxconn")
	}
}

// normalizeHostPort checks host:port and turns "*" and "0.0.0.0" into an
// empty host (all addresses).
func normalizeHostPort(s string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("want <host>:<port>, e.g. 127.0.0.1:6379 or *:5000")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("port '%s' must be a number from 1 to 65535", port)
	}
	if host == "*" || host == "0.0.0.0" {
		host = ""
	}
	return net.JoinHostPort(host, port), nil
}

func intArg(w []string, i, lo, hi int, dst *int) error {
	if i >= len(w) {
		return usage("missing value: want a number from %d to %d", lo, hi)
	}
	n, err := strconv.Atoi(w[i])
	if err != nil || n < lo || n > hi {
		return usage("invalid value '%s': want a number from %d to %d", w[i], lo, hi)
	}
	*dst = n
	return extraArgs(w, i+1)
}

func extraArgs(w []string, from int) error {
	if from < len(w) {
		return warn("extra arguments %q ignored", strings.Join(w[from:], " "))
	}
	return nil
}

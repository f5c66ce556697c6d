package config

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Which sections a keyword is valid in, as HAProxy's PR_CAP_* flags.
type caps int

const (
	capDef caps = 1 << iota
	capFE
	capBE
)

func (c caps) String() string {
	var s []string
	if c&capDef != 0 {
		s = append(s, "defaults")
	}
	if c&capFE != 0 {
		s = append(s, "frontend")
	}
	if c&(capFE|capBE) != 0 {
		s = append(s, "listen")
	}
	if c&capBE != 0 {
		s = append(s, "backend")
	}
	return strings.Join(s, ", ")
}

type keyword struct {
	caps caps
	fn   func(p *parser, s *section, w []string) error
}

var proxyKeywords map[string]keyword

func init() {
	// Built here rather than as a literal to break the initialization cycle
	// through the handlers, which name the table in their messages.
	proxyKeywords = map[string]keyword{
		"mode":            {capDef | capFE | capBE, (*parser).kwMode},
		"bind":            {capFE, (*parser).kwBind},
		"default_backend": {capDef | capFE, (*parser).kwDefaultBackend},
		"balance":         {capDef | capBE, (*parser).kwBalance},
		"option":          {capDef | capFE | capBE, (*parser).kwOption},
		"no":              {capDef | capFE | capBE, (*parser).kwNoOption},
		"tcp-check":       {capDef | capBE, (*parser).kwTCPCheck},
		"default-server":  {capDef | capBE, (*parser).kwDefaultServer},
		"server":          {capBE, (*parser).kwServer},
		"timeout":         {capDef | capFE | capBE, (*parser).kwTimeout},
		"retries":         {capDef | capBE, (*parser).kwRetries},
		"maxconn":         {capDef | capFE, (*parser).kwMaxConn},
		"log":             {capDef | capFE | capBE, (*parser).kwLog},
		"stats":           {capDef | capFE | capBE, (*parser).kwStats},
		"http-request":    {capFE | capBE, (*parser).kwHTTPRequest},
		"redis-sentinel":  {capDef | capBE, (*parser).kwRedisSentinel},
	}
}

// Keywords whose first argument is part of their name in messages.
var multiWord = map[string]bool{"stats": true, "timeout": true, "option": true, "tcp-check": true, "http-request": true, "no": true}

// Keywords HAProxy has in proxy sections that this proxy does not implement.
// They are accepted with a warning saying they have no effect, except those
// that would change the bytes on the wire, which are errors.
var proxyIgnored = map[string]string{
	"description": "", "id": "", "enabled": "", "fullconn": "", "hash-type": "",
	"backlog": "", "rate-limit": "", "acl": "ACLs are not supported",
	"use_backend":   "content switching is not supported; use default_backend",
	"use-server":    "content switching is not supported",
	"tcp-request":   "tcp-request rules are not supported",
	"tcp-response":  "tcp-response rules are not supported",
	"http-response": "only the stats page serves HTTP", "http-after-response": "only the stats page serves HTTP",
	"errorfile": "", "errorloc": "", "monitor-uri": "", "monitor": "", "capture": "",
	"redirect": "", "compression": "", "cookie": "", "stick-table": "", "stick": "",
	"persist": "", "dispatch": "", "source": "", "grace": "", "unique-id-format": "",
	"log-format": "", "log-tag": "", "email-alert": "", "external-check": "",
	"http-check": "HTTP checks are not supported", "server-template": "",
	"load-server-state-from-file": "", "server-state-file-name": "",
	"max-keep-alive-queue": "", "retry-on": "", "bind-process": "", "declare": "",
	"filter": "", "force-persist": "", "ignore-persist": "", "http-reuse": "",
	"http-send-name-header": "", "ignore": "",
}

// Sections and keywords that HAProxy removed: an error naming the modern form.
var removedKeywords = map[string]string{
	"contimeout": "timeout connect", "clitimeout": "timeout client", "srvtimeout": "timeout server",
	"reqadd": "http-request add-header", "rspadd": "http-response add-header", "block": "http-request deny",
}

func (p *parser) proxyKeyword(w []string) {
	s := p.cur
	kw := w[0]
	if kw == "acl" && len(w) > 1 {
		if s.acls == nil {
			s.acls = map[string]bool{}
		}
		s.acls[w[1]] = true
	}
	if conditional(w) {
		if name, ok := unknownACL(w, s.acls); ok {
			if multiWord[kw] && len(w) > 1 {
				kw += " " + w[1]
			}
			p.errorf(kw, "no such ACL: '%s' (%s)", name, aclList(s.acls))
			return
		}
	}
	k, ok := proxyKeywords[kw]
	if !ok {
		if why, ok := proxyIgnored[kw]; ok {
			if why == "" {
				why = "not supported by this proxy"
			}
			p.warnf(kw, "ignored: %s", why)
			return
		}
		if repl, ok := removedKeywords[kw]; ok {
			p.errorf(kw, "keyword removed from HAProxy; use '%s'", repl)
			return
		}
		valid := keywordsFor(s.kind)
		p.errorf(kw, "unknown keyword in a %s section%s (valid: %s)", sectionWord(s.kind), didYouMean(kw, append(valid, sortedKeys(proxyIgnored)...)), strings.Join(valid, ", "))
		return
	}
	if !allowed(k.caps, s.kind) {
		p.errorf(kw, "not allowed in a %s section; valid in: %s", sectionWord(s.kind), k.caps)
		return
	}
	if multiWord[kw] && len(w) > 1 {
		kw += " " + w[1]
	}
	for _, m := range []*map[string]Pos{feKw(s.fe), beKw(s.be)} {
		if m != nil {
			if *m == nil {
				*m = map[string]Pos{}
			}
			(*m)[w[0]] = p.pos
		}
	}
	p.report(kw, k.fn(p, s, w))
}

func feKw(f *Frontend) *map[string]Pos {
	if f == nil {
		return nil
	}
	return &f.kwPos
}

func beKw(b *Backend) *map[string]Pos {
	if b == nil {
		return nil
	}
	return &b.kwPos
}

func sectionWord(k sectionKind) string {
	for n, v := range sectionNames {
		if v == k {
			return n
		}
	}
	return "section"
}

func allowed(c caps, k sectionKind) bool {
	switch k {
	case secDefaults:
		return c&capDef != 0
	case secFrontend:
		return c&capFE != 0
	case secBackend:
		return c&capBE != 0
	case secListen:
		return c&(capFE|capBE) != 0
	}
	return false
}

func keywordsFor(k sectionKind) []string {
	var out []string
	for n, kw := range proxyKeywords {
		if allowed(kw.caps, k) && n != "no" {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (p *parser) kwMode(s *section, w []string) error {
	if len(w) < 2 {
		return usage("missing mode; valid: tcp, http")
	}
	var m Mode
	switch w[1] {
	case "tcp":
		m = ModeTCP
	case "http":
		m = ModeHTTP
	case "health":
		return usage("mode 'health' was removed from HAProxy; valid: tcp, http")
	default:
		return usage("unknown mode '%s'; valid: tcp, http (http only for the stats page)", w[1])
	}
	if s.fe != nil {
		s.fe.Mode = m
	}
	if s.be != nil {
		s.be.Mode = m
	}
	return extraArgs(w, 2)
}

func (p *parser) kwBind(s *section, w []string) error {
	if len(w) < 2 {
		return usage("missing address; write 'bind [<address>]:<port> [name <name>]', e.g. 'bind *:5000'")
	}
	var name string
	var ignored []string
	for i := 2; i < len(w); i++ {
		switch {
		case w[i] == "name":
			if i+1 >= len(w) {
				return usage("'name' needs a value")
			}
			name = w[i+1]
			i++
		case slices.Contains(bindRefused, w[i]):
			return usage("bind option '%s' is not supported: this proxy serves plain TCP and would mis-handle such clients", w[i])
		case slices.Contains(bindIgnored, w[i]):
			ignored = append(ignored, w[i])
			if !slices.Contains(bindFlags, w[i]) && i+1 < len(w) {
				i++
			}
		default:
			return usage("unknown bind option '%s'; valid: name (and, ignored: transparent, v4v6, v6only, tfo, backlog, maxconn, interface, process, thread)", w[i])
		}
	}
	for _, a := range strings.Split(w[1], ",") {
		if strings.HasPrefix(a, "ipv4@") || strings.HasPrefix(a, "ipv6@") {
			a = a[5:]
		}
		if strings.Contains(a, "@") || strings.HasPrefix(a, "/") {
			return usage("address '%s' is not supported: this proxy binds TCP addresses only", a)
		}
		if host, port, ok := strings.Cut(a, ":"); ok && strings.Contains(port, "-") && !strings.Contains(host, "[") {
			return usage("port ranges ('%s') are not supported: write one bind line per port", a)
		}
		addr, err := normalizeHostPort(a)
		if err != nil {
			return usage("invalid address '%s': %v", a, err)
		}
		s.fe.Binds = append(s.fe.Binds, Bind{Pos: p.pos, Addr: addr, Name: name})
	}
	if len(ignored) > 0 {
		return warn("bind options %s ignored", strings.Join(ignored, ", "))
	}
	return nil
}

func (p *parser) kwDefaultBackend(s *section, w []string) error {
	if len(w) < 2 {
		return usage("missing backend name")
	}
	if s.kind == secListen {
		return warn("ignored: a listen section routes to its own servers")
	}
	s.fe.DefaultBackend = w[1]
	return extraArgs(w, 2)
}

func (p *parser) kwBalance(s *section, w []string) error {
	if len(w) < 2 {
		// HAProxy: no argument means round-robin.
		s.be.Balance = BalanceRoundRobin
		return nil
	}
	b, err := ParseBalance(w[1])
	if err != nil {
		if slices.Contains(balanceIgnored, w[1]) {
			s.be.Balance = BalanceRoundRobin
			return warn("algorithm '%s' is not supported: using roundrobin; supported: first, roundrobin, leastconn, source", w[1])
		}
		return usage("unknown algorithm '%s'%s (valid: first, roundrobin, leastconn, source)", w[1], didYouMean(w[1], []string{"first", "roundrobin", "leastconn", "source"}))
	}
	s.be.Balance = b
	return extraArgs(w, 2)
}

// Options this proxy does not act on; accepted with a warning.
var optionsIgnored = map[string]string{
	"tcplog": "", "httplog": "", "dontlognull": "", "dontlog-normal": "", "log-separate-errors": "",
	"splice-auto": "this proxy always uses splice when both sides are TCP", "splice-request": "this proxy always uses splice when both sides are TCP",
	"splice-response":   "this proxy always uses splice when both sides are TCP",
	"http-server-close": "", "httpclose": "", "http-keep-alive": "", "forwardfor": "", "http-buffer-request": "",
	"abortonclose": "", "independent-streams": "", "nolinger": "", "persist": "", "prefer-last-server": "",
	"tcp-smart-accept": "", "tcp-smart-connect": "", "transparent": "", "socket-stats": "", "contstats": "",
	"logasap": "", "log-health-checks-all": "", "http-use-htx": "", "checkcache": "", "accept-invalid-http-request": "",
}

// Check options of other protocols: the server is then checked by a plain
// connect, which the warning says.
var otherChecks = []string{"httpchk", "mysql-check", "pgsql-check", "ldap-check", "smtpchk", "ssl-hello-chk", "spop-check", "external-check"}

func (p *parser) kwOption(s *section, w []string) error { return p.option(s, w, true) }

func (p *parser) kwNoOption(s *section, w []string) error {
	if len(w) < 2 || w[1] != "option" {
		return usage("'no' must be followed by 'option <name>'")
	}
	return p.option(s, w[1:], false)
}

func (p *parser) option(s *section, w []string, on bool) error {
	if len(w) < 2 {
		return usage("missing option name")
	}
	name := w[1]
	be := func(f func(b *Backend)) error {
		if s.be == nil {
			return warn("option '%s' ignored: a frontend has no servers", name)
		}
		f(s.be)
		return nil
	}
	switch name {
	case "tcp-check":
		return be(func(b *Backend) {
			if on {
				b.CheckKind = CheckTCP
			} else if b.CheckKind == CheckTCP {
				b.CheckKind = CheckConnect
			}
		})
	case "redis-check":
		return be(func(b *Backend) {
			if on {
				b.CheckKind = CheckRedis
			} else if b.CheckKind == CheckRedis {
				b.CheckKind = CheckConnect
			}
		})
	case "redispatch":
		after := 0
		if len(w) > 2 && on {
			n, err := strconv.Atoi(w[2])
			if err != nil || n == 0 {
				return usage("invalid redispatch interval '%s': want a non-zero number (negative counts from the last retry)", w[2])
			}
			after = n
		}
		return be(func(b *Backend) { b.Redispatch, b.RedispatchAfter = on, after })
	case "allbackups":
		return be(func(b *Backend) { b.AllBackups = on })
	case "log-health-checks":
		return be(func(b *Backend) { b.LogHealthChecks = on })
	case "srvtcpka":
		return be(func(b *Backend) { b.TCPKeepAlive = on })
	case "clitcpka":
		if s.fe != nil {
			s.fe.TCPKeepAlive = on
		}
		return nil
	case "tcpka":
		if s.fe != nil {
			s.fe.TCPKeepAlive = on
		}
		if s.be != nil {
			s.be.TCPKeepAlive = on
		}
		return nil
	}
	for _, c := range otherChecks {
		if name == c {
			return warn("option '%s' is not supported: servers with 'check' get a TCP connect check; for Redis use 'option tcp-check' or 'option redis-check'", name)
		}
	}
	if why, ok := optionsIgnored[name]; ok {
		if why == "" {
			return warn("option '%s' has no effect in this proxy", name)
		}
		return warn("option '%s' ignored: %s", name, why)
	}
	supported := optionsSupported
	return usage("unknown option '%s'%s (supported: %s)", name, didYouMean(name, append(supported, sortedKeys(optionsIgnored)...)), strings.Join(supported, ", "))
}

var timeoutKinds = []string{"connect", "client", "server", "check", "tunnel", "queue", "client-fin", "server-fin", "http-request"}

func (p *parser) kwTimeout(s *section, w []string) error {
	if len(w) < 3 {
		return usage("write 'timeout <kind> <time>'; kinds: %s", oneOf(timeoutKinds...))
	}
	var fe, be *Timeouts
	if s.fe != nil {
		fe = &s.fe.Timeouts
	}
	if s.be != nil {
		be = &s.be.Timeouts
	}
	var dst *time.Duration
	switch w[1] {
	case "client", "client-fin":
		if fe == nil {
			return warn("'timeout %s' ignored: backend '%s' has no frontend capability", w[1], s.name)
		}
		if w[1] == "client" {
			dst = &fe.Client
		} else {
			dst = &fe.ClientFin
		}
	case "connect", "server", "check", "tunnel", "queue", "server-fin":
		if be == nil {
			return warn("'timeout %s' ignored: frontend '%s' has no backend capability", w[1], s.name)
		}
		switch w[1] {
		case "connect":
			dst = &be.Connect
		case "server":
			dst = &be.Server
		case "check":
			dst = &be.Check
		case "tunnel":
			dst = &be.Tunnel
		case "queue":
			dst = &be.Queue
		default:
			dst = &be.ServerFin
		}
	case "http-request":
		// HAProxy: the longest wait for a complete request (its headers;
		// with option http-buffer-request its body too). Only the stats
		// sections serve HTTP here, and they bound the body with it too.
		if fe == nil {
			return warn("'timeout %s' ignored: backend '%s' has no frontend capability", w[1], s.name)
		}
		dst = &fe.HTTPRequest
	default:
		if slices.Contains(timeoutIgnored, w[1]) {
			return warn("'timeout %s' ignored: HTTP timeouts do not apply here", w[1])
		}
		return usage("unknown timeout '%s'%s (valid: %s)", w[1], didYouMean(w[1], timeoutKinds), oneOf(timeoutKinds...))
	}
	return timeArg(w, 2, dst)
}

func timeArg(w []string, i int, dst *time.Duration) error {
	if i >= len(w) {
		return usage("missing time, e.g. 1s or 250ms (units: us, ms, s, m, h, d; none means ms)")
	}
	d, err := ParseTime(w[i])
	if err != nil {
		return usage("%v", err)
	}
	*dst = d
	return extraArgs(w, i+1)
}

func (p *parser) kwRetries(s *section, w []string) error {
	var n int
	if err := intArg(w, 1, 0, 1<<20, &n); err != nil {
		return err
	}
	if n == 0 {
		n = -1
	}
	s.be.Retries = n
	return nil
}

func (p *parser) kwMaxConn(s *section, w []string) error {
	return intArg(w, 1, 0, 1<<30, &s.fe.MaxConn)
}

func (p *parser) kwLog(s *section, w []string) error {
	if len(w) >= 2 && w[1] == "global" {
		return extraArgs(w, 2)
	}
	if len(w) < 2 {
		return usage("write 'log global' or 'log <address> <facility>'")
	}
	return warn("log target '%s' not used: this proxy logs to standard error", strings.Join(w[1:], " "))
}

func (p *parser) kwHTTPRequest(s *section, w []string) error {
	// Only the form that serves Prometheus metrics is understood:
	//   http-request use-service prometheus-exporter if { path /metrics }
	if len(w) >= 8 && w[1] == "use-service" && w[2] == "prometheus-exporter" && w[3] == "if" && w[4] == "{" && w[5] == "path" && w[7] == "}" {
		if s.fe == nil || s.fe.Mode != ModeHTTP {
			return usage("the prometheus exporter needs 'mode http' in this section")
		}
		st := p.stats(s)
		st.MetricsPath = w[6]
		return extraArgs(w, 8)
	}
	return warn("ignored: only 'http-request use-service prometheus-exporter if { path <path> }' is supported")
}

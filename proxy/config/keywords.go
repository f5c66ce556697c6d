package config

import (
	"slices"
	"sort"
	"strings"
)

// Support says what the parser does with a keyword.
type Support string

const (
	// Supported keywords are read and acted on.
	Supported Support = "supported"
	// Ignored keywords are accepted (HAProxy knows them) but change
	// nothing here; most give a warning that says so.
	Ignored Support = "ignored"
	// Refused keywords are errors: HAProxy knows them, but running them
	// without their effect would mis-handle traffic, or HAProxy itself
	// removed them.
	Refused Support = "refused"
)

// Keyword is one entry of the parser's keyword table.
type Keyword struct {
	// Context is where the keyword appears: "section" (a section header),
	// "global", "global stats", "stats socket", "proxy" (defaults,
	// frontend, backend, listen), or the keyword whose arguments it names
	// ("option", "timeout", "bind", "balance", "mode", "server", "stats",
	// "tcp-check", "tcp-check connect", "tcp-check expect",
	// "http-request", "redis-sentinel").
	Context string
	// Name is the keyword as written. A trailing ".*" or "-*" stands for
	// every keyword with that prefix ("tune.*").
	Name    string
	Support Support
}

// The parser's lists that are not already tables of their own (see
// Keywords for the others). Each is used by the parser itself.
var (
	globalSupported = []string{"maxconn", "spread-checks", "stats"}
	// noEffect are keywords the parser reads and checks but that change
	// nothing: "log" (this proxy logs to standard error).
	noEffect             = []string{"log"}
	globalPrefixIgnored  = []string{"tune.", "ssl-"}
	globalStatsSupported = []string{"socket", "timeout", "maxconn"}
	globalStatsIgnored   = []string{"bind-process"}
	socketSupported      = []string{"level", "mode"}
	socketIgnored        = []string{"expose-fd", "user", "group", "uid", "gid", "process", "thread"}

	modeSupported = []string{"tcp", "http"}
	modeRefused   = []string{"health"}

	bindSupported = []string{"name"}
	bindRefused   = []string{"ssl", "crt", "accept-proxy", "accept-netscaler-cip", "ca-file", "alpn", "npn", "quic-cc-algo"}
	bindIgnored   = []string{"transparent", "v4v6", "v6only", "tfo", "defer-accept", "nice", "interface", "namespace", "process", "thread", "backlog", "maxconn", "mss", "id", "level", "severity-output", "mode", "user", "group", "uid", "gid"}
	// bindFlags are the ignored bind options that take no value.
	bindFlags = []string{"transparent", "v4v6", "v6only", "tfo", "defer-accept"}

	balanceIgnored = []string{"static-rr", "random", "uri", "url_param", "hdr", "rdp-cookie", "hash"}

	optionsSupported = []string{"tcp-check", "redis-check", "redispatch", "allbackups", "log-health-checks", "tcpka", "clitcpka", "srvtcpka"}
	timeoutIgnored   = []string{"http-keep-alive", "tarpit"}

	serverRefused = []string{"send-proxy", "send-proxy-v2", "send-proxy-v2-ssl", "send-proxy-v2-ssl-cn", "ssl", "check-ssl", "check-send-proxy", "proxy-v2-options", "crt", "ca-file", "sni", "alpn", "verify"}

	statsSupported  = []string{"enable", "uri", "realm", "auth", "admin", "refresh", "hide-version"}
	statsIgnored    = []string{"show-legends", "show-node", "show-desc", "scope", "show-modules", "http-request", "bind-process"}
	statsGlobalOnly = []string{"socket", "timeout"}

	tcpCheckRefused = []string{"send-lf", "send-binary-lf"}
	tcpCheckIgnored = []string{"set-var", "unset-var", "set-var-fmt"}

	connectSupported = []string{"port", "addr", "comment", "default"}
	connectIgnored   = []string{"linger"}
	connectRefused   = []string{"send-proxy", "via-socks4", "ssl", "sni", "alpn", "proto"}

	expectOptions = []string{"!", "min-recv", "comment", "ok-status", "error-status", "tout-status"}
	expectRefused = []string{"on-success", "on-error", "status-code", "string-lf", "binary-lf", "custom"}

	httpRequestSupported = []string{"use-service prometheus-exporter"}
)

// Keywords is the parser's keyword table: every keyword it reads, accepts
// and ignores, or refuses by name, sorted by context and name. A keyword
// that is not listed is an "unknown keyword" error. proxy/REFERENCE.md
// documents each; a test keeps the two in step.
func Keywords() []Keyword {
	var out []Keyword
	add := func(ctx string, s Support, names ...string) {
		for _, n := range names {
			out = append(out, Keyword{Context: ctx, Name: n, Support: s})
		}
	}
	add("section", Supported, sortedKeys(sectionNames)...)
	add("section", Ignored, ignoredSections...)
	add("global", Supported, globalSupported...)
	add("global", Ignored, noEffect...)
	add("global", Ignored, sortedKeys(globalIgnored)...)
	for _, p := range globalPrefixIgnored {
		add("global", Ignored, p+"*")
	}
	add("global stats", Supported, globalStatsSupported...)
	add("global stats", Ignored, globalStatsIgnored...)
	add("stats socket", Supported, socketSupported...)
	add("stats socket", Ignored, socketIgnored...)
	for _, n := range sortedKeys(proxyKeywords) {
		if slices.Contains(noEffect, n) {
			add("proxy", Ignored, n)
		} else {
			add("proxy", Supported, n)
		}
	}
	add("proxy", Ignored, sortedKeys(proxyIgnored)...)
	add("proxy", Refused, sortedKeys(removedKeywords)...)
	add("mode", Supported, modeSupported...)
	add("mode", Refused, modeRefused...)
	add("bind", Supported, bindSupported...)
	add("bind", Refused, bindRefused...)
	add("bind", Ignored, bindIgnored...)
	add("balance", Supported, sortedValues(balanceNames)...)
	add("balance", Ignored, balanceIgnored...)
	add("option", Supported, optionsSupported...)
	add("option", Ignored, sortedKeys(optionsIgnored)...)
	add("option", Ignored, otherChecks...)
	add("timeout", Supported, timeoutKinds...)
	add("timeout", Ignored, timeoutIgnored...)
	add("server", Supported, serverParamNames...)
	add("server", Ignored, sortedKeys(serverIgnored)...)
	add("server", Refused, serverRefused...)
	add("stats", Supported, statsSupported...)
	add("stats", Ignored, statsIgnored...)
	add("stats", Refused, statsGlobalOnly...)
	add("tcp-check", Supported, tcpCheckActions...)
	add("tcp-check", Refused, tcpCheckRefused...)
	add("tcp-check", Ignored, tcpCheckIgnored...)
	add("tcp-check connect", Supported, connectSupported...)
	add("tcp-check connect", Ignored, connectIgnored...)
	add("tcp-check connect", Refused, connectRefused...)
	add("tcp-check expect", Supported, expectOptions...)
	add("tcp-check expect", Supported, sortedKeys(matchKinds)...)
	add("tcp-check expect", Refused, expectRefused...)
	add("http-request", Supported, httpRequestSupported...)
	add("redis-sentinel", Supported, sentinelOptions...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Context != out[j].Context {
			return out[i].Context < out[j].Context
		}
		return out[i].Name < out[j].Name
	})
	return out
}

func sortedValues[K comparable](m map[K]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// hasPrefixIn reports whether s starts with one of prefixes.
func hasPrefixIn(s string, prefixes []string) bool {
	return slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(s, p) })
}

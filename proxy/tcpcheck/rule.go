// Package tcpcheck runs HAProxy-style tcp-check health checks: a sequence of
// connect, send and expect rules against one server, with HAProxy's buffer,
// matching and timeout semantics and its status codes and messages.
package tcpcheck

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// Action is what a rule does.
type Action int

const (
	ActConnect Action = iota
	ActSend
	ActExpect
	// ActComment is a "tcp-check comment" line: it does nothing at run
	// time, but takes a step number and labels the rules after it, as in
	// HAProxy.
	ActComment
)

func (a Action) String() string {
	return [...]string{"connect", "send", "expect", "comment"}[a]
}

// MatchKind is how an expect rule matches the received data.
type MatchKind int

const (
	// MatchString is an unanchored substring search.
	MatchString MatchKind = iota
	// MatchRegex is a regular expression over the data as text ("rstring").
	MatchRegex
	// MatchBinary is an unanchored byte search; the pattern is hex.
	MatchBinary
	// MatchRegexBinary is a regular expression over the data as hex
	// ("rbinary").
	MatchRegexBinary
)

var matchNames = [...]string{"string", "rstring", "binary", "rbinary"}

func (m MatchKind) String() string { return matchNames[m] }

// Rule is one tcp-check step.
type Rule struct {
	Action Action
	// Comment is reported when the rule fails ("comment" option, or a
	// preceding "tcp-check comment" line).
	Comment string

	// Connect: where to connect. Zero values use the server's check address.
	Port int
	Addr string

	// Send: the bytes to write.
	Data []byte

	// Expect: what to look for.
	Match MatchKind
	// Negate fails the rule when the pattern matches ("!").
	Negate bool
	// Pattern is the pattern as written (hex for binary kinds).
	Pattern string
	// MinRecv: 0 (the default, HAProxy's min-recv -1) waits for more data
	// on a mismatch until the server closes or the check times out; N > 0
	// waits for N bytes, then decides; -1 (HAProxy's "min-recv 0") decides
	// on what has arrived.
	MinRecv int
	// OKStatus, ErrorStatus and TimeoutStatus override the status a check
	// ends with when this rule decides it (zero: HAProxy's defaults).
	OKStatus, ErrorStatus, TimeoutStatus Status

	needle []byte
	re     *regexp.Regexp
}

// Comment returns a comment rule.
func Comment(text string) Rule { return Rule{Action: ActComment, Comment: text} }

// Connect returns a connect rule to the server's check address.
func Connect() Rule { return Rule{Action: ActConnect} }

// Send returns a send rule.
func Send(data string) Rule { return Rule{Action: ActSend, Data: []byte(data)} }

// ExpectString returns an expect rule that looks for s.
func ExpectString(s string) Rule {
	r, _ := NewExpect(MatchString, false, s)
	return r
}

// NewExpect returns an expect rule, compiling its pattern.
func NewExpect(kind MatchKind, negate bool, pattern string) (Rule, error) {
	r := Rule{Action: ActExpect, Match: kind, Negate: negate, Pattern: pattern}
	return r, r.Compile()
}

// Compile prepares the matcher of an expect rule and reports a bad pattern.
// Rules from NewExpect are compiled already; a rule built as a literal must
// be compiled before use.
func (r *Rule) Compile() error {
	if r.Action != ActExpect || r.needle != nil || r.re != nil {
		return nil
	}
	switch r.Match {
	case MatchString:
		r.needle = []byte(r.Pattern)
	case MatchBinary:
		b, err := hex.DecodeString(r.Pattern)
		if err != nil || len(b) == 0 {
			return fmt.Errorf("invalid binary pattern %q: want an even number of hexadecimal digits", r.Pattern)
		}
		r.needle = b
	case MatchRegex, MatchRegexBinary:
		re, err := regexp.Compile(r.Pattern)
		if err != nil {
			return fmt.Errorf("invalid regex %q: %w", r.Pattern, err)
		}
		r.re = re
	default:
		return fmt.Errorf("unknown match kind %d", r.Match)
	}
	return nil
}

// matches reports whether buf satisfies the rule's pattern (before negation).
func (r *Rule) matches(buf []byte) bool {
	switch r.Match {
	case MatchString, MatchBinary:
		return bytes.Contains(buf, r.needle)
	case MatchRegex:
		return r.re.Match(buf)
	default:
		return r.re.MatchString(strings.ToUpper(hex.EncodeToString(buf)))
	}
}

// describe is the rule as HAProxy names it in a timeout message:
// "expect string 'role:master'", "connect", "send".
func (r *Rule) describe() string {
	switch r.Action {
	case ActConnect:
		if r.Port != 0 {
			return fmt.Sprintf("connect port %d", r.Port)
		}
		return "connect"
	case ActSend:
		return "send"
	}
	switch r.Match {
	case MatchString:
		return fmt.Sprintf("expect string '%s'", r.Pattern)
	case MatchBinary:
		return fmt.Sprintf("expect binary '%s'", strings.ToUpper(r.Pattern))
	default:
		return "expect regex"
	}
}

// Redis returns the rules of HAProxy's "option redis-check": PING, +PONG.
func Redis() []Rule {
	return []Rule{Send("PING\r\n"), ExpectString("+PONG")}
}

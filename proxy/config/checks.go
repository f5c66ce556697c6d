package config

import (
	"encoding/hex"
	"slices"
	"strconv"
	"strings"

	"github.com/redisha-sim/redisha-sim/proxy/tcpcheck"
)

var tcpCheckActions = []string{"connect", "send", "send-binary", "expect", "comment"}

func (p *parser) kwTCPCheck(s *section, w []string) error {
	if len(w) < 2 {
		return usage("missing action; valid: %s", oneOf(tcpCheckActions...))
	}
	if s.rulesInherited {
		s.be.CheckRules = nil
		s.rulesInherited = false
	}
	var (
		r   tcpcheck.Rule
		err error
	)
	switch w[1] {
	case "comment":
		if len(w) < 3 {
			return usage("'tcp-check comment' needs a text")
		}
		s.be.CheckRules = append(s.be.CheckRules, tcpcheck.Comment(w[2]))
		return extraArgs(w, 3)
	case "connect":
		r, err = parseConnectRule(w[2:])
	case "send", "send-binary":
		r, err = parseSendRule(w[1], w[2:])
	case "expect":
		r, err = parseExpectRule(w[2:])
	default:
		if slices.Contains(tcpCheckRefused, w[1]) {
			return usage("'tcp-check %s' (log-format data) is not supported; use 'send' or 'send-binary'", w[1])
		}
		if slices.Contains(tcpCheckIgnored, w[1]) {
			return warn("'tcp-check %s' ignored: variables are not supported", w[1])
		}
		return usage("unknown action '%s'%s (valid: %s)", w[1], didYouMean(w[1], tcpCheckActions), oneOf(tcpCheckActions...))
	}
	if err != nil {
		return err
	}
	s.be.CheckRules = append(s.be.CheckRules, r)
	return nil
}

func parseConnectRule(w []string) (tcpcheck.Rule, error) {
	r := tcpcheck.Connect()
	for i := 0; i < len(w); i++ {
		switch w[i] {
		case "port":
			if i+1 >= len(w) {
				return r, usage("'port' needs a number from 1 to 65535")
			}
			n, err := strconv.Atoi(w[i+1])
			if err != nil || n < 1 || n > 65535 {
				return r, usage("invalid port '%s': want a number from 1 to 65535", w[i+1])
			}
			r.Port = n
			i++
		case "addr":
			if i+1 >= len(w) {
				return r, usage("'addr' needs an address")
			}
			r.Addr = w[i+1]
			i++
		case "comment":
			if i+1 >= len(w) {
				return r, usage("'comment' needs a text")
			}
			r.Comment = w[i+1]
			i++
		case "default", "linger":
			// default: use the server's settings (what we do anyway);
			// linger: close with RST, which only affects the server's logs.
		default:
			if slices.Contains(connectRefused, w[i]) {
				return r, usage("connect option '%s' is not supported; valid: port, addr, comment, default, linger", w[i])
			}
			return r, usage("unknown connect option '%s'; valid: port, addr, comment, default, linger", w[i])
		}
	}
	return r, nil
}

func parseSendRule(action string, w []string) (tcpcheck.Rule, error) {
	if len(w) == 0 {
		return tcpcheck.Rule{}, usage("'tcp-check %s' needs data to send", action)
	}
	data := []byte(w[0])
	if action == "send-binary" {
		b, err := hex.DecodeString(w[0])
		if err != nil {
			return tcpcheck.Rule{}, usage("invalid hexadecimal data '%s': want pairs of hex digits, e.g. 2a310d0a", w[0])
		}
		data = b
	}
	r := tcpcheck.Rule{Action: tcpcheck.ActSend, Data: data}
	for i := 1; i < len(w); i++ {
		if w[i] == "comment" && i+1 < len(w) {
			r.Comment = w[i+1]
			i++
			continue
		}
		return r, usage("unexpected '%s' after the data; escape spaces in the data with '\\ ' (valid option: comment)", w[i])
	}
	return r, nil
}

var matchKinds = map[string]tcpcheck.MatchKind{
	"string": tcpcheck.MatchString, "rstring": tcpcheck.MatchRegex,
	"binary": tcpcheck.MatchBinary, "rbinary": tcpcheck.MatchRegexBinary,
}

func parseExpectRule(w []string) (tcpcheck.Rule, error) {
	var (
		negate   bool
		minRecv  int // tcpcheck's convention: 0 unset, -1 HAProxy's min-recv 0
		comment  string
		statuses [3]tcpcheck.Status
	)
	for i := 0; i < len(w); i++ {
		switch w[i] {
		case "!":
			negate = true
		case "min-recv":
			if i+1 >= len(w) {
				return tcpcheck.Rule{}, usage("'min-recv' needs a byte count")
			}
			n, err := strconv.Atoi(w[i+1])
			if err != nil || n < -1 {
				return tcpcheck.Rule{}, usage("invalid min-recv '%s': want a number of bytes (-1 for none)", w[i+1])
			}
			switch n {
			case -1:
				minRecv = 0
			case 0:
				minRecv = -1
			default:
				minRecv = n
			}
			i++
		case "comment":
			if i+1 >= len(w) {
				return tcpcheck.Rule{}, usage("'comment' needs a text")
			}
			comment = w[i+1]
			i++
		case "ok-status", "error-status", "tout-status":
			if i+1 >= len(w) {
				return tcpcheck.Rule{}, usage("'%s' needs a status", w[i])
			}
			st, ok := tcpcheck.ParseStatus(w[i+1])
			if !ok {
				return tcpcheck.Rule{}, usage("invalid status '%s' for '%s'; valid: L4OK, L4TOUT, L4CON, L6OK, L6TOUT, L6RSP, L7OK, L7OKC, L7TOUT, L7RSP, L7STS", w[i+1], w[i])
			}
			statuses[map[string]int{"ok-status": 0, "error-status": 1, "tout-status": 2}[w[i]]] = st
			i++
		case "on-success", "on-error", "status-code":
			return tcpcheck.Rule{}, usage("'%s' (log-format expressions) is not supported", w[i])
		default:
			if slices.Contains(expectRefused, w[i]) {
				return tcpcheck.Rule{}, usage("match '%s' is not supported; valid: string, rstring, binary, rbinary", w[i])
			}
			kind, ok := matchKinds[w[i]]
			if !ok {
				if strings.HasPrefix(w[i], "!") && len(w[i]) > 1 {
					return tcpcheck.Rule{}, usage("write '! %s' with a space after '!'", w[i][1:])
				}
				return tcpcheck.Rule{}, usage("unknown match '%s'; write 'tcp-check expect [!] <match> <pattern>' with match one of string, rstring, binary, rbinary", w[i])
			}
			if i+1 >= len(w) {
				return tcpcheck.Rule{}, usage("'%s' needs a pattern", w[i])
			}
			r, err := tcpcheck.NewExpect(kind, negate, w[i+1])
			if err != nil {
				return r, usage("%v", err)
			}
			r.MinRecv, r.Comment = minRecv, comment
			r.OKStatus, r.ErrorStatus, r.TimeoutStatus = statuses[0], statuses[1], statuses[2]
			if rest := w[i+2:]; len(rest) > 0 {
				if rest[0] == "comment" && len(rest) == 2 {
					r.Comment = rest[1]
					return r, nil
				}
				return r, usage("unexpected '%s' after the pattern; escape spaces in the pattern with '\\ '", rest[0])
			}
			return r, nil
		}
	}
	return tcpcheck.Rule{}, usage("missing match; write 'tcp-check expect [!] <match> <pattern>' with match one of string, rstring, binary, rbinary")
}

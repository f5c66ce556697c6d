package config_test

import (
	"strings"
	"testing"

	"github.com/redisha-sim/redisha-sim/proxy/config"
)

// The keyword table says what the parser does: a supported keyword is
// read without a diagnostic, an ignored one with a warning at most, a
// refused one is an error, and a made-up one is an error too.
func TestKeywordTableAgreesWithTheParserOnSampleLines(t *testing.T) {
	cases := []struct {
		line    string
		support config.Support
	}{
		{"global\n    maxconn 10", config.Supported},
		{"global\n    daemon", config.Ignored},
		{"global\n    tune.bufsize 16384", config.Ignored},
		{"global\n    no-such-keyword", ""},
		{"backend b\n    server s 127.0.0.1:6379 check inter 1s init-state down", config.Supported},
		{"backend b\n    server s 127.0.0.1:6379 slowstart 10s", config.Ignored},
		{"backend b\n    server s 127.0.0.1:6379 send-proxy", config.Refused},
		{"backend b\n    balance static-rr", config.Ignored},
		{"backend b\n    timeout tarpit 1s", config.Ignored},
		{"backend b\n    tcp-check send-lf x", config.Refused},
		{"backend b\n    tcp-check connect linger", config.Ignored},
		{"backend b\n    tcp-check expect string-lf x", config.Refused},
		{"backend b\n    contimeout 1s", config.Refused},
		{"frontend f\n    bind 127.0.0.1:5000 ssl", config.Refused},
		{"frontend f\n    bind 127.0.0.1:5000 v4v6\n    default_backend b\nbackend b", config.Ignored},
		{"frontend f\n    mode http\n    bind 127.0.0.1:5000\n    stats show-node", config.Ignored},
		{"frontend f\n    mode http\n    stats socket /x", config.Refused},
	}
	for _, c := range cases {
		_, warns, err := config.Parse("t.cfg", strings.NewReader(c.line+"\n"), config.ParseOptions{})
		switch c.support {
		case config.Supported:
			if err != nil || len(warns) > 0 {
				t.Errorf("%q: got error %v and warnings %v, want neither", c.line, err, warns)
			}
		case config.Ignored:
			if err != nil {
				t.Errorf("%q: got error %v, want none", c.line, err)
			}
		default:
			if err == nil {
				t.Errorf("%q: got no error, want one", c.line)
			}
		}
	}
}

package config

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Tests of bad configurations found by a probe (issue 17, item 12).

// writeFile writes text to a file in a temporary directory.
func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// oneError parses path with ParseFile and returns its only error line.
func oneError(t *testing.T, path string) string {
	t.Helper()
	_, _, err := ParseFile(path)
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("%s: got %v, want configuration errors", path, err)
	}
	if len(errs) != 1 {
		t.Fatalf("%s: got %d errors, want 1:\n%v", path, len(errs), err)
	}
	return errs[0].String()
}

func TestAFileWithNoListenerIsAnError(t *testing.T) {
	for name, text := range map[string]string{
		"empty.cfg":    "",
		"comments.cfg": "# nothing here\n\n",
		"backend.cfg":  "backend b\n    server s 127.0.0.1:6379\n",
		"nobind.cfg":   "listen l\n    mode tcp\n    server s 127.0.0.1:6379\n",
	} {
		path := writeFile(t, name, text)
		got := oneError(t, path)
		if want := path + ":1: no listener: the proxy would not start"; !strings.HasPrefix(got, want) {
			t.Errorf("%s:\ngot  %s\nwant %s...", name, got, want)
		}
	}
	// A stats socket is a listener, as in HAProxy.
	path := writeFile(t, "socket.cfg", "global\n    stats socket ipv4@127.0.0.1:9999 level admin\n")
	if _, _, err := ParseFile(path); err != nil {
		t.Errorf("a stats socket only: got %v, want it valid", err)
	}
}

func TestALineTooLongIsAnErrorWithItsLineNumber(t *testing.T) {
	text := "frontend f\n    bind :5000\n    default_backend b\n# " + strings.Repeat("x", 2<<20) + "\nbackend b\n"
	path := writeFile(t, "long.cfg", text)
	got := oneError(t, path)
	if want := path + ":4: frontend 'f': line too long: more than 1048576 bytes"; !strings.HasPrefix(got, want) {
		t.Errorf("got  %.200s\nwant %s...", got, want)
	}
	// A line of exactly the limit (newline included) is read.
	text = "frontend f\n    bind :5000\n    default_backend b\n#" + strings.Repeat("x", MaxLineSize-2) + "\nbackend b\n    server s 127.0.0.1:6379\n"
	if _, _, err := ParseFile(writeFile(t, "limit.cfg", text)); err != nil {
		t.Errorf("a line of %d bytes: got %.200v, want it read", MaxLineSize, err)
	}
}

// zeros is an endless stream of NUL bytes, like /dev/zero.
type zeros struct{ read int64 }

func (z *zeros) Read(b []byte) (int, error) {
	clear(b)
	z.read += int64(len(b))
	return len(b), nil
}

func TestAnEndlessLineStopsTheReadingAtTheLimit(t *testing.T) {
	z := &zeros{}
	_, _, err := Parse("zero.cfg", z, ParseOptions{})
	var errs Errors
	if !errors.As(err, &errs) || !strings.HasPrefix(errs[0].String(), "zero.cfg:1: line too long") {
		t.Fatalf("got %v, want a line too long at line 1", err)
	}
	if z.read > 2*MaxLineSize {
		t.Errorf("read %d bytes, want at most about %d", z.read, MaxLineSize)
	}
}

func TestConditionsNamingAnUndeclaredACLAreErrors(t *testing.T) {
	head := "frontend f\n    bind :5000\n    default_backend b\n"
	tail := "backend b\n    server s 127.0.0.1:6379\n"
	for _, tc := range []struct {
		lines, want string
	}{
		{"    use_backend b if bar\n", "'use_backend': no such ACL: 'bar' (none is declared in this section before this line)"},
		{"    use_backend b if !bar\n", "no such ACL: 'bar'"},
		{"    acl ok src 10.0.0.1\n    use_backend b if ok || bar\n", "no such ACL: 'bar' (declared before this line: ok)"},
		{"    use_backend b if ok\n    acl ok src 10.0.0.1\n", "no such ACL: 'ok'"},
		{"    tcp-request content reject unless nope\n", "'tcp-request': no such ACL: 'nope'"},
		{"    acl ok src 10.0.0.1\n    use_backend b if ok\n", ""},
		{"    acl ok src 10.0.0.1\n    use_backend b if !ok or TRUE { src 10.0.0.2 }\n", ""},
		{"    use_backend b if { src 10.0.0.1 } LOCALHOST\n", ""},
		{"    use_backend b\n", ""},
	} {
		path := writeFile(t, "acl.cfg", head+tc.lines+tail)
		_, _, err := ParseFile(path)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%q: got %v, want it valid", tc.lines, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.lines, err, tc.want)
		}
	}
	// The stats admin condition too.
	path := writeFile(t, "stats.cfg", "listen stats\n    bind :9000\n    mode http\n    stats uri /s\n    stats admin if ADMINS\n")
	if got := oneError(t, path); !strings.Contains(got, "'stats admin': no such ACL: 'ADMINS'") {
		t.Errorf("stats admin: got %s", got)
	}
}

func TestAServerHostThatDoesNotResolveIsAnError(t *testing.T) {
	text := "frontend f\n    bind :5000\n    default_backend b\nbackend b\n" +
		"    server ok localhost:6379\n    server ip 10.0.0.1:6379\n    server bad no-such-host.invalid:6379\n"
	path := writeFile(t, "dns.cfg", text)
	t0 := time.Now()
	got := oneError(t, path)
	if want := path + ":7: backend 'b': 'server': server 'bad': could not resolve address 'no-such-host.invalid'"; !strings.HasPrefix(got, want) {
		t.Errorf("got  %s\nwant %s...", got, want)
	}
	if took := time.Since(t0); took > ResolveTimeout+time.Second {
		t.Errorf("took %v, want at most ResolveTimeout (%v)", took, ResolveTimeout)
	}
}

// stuckResolver never answers before its context ends, like a DNS server
// that drops queries.
type stuckResolver struct{}

func (stuckResolver) LookupHost(ctx context.Context, _ string) ([]string, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestResolutionIsBoundedInTime(t *testing.T) {
	cfg := &Config{Backends: []*Backend{{Name: "b", Servers: []*Server{
		{Name: "s1", Addr: "a.example:6379", Pos: Pos{File: "f.cfg", Line: 2}},
		{Name: "s2", Addr: "b.example:6379", Pos: Pos{File: "f.cfg", Line: 3}},
		{Name: "s3", Addr: "a.example:6380", Pos: Pos{File: "f.cfg", Line: 4}},
	}}}}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	errs := resolveServers(ctx, cfg, stuckResolver{})
	if took := time.Since(t0); took > time.Second {
		t.Errorf("took %v, want about 200ms", took)
	}
	if len(errs) != 3 {
		t.Fatalf("got %d errors, want one per server:\n%v", len(errs), errs)
	}
	if got, want := errs[0].String(), "f.cfg:2: backend 'b': 'server': server 's1': could not resolve address 'a.example' (no answer within 5s)"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestStatsMaxconnIsRead(t *testing.T) {
	path := writeFile(t, "maxconn.cfg", "global\n    stats socket ipv4@127.0.0.1:9999\n    stats maxconn 3\n")
	cfg, _, err := ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Global.StatsMaxConn != 3 {
		t.Errorf("got stats maxconn %d, want 3", cfg.Global.StatsMaxConn)
	}
	if got := Render(cfg); !strings.Contains(got, "stats maxconn 3\n") {
		t.Errorf("rendered without it:\n%s", got)
	}
	path = writeFile(t, "bad.cfg", "global\n    stats socket ipv4@127.0.0.1:9999\n    stats maxconn 0\n")
	if got := oneError(t, path); !strings.Contains(got, ":3: global section: 'stats maxconn': invalid number '0'") {
		t.Errorf("got %s", got)
	}
}

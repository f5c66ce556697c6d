package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy/tcpcheck"
)

const seedPath = "../../scenarios/haproxy-seed.cfg"

func TestSeedConfigurationLoadsUnchanged(t *testing.T) {
	cfg, warns, err := ParseFile(seedPath)
	if err != nil {
		t.Fatalf("the seed does not load: %v", err)
	}
	// What the seed has that we do not act on is said, as warnings.
	var got []string
	for _, w := range warns {
		got = append(got, w.String())
	}
	want := []string{
		seedPath + ":2: warning: global section: 'log': log target '127.0.0.1 local0' not used: this proxy logs to standard error",
		seedPath + ":3: warning: global section: 'log': log target '127.0.0.1 local1 notice' not used: this proxy logs to standard error",
		seedPath + ":64: warning: listen 'stats': 'stats uri': extra words after the uri ignored: \"//URL주소는 ip:9000/haproxy_stats입니다.\" (start comments with '#')",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	master := cfg.Backend("back_redis_master1")
	if master == nil || master.CheckKind != CheckTCP || master.Balance != BalanceRoundRobin {
		t.Fatalf("master backend: %+v", master)
	}
	wantRules := []tcpcheck.Rule{
		tcpcheck.Send("AUTH password1234\r\n"), tcpcheck.ExpectString("+OK"),
		tcpcheck.Send("PING\r\n"), tcpcheck.ExpectString("+PONG"),
		tcpcheck.Send("info replication\r\n"), tcpcheck.ExpectString("role:master"),
		tcpcheck.ExpectString("repl_backlog_active:1"),
		tcpcheck.Send("QUIT\r\n"), tcpcheck.ExpectString("+OK"),
	}
	if len(master.CheckRules) != len(wantRules) {
		t.Fatalf("got %d rules, want %d", len(master.CheckRules), len(wantRules))
	}
	for i, r := range master.CheckRules {
		w := wantRules[i]
		if r.Action != w.Action || string(r.Data) != string(w.Data) || r.Pattern != w.Pattern {
			t.Errorf("rule %d: got %v %q %q, want %v %q %q", i+1, r.Action, r.Data, r.Pattern, w.Action, w.Data, w.Pattern)
		}
	}
	for _, s := range master.Servers {
		if !s.Check || s.Inter != time.Second || s.FastInter != time.Second || s.DownInter != time.Second || s.Rise != 2 || s.Fall != 3 {
			t.Errorf("server %s: %+v, want check inter 1s with HAProxy's defaults", s.Name, s)
		}
	}
	if got := master.Servers[1].Addr; got != "192.168.137.101:6380" {
		t.Errorf("redis2 address %q", got)
	}
	if to := master.Timeouts; to.Connect != 4*time.Second || to.Server != 15*time.Second {
		t.Errorf("timeouts from 'defaults REDIS': %+v", to)
	}
	fe := cfg.Frontend("front_redis_master1")
	if fe.Binds[0].Addr != ":5000" || fe.Binds[0].Name != "redis" || fe.DefaultBackend != "back_redis_master1" || fe.Timeouts.Client != 15*time.Second {
		t.Errorf("master frontend: %+v", fe)
	}
	replica := cfg.Backend("back_redis_slave1")
	if replica.Balance != BalanceRoundRobin || replica.CheckRules[5].Pattern != "role:slave" {
		t.Errorf("replica backend: %+v", replica)
	}
	stats := cfg.Frontend("stats")
	st := stats.Stats
	if stats.Mode != ModeHTTP || st == nil || st.URI != "/haproxy_stats" || st.Realm != "HAProxy Statistics" ||
		!st.Admin || len(st.Auth) != 1 || st.Auth[0] != (Credential{"admin", "1234"}) || stats.Timeouts.Client != 5*time.Second {
		t.Errorf("stats section: %+v %+v", stats, st)
	}
}

func TestHandWrittenConfigurationsLoad(t *testing.T) {
	t.Setenv("REDISHA_TEST_PASSWORD", "s3cret")
	files, _ := filepath.Glob("testdata/good/*.cfg")
	if len(files) < 4 {
		t.Fatalf("found %d good configurations", len(files))
	}
	for _, f := range files {
		if _, _, err := ParseFile(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestListenSectionWithBackupsAndDefaultServer(t *testing.T) {
	cfg, _, err := ParseFile("testdata/good/listen-backups.cfg")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Global.MaxConn != 4000 || cfg.Global.SpreadChecks != 5 {
		t.Errorf("global: %+v", cfg.Global)
	}
	fe, be := cfg.Frontend("redis_master"), cfg.Backend("redis_master")
	if fe == nil || be == nil || !fe.Listen || fe.DefaultBackend != "redis_master" || len(fe.Binds) != 2 || fe.Binds[1].Name != "second" {
		t.Fatalf("listen halves: %+v %+v", fe, be)
	}
	if be.Balance != BalanceFirst || be.Retries != 2 || !be.Redispatch || be.Timeouts.Check != 500*time.Millisecond || !be.LogHealthChecks {
		t.Errorf("backend: %+v", be)
	}
	if be.CheckRules[0].Action != tcpcheck.ActConnect || be.CheckRules[4].Match != tcpcheck.MatchRegex {
		t.Errorf("rules: %+v", be.CheckRules)
	}
	a, b, c, d := be.Servers[0], be.Servers[1], be.Servers[2], be.Servers[3]
	if a.Inter != time.Second || a.FastInter != 250*time.Millisecond || a.DownInter != 2*time.Second || !a.ShutdownSessions || a.MaxConn != 100 || a.Weight != 10 {
		t.Errorf("server a (default-server applied): %+v", a)
	}
	if b.InitState != InitDown || !c.Backup || !c.ShutdownBackupSessions || !d.Disabled || d.Check {
		t.Errorf("servers b, c, d: %+v %+v %+v", b, c, d)
	}
}

func TestNamedDefaultsAndInheritedCheckRules(t *testing.T) {
	cfg, _, err := ParseFile("testdata/good/named-defaults.cfg")
	if err != nil {
		t.Fatal(err)
	}
	inh := cfg.Backend("be_inherits")
	if inh.CheckKind != CheckTCP || len(inh.CheckRules) != 3 || inh.CheckRules[0].Action != tcpcheck.ActComment || string(inh.CheckRules[1].Data) != "AUTH secret\r\n" {
		t.Errorf("inherited rules: %+v", inh.CheckRules)
	}
	own := cfg.Backend("be_own_rules")
	if len(own.CheckRules) != 3 || string(own.CheckRules[0].Data) != "*1\r\n$4\r\nPING\r\n" || own.CheckRules[1].MinRecv != 7 || !own.CheckRules[2].Negate {
		t.Errorf("own rules replace the defaults': %+v", own.CheckRules)
	}
	if s := own.Servers[0]; s.CheckPort != 6380 || s.CheckAddr != "127.0.0.1" || s.CheckAddress() != "127.0.0.1:6380" {
		t.Errorf("check port/addr: %+v", s)
	}
	// "frontend fe_last" has no "from": it takes the last defaults, 'other'.
	if got := cfg.Frontend("fe_last").Timeouts.Client; got != 5*time.Second {
		t.Errorf("fe_last client timeout %v, want 5s from the last defaults section", got)
	}
	if got := cfg.Frontend("fe_inherits").Timeouts.Client; got != 15*time.Second {
		t.Errorf("fe_inherits client timeout %v, want 15s from 'base'", got)
	}
}

func TestQuotingEscapesAndEnvironment(t *testing.T) {
	t.Setenv("REDISHA_TEST_PASSWORD", "s3cret")
	cfg, _, err := ParseFile("testdata/good/quoting.cfg")
	if err != nil {
		t.Fatal(err)
	}
	be := cfg.Backend("quoted_be")
	if got := string(be.CheckRules[0].Data); got != "AUTH s3cret\r\n" {
		t.Errorf("double-quoted send with ${VAR}: %q", got)
	}
	if got := be.CheckRules[1].Comment; got != "auth reply" {
		t.Errorf("comment: %q", got)
	}
	if got := string(be.CheckRules[2].Data); got != "PING\r\n" {
		t.Errorf("hex escapes: %q", got)
	}
	if be.Servers[0].Weight != -1 || be.Servers[0].EffectiveWeight() != 0 {
		t.Errorf("weight 0: stored %d, effective %d", be.Servers[0].Weight, be.Servers[0].EffectiveWeight())
	}
	if cfg.Frontend("quoted_fe").DefaultBackend != "quoted_be" || cfg.Frontend("quoted_fe").MaxConn != 500 {
		t.Errorf("frontend: %+v", cfg.Frontend("quoted_fe"))
	}
	st := cfg.Frontend("stats").Stats
	if st.Realm != "Redis Proxy" || st.Refresh != 5*time.Second || st.MetricsPath != "/metrics" || len(st.Auth) != 2 || st.Auth[1].Password != "pa ss" {
		t.Errorf("stats: %+v", st)
	}
	sock := cfg.Global.StatsSockets[0]
	if sock.Network != "unix" || sock.Address != "/tmp/redisha-test.sock" || sock.Mode != 0o600 || sock.Level != "admin" {
		t.Errorf("stats socket: %+v", sock)
	}
	to := be.Timeouts
	if to.Tunnel != time.Hour || to.Queue != 2*time.Second || cfg.Frontend("quoted_fe").Timeouts.ClientFin != time.Second {
		t.Errorf("timeouts: %+v", to)
	}
}

func TestBrokenFilesGiveOneLineEach(t *testing.T) {
	cases := map[string]string{
		"unknown-keyword.cfg":     "testdata/bad/unknown-keyword.cfg:3: defaults section: 'timout': unknown keyword in a defaults section; did you mean 'timeout'?",
		"bad-time.cfg":            "testdata/bad/bad-time.cfg:2: backend 'b': 'timeout connect': invalid time unit \"S\" in \"1S\": valid units are us, ms, s, m, h, d",
		"bad-inter.cfg":           "testdata/bad/bad-inter.cfg:2: backend 'b': 'server': 'inter': invalid time \"fast\"",
		"bad-server-option.cfg":   "testdata/bad/bad-server-option.cfg:2: backend 'b': 'server': unknown server option 'chek'; did you mean 'check'?",
		"bad-expect.cfg":          "testdata/bad/bad-expect.cfg:3: backend 'b': 'tcp-check expect': unknown match 'strng'",
		"unmatched-quote.cfg":     "testdata/bad/unmatched-quote.cfg:2: backend 'b': unmatched quote at position 20",
		"missing-backend.cfg":     "testdata/bad/missing-backend.cfg:3: frontend 'f': 'default_backend': backend 'nowhere' not found (no tcp backend is defined)",
		"server-in-frontend.cfg":  "testdata/bad/server-in-frontend.cfg:3: frontend 'f': 'server': not allowed in a frontend section; valid in: listen, backend",
		"out-of-section.cfg":      "testdata/bad/out-of-section.cfg:2: 'maxconn': unknown keyword outside any section",
		"bad-weight.cfg":          "testdata/bad/bad-weight.cfg:2: backend 'b': 'server': invalid 'weight' value '300': want a number from 0 to 256",
		"bad-address.cfg":         "testdata/bad/bad-address.cfg:2: backend 'b': 'server': invalid address 'localhost': want <host>:<port>",
		"duplicate-server.cfg":    "testdata/bad/duplicate-server.cfg:3: backend 'b': 'server': server name 's1' is already used in this backend",
		"http-proxy.cfg":          "testdata/bad/http-proxy.cfg:2: frontend 'web': 'mode': 'mode http' is supported only for the stats page",
		"bad-regex.cfg":           "testdata/bad/bad-regex.cfg:3: backend 'b': 'tcp-check expect': invalid regex \"role:(master\"",
		"overflow.cfg":            "testdata/bad/overflow.cfg:2: defaults section: 'timeout tunnel': timer overflow in \"365d\"",
		"sentinel-no-address.cfg": "testdata/bad/sentinel-no-address.cfg:2: backend 'b': 'redis-sentinel': missing Sentinel addresses after master name 'mymaster'; write 'redis-sentinel <master-name> <host:port>[,<host:port>...]",
		"sentinel-bad-quorum.cfg": "testdata/bad/sentinel-bad-quorum.cfg:2: backend 'b': 'redis-sentinel': invalid quorum '3': want a number from 1 to 2 (the number of Sentinel addresses)",
		"sentinel-bad-role.cfg":   "testdata/bad/sentinel-bad-role.cfg:2: backend 'b': 'redis-sentinel': invalid role 'primary'; valid: master, replica",
	}
	files, _ := filepath.Glob("testdata/bad/*.cfg")
	if len(files) != len(cases) {
		t.Errorf("%d bad files, %d expectations", len(files), len(cases))
	}
	for _, f := range files {
		want, ok := cases[filepath.Base(f)]
		if !ok {
			t.Errorf("%s: no expectation", f)
			continue
		}
		_, _, err := ParseFile(f)
		var errs Errors
		if !errors.As(err, &errs) {
			t.Errorf("%s: got %v, want configuration errors", f, err)
			continue
		}
		if !strings.HasPrefix(errs[0].String(), want) {
			t.Errorf("%s:\ngot  %s\nwant %s...", f, errs[0], want)
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if !strings.HasPrefix(line, f+":") {
				t.Errorf("%s: error line without file:line: %q", f, line)
			}
		}
	}
}

func TestEveryErrorIsReportedNotJustTheFirst(t *testing.T) {
	src := "backend b\n    balanse roundrobin\n    server s1 127.0.0.1:6379 chek\n    timeout connect 1x\n"
	_, _, err := Parse("multi.cfg", strings.NewReader(src), ParseOptions{})
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 3 {
		t.Fatalf("got %v, want 3 errors", err)
	}
	for i, line := range []int{2, 3, 4} {
		if errs[i].Pos.Line != line {
			t.Errorf("error %d at line %d, want %d", i, errs[i].Pos.Line, line)
		}
	}
}

func TestLexerFollowsHAProxy(t *testing.T) {
	env := func(k string) (string, bool) {
		v, ok := map[string]string{"HOME": "/root", "P": "pw"}[k]
		return v, ok
	}
	cases := []struct {
		in   string
		want []string
	}{
		{`tcp-check send AUTH\ password1234\r\n`, []string{"tcp-check", "send", "AUTH password1234\r\n"}},
		{`a b   # comment`, []string{"a", "b"}},
		{`x#y`, []string{"x"}},
		{`"x#y"#c`, []string{"x#y"}},
		{`stats uri /haproxy_stats //URL`, []string{"stats", "uri", "/haproxy_stats", "//URL"}},
		{`'\r\n $HOME'`, []string{`\r\n $HOME`}},
		{`"\r\n $HOME ${P}"`, []string{"\r\n /root pw"}},
		{`$HOME \$HOME "\$HOME"`, []string{"$HOME", `\$HOME`, "$HOME"}},
		{`"a b"\x41'c d'\q\ e\r\n`, []string{"a bAc d\\q e\r\n"}},
		{`""`, []string{""}},
	}
	for _, tc := range cases {
		got, err := splitLine(tc.in, env)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{`"open`, `'open`, `\x4`, `end\`} {
		if _, err := splitLine(bad, env); err == nil {
			t.Errorf("%s: accepted, want an error", bad)
		}
	}
}

func TestTimesFollowHAProxy(t *testing.T) {
	cases := map[string]time.Duration{
		"1000": time.Second, "1s": time.Second, "250ms": 250 * time.Millisecond, "2m": 2 * time.Minute,
		"1h": time.Hour, "1d": 24 * time.Hour, "100us": time.Millisecond, "1500us": 2 * time.Millisecond, "0": 0,
	}
	for in, want := range cases {
		if got, err := ParseTime(in); err != nil || got != want {
			t.Errorf("%s: got %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "s", "1S", "1.5s", "-1", "1sx", "25d"} {
		if _, err := ParseTime(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if got := FormatTime(1500 * time.Millisecond); got != "1500ms" {
		t.Errorf("FormatTime: %s", got)
	}
}

func TestGoCallersBuildTheSameConfiguration(t *testing.T) {
	cfg := &Config{
		Frontends: []*Frontend{{Name: "fe", Binds: []Bind{{Addr: "127.0.0.1:0"}}, DefaultBackend: "be"}},
		Backends: []*Backend{{Name: "be", CheckKind: CheckTCP,
			CheckRules: []tcpcheck.Rule{tcpcheck.Send("PING\r\n"), {Action: tcpcheck.ActExpect, Match: tcpcheck.MatchString, Pattern: "+PONG"}},
			Servers:    []*Server{{Name: "s", Addr: "127.0.0.1:6379", Check: true}}}},
	}
	if err := cfg.Normalize(); err != nil {
		t.Fatal(err)
	}
	s := cfg.Backends[0].Servers[0]
	if s.Inter != DefaultInter || s.FastInter != DefaultInter || s.Rise != 2 || s.Fall != 3 || s.EffectiveWeight() != 1 || cfg.Backends[0].EffectiveRetries() != 3 {
		t.Fatalf("defaults not applied: %+v", s)
	}
	bad := &Config{Frontends: []*Frontend{{Name: "fe", Binds: []Bind{{Addr: ":1"}}, DefaultBackend: "nope"}}}
	if err := bad.Normalize(); err == nil || !strings.Contains(err.Error(), "backend 'nope' not found") {
		t.Fatalf("got %v", err)
	}
}

func TestConfigurationFileMissing(t *testing.T) {
	_, _, err := ParseFile(filepath.Join(t.TempDir(), "nope.cfg"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v, want not-exist", err)
	}
}

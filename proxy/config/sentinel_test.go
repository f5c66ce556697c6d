package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestRedisSentinelIsReadInheritedAndDefaulted(t *testing.T) {
	cfg, warns, err := ParseFile("testdata/good/sentinel.cfg")
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 0 {
		t.Errorf("got warnings %v, want none", warns)
	}
	master := cfg.Backend("redis_master")
	want := &Sentinel{
		Pos:        Pos{File: "testdata/good/sentinel.cfg", Line: 7},
		MasterName: "mymaster",
		Addrs:      []string{"127.0.0.1:26379", "127.0.0.1:26380", "127.0.0.1:26381"},
		Role:       RoleMaster,
		Quorum:     2,
	}
	if !reflect.DeepEqual(master.Sentinel, want) {
		t.Errorf("inherited from defaults: got %+v, want %+v", master.Sentinel, want)
	}
	replicas := cfg.Backend("redis_replicas")
	want = &Sentinel{
		Pos:        Pos{File: "testdata/good/sentinel.cfg", Line: 23},
		MasterName: "other-master",
		Addrs:      []string{"127.0.0.1:26379", "[::1]:26380", "localhost:26381"},
		Role:       RoleReplica,
		Password:   "s e#cret",
		Quorum:     3,
	}
	if !reflect.DeepEqual(replicas.Sentinel, want) {
		t.Errorf("own line: got %+v, want %+v", replicas.Sentinel, want)
	}
}

func TestBackendsInheritACopyOfTheDefaultsSentinel(t *testing.T) {
	src := "defaults\n redis-sentinel m 127.0.0.1:1,127.0.0.1:2,127.0.0.1:3\nbackend a\nbackend b\n"
	cfg, _, err := Parse("d.cfg", strings.NewReader(src), ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, b := cfg.Backend("a").Sentinel, cfg.Backend("b").Sentinel
	if a == nil || b == nil || a == b {
		t.Fatalf("got %p and %p, want two copies", a, b)
	}
	a.Addrs[0] = "changed:1"
	if b.Addrs[0] != "127.0.0.1:1" {
		t.Errorf("backends share their Sentinel addresses: b has %q", b.Addrs[0])
	}
}

func TestRedisSentinelErrorsSayWhatIsValid(t *testing.T) {
	cases := []struct{ line, want string }{
		{"redis-sentinel", "missing master name and Sentinel addresses; write 'redis-sentinel <master-name> <host:port>[,<host:port>...] [role master|replica] [quorum <n>] [password <password>]'"},
		{"redis-sentinel 10.0.0.1:26379,10.0.0.2:26379", "missing master name before '10.0.0.1:26379,10.0.0.2:26379'; write"},
		{"redis-sentinel mymaster", "missing Sentinel addresses after master name 'mymaster'; write"},
		{`redis-sentinel "" 10.0.0.1:26379`, "empty master name; write"},
		{"redis-sentinel m 10.0.0.1", "invalid Sentinel address '10.0.0.1': want <host>:<port>, e.g. 10.0.0.1:26379"},
		{"redis-sentinel m :26379", "invalid Sentinel address ':26379': want <host>:<port>"},
		{"redis-sentinel m 10.0.0.1:http", "invalid port in Sentinel address '10.0.0.1:http': want a number from 1 to 65535"},
		{"redis-sentinel m 10.0.0.1:0", "invalid port in Sentinel address '10.0.0.1:0': want a number from 1 to 65535"},
		{"redis-sentinel m 10.0.0.1:1,,10.0.0.1:2", "empty address in '10.0.0.1:1,,10.0.0.1:2': separate Sentinel addresses with single commas"},
		{"redis-sentinel m 10.0.0.1:1,10.0.0.1:1", "duplicate Sentinel address '10.0.0.1:1'"},
		{"redis-sentinel m 10.0.0.1:1 10.0.0.1:2", "unexpected address '10.0.0.1:2': list the Sentinel addresses in one word separated by commas"},
		{"redis-sentinel m 10.0.0.1:1 quorom 1", "unknown option 'quorom'; did you mean 'quorum'? (valid: role, quorum, password)"},
		{"redis-sentinel m 10.0.0.1:1 weight 1", "unknown option 'weight' (valid: role, quorum, password)"},
		{"redis-sentinel m 10.0.0.1:1 quorum", "'quorum' needs a value"},
		{"redis-sentinel m 10.0.0.1:1 quorum 0", "invalid quorum '0': want a number from 1 to 1 (the number of Sentinel addresses)"},
		{"redis-sentinel m 10.0.0.1:1,10.0.0.1:2 quorum two", "invalid quorum 'two': want a number from 1 to 2"},
		{"redis-sentinel m 10.0.0.1:1,10.0.0.1:2 quorum -1", "invalid quorum '-1': want a number from 1 to 2"},
		{"redis-sentinel m 10.0.0.1:1 role slave", "invalid role 'slave'; valid: master, replica"},
	}
	for _, tc := range cases {
		src := "backend b\n    " + tc.line + "\n"
		_, _, err := Parse("s.cfg", strings.NewReader(src), ParseOptions{})
		var errs Errors
		if !errors.As(err, &errs) || len(errs) != 1 {
			t.Errorf("%s: got %v, want one error", tc.line, err)
			continue
		}
		if want := "s.cfg:2: backend 'b': 'redis-sentinel': " + tc.want; !strings.HasPrefix(errs[0].String(), want) {
			t.Errorf("%s:\ngot  %s\nwant %s...", tc.line, errs[0], want)
		}
	}

	_, _, err := Parse("f.cfg", strings.NewReader("frontend f\n    redis-sentinel m 10.0.0.1:1\n"), ParseOptions{})
	if err == nil || !strings.Contains(err.Error(), "f.cfg:2: frontend 'f': 'redis-sentinel': not allowed in a frontend section; valid in: defaults, listen, backend") {
		t.Errorf("in a frontend: got %v", err)
	}
}

func TestGoCallersGetSentinelDefaultsAndChecks(t *testing.T) {
	sn := &Sentinel{MasterName: "m", Addrs: []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"}}
	cfg := &Config{Backends: []*Backend{{Name: "be", Sentinel: sn}}}
	if err := cfg.Normalize(); err != nil {
		t.Fatal(err)
	}
	if sn.Role != RoleMaster || sn.Quorum != 2 {
		t.Errorf("got role %q quorum %d, want master and 2", sn.Role, sn.Quorum)
	}
	bad := &Config{Backends: []*Backend{{Name: "be", Sentinel: &Sentinel{Addrs: []string{"nope"}, Role: "primary", Quorum: 2}}}}
	err := bad.Normalize()
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 4 {
		t.Fatalf("got %v, want 4 errors", err)
	}
	for i, want := range []string{"missing master name", "invalid Sentinel address 'nope'", "invalid role 'primary'", "invalid quorum 2: want a number from 1 to 1"} {
		if !strings.Contains(errs[i].String(), "backend 'be': 'redis-sentinel': "+want) {
			t.Errorf("error %d: got %s, want %s", i+1, errs[i], want)
		}
	}
}

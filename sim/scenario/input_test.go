package scenario

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// aliasBomb is the probe's scenario: check_rules whose YAML aliases nest
// nine levels deep, each level nine references to the one before (9^9
// strings once expanded).
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("proxy:\n  check: custom\n  check_rules:\n    - &a0 \"send PING\"\n")
	for i := 1; i <= 9; i++ {
		refs := make([]string, 9)
		for j := range refs {
			refs[j] = fmt.Sprintf("*a%d", i-1)
		}
		fmt.Fprintf(&b, "    - &a%d [%s]\n", i, strings.Join(refs, ", "))
	}
	return b.String()
}

// parseErrors parses data as s.yaml with sets and returns the error lines.
func parseErrors(t *testing.T, data string, sets ...string) []string {
	t.Helper()
	_, err := Parse("s.yaml", []byte(data), sets)
	if err == nil {
		return nil
	}
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("got %v (%T), want Errors", err, err)
	}
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

// Each case is a reproduction from issue 17; the error lines must be
// exactly these.
func TestHostileScenariosGetExactErrors(t *testing.T) {
	cases := []struct {
		name string
		data string
		sets []string
		want []string
	}{
		{"alias bomb", aliasBomb(), nil, []string{
			"s.yaml:9:11: the YAML aliases here expand to more than 10000 values; write the values out, or use fewer nested aliases"}},
		{"alias bomb in a --set", "name: x\n", []string{"expect=[&a [&b [x, x, x, x, x, x, x, x, x, x], *b, *b, *b, *b, *b, *b, *b, *b, *b], *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a]"}, []string{
			"--set expect=[&a [&b [x, x, x, x, x, x, x, x, x, x], *b, *b, *b, *b, *b, *b, *b, *b, *b], *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a]: expect: the YAML aliases here expand to more than 10000 values; write the values out, or use fewer nested aliases"}},
		// Found by FuzzParse: the YAML library crashed on a custom tag on a
		// sequence field.
		{"custom tag on a list", "name: x\nfaults: !0000000 0000000000000\n", nil, []string{
			`s.yaml:2:9: YAML tag "!0000000" is not supported: write the plain value`}},
		{"custom tag on a list by --set", "name: x\n", []string{"faults=!0000000 0000000000000"}, []string{
			`--set faults=!0000000 0000000000000: faults: YAML tag "!0000000" is not supported: write the plain value`}},
		{"negative nodes", "topology: {nodes: -3}\n", nil, []string{"s.yaml:1:19: topology.nodes: must be from 2 to 64, got -3"}},
		{"negative nodes by --set", "name: x\n", []string{"topology.nodes=-1"}, []string{"--set topology.nodes=-1: topology.nodes: must be from 2 to 64, got -1"}},
		{"negative sentinels by --set", "name: x\n", []string{"sentinel.count=-2"}, []string{"--set sentinel.count=-2: sentinel.count: must be from 1 to 9, got -2"}},
		{"a hundred million nodes", "topology: {nodes: 100000000}\n", nil, []string{"s.yaml:1:19: topology.nodes: must be from 2 to 64, got 100000000"}},
		{"a hundred million writers", "workload: {writers: {count: 100000000}}\n", nil, []string{"s.yaml:1:29: workload.writers.count: must be from 0 to 1000, got 100000000"}},
		{"too many operations", "duration: 1h\nworkload: {writers: {count: 100, rate: 1000}}\n", nil, []string{
			"s.yaml:1:11: duration: the run would record 360000000 operations (duration times each client's rate): at most 1000000; shorten it or lower the rates"}},
		{"rate NaN", "workload: {writers: {rate: .nan}}\n", nil, []string{"s.yaml:1:28: workload.writers.rate: must be greater than zero (operations per second per client), got NaN"}},
		{"rate NaN by --set", "name: x\n", []string{"workload.writers.rate=.nan"}, []string{"--set workload.writers.rate=.nan: workload.writers.rate: must be greater than zero (operations per second per client), got NaN"}},
		{"rate infinite", "workload: {readers: {count: 1, rate: .inf}}\n", nil, []string{"s.yaml:1:38: workload.readers.rate: at most 100000 operations per second per client, got +Inf"}},
		{"impossible expectations", "expect: [lost_writes <= NaN, write_interruption <= -10s, failovers =< 1, lost_writes >= 0, failovers < 0, ok_writes > 1e999]\n", nil, []string{
			`s.yaml:1:10: expect[0]: lost_writes compares with a finite number such as 0 or 2, got "NaN"`,
			`s.yaml:1:30: expect[1]: expectation "write_interruption <= -10s" can never hold: write_interruption is never negative`,
			`s.yaml:1:58: expect[2]: invalid expectation "failovers =< 1": write '<metric> <op> <value>', e.g. 'write_interruption <= 8s', with op one of <= >= == != < >; got operator "=<"`,
			`s.yaml:1:74: expect[3]: expectation "lost_writes >= 0" always holds: lost_writes is never negative`,
			`s.yaml:1:92: expect[4]: expectation "failovers < 0" can never hold: failovers is never negative`,
			`s.yaml:1:107: expect[5]: ok_writes compares with a finite number such as 0 or 2, got "1e999"`}},
		{"hundred thousand hours", "duration: 100000h\nproxy: {inter: 100000h}\n", nil, []string{
			"s.yaml:1:11: duration: 100000h is too long: at most 24h0m0s",
			"s.yaml:2:16: proxy.inter: 100000h is too long: at most 24h0m0s"}},
		{"every unknown field", "nam: x\ntopology: {nodez: 3, names: [a, b]}\nsentinel: {cnt: 1}\nfoo: {bar: 1}\n", nil, []string{
			"s.yaml:1:1: nam: unknown field; valid here: " + tagsOf(typeOfScenario()),
			"s.yaml:2:12: topology.nodez: unknown field; valid here: nodes, names, password, min_replicas_to_write, min_replicas_max_lag, persistence, replication_lag, groups, hosts",
			"s.yaml:3:12: sentinel.cnt: unknown field; valid here: count, quorum, down_after, failover_timeout, parallel_syncs, master_name, hosts, password, announce_hostnames",
			"s.yaml:4:1: foo: unknown field; valid here: " + tagsOf(typeOfScenario())}},
		{"second document", "name: x\n---\nname: y\n", nil, []string{
			"s.yaml:3:5: a second YAML document: a scenario is one document; remove the '---' and what follows, or put it in a file of its own"}},
		{"byte order mark", "\xef\xbb\xbfnam: x\n", nil, []string{"s.yaml:1:1: nam: unknown field; valid here: " + tagsOf(typeOfScenario())}},
		{"empty", "", nil, []string{"s.yaml: empty scenario: write the fields to change (see scenarios/ for examples), or {} to run with every default"}},
		{"comments only", "# nothing yet\n\n", nil, []string{"s.yaml: empty scenario: write the fields to change (see scenarios/ for examples), or {} to run with every default"}},
		{"a document marker only", "---\n", nil, []string{"s.yaml: empty scenario: write the fields to change (see scenarios/ for examples), or {} to run with every default"}},
		{"a list", "[1, 2]\n", nil, []string{"s.yaml:1:1: a scenario is a mapping of fields (name: ..., topology: ...), not Sequence"}},
		{"--set an empty duration", "name: x\n", []string{"sentinel.down_after="}, []string{`--set sentinel.down_after=: sentinel.down_after: invalid value "": empty: want a duration such as 1s or 250ms`}},
		{"--set a null count", "name: x\n", []string{"topology.nodes=null"}, []string{`--set topology.nodes=null: topology.nodes: invalid value "null": empty: want an integer`}},
		{"--set maybe", "name: x\n", []string{"proxy.shutdown_sessions=maybe"}, []string{`--set proxy.shutdown_sessions=maybe: proxy.shutdown_sessions: invalid value "maybe": want true or false`}},
		{"--set a negative index", "name: x\n", []string{"faults[-1].at=1s"}, []string{`--set faults[-1].at=1s: invalid index "-1" in "faults[-1].at": want a number from 0, e.g. faults[0].at`}},
		{"--set a word index", "name: x\n", []string{"faults[x].at=1s"}, []string{`--set faults[x].at=1s: invalid index "x" in "faults[x].at": want a number from 0, e.g. faults[0].at`}},
		{"--set an unclosed index", "name: x\n", []string{"faults[0.at=1s"}, []string{`--set faults[0.at=1s: missing ']' in "faults[0.at"`}},
		{"--set an empty field", "name: x\n", []string{"sentinel..count=1"}, []string{`--set sentinel..count=1: empty field name in "sentinel..count": write fields as in sentinel.down_after or faults[0].at`}},
		{"--set a field of a duration", "name: x\n", []string{"duration.x=1"}, []string{"--set duration.x=1: duration.x: duration has no fields: it is a duration such as 1s or 250ms"}},
		{"--set =<", "name: x\n", []string{"expect=[failovers =< 1]"}, []string{
			`--set expect=[failovers =< 1]: expect[0]: invalid expectation "failovers =< 1": write '<metric> <op> <value>', e.g. 'write_interruption <= 8s', with op one of <= >= == != < >; got operator "=<"`}},
		{"--set of a list the file has too", "expect: [lost_writes == 0]\n", []string{"expect=[failovers =< 1]"}, []string{
			`--set expect=[failovers =< 1]: expect[0]: invalid expectation "failovers =< 1": write '<metric> <op> <value>', e.g. 'write_interruption <= 8s', with op one of <= >= == != < >; got operator "=<"`}},
		{"groups out of range", "topology: {groups: 17}\n", nil, []string{"s.yaml:1:20: topology.groups: must be from 1 to 16, got 17"}},
		{"negative groups", "topology: {groups: -1}\n", nil, []string{"s.yaml:1:20: topology.groups: must be from 1 to 16, got -1"}},
		{"groups as text", "topology: {groups: .nan}\n", nil, []string{`s.yaml:1:20: topology.groups: want a number of groups from 1 to 16 (or a list of groups), got "NaN"`}},
		{"zero groups by --set", "name: x\n", []string{"topology.groups=0"}, []string{"--set topology.groups=0: topology.groups: must be from 1 to 16, got 0"}},
		{"groups as a word by --set", "name: x\n", []string{"topology.groups=three"}, []string{`--set topology.groups=three: topology.groups: want a number of groups from 1 to 16 (or a list of groups), got "three"`}},
		{"too many nodes in all", "topology: {groups: 16, nodes: 20}\n", nil, []string{"s.yaml:1:20: topology.groups: 16 groups of nodes make 320 nodes: at most 256 in a run"}},
		{"duplicate group and master names", "topology:\n  groups:\n    - {name: a, master_name: m}\n    - {name: a, master_name: m}\n", nil, []string{
			`s.yaml:4:14: topology.groups[1].name: group name "a" used twice`,
			`s.yaml:4:30: topology.groups[1].master_name: master name "m" used twice: each group's master needs its own`}},
		{"a group of one node", "topology:\n  groups: [{nodes: 1}, {}]\n", nil, []string{"s.yaml:2:20: topology.groups[0].nodes: must be from 2 to 64, got 1"}},
		{"sentinel.master_name with several groups", "topology: {groups: 2}\nsentinel: {master_name: m}\n", nil, []string{
			"s.yaml:2:25: sentinel.master_name: 2 groups: set master_name per group instead (topology.groups[i].master_name; default the group's name)"}},
		{"duplicate hosts", "topology: {hosts: [h1, h2, h1]}\n", nil, []string{`s.yaml:1:28: topology.hosts[2]: host "h1" declared twice`}},
		{"nodes on an undeclared host", "topology:\n  hosts: [h1, h2]\n  groups: [{hosts: [h1, h3, h1]}]\n", nil, []string{
			`s.yaml:3:25: topology.groups[0].hosts[1]: host "h3" is not declared; declared in topology.hosts: h1, h2`}},
		{"nodes on hosts none declared", "topology:\n  groups: [{hosts: [s1]}, {}]\n", nil, []string{
			"s.yaml:2:20: topology.groups[0].hosts: places nodes on hosts, but topology.hosts declares none: declare them, e.g. hosts: [s1]"}},
		{"a Sentinel on an undeclared host", "topology: {hosts: [h1]}\nsentinel: {hosts: [h1, h1, s3]}\n", nil, []string{
			`s.yaml:2:28: sentinel.hosts[2]: host "s3" is not declared; declared in topology.hosts: h1`}},
		{"hosts for the wrong number of nodes", "topology:\n  hosts: [h1, h2]\n  groups: [{hosts: [h1, h2]}, {}]\nsentinel: {hosts: [h1, h2]}\n", nil, []string{
			"s.yaml:3:20: topology.groups[0].hosts: 2 hosts for 3 nodes: give the host of each, in order, or one host for all",
			"s.yaml:4:19: sentinel.hosts: 2 hosts for 3 Sentinels: give the host of each, in order, or one host for all"}},
		{"a target in a group that does not exist", "topology: {groups: 2}\nfaults: [{at: 1s, action: kill, target: group3.master}]\n", nil, []string{
			`s.yaml:2:41: faults[0].target: unknown group "group3" in "group3.master"; groups: group1, group2`}},
		{"a target on a host that does not exist", "topology: {hosts: [h1]}\nfaults: [{at: 1s, action: kill, target: \"host:h2\"}]\n", nil, []string{
			`s.yaml:2:41: faults[0].target: unknown host "h2"; declared in topology.hosts: h1`}},
		{"a host target without hosts by --set", "name: x\n", []string{"faults=[{at: 1s, action: kill, target: host:h1}]"}, []string{
			`--set faults=[{at: 1s, action: kill, target: host:h1}]: faults[0].target: unknown host "h1": the scenario declares no hosts (topology.hosts)`}},
		{"an expectation on a group that does not exist", "topology: {groups: 2}\nexpect: [\"group3.lost_writes == 0\"]\n", nil, []string{
			`s.yaml:2:10: expect[0]: "group3.lost_writes == 0": no group "group3"; groups: group1, group2`}},
		{"an expectation on a group of a one-group run", "expect: [\"group1.lost_writes == 0\"]\n", nil, []string{
			`s.yaml:1:10: expect[0]: "group1.lost_writes == 0": a group prefix needs several groups (topology.groups), a workload prefix several workloads (workloads)`}},
		{"an expectation on a group's unknown metric", "topology: {groups: 2}\nexpect: [\"group2.lost == 0\"]\n", nil, []string{
			`s.yaml:2:10: expect[0]: unknown metric "lost"; valid: write_interruption, read_interruption, longest_write_gap, proxy_share, two_master_window, role_overlap, lost_writes, unexpected_writes, indeterminate_writes, ok_writes, failovers, stale_reads, false_down_marks, check_rate, check_bytes_rate (with several groups or workloads also <group>.<metric> or <workload>.<metric>)`}},
		// Expectations on a workload (issue 18).
		{"an expectation on a workload that does not exist", "workloads: [{name: a}, {name: b}]\nexpect: [\"c.lost_writes == 0\"]\n", nil, []string{
			`s.yaml:2:10: expect[0]: "c.lost_writes == 0": no workload "c"; workloads: a, b`}},
		{"an expectation on neither a group nor a workload", "topology: {groups: 2}\nworkloads: [{name: a}, {name: b}]\nexpect: [\"c.lost_writes == 0\"]\n", nil, []string{
			`s.yaml:3:10: expect[0]: "c.lost_writes == 0": no group or workload "c"; groups: group1, group2; workloads: a, b`}},
		{"an expectation on a run's only workload", "workloads: [{name: a}]\nexpect: [\"a.lost_writes == 0\"]\n", nil, []string{
			`s.yaml:2:10: expect[0]: "a.lost_writes == 0": a workload prefix needs several workloads: the run's only workload is a, so write the metric alone`}},
		{"a workload named as a group", "topology: {groups: 2}\nworkloads: [{name: a}, {name: group2}]\n", nil, []string{
			`s.yaml:2:31: workloads[1].name: "group2" also names a group (topology.groups): an expectation's prefix (group2.write_interruption) could not tell them apart; rename the workload`}},
		// Link faults (issue 19).
		{"a loss above 1", "faults: [{at: 1s, action: loss, target: master, loss: 1.5}]\n", nil, []string{
			"s.yaml:1:55: faults[0].loss: must be a fraction from 0 to 1, got 1.5"}},
		{"a loss of NaN", "faults: [{at: 1s, action: loss, target: master, loss: .nan}]\n", nil, []string{
			"s.yaml:1:55: faults[0].loss: must be a fraction from 0 to 1, got NaN"}},
		{"a loss without its fraction", "faults: [{at: 1s, action: loss, target: master}]\n", nil, []string{
			"s.yaml:1:27: faults[0].action: action loss needs loss, the fraction of connections that hang, e.g. loss: 0.3"}},
		{"a bandwidth of 0", "faults: [{at: 1s, action: bandwidth, target: master, rate: 0}]\n", nil, []string{
			"s.yaml:1:60: faults[0].rate: must be a number of bytes per second greater than zero, got 0"}},
		{"a negative bandwidth by --set", "faults: [{at: 1s, action: bandwidth, target: master, rate: 100}]\n", []string{"faults[0].rate=-5"}, []string{
			"--set faults[0].rate=-5: faults[0].rate: must be a number of bytes per second greater than zero, got -5"}},
		{"an unknown peer class", "faults: [{at: 1s, action: blackhole, target: master, peers: [sentinels, proxies]}]\n", nil, []string{
			`s.yaml:1:73: faults[0].peers[1]: unknown peer class "proxies"; valid: clients, nodes, sentinels`}},
		{"an unknown direction", "faults: [{at: 1s, action: blackhole, target: master, direction: both}]\n", nil, []string{
			`s.yaml:1:65: faults[0].direction: unknown direction "both"; valid: in (what the target hears), out (what it sends); leave it out for both`}},
		{"peers on an action that takes none", "faults: [{at: 1s, action: kill, target: master, peers: [nodes]}]\n", nil, []string{
			"s.yaml:1:56: faults[0].peers: action kill takes no peers: remove it (actions that take one: delay, blackhole, reset, loss, bandwidth)"}},
		{"a direction on a reset", "faults: [{at: 1s, action: reset, target: master, direction: in}]\n", nil, []string{
			"s.yaml:1:61: faults[0].direction: action reset takes no direction: remove it (actions that take one: delay, blackhole, loss, bandwidth)"}},
		{"a blackholed Sentinel on the memory backend", "faults: [{at: 1s, action: blackhole, target: sentinel1}]\n", nil, []string{
			`s.yaml:1:46: faults[0].target: the memory backend cannot blackhole "sentinel1", a Sentinel: it can blackhole Redis nodes only (backend docker can); valid: master, replica, redis1, redis2, redis3 or a name given by as to one of them`}},
		{"a blackholed proxy on the docker backend", "backend: docker\nproxy: {kind: haproxy}\nfaults: [{at: 1s, action: blackhole, target: proxy}]\n", nil, []string{
			`s.yaml:3:46: faults[0].target: the docker backend cannot blackhole "proxy", the proxy: action blackhole acts on Redis nodes and Sentinels only; valid: master, replica, redis1, redis2, redis3, sentinel1, sentinel2, sentinel3 or a name given by as to one of them`}},
		{"a loss below 0", "faults: [{at: 1s, action: loss, target: master, loss: -0.1}]\n", nil, []string{
			"s.yaml:1:55: faults[0].loss: must be a fraction from 0 to 1, got -0.1"}},
		{"a link fault on a target that does not exist", "faults: [{at: 1s, action: loss, target: redis9, loss: 0.5}]\n", nil, []string{
			`s.yaml:1:41: faults[0].target: unknown target "redis9"; valid: master, replica, proxy, redis1, redis2, redis3, sentinel1, sentinel2, sentinel3`}},
		{"a link fault on a host", "topology: {hosts: [h1, h2, h3]}\nfaults: [{at: 1s, action: blackhole, target: host:h1}]\n", nil, []string{
			`s.yaml:2:46: faults[0].target: the memory backend cannot blackhole "host:h1", a host: action blackhole acts on Redis nodes and Sentinels only; valid: master, replica, redis1, redis2, redis3 or a name given by as to one of them`}},
		// A node back on a new address (issue 19 item 3).
		{"a reschedule of a Sentinel", "faults: [{at: 1s, action: reschedule, target: sentinel1}]\n", nil, []string{
			`s.yaml:1:47: faults[0].target: the memory backend cannot reschedule "sentinel1", a Sentinel: action reschedule acts on Redis nodes only; valid: master, replica, redis1, redis2, redis3 or a name given by as to one of them`}},
		{"a reschedule of a host", "topology: {hosts: [h1, h2, h3]}\nfaults: [{at: 1s, action: reschedule, target: host:h1}]\n", nil, []string{
			`s.yaml:2:47: faults[0].target: the memory backend cannot reschedule "host:h1", a host: action reschedule acts on Redis nodes only; valid: master, replica, redis1, redis2, redis3 or a name given by as to one of them`}},
		{"a reschedule of the proxy on docker", "backend: docker\nproxy: {kind: haproxy}\nfaults: [{at: 1s, action: reschedule, target: proxy}]\n", nil, []string{
			`s.yaml:3:47: faults[0].target: the docker backend cannot reschedule "proxy", the proxy: action reschedule acts on Redis nodes only; valid: master, replica, redis1, redis2, redis3 or a name given by as to one of them`}},
		{"a reschedule with peers", "faults: [{at: 1s, action: reschedule, target: master, peers: [nodes]}]\n", nil, []string{
			"s.yaml:1:62: faults[0].peers: action reschedule takes no peers: remove it (actions that take one: delay, blackhole, reset, loss, bandwidth)"}},
		{"a reschedule with a loss", "faults: [{at: 1s, action: reschedule, target: master, loss: 0.5}]\n", nil, []string{
			"s.yaml:1:61: faults[0].loss: action reschedule takes no loss: remove it (actions that take one: loss)"}},
		{"a reschedule of a node that does not exist", "faults: [{at: 1s, action: reschedule, target: redis4}]\n", nil, []string{
			`s.yaml:1:47: faults[0].target: unknown target "redis4"; valid: master, replica, proxy, redis1, redis2, redis3, sentinel1, sentinel2, sentinel3`}},
		{"proxy.config /dev/zero", "name: x\nproxy: {config: /dev/zero}\n", nil, []string{"s.yaml:2:17: proxy.config: cannot read /dev/zero: not a regular file (a character device)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			got := parseErrors(t, c.data, c.sets...)
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(c.want, "\n  "))
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v, want well under a second", d)
			}
		})
	}
}

// The unknown fields are found by walking the file, so the report is the
// same every time (the decoder alone reported one of them, at random).
func TestUnknownFieldsAreReportedTheSameEveryTime(t *testing.T) {
	data := "a: 1\nb: 2\nc: 3\nd: 4\ne: 5\n"
	first := parseErrors(t, data)
	if len(first) != 5 {
		t.Fatalf("got %d errors, want 5:\n%s", len(first), strings.Join(first, "\n"))
	}
	for range 50 {
		if got := parseErrors(t, data); strings.Join(got, "\n") != strings.Join(first, "\n") {
			t.Fatalf("got\n%s\nthen\n%s", strings.Join(first, "\n"), strings.Join(got, "\n"))
		}
	}
}

func TestByteOrderMarkAndEmptyMappingAreAccepted(t *testing.T) {
	s, err := Parse("s.yaml", []byte("\xef\xbb\xbfname: bom\n"), nil)
	if err != nil || s.Name != "bom" {
		t.Fatalf("got %v, %v; want name bom", s, err)
	}
	s, err = Parse("defaults.yaml", []byte("{}\n"), nil)
	if err != nil || s.Topology.Nodes != DefaultNodes || s.Name != "defaults" {
		t.Fatalf("{}: got %+v, %v; want the defaults", s, err)
	}
}

func TestSetStillTakesValuesAFileTakes(t *testing.T) {
	s, err := Parse("s.yaml", []byte("proxy: {config: x.cfg}\n"), []string{"proxy.config=", "proxy.shutdown_sessions=true", "faults=[{at: 1s, action: kill, target: master}]", "faults[0].at=2s"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Proxy.Config != "" || s.Proxy.ShutdownSessions == nil || !*s.Proxy.ShutdownSessions || len(s.Faults) != 1 || s.Faults[0].At.D != 2*time.Second {
		t.Errorf("got proxy %+v faults %+v; want config cleared, shutdown_sessions true, one fault at 2s", s.Proxy, s.Faults)
	}
}

func TestLoadRefusesDevicesWithoutReadingThem(t *testing.T) {
	_, err := Load("/dev/zero", nil)
	if err == nil || err.Error() != "read scenario: read /dev/zero: not a regular file (a character device)" {
		t.Errorf("got %v, want a refusal naming /dev/zero", err)
	}
	_, err = Load(filepath.Join(t.TempDir(), "missing.yaml"), nil)
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("got %v, want no such file", err)
	}
}

func TestNamesOfAnInvalidCountAreBounded(t *testing.T) {
	for _, n := range []int{-3, 0, 1 << 40} {
		s := &Scenario{Topology: Topology{Nodes: n}, Sentinel: Sentinel{Count: n}}
		if got := len(s.NodeNames()); got > MaxNodes {
			t.Errorf("nodes %d: got %d names, want at most %d", n, got, MaxNodes)
		}
		if got := len(s.SentinelNames()); got > MaxSentinels {
			t.Errorf("sentinels %d: got %d names, want at most %d", n, got, MaxSentinels)
		}
	}
}

func typeOfScenario() reflect.Type { return reflect.TypeOf(Scenario{}) }

// The docker backend performs every link fault through its relays, on
// nodes and Sentinels, narrowed to peer classes and directions.
func TestTheDockerBackendTakesLinkFaultsOnNodesAndSentinelsPerPeerAndDirection(t *testing.T) {
	for _, data := range []string{
		"backend: docker\nfaults: [{at: 1s, action: delay, delay: 1s, jitter: 100ms, target: master, peers: [clients], direction: out}]\n",
		"backend: docker\nfaults: [{at: 1s, action: blackhole, target: master, peers: [sentinels], direction: in}, {at: 2s, action: heal, target: master}]\n",
		"backend: docker\nfaults: [{at: 1s, action: reset, target: sentinel1, peers: [nodes]}, {at: 2s, action: loss, loss: 0.5, target: replica}, {at: 3s, action: bandwidth, rate: 1000, target: sentinel2, direction: out}]\n",
	} {
		if errs := parseErrors(t, data); len(errs) > 0 {
			t.Errorf("%q: got %v, want it accepted", data, errs)
		}
	}
}

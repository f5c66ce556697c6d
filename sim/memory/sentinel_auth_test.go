package memory

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisha-sim/redisha-sim/proxy/redistest"
	"github.com/redisha-sim/redisha-sim/proxy/sentinel"
	"github.com/redisha-sim/redisha-sim/sim/rig"
)

// authProbe runs, on one connection to a Sentinel with requirepass pw,
// commands before and after AUTH, and returns each reply reduced to what
// must agree: the error's first word, or the reply's shape.
func authProbe(ctx context.Context, addr, pw string) ([]string, error) {
	rc := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true, PoolSize: 1, MaxRetries: -1,
		DialTimeout: time.Second, ReadTimeout: time.Second})
	defer rc.Close()
	cn := rc.Conn()
	defer cn.Close()
	var out []string
	for _, args := range [][]any{
		{"PING"},
		{"SENTINEL", "get-master-addr-by-name", "mymaster"},
		{"PSUBSCRIBE", "*"},
		{"HELLO", "2"},
		{"AUTH", "wrong"},
		{"AUTH", "default", "wrong"},
		{"AUTH", pw},
		{"PING"},
		{"SENTINEL", "get-master-addr-by-name", "mymaster"},
	} {
		v, err := cn.Do(ctx, args...).Result()
		switch {
		case err != nil && strings.Contains(err.Error(), "i/o timeout"):
			return out, fmt.Errorf("%v: %w", args, err)
		case err != nil:
			out = append(out, fmt.Sprintf("%v: error %s", args, strings.Fields(err.Error())[0]))
		default:
			shape := fmt.Sprintf("%T", v)
			if s, ok := v.([]any); ok {
				shape = fmt.Sprintf("array of %d", len(s))
			}
			if s, ok := v.(string); ok {
				shape = s
			}
			out = append(out, fmt.Sprintf("%v: %s", args, shape))
		}
	}
	// HELLO with AUTH authenticates a new connection at once, as go-redis
	// does with RESP3.
	rc2 := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true, PoolSize: 1, MaxRetries: -1,
		DialTimeout: time.Second, ReadTimeout: time.Second})
	defer rc2.Close()
	cn2 := rc2.Conn()
	defer cn2.Close()
	if err := cn2.Do(ctx, "HELLO", "2", "AUTH", "default", pw).Err(); err != nil {
		out = append(out, "HELLO 2 AUTH: error "+err.Error())
	} else if err := cn2.Do(ctx, "SENTINEL", "get-master-addr-by-name", "mymaster").Err(); err != nil {
		out = append(out, "after HELLO AUTH: error "+err.Error())
	} else {
		out = append(out, "HELLO 2 AUTH, then SENTINEL: ok")
	}
	return out, nil
}

// A Sentinel with a password refuses every command before AUTH and
// answers after it, as a real redis-sentinel with requirepass does: the
// replies of both to the same commands agree.
func TestSentinelWithAPasswordAnswersOnlyAfterAuthLikeRedisSentinel(t *testing.T) {
	const pw = "sentinel-secret"
	c, err := Backend{}.Start(t.Context(), rig.Topology{
		Groups:    []rig.Group{{Name: "g", MasterName: "mymaster", Nodes: []string{"redis1", "redis2"}}},
		Sentinels: []string{"sentinel1"}, Quorum: 1, DownAfter: time.Second, FailoverTimeout: 3 * time.Second, ParallelSyncs: 1,
		MinReplicasMaxLag: 10 * time.Second, SentinelPassword: pw,
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	mem, err := authProbe(t.Context(), c.Sentinels()[0].Addr(), pw)
	if err != nil {
		t.Fatalf("memory Sentinel: %v", err)
	}

	m, err := redistest.Start(t.Context(), redistest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	rs, err := redistest.Start(t.Context(), redistest.Options{Sentinel: true, Password: pw, Args: []string{
		fmt.Sprintf("sentinel monitor mymaster 127.0.0.1 %d 1", m.Port)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rs.Close)
	real, err := authProbe(t.Context(), rs.Addr, pw)
	if err != nil {
		t.Fatalf("redis-sentinel: %v", err)
	}
	if strings.Join(mem, "\n") != strings.Join(real, "\n") {
		t.Errorf("replies differ:\nmemory:\n  %s\nredis-sentinel:\n  %s", strings.Join(mem, "\n  "), strings.Join(real, "\n  "))
	}
	for _, want := range []string{"[PING]: error NOAUTH", "[AUTH sentinel-secret]: OK", "[SENTINEL get-master-addr-by-name mymaster]: array of 2", "HELLO 2 AUTH, then SENTINEL: ok"} {
		if !strings.Contains(strings.Join(mem, "\n"), want) {
			t.Errorf("memory Sentinel's replies lack %q:\n  %s", want, strings.Join(mem, "\n  "))
		}
	}
}

// The proxy's Sentinel follower reaches a memory Sentinel with a password
// when it is given the password, and not without it.
func TestTheProxysSentinelFollowerAuthenticatesToAMemorySentinel(t *testing.T) {
	const pw = "sentinel-secret"
	c, err := Backend{}.Start(t.Context(), rig.Topology{
		Groups:    []rig.Group{{Name: "g", MasterName: "mymaster", Nodes: []string{"redis1", "redis2"}}},
		Sentinels: []string{"sentinel1"}, Quorum: 1, DownAfter: time.Second, FailoverTimeout: 3 * time.Second, ParallelSyncs: 1,
		MinReplicasMaxLag: 10 * time.Second, SentinelPassword: pw,
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	firstView := func(password string) sentinel.View {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		var first sentinel.View
		err := sentinel.Watch(ctx, sentinel.Options{MasterName: "mymaster", Addrs: []string{c.Sentinels()[0].Addr()}, Password: password},
			func(v sentinel.View) {
				if first.Cause == "" {
					first = v
					cancel()
				}
			})
		if err != nil {
			t.Fatal(err)
		}
		return first
	}
	if v := firstView(pw); !v.Agreed || v.Master != c.Nodes()[0].Addr() {
		t.Errorf("with the password: view %+v, want the master %s agreed", v, c.Nodes()[0].Addr())
	}
	if v := firstView(""); v.Agreed || v.Reachable != 0 {
		t.Errorf("without the password: view %+v, want no Sentinel reachable", v)
	}
}

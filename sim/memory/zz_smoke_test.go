package memory

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redisha-sim/redisha-sim/sim"
)

func TestZZSmoke(t *testing.T) {
	ctx := t.Context()
	_ = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t0 := time.Now()
	c, err := Backend{}.Start(ctx, sim.Topology{Nodes: []string{"r1", "r2", "r3"}, Password: "pw", Sentinels: []string{"s1", "s2", "s3"}, Quorum: 2, DownAfter: time.Second, FailoverTimeout: 5 * time.Second, ParallelSyncs: 1, MasterName: "mymaster", ReplicationLag: time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	fmt.Println("started in", time.Since(t0))
	var kill time.Time
	for i, s := range c.Sentinels() {
		cl := redis.NewClient(&redis.Options{Addr: s.Addr(), DisableIdentity: true, Protocol: 2})
		ps := cl.PSubscribe(ctx, "*")
		go func(i int) {
			for m := range ps.Channel() {
				if kill.IsZero() {
					continue
				}
				fmt.Printf("%6dms s%d %s %s\n", time.Since(kill).Milliseconds(), i+1, m.Channel, m.Payload)
			}
		}(i)
	}
	time.Sleep(2 * time.Second)
	kill = time.Now()
	if err := c.Nodes()[0].Do(ctx, "kill"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second)
	cl := redis.NewClient(&redis.Options{Addr: c.Sentinels()[0].Addr(), DisableIdentity: true, Protocol: 2})
	fmt.Println(cl.Do(context.Background(), "SENTINEL", "get-master-addr-by-name", "mymaster").Val())
	fmt.Println("restart old master")
	if err := c.Nodes()[0].Do(ctx, "start"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(13 * time.Second)
}

package memory

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisha-sim/redisha-sim/proxy/redistest"
	"github.com/redisha-sim/redisha-sim/sim/fault"
)

// A graceful stop (SIGTERM, docker stop) of a master with a replica,
// observed from a client on both the in-memory node and a real redis-server:
// when writes stop being answered, when PING stops, when the process exits
// (TIMING.md §4).

// stopSubject is a master with one replica whose periodic ACKs come at
// replicaStarted plus whole seconds (a real replica's cron counts from its
// process start, a fake's from its cronBase).
type stopSubject struct {
	name           string
	master         string
	replicaStarted time.Time
	// stop stops the master gracefully and returns once it has exited.
	stop func()
}

func realStopSubject(t *testing.T) stopSubject {
	t.Helper()
	redistest.Require(t)
	m, err := redistest.Start(t.Context(), redistest.Options{})
	if err != nil {
		t.Fatalf("start redis: %v", err)
	}
	t.Cleanup(m.Close)
	started := time.Now()
	r, err := redistest.Start(t.Context(), redistest.Options{})
	if err != nil {
		t.Fatalf("start redis: %v", err)
	}
	t.Cleanup(r.Close)
	if err := r.ReplicaOf(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	return stopSubject{name: "real", master: m.Addr, replicaStarted: started,
		stop: func() { m.Stop(15 * time.Second) }}
}

func fakeStopSubject(t *testing.T) stopSubject {
	t.Helper()
	nw := newNetwork(3)
	var nodes []*Node
	for _, name := range []string{"m", "r"} {
		addr, err := freeAddr()
		if err != nil {
			t.Fatal(err)
		}
		n := newNode(name, addr, nodeOptions{lag: time.Millisecond}, nw, slog.New(slog.DiscardHandler))
		nw.nodes[addr] = n
		if err := n.start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.shutdown(false) })
		nodes = append(nodes, n)
	}
	m, r := nodes[0], nodes[1]
	r.becomeReplicaOf(m.Addr())
	if err := waitFor(t.Context(), 5*time.Second, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.repl.linkUp
	}); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	started := r.cronBase
	r.mu.Unlock()
	return stopSubject{name: "fake", master: m.Addr(), replicaStarted: started,
		stop: func() { m.do(context.Background(), fault.Stop) }}
}

// stopTrace is what a client saw, as offsets from the stop signal.
type stopTrace struct {
	lastWrite    time.Duration // the last write answered promptly (writes only)
	firstBlocked time.Duration // the first write sent that was not (writes only)
	lastPing     time.Duration // the last PING answered
	exited       time.Duration // the process gone
}

func (s stopTrace) String() string {
	return fmt.Sprintf("last write %v, first held write sent %v, last PING %v, exit %v",
		s.lastWrite.Round(time.Millisecond), s.firstBlocked.Round(time.Millisecond),
		s.lastPing.Round(time.Millisecond), s.exited.Round(time.Millisecond))
}

// observeStop writes rate SETs a second (each on its own pooled
// connection, so a held write holds no other) and PINGs every 5 ms, stops
// the master when its replica is ackPhase into its ACK second, and reports
// what was answered when.
func observeStop(t *testing.T, s stopSubject, rate int, ackPhase time.Duration) stopTrace {
	t.Helper()
	ctx := t.Context()
	pool := redis.NewClient(&redis.Options{Addr: s.master, MaxRetries: -1, PoolSize: 200, ReadTimeout: 15 * time.Second})
	defer pool.Close()
	pinger := redis.NewClient(&redis.Options{Addr: s.master, MaxRetries: -1, PoolSize: 1,
		DialTimeout: 100 * time.Millisecond, ReadTimeout: 100 * time.Millisecond})
	defer pinger.Close()

	// The stop comes at least 2 s from now, ackPhase after a periodic ACK.
	at := s.replicaStarted.Add(ackPhase)
	for time.Until(at) < 2*time.Second {
		at = at.Add(replicaAckPeriod)
	}

	var mu sync.Mutex
	var lastWrite, firstBlocked, lastPing time.Time
	done := make(chan struct{})
	var wg sync.WaitGroup
	if rate > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(time.Second / time.Duration(rate))
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				case <-tick.C:
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					sent := time.Now()
					err := pool.Set(ctx, fmt.Sprint("k", i%50), i, 0).Err()
					got := time.Now()
					mu.Lock()
					defer mu.Unlock()
					if err == nil && got.Sub(sent) < 50*time.Millisecond {
						if got.After(lastWrite) {
							lastWrite = got
						}
					} else if firstBlocked.IsZero() || sent.Before(firstBlocked) {
						firstBlocked = sent
					}
				}()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if pinger.Ping(ctx).Err() == nil {
				mu.Lock()
				lastPing = time.Now()
				mu.Unlock()
			}
		}
	}()

	time.Sleep(time.Until(at))
	t0 := time.Now()
	s.stop()
	exited := time.Since(t0)
	time.Sleep(100 * time.Millisecond)
	close(done)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	tr := stopTrace{lastPing: lastPing.Sub(t0), exited: exited}
	if rate > 0 {
		tr.lastWrite, tr.firstBlocked = lastWrite.Sub(t0), firstBlocked.Sub(t0)
	}
	return tr
}

func stopSubjects(t *testing.T) []func(*testing.T) stopSubject {
	t.Helper()
	redistest.Require(t)
	return []func(*testing.T) stopSubject{realStopSubject, fakeStopSubject}
}

func TestGracefulStopWithoutWritesExitsAtOnce(t *testing.T) {
	for _, start := range stopSubjects(t) {
		s := start(t)
		tr := observeStop(t, s, 0, 300*time.Millisecond)
		t.Logf("%s: %v", s.name, tr)
		// Redis acts on SIGTERM at its next cron tick (every 100 ms) and,
		// its replica having acknowledged everything, exits then.
		if tr.exited > 500*time.Millisecond {
			t.Errorf("%s: exit %v after the stop, want within 500ms (no writes to wait for)", s.name, tr.exited)
		}
	}
}

func TestGracefulStopHoldsWritesUntilTheReplicasNextPeriodicAck(t *testing.T) {
	for _, start := range stopSubjects(t) {
		s := start(t)
		// Stopped 0.2 s into the replica's ACK second, the master waits
		// ~0.8 s for the next ACK; stopped 0.7 s in, ~0.3 s.
		early := observeStop(t, s, 100, 200*time.Millisecond)
		t.Logf("%s, stopped 0.2 s after an ACK: %v", s.name, early)
		s = start(t)
		late := observeStop(t, s, 100, 700*time.Millisecond)
		t.Logf("%s, stopped 0.7 s after an ACK: %v", s.name, late)
		for _, tr := range []stopTrace{early, late} {
			if tr.lastWrite > tr.firstBlocked+10*time.Millisecond || tr.firstBlocked > 300*time.Millisecond {
				t.Errorf("%s: %v; want writes held from the first cron tick (within 300ms)", s.name, tr)
			}
			if tr.lastPing < tr.firstBlocked || tr.lastPing > tr.exited {
				t.Errorf("%s: %v; want PING answered while writes are held, until the exit", s.name, tr)
			}
		}
		if early.exited < 500*time.Millisecond || early.exited > 2*time.Second {
			t.Errorf("%s: stopped 0.2 s after an ACK, exit %v; want 0.5-2 s (the next ACK comes ~0.8 s later)", s.name, early.exited)
		}
		if late.exited > early.exited-200*time.Millisecond {
			t.Errorf("%s: exit %v stopped 0.7 s after an ACK, %v stopped 0.2 s after; want the later stop at least 200ms shorter",
				s.name, late.exited, early.exited)
		}
	}
}

package sentinel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// follower keeps one Sentinel's answer up to date and sends it to Watch's
// loop when it changes.
type follower struct {
	i       int
	addr    string
	o       *Options
	log     *slog.Logger
	updates chan<- update

	// last is the answer last sent; sent is false before the first one.
	last answer
	sent bool
	// lost is set once a session ended: the next answer is a reconnection.
	lost bool
}

// run follows the Sentinel until ctx is done, reconnecting with backoff.
func (f *follower) run(ctx context.Context) {
	backoff := minBackoff
	for {
		connected, err := f.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if connected {
			backoff = minBackoff
			f.log.Info("sentinel connection lost", "err", err)
		} else {
			f.log.Debug("sentinel unreachable", "err", err, "retry_in", backoff)
		}
		f.lost = true
		f.report(ctx, answer{}, fmt.Sprintf("lost %s: %v", f.addr, err))
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// report sends a to Watch's loop unless it is the answer last sent.
func (f *follower) report(ctx context.Context, a answer, cause string) {
	if f.sent && a.equal(f.last) {
		return
	}
	select {
	case f.updates <- update{i: f.i, a: a, cause: cause}:
		f.last, f.sent = a, true
	case <-ctx.Done():
	}
}

// session connects to the Sentinel and follows it until the connection
// fails or ctx is done. connected says whether it got a first answer.
func (f *follower) session(ctx context.Context) (connected bool, err error) {
	// Connect here first: go-redis logs failed dials to its global logger,
	// which an unreachable Sentinel would fill. The connection is handed
	// to the client's first dial.
	d := &net.Dialer{Timeout: f.o.Timeout}
	conn, err := d.DialContext(ctx, "tcp", f.addr)
	if err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	first := make(chan net.Conn, 1)
	first <- conn
	defer func() {
		select {
		case c := <-first:
			c.Close()
		default:
		}
	}()
	client := redis.NewSentinelClient(&redis.Options{
		Addr:     f.addr,
		Password: f.o.Password,
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			select {
			case c := <-first:
				return c, nil
			default:
			}
			return d.DialContext(ctx, network, addr)
		},
		// RESP2 and no CLIENT SETINFO: Sentinel needs neither.
		Protocol:        2,
		DisableIdentity: true,
		DialTimeout:     f.o.Timeout,
		ReadTimeout:     f.o.Timeout,
		WriteTimeout:    f.o.Timeout,
		// Failures are handled here: no retry, no redial loop.
		MaxRetries:    -1,
		DialerRetries: 1,
		PoolSize:      1,
	})
	defer client.Close()

	// Subscribe before asking, so that no event falls between the answer
	// and the subscription.
	ps := client.PSubscribe(ctx)
	if err := ps.PSubscribe(ctx, "*"); err != nil {
		ps.Close()
		return false, fmt.Errorf("psubscribe: %w", err)
	}
	sctx, stop := context.WithCancel(ctx)
	msgs := make(chan *redis.Message, 64)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Go(func() { receive(sctx, ps, msgs, errc) })
	defer func() {
		// Closing the subscription ends the reader's blocked read.
		stop()
		ps.Close()
		wg.Wait()
	}()

	a, err := f.ask(ctx, client)
	if err != nil {
		return false, err
	}
	cause := "answer of " + f.addr
	if f.lost {
		cause = "reconnect " + f.addr
		f.log.Info("sentinel reachable again")
	}
	f.report(ctx, a, cause)

	poll := time.NewTicker(f.o.Poll)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return true, ctx.Err()
		case err := <-errc:
			return true, fmt.Errorf("subscription: %w", err)
		case <-poll.C:
			a, err := f.ask(ctx, client)
			if err != nil {
				return true, err
			}
			f.report(ctx, a, "poll of "+f.addr)
		case m := <-msgs:
			// One re-ask for a burst of events: take those already
			// received too.
			event, reask := m.Channel, f.event(ctx, m)
			for drained := false; !drained; {
				select {
				case m := <-msgs:
					if f.event(ctx, m) {
						event, reask = m.Channel, true
					}
				default:
					drained = true
				}
			}
			if !reask {
				continue
			}
			a, err := f.ask(ctx, client)
			if err != nil {
				return true, err
			}
			f.report(ctx, a, event+" from "+f.addr)
		}
	}
}

// receive passes the subscription's messages on until it fails or ctx is
// done.
func receive(ctx context.Context, ps *redis.PubSub, msgs chan<- *redis.Message, errc chan<- error) {
	for {
		m, err := ps.Receive(ctx)
		if err != nil {
			errc <- err
			return
		}
		if m, ok := m.(*redis.Message); ok {
			select {
			case msgs <- m:
			case <-ctx.Done():
				return
			}
		}
	}
}

// event handles one Sentinel event and says whether the Sentinel must be
// asked again. A +switch-master for our master changes the answer at once.
func (f *follower) event(ctx context.Context, m *redis.Message) bool {
	if m.Channel == "+switch-master" {
		addr, ok := parseSwitchMaster(f.o.MasterName, m.Payload)
		if !ok {
			return false
		}
		f.log.Debug("sentinel switched master", "master", addr)
		// The replicas it lists are the old master's until it is asked.
		f.report(ctx, answer{reachable: true, master: addr}, "+switch-master from "+f.addr)
		return true
	}
	return mentions(f.o.MasterName, m.Payload)
}

// parseSwitchMaster reads "<master-name> <old-ip> <old-port> <new-ip>
// <new-port>" and returns the new address when the name is ours.
func parseSwitchMaster(name, payload string) (string, bool) {
	w := strings.Fields(payload)
	if len(w) != 5 || w[0] != name {
		return "", false
	}
	return net.JoinHostPort(w[3], w[4]), true
}

// mentions reports whether an event's payload is about master name: either
// the master itself ("master <name> <ip> <port> ...") or an instance of it
// ("<type> <instance> <ip> <port> @ <name> <ip> <port>").
func mentions(name, payload string) bool {
	w := strings.Fields(payload)
	for i := 1; i < len(w); i++ {
		if w[i] == name && (i == 1 && w[0] == "master" || w[i-1] == "@") {
			return true
		}
	}
	return false
}

// ask asks the Sentinel for the master's address and replicas.
func (f *follower) ask(ctx context.Context, c *redis.SentinelClient) (answer, error) {
	addr, err := c.GetMasterAddrByName(ctx, f.o.MasterName).Result()
	if errors.Is(err, redis.Nil) {
		// The Sentinel does not monitor this name: it answers but does
		// not vote.
		return answer{reachable: true, replicasKnown: true}, nil
	}
	if err != nil {
		return answer{}, fmt.Errorf("get-master-addr-by-name: %w", err)
	}
	if len(addr) != 2 {
		return answer{}, fmt.Errorf("get-master-addr-by-name: got %q, want ip and port", addr)
	}
	list, err := c.Replicas(ctx, f.o.MasterName).Result()
	if err != nil {
		return answer{}, fmt.Errorf("replicas: %w", err)
	}
	master := net.JoinHostPort(addr[0], addr[1])
	return answer{reachable: true, master: master, replicas: parseReplicas(master, list), replicasKnown: true}, nil
}

// parseReplicas turns SENTINEL replicas' fields into Replicas sorted by
// address. The master is left out: the Sentinel leading a failover names
// the promoted replica as master while it still lists it as a replica.
func parseReplicas(master string, list []map[string]string) []Replica {
	out := make([]Replica, 0, len(list))
	for _, r := range list {
		addr := net.JoinHostPort(r["ip"], r["port"])
		if addr == master {
			continue
		}
		down := false
		for _, fl := range strings.Split(r["flags"], ",") {
			if fl == "s_down" || fl == "o_down" || fl == "disconnected" {
				down = true
			}
		}
		out = append(out, Replica{Addr: addr, Down: down, LinkOK: r["master-link-status"] == "ok"})
	}
	slices.SortFunc(out, func(a, b Replica) int { return strings.Compare(a.Addr, b.Addr) })
	return out
}

// Package sentinel follows a set of Redis Sentinels for one master name and
// reports the view they agree on.
//
// Watch keeps one connection to every Sentinel. It asks each one
// SENTINEL get-master-addr-by-name and SENTINEL replicas, subscribes to its
// events, and asks again every Poll as a safety net. A +switch-master event
// for the master name changes that Sentinel's answer at once, from the
// message itself, so a failover reaches the caller within milliseconds of
// the event; other events about the master make Watch ask again. A Sentinel
// that cannot be reached is retried with a backoff of 100ms doubling to 2s.
//
// # Consensus
//
// Only Sentinels that answer vote: each votes for the master address it
// names. The view's Master is the address named by at least Quorum of them
// (by default a majority of all the configured Sentinels, reachable or
// not), provided no other address has as many votes. Otherwise the view is
// not agreed and its Reason says why: Sentinels unreachable, Sentinels that
// do not know the master name, or Sentinels naming different masters.
//
// # Fallback
//
// A view that is not agreed says nothing about the master: a caller must
// then fall back to its own health checks (for a proxy, route as HAProxy
// would without Sentinel) and must not keep routing to the last agreed
// master on the strength of Sentinel alone. Even an agreed view can lag
// behind the Redis nodes (a master dies some time before Sentinel fails it
// over), so health checks stay useful alongside it.
package sentinel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"
)

// Defaults of Options.
const (
	DefaultPoll    = time.Second
	DefaultTimeout = 500 * time.Millisecond
)

// Reconnection backoff: the first retry after minBackoff, doubling to
// maxBackoff.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 2 * time.Second
)

// Options configure Watch.
type Options struct {
	// MasterName is the name the Sentinels monitor the master under.
	// Required.
	MasterName string
	// Addrs are the Sentinels' host:port addresses. Required.
	Addrs []string
	// Password is the Sentinels' own requirepass; empty means none.
	Password string
	// Quorum is how many reachable Sentinels must name the same master, from
	// 1 to len(Addrs). Zero means a majority of Addrs.
	Quorum int
	// Poll is how often every Sentinel is asked again, in case an event was
	// missed. Zero means DefaultPoll (1s).
	Poll time.Duration
	// Timeout bounds each connection to a Sentinel and each of its replies.
	// Zero means DefaultTimeout (500ms).
	Timeout time.Duration
	// Logger receives the Sentinels' connection changes; nil means discard.
	Logger *slog.Logger
}

// Replica is a replica of the agreed master, as the Sentinels naming it
// list it.
type Replica struct {
	// Addr is the replica's host:port.
	Addr string
	// Down is set when at least half of the Sentinels listing the replica
	// flag it s_down, o_down or disconnected.
	Down bool
	// LinkOK is set when more than half of them report its
	// master-link-status as ok.
	LinkOK bool
}

// View is what the Sentinels agree on at one time.
type View struct {
	// Master is the host:port named by at least Quorum reachable Sentinels;
	// empty when there is none.
	Master string
	// Agreed is Master != "". When false, the caller must fall back to its
	// health checks.
	Agreed bool
	// Reachable is how many Sentinels answer.
	Reachable int
	// Votes counts, for each master address, the reachable Sentinels that
	// name it.
	Votes map[string]int
	// Replicas are the agreed master's replicas, sorted by Addr: every
	// replica that one of the Sentinels naming Master lists.
	Replicas []Replica
	// Reason says why the view is not agreed, e.g. "2 of 3 Sentinels
	// unreachable; 127.0.0.1:6379 named by only 1 (quorum 2)". Empty when
	// Agreed.
	Reason string
	// Cause is what produced this view: "start" for the first one, then for
	// example "+switch-master from 127.0.0.1:26379", "poll of
	// 127.0.0.1:26379", "lost 127.0.0.1:26379: ..." or "reconnect
	// 127.0.0.1:26379".
	Cause string
}

// errOptions is wrapped by the errors of invalid Options.
var errOptions = errors.New("invalid sentinel options")

func (o *Options) fill() error {
	switch {
	case o.MasterName == "":
		return fmt.Errorf("%w: missing master name", errOptions)
	case len(o.Addrs) == 0:
		return fmt.Errorf("%w: no Sentinel address", errOptions)
	case o.Quorum < 0 || o.Quorum > len(o.Addrs):
		return fmt.Errorf("%w: quorum %d: want 1 to %d, or 0 for a majority", errOptions, o.Quorum, len(o.Addrs))
	}
	if o.Quorum == 0 {
		o.Quorum = len(o.Addrs)/2 + 1
	}
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// update is one Sentinel's new answer, sent to Watch's loop.
type update struct {
	i     int
	a     answer
	cause string
}

// Watch follows the Sentinels of o until ctx is done. It calls f with the
// first view, once every Sentinel has answered or failed to once, and then
// with every view that differs from the previous one (not on every poll).
// f runs on Watch's goroutine: while it runs, no other view is computed.
//
// Watch returns nil when ctx is done, after every goroutine it started has
// ended; it returns an error at once when o is invalid.
func Watch(ctx context.Context, o Options, f func(View)) error {
	if err := o.fill(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	updates := make(chan update)
	for i, addr := range o.Addrs {
		fl := &follower{i: i, addr: addr, o: &o, log: o.Logger.With("sentinel", addr), updates: updates}
		wg.Go(func() { fl.run(ctx) })
	}

	answers := make([]answer, len(o.Addrs))
	heard := make([]bool, len(o.Addrs))
	waiting := len(o.Addrs)
	var (
		last    View
		started bool
	)
	for {
		select {
		case <-ctx.Done():
			return nil
		case u := <-updates:
			answers[u.i] = u.a
			if !heard[u.i] {
				heard[u.i] = true
				waiting--
			}
			if waiting > 0 {
				continue
			}
			v := consensus(o.MasterName, o.Quorum, answers)
			if started && sameView(v, last) {
				continue
			}
			v.Cause = u.cause
			if !started {
				v.Cause = "start"
			}
			started, last = true, v
			// f gets its own copy: what it does with it cannot change what
			// the next view is compared with.
			v.Votes, v.Replicas = maps.Clone(v.Votes), slices.Clone(v.Replicas)
			f(v)
		}
	}
}

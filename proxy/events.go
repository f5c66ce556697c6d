package proxy

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// EventType names what an Event records.
type EventType string

const (
	// EventStart: the proxy is listening and its checks are scheduled.
	EventStart EventType = "proxy-start"
	// EventStop: the proxy has stopped.
	EventStop EventType = "proxy-stop"
	// EventCheck: one health check finished.
	EventCheck EventType = "check"
	// EventServerUp and EventServerDown: a server changed side, by its
	// checks, an operator or maintenance.
	EventServerUp   EventType = "server-up"
	EventServerDown EventType = "server-down"
	// EventServerAdmin: a server's administrative state changed (ready,
	// drain, maint, checks enabled or disabled, weight).
	EventServerAdmin EventType = "server-admin"
	// EventBackendDown and EventBackendUp: a backend lost its last usable
	// server, or got one back.
	EventBackendDown EventType = "backend-down"
	EventBackendUp   EventType = "backend-up"
	// EventSessionOpen and EventSessionClose: a client session was routed to
	// a server, and ended.
	EventSessionOpen  EventType = "session-open"
	EventSessionClose EventType = "session-close"
)

// CheckInfo is a check's result in an event.
type CheckInfo struct {
	// Code is HAProxy's status code: L7OK, L4CON, L7TOUT, ...
	Code string `json:"code"`
	// Reason is its description: "Layer7 timeout".
	Reason string `json:"reason"`
	Info   string `json:"info,omitempty"`
	Step   int    `json:"step"`
	// Duration is the check's duration.
	Duration time.Duration `json:"duration"`
	Passed   bool          `json:"passed"`
}

// Event is one thing that happened in the proxy. Times come from one
// monotonic base (T, the time since the proxy started); Wall is the same
// instant on the wall clock, for aligning with other processes on the host.
type Event struct {
	Seq      uint64        `json:"seq"`
	T        time.Duration `json:"t"`
	Wall     time.Time     `json:"wall"`
	Type     EventType     `json:"type"`
	Frontend string        `json:"frontend,omitempty"`
	Backend  string        `json:"backend,omitempty"`
	Server   string        `json:"server,omitempty"`
	// State is the server's state after the event, as the stats page
	// shows it: "UP", "UP 2/3", "DOWN", "DOWN 1/2", "MAINT", "DRAIN", "no
	// check".
	State string `json:"state,omitempty"`
	// Cause says what changed a server: "check", "admin", "forced",
	// "sentinel".
	Cause string     `json:"cause,omitempty"`
	Check *CheckInfo `json:"check,omitempty"`
	// Active and Backup count the backend's usable servers after the
	// event.
	Active int `json:"active,omitempty"`
	Backup int `json:"backup,omitempty"`
	// Session fields.
	Session     uint64        `json:"session,omitempty"`
	Client      string        `json:"client,omitempty"`
	BytesIn     int64         `json:"bytes_in,omitempty"`
	BytesOut    int64         `json:"bytes_out,omitempty"`
	Duration    time.Duration `json:"duration,omitempty"`
	Termination string        `json:"termination,omitempty"`
	// Message is the log line, worded like HAProxy's.
	Message string `json:"msg,omitempty"`
}

// Bus fans events out to subscribers and keeps the most recent ones so that
// a late subscriber can replay them. Publishing never blocks: a subscriber
// that does not keep up loses events, and its Dropped count says how many.
type Bus struct {
	base time.Time

	mu   sync.Mutex
	seq  uint64
	ring []Event
	next int // ring write position once full
	subs map[*Subscription]struct{}
}

// RingSize is how many recent events a Bus keeps for replay.
const RingSize = 4096

// NewBus returns a bus whose event times count from base.
func NewBus(base time.Time) *Bus {
	return &Bus{base: base, subs: map[*Subscription]struct{}{}}
}

// Base is the instant event times count from.
func (b *Bus) Base() time.Time { return b.base }

// Publish stamps e with its sequence number and times and delivers it.
func (b *Bus) Publish(e Event) {
	now := time.Now()
	e.T = now.Sub(b.base)
	e.Wall = now
	b.mu.Lock()
	b.seq++
	e.Seq = b.seq
	if len(b.ring) < RingSize {
		b.ring = append(b.ring, e)
	} else {
		b.ring[b.next] = e
		b.next = (b.next + 1) % RingSize
	}
	for s := range b.subs {
		select {
		case s.ch <- e:
		default:
			s.dropped++
		}
	}
	b.mu.Unlock()
}

// Subscription receives events on C until Close.
type Subscription struct {
	C       <-chan Event
	ch      chan Event
	bus     *Bus
	dropped uint64
	once    sync.Once
}

// Subscribe returns a subscription with a buffer of the given size. Events
// with a sequence number above since that the bus still holds are delivered
// first (since 0 replays everything kept; use Last() to replay nothing).
func (b *Bus) Subscribe(buffer int, since uint64) *Subscription {
	b.mu.Lock()
	defer b.mu.Unlock()
	var replay []Event
	for i := range b.ring {
		e := b.ring[(b.next+i)%len(b.ring)]
		if e.Seq > since {
			replay = append(replay, e)
		}
	}
	ch := make(chan Event, max(buffer, len(replay)))
	for _, e := range replay {
		ch <- e
	}
	s := &Subscription{C: ch, ch: ch, bus: b}
	b.subs[s] = struct{}{}
	return s
}

// Last is the sequence number of the newest event.
func (b *Bus) Last() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.seq
}

// Dropped is how many events this subscription lost because its buffer was
// full.
func (s *Subscription) Dropped() uint64 {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	return s.dropped
}

// Close ends the subscription and closes C.
func (s *Subscription) Close() {
	s.once.Do(func() {
		s.bus.mu.Lock()
		delete(s.bus.subs, s)
		close(s.ch)
		s.bus.mu.Unlock()
	})
}

// EventsHandler streams events as newline-delimited JSON, one object per
// line, until the client goes away or done is closed. The query parameter
// "since" replays kept events after that sequence number (default: the
// ones kept since the start); "types" filters by a comma-separated list.
func EventsHandler(b *Bus, done <-chan struct{}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		since, _ := strconv.ParseUint(r.URL.Query().Get("since"), 10, 64)
		var want map[EventType]bool
		if t := r.URL.Query().Get("types"); t != "" {
			want = map[EventType]bool{}
			for _, s := range strings.FieldsFunc(t, func(r rune) bool { return r == ',' }) {
				want[EventType(s)] = true
			}
		}
		sub := b.Subscribe(1024, since)
		defer sub.Close()
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		flusher, _ := w.(http.Flusher)
		enc := json.NewEncoder(w)
		if flusher != nil {
			flusher.Flush()
		}
		for {
			select {
			case e, ok := <-sub.C:
				if !ok {
					return
				}
				if want == nil || want[e.Type] {
					if err := enc.Encode(e); err != nil {
						return
					}
				}
				// Flush once the queue is drained, whether or not the last
				// event passed the filter.
				if flusher != nil && len(sub.C) == 0 {
					flusher.Flush()
				}
			case <-r.Context().Done():
				return
			case <-done:
				return
			}
		}
	})
}

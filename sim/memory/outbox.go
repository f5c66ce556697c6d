package memory

import (
	"sync"
	"time"
)

// outbox delivers one connection's messages in order, each no earlier than
// its due time: a link that adds latency but, like TCP, never reorders. A
// message due before the previous one waits for it.
type outbox struct {
	// delivering is held while messages are handed over, so that two
	// flushes never interleave.
	delivering sync.Mutex

	mu   sync.Mutex
	last time.Time // due time of the latest message
	q    []outMsg
}

type outMsg struct {
	due  time.Time
	send func()
}

// push queues send to run at due (or after the previous message, if
// later). A message already due runs now, in the caller, once the messages
// before it have run: the caller waits as a writer on a full socket does.
func (o *outbox) push(due time.Time, send func()) {
	o.mu.Lock()
	if due.Before(o.last) {
		due = o.last
	}
	o.last = due
	o.q = append(o.q, outMsg{due, send})
	o.mu.Unlock()
	if wait := time.Until(due); wait > 0 {
		time.AfterFunc(wait, o.flush)
		return
	}
	o.flush()
}

// flush runs every message that is due, in order.
func (o *outbox) flush() {
	o.delivering.Lock()
	defer o.delivering.Unlock()
	for {
		o.mu.Lock()
		now := time.Now()
		i := 0
		for i < len(o.q) && !o.q[i].due.After(now) {
			i++
		}
		ready := o.q[:i:i]
		o.q = o.q[i:]
		o.mu.Unlock()
		if len(ready) == 0 {
			return
		}
		for _, m := range ready {
			m.send()
		}
	}
}

// inorder runs one connection's requests in the order sent, each no
// earlier than its due time, one after the other on a goroutine of the
// connection's own: a request that blocks (on a paused node) holds back
// the ones after it, and the sender never waits.
type inorder struct {
	mu      sync.Mutex
	q       []outMsg
	running bool
}

// push queues run for its due time, behind the requests already queued.
func (o *inorder) push(due time.Time, run func()) {
	o.mu.Lock()
	o.q = append(o.q, outMsg{due, run})
	if o.running {
		o.mu.Unlock()
		return
	}
	o.running = true
	o.mu.Unlock()
	go o.drain()
}

// drain runs the queued requests until none is left.
func (o *inorder) drain() {
	for {
		o.mu.Lock()
		if len(o.q) == 0 {
			o.running = false
			o.mu.Unlock()
			return
		}
		m := o.q[0]
		o.q = o.q[1:]
		o.mu.Unlock()
		if wait := time.Until(m.due); wait > 0 {
			time.Sleep(wait)
		}
		m.send()
	}
}

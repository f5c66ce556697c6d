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

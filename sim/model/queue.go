package model

import "time"

// queue is the discrete-event scheduler: callbacks ordered by virtual time,
// ties in the order they were scheduled. A binary heap of values (no
// interface boxing: a trial schedules tens of thousands of events).
type queue struct {
	now time.Duration
	seq uint64
	h   []event
}

type event struct {
	at  time.Duration
	seq uint64
	f   func()
}

func (q *queue) less(i, j int) bool {
	if q.h[i].at != q.h[j].at {
		return q.h[i].at < q.h[j].at
	}
	return q.h[i].seq < q.h[j].seq
}

// at schedules f at virtual time t (never in the past).
func (q *queue) at(t time.Duration, f func()) {
	q.seq++
	q.h = append(q.h, event{at: max(t, q.now), seq: q.seq, f: f})
	for i := len(q.h) - 1; i > 0; {
		p := (i - 1) / 2
		if !q.less(i, p) {
			break
		}
		q.h[i], q.h[p] = q.h[p], q.h[i]
		i = p
	}
}

// after schedules f d from now.
func (q *queue) after(d time.Duration, f func()) { q.at(q.now+d, f) }

func (q *queue) pop() event {
	e := q.h[0]
	n := len(q.h) - 1
	q.h[0] = q.h[n]
	q.h[n] = event{}
	q.h = q.h[:n]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && q.less(l, m) {
			m = l
		}
		if r < n && q.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		q.h[i], q.h[m] = q.h[m], q.h[i]
		i = m
	}
	return e
}

// run processes events until the queue is empty or the time passes end.
func (q *queue) run(end time.Duration) {
	for len(q.h) > 0 {
		if q.h[0].at > end {
			q.now = end
			return
		}
		e := q.pop()
		q.now = e.at
		e.f()
	}
}

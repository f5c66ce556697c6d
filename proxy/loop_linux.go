package proxy

import (
	"container/heap"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// defaultDataPath: the event loops (every proxy test passes on them, with
// and without -race).
const defaultDataPath = DataPathLoop

// The loop data path moves a routed session's bytes on the proxy's own
// epoll loops, as HAProxy does, instead of one goroutine per direction
// parked in the runtime's poller. Measured with the goroutine path, every
// readiness woke a parked goroutine through the scheduler (0.12-0.14 thread
// wake-ups per request against HAProxy's 0.03) and an idle session held two
// goroutine stacks. Here N loops (GOMAXPROCS at start), each one goroutine
// blocked in epoll_wait on its own edge-triggered epoll instance, read what
// is ready and write it to the other side inline; an idle session is a
// small struct and two descriptors, with no goroutine and no buffer.
//
// Ownership: a session is handed over once its server connection is
// established (accepting, connecting, checks and stats stay on net.Conn).
// pipeLoop duplicates each connection's descriptor (F_DUPFD_CLOEXEC; the
// duplicate shares the socket and its O_NONBLOCK flag, set again to be
// sure) and closes the net.Conn: closing it deregisters the original
// descriptor from the runtime's poller (poll.FD.Close ends in
// runtime_pollClose, an EPOLL_CTL_DEL), while the socket lives on through
// the duplicate, which only the loop's epoll instance watches. From then on
// the loop alone reads, writes, shuts down and closes the descriptors;
// everything else reaches the session through the loop's queue (kill).
// (*net.TCPConn).File is not used: os.NewFile registers a non-blocking
// descriptor with the runtime's poller again.

// loopSet is a proxy's event loops.
type loopSet struct {
	loops []*evloop
	next  atomic.Uint32
}

// evloop is one event loop. Only its goroutine touches the fields after
// the mutex-guarded ones.
type evloop struct {
	p    *Proxy
	epfd int
	// wake is an eventfd written to when the queue gains its first
	// request.
	wake int
	base time.Time
	done chan struct{}

	mu       sync.Mutex
	queue    []loopReq
	stopping bool

	// now is the time since base, read after each epoll_wait.
	now    time.Duration
	ends   map[int32]*loopEnd
	timers timerHeap
	// again lists sessions that stopped reading after maxReadsPerWake
	// reads with more ready: edge-triggered epoll will not report them
	// again, so the loop comes back to them before it waits.
	again  []*loopSession
	nsess  int
	events [128]unix.EpollEvent
	// spare is the queue's other slice, swapped in by runQueue.
	spare []loopReq
}

// loopReq asks a loop to take a session (kill false) or to end it.
type loopReq struct {
	ls   *loopSession
	kill bool
}

// loopEnd is one of a session's two sockets.
type loopEnd struct {
	ls *loopSession
	fd int
	// inq: the socket reports what is left after each read (readFD).
	inq bool
	// readable and writable are the readiness last reported by epoll and
	// not yet used up by EAGAIN (or by a read that drained the socket).
	readable, writable bool
}

// loopDir is one direction of a session: src's bytes to dst.
type loopDir struct {
	src, dst *loopEnd
	// pending is what was read from src and not yet written to dst;
	// held is the pooled buffer it lies in. src is not read while
	// pending is not empty (back-pressure).
	pending []byte
	held    *[]byte
	// eof: src ended; shut: dst was shut down for writing after it.
	eof, shut bool
	// limit, when set (time since the loop's base), is a hard end for the
	// direction: the other direction ended and its fin timeout runs.
	limit time.Duration
	// fin is the timeout set on the other direction when this one ends.
	fin       time.Duration
	abortTerm string
	count     *atomic.Int64
	totals    [3]*atomic.Int64
}

// loopSession is a session's state on its loop.
type loopSession struct {
	s   *session
	lp  *evloop
	end [2]loopEnd // client, server
	dir [2]loopDir // request (client to server), response
	// last is when a byte last reached either side; idle and idleTerm
	// are the inactivity limit shared by both directions (see idleClock).
	last     time.Duration
	idle     time.Duration
	idleTerm string
	// at is the session's place in the timer heap: when to look at its
	// deadline again (never later than the deadline); idx is its index,
	// -1 when out of the heap.
	at      time.Duration
	idx     int
	inAgain bool
	closed  bool
}

// startLoops starts n event loops.
func startLoops(p *Proxy, n int) (*loopSet, error) {
	set := &loopSet{}
	for range n {
		lp, err := newLoop(p)
		if err != nil {
			set.stop()
			return nil, err
		}
		set.loops = append(set.loops, lp)
		go lp.run()
	}
	return set, nil
}

func newLoop(p *Proxy) (*evloop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("start event loop: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("start event loop: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Fd: int32(wake)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		unix.Close(wake)
		unix.Close(epfd)
		return nil, fmt.Errorf("start event loop: %w", err)
	}
	return &evloop{p: p, epfd: epfd, wake: wake, base: time.Now(), done: make(chan struct{}), ends: map[int32]*loopEnd{}}, nil
}

// stop ends every loop and waits for them; the proxy calls it once no
// session is left.
func (set *loopSet) stop() {
	for _, lp := range set.loops {
		lp.mu.Lock()
		lp.stopping = true
		lp.mu.Unlock()
		lp.signal()
	}
	for _, lp := range set.loops {
		<-lp.done
	}
}

func (set *loopSet) pick() *evloop {
	return set.loops[int(set.next.Add(1)-1)%len(set.loops)]
}

// post queues a request and wakes the loop if the queue was empty.
func (lp *evloop) post(r loopReq) {
	lp.mu.Lock()
	lp.queue = append(lp.queue, r)
	first := len(lp.queue) == 1
	lp.mu.Unlock()
	if first {
		lp.signal()
	}
}

func (lp *evloop) signal() {
	one := [8]byte{1}
	for {
		if _, err := unix.Write(lp.wake, one[:]); err != unix.EINTR {
			return
		}
	}
}

// kill ends the session on its loop; the caller recorded the termination.
func (ls *loopSession) kill() { ls.lp.post(loopReq{ls: ls, kill: true}) }

// pipeLoop hands a routed session to a loop; it reports false when the
// session stays on the goroutine path (a descriptor could not be
// duplicated, as when they run out, or the session was killed meanwhile).
func (p *Proxy) pipeLoop(s *session, server net.Conn, srv *Server) bool {
	cfd, err := takeFD(s.client)
	if err != nil {
		return false
	}
	sfd, err := takeFD(server)
	if err != nil {
		unix.Close(cfd)
		return false
	}
	f, b := s.fe, s.be
	t := sessionTimeouts(f, b)
	idle := newIdleClock(t.clientIdle, t.serverIdle)
	lp := p.evloops.pick()
	ls := &loopSession{s: s, lp: lp, idle: idle.limit, idleTerm: idle.term, idx: -1}
	ls.end[0] = loopEnd{ls: ls, fd: cfd, inq: enableInq(uintptr(cfd)), writable: true}
	ls.end[1] = loopEnd{ls: ls, fd: sfd, inq: enableInq(uintptr(sfd)), writable: true}
	ls.dir[0] = loopDir{src: &ls.end[0], dst: &ls.end[1], fin: t.clientFin, abortTerm: termClientAbort,
		count: &s.bytesIn, totals: [3]*atomic.Int64{&srv.bytesIn, &b.bytesIn, &f.bytesIn}}
	ls.dir[1] = loopDir{src: &ls.end[1], dst: &ls.end[0], fin: t.serverFin, abortTerm: termServerAbort,
		count: &s.bytesOut, totals: [3]*atomic.Int64{&srv.bytesOut, &b.bytesOut, &f.bytesOut}}
	s.mu.Lock()
	if s.killed {
		s.mu.Unlock()
		unix.Close(cfd)
		unix.Close(sfd)
		return false
	}
	s.ls = ls
	// Queued under s.mu, so that a kill, which reads s.ls under it, is
	// queued after.
	lp.post(loopReq{ls: ls})
	s.mu.Unlock()
	s.client.Close()
	server.Close()
	return true
}

// takeFD duplicates c's descriptor, non-blocking and close-on-exec.
func takeFD(c net.Conn) (int, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return -1, errors.New("take descriptor: not a syscall.Conn")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1, fmt.Errorf("take descriptor: %w", err)
	}
	fd := -1
	var derr error
	if err := raw.Control(func(orig uintptr) { fd, derr = unix.FcntlInt(orig, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, fmt.Errorf("take descriptor: %w", err)
	}
	if derr != nil {
		return -1, fmt.Errorf("take descriptor: %w", derr)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("take descriptor: %w", err)
	}
	return fd, nil
}

// run is the loop: wait for readiness or the next deadline, move bytes,
// take requests, fire deadlines.
func (lp *evloop) run() {
	defer close(lp.done)
	for {
		n, err := unix.EpollWait(lp.epfd, lp.events[:], lp.waitTimeout())
		if err != nil && err != unix.EINTR {
			// Only a broken epfd fails here, which nothing closes
			// before the loop ends.
			lp.p.log.Error("epoll_wait failed", "err", err)
			time.Sleep(10 * time.Millisecond)
		}
		lp.now = time.Since(lp.base)
		for i := range max(n, 0) {
			ev := &lp.events[i]
			if int(ev.Fd) == lp.wake {
				var b [8]byte
				unix.Read(lp.wake, b[:])
				continue
			}
			e := lp.ends[ev.Fd]
			if e == nil {
				continue // closed earlier in this round
			}
			if ev.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				e.readable = true
			}
			if ev.Events&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				e.writable = true
			}
			e.ls.service()
		}
		if len(lp.again) > 0 {
			again := lp.again
			lp.again = nil
			for _, ls := range again {
				ls.inAgain = false
				ls.service()
			}
		}
		if lp.runQueue() {
			lp.close()
			return
		}
		lp.expire()
	}
}

// waitTimeout is epoll_wait's timeout in milliseconds: until the next
// deadline, rounded up, or none.
func (lp *evloop) waitTimeout() int {
	if len(lp.again) > 0 {
		return 0
	}
	if len(lp.timers) == 0 {
		return -1
	}
	d := lp.timers[0].at - time.Since(lp.base)
	if d <= 0 {
		return 0
	}
	return int(min((d+time.Millisecond-1)/time.Millisecond, 1<<30))
}

// runQueue takes the queued requests; it reports true when the loop is to
// stop.
func (lp *evloop) runQueue() bool {
	lp.mu.Lock()
	q, stopping := lp.queue, lp.stopping
	lp.queue = lp.spare[:0]
	lp.mu.Unlock()
	for i, r := range q {
		if r.kill {
			if !r.ls.closed {
				r.ls.close()
			}
		} else {
			lp.add(r.ls)
		}
		q[i] = loopReq{}
	}
	lp.spare = q[:0]
	return stopping
}

// add registers a handed-over session's descriptors.
func (lp *evloop) add(ls *loopSession) {
	lp.nsess++
	ls.last = time.Since(lp.base)
	for i := range ls.end {
		e := &ls.end[i]
		lp.ends[int32(e.fd)] = e
		// Registering reports what is already ready: bytes or a FIN
		// that arrived before the handover are not missed.
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(e.fd)}
		if err := unix.EpollCtl(lp.epfd, unix.EPOLL_CTL_ADD, e.fd, &ev); err != nil {
			lp.p.log.Error("epoll_ctl failed", "session", ls.s.id, "err", err)
			ls.abort(termProxyStop)
			return
		}
	}
	lp.schedule(ls)
}

// close ends the loop once no session is left (the proxy stops the loops
// after its sessions ended; any left are cut).
func (lp *evloop) close() {
	for _, e := range lp.ends {
		if !e.ls.closed {
			e.ls.abort(termProxyStop)
		}
	}
	unix.Close(lp.wake)
	unix.Close(lp.epfd)
}

// service moves what both directions can move now.
func (ls *loopSession) service() {
	if ls.closed {
		return
	}
	for i := range ls.dir {
		if !ls.pump(&ls.dir[i]) {
			return
		}
	}
	if ls.dir[0].shut && ls.dir[1].shut {
		ls.close()
	}
}

// pump moves src's bytes to dst until src has nothing more, dst takes no
// more, or maxReadsPerWake reads were made. It reports false when the
// session ended.
//
// Reading stops at EAGAIN or when the read says nothing is left
// (readFD with TCP_INQ): the peer's FIN, had it come with the data, would
// leave 1, and epoll reports later bytes or a later FIN as a new edge.
func (ls *loopSession) pump(d *loopDir) bool {
	if d.shut {
		return true
	}
	if len(d.pending) > 0 {
		if !d.dst.writable || !ls.flush(d) {
			return !ls.closed
		}
		if len(d.pending) > 0 {
			return true
		}
	}
	if !d.src.readable {
		return true
	}
	bp := bufPool.Get().(*[]byte)
	buf := *bp
	for reads := 0; ; {
		if reads == maxReadsPerWake {
			if !ls.inAgain {
				ls.inAgain = true
				ls.lp.again = append(ls.lp.again, ls)
			}
			break
		}
		n, drained, err := readFD(uintptr(d.src.fd), buf, d.src.inq)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			d.src.readable = false
		case err != nil:
			bufPool.Put(bp)
			ls.abort(d.abortTerm)
			return false
		case n == 0:
			bufPool.Put(bp)
			d.src.readable = false
			d.eof = true
			return ls.shutDst(d)
		}
		if err != nil {
			break
		}
		reads++
		d.pending = buf[:n]
		if !ls.flush(d) {
			bufPool.Put(bp)
			return false
		}
		if len(d.pending) > 0 {
			// dst is full: keep the rest in this buffer and read src
			// no more until EPOLLOUT.
			d.held = bp
			return true
		}
		if drained {
			d.src.readable = false
			break
		}
	}
	bufPool.Put(bp)
	return true
}

// flush writes d's pending bytes to dst until they are all written or dst
// is full; it reports false when the session ended on a write error.
func (ls *loopSession) flush(d *loopDir) bool {
	for len(d.pending) > 0 {
		n, err := sendFD(d.dst.fd, d.pending)
		if n > 0 {
			ls.moved(d, n)
			d.pending = d.pending[n:]
			continue
		}
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			d.dst.writable = false
			return true
		}
		ls.abort(d.dstAbortTerm())
		return false
	}
	d.pending = nil
	if d.held != nil {
		bufPool.Put(d.held)
		d.held = nil
	}
	return true
}

// dstAbortTerm is the termination when writing to dst fails: the
// destination's side aborted.
func (d *loopDir) dstAbortTerm() string {
	if d.abortTerm == termClientAbort {
		return termServerAbort
	}
	return termClientAbort
}

// sendFD writes b to a socket, without SIGPIPE.
func sendFD(fd int, b []byte) (int, error) {
	r, _, errno := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)),
		unix.MSG_NOSIGNAL|unix.MSG_DONTWAIT, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

// moved accounts n bytes that reached d's destination; traffic either way
// is activity for both sides.
func (ls *loopSession) moved(d *loopDir, n int) {
	ls.last = ls.lp.now
	d.count.Add(int64(n))
	for _, t := range d.totals {
		t.Add(int64(n))
	}
}

// shutDst propagates src's end to dst (everything read was written), and
// bounds the other direction by d's fin timeout.
func (ls *loopSession) shutDst(d *loopDir) bool {
	if unix.Shutdown(d.dst.fd, unix.SHUT_WR) != nil {
		// dst is gone (reset): its side aborted.
		ls.abort(d.dstAbortTerm())
		return false
	}
	d.shut = true
	other := &ls.dir[0]
	if other == d {
		other = &ls.dir[1]
	}
	if d.fin > 0 && !other.shut {
		other.limit = time.Since(ls.lp.base) + d.fin
		ls.lp.schedule(ls)
	}
	return true
}

// abort ends the session with term (kept only if no cause was recorded
// before).
func (ls *loopSession) abort(term string) {
	ls.s.finish(term)
	ls.close()
}

// close closes both descriptors, gives back the buffers and ends the
// session.
func (ls *loopSession) close() {
	lp := ls.lp
	ls.closed = true
	for i := range ls.end {
		e := &ls.end[i]
		if lp.ends[int32(e.fd)] == e {
			delete(lp.ends, int32(e.fd))
		}
		// Closing the only descriptor of the socket also removes it
		// from the epoll set.
		unix.Close(e.fd)
	}
	for i := range ls.dir {
		d := &ls.dir[i]
		d.pending = nil
		if d.held != nil {
			bufPool.Put(d.held)
			d.held = nil
		}
	}
	if ls.idx >= 0 {
		heap.Remove(&lp.timers, ls.idx)
	}
	lp.nsess--
	lp.p.end(ls.s, true)
}

// deadline is when the session times out (time since the loop's base):
// the idle deadline or a running direction's fin limit, whichever is
// first; zero for none.
func (ls *loopSession) deadline() time.Duration {
	var dl time.Duration
	if ls.idle > 0 {
		dl = ls.last + ls.idle
	}
	for i := range ls.dir {
		if d := &ls.dir[i]; d.limit != 0 && !d.shut && (dl == 0 || d.limit < dl) {
			dl = d.limit
		}
	}
	return dl
}

// schedule puts the session in the timer heap at its deadline, or moves
// it earlier. Traffic moves the idle deadline later without touching the
// heap: expire looks again when the earlier time comes.
func (lp *evloop) schedule(ls *loopSession) {
	dl := ls.deadline()
	switch {
	case dl == 0:
	case ls.idx < 0:
		ls.at = dl
		heap.Push(&lp.timers, ls)
	case dl < ls.at:
		ls.at = dl
		heap.Fix(&lp.timers, ls.idx)
	}
}

// expire ends the sessions whose deadline passed and moves the others to
// their current deadline.
func (lp *evloop) expire() {
	now := time.Since(lp.base)
	for len(lp.timers) > 0 && lp.timers[0].at <= now {
		ls := lp.timers[0]
		switch dl := ls.deadline(); {
		case dl == 0:
			heap.Pop(&lp.timers)
		case dl > now:
			ls.at = dl
			heap.Fix(&lp.timers, 0)
		default:
			ls.abort(ls.idleTerm)
		}
	}
}

// timerHeap orders sessions by when to look at their deadline.
type timerHeap []*loopSession

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}

func (h *timerHeap) Push(x any) {
	ls := x.(*loopSession)
	ls.idx = len(*h)
	*h = append(*h, ls)
}

func (h *timerHeap) Pop() any {
	old := *h
	ls := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	ls.idx = -1
	return ls
}

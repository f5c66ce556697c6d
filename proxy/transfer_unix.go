//go:build unix

package proxy

import (
	"os"
	"syscall"
)

// rawTransfer is a direction's state for transfer.
type rawTransfer struct {
	// raw is src's descriptor for transfer, set on its first call.
	raw syscall.RawConn
	// inq says src reports how much is left to read after each read
	// (Linux's TCP_INQ; see readFD).
	inq bool
	// onReadable is transfer's callback, made once; it leaves its outcome
	// in the three fields after it (fields, not captured variables, so
	// that a parked direction holds no allocation of its own).
	onReadable func(fd uintptr) bool
	xMoved     bool
	xEOF       bool
	xErr       error
}

// transfer moves what src has to dst until src ends (eof), a read or write
// fails, src's read deadline passes, or maxReadsPerWake reads were made
// (more may be ready: the caller comes back). It drives the runtime's
// poller through syscall.RawConn: the callback reads the descriptor
// itself, and between readiness events it parks without a buffer.
//
// It reads until EAGAIN unless the read says nothing is left (readFD): a
// read that returned less than the buffer may have drained the data while
// the peer's FIN, which came with it, is still to be read, and the
// edge-triggered poller will not report it again
// (TestHalfCloseReachesTheServerAndRepliesStillFlow hangs without that
// read).
func (d *direction) transfer() (moved, eof bool, err error) {
	if d.raw == nil {
		sc, ok := d.src.(syscall.Conn)
		if !ok {
			return d.transferPlain()
		}
		if d.raw, err = sc.SyscallConn(); err != nil {
			return false, false, err
		}
		d.raw.Control(func(fd uintptr) { d.inq = enableInq(fd) })
	}
	if d.onReadable == nil {
		d.onReadable = d.readable
	}
	d.xMoved, d.xEOF, d.xErr = false, false, nil
	err = d.raw.Read(d.onReadable)
	if d.xErr != nil {
		err = d.xErr
	}
	return d.xMoved, d.xEOF, err
}

// readable is transfer's RawConn.Read callback: it moves what fd has and
// reports false to wait for the next readiness.
func (d *direction) readable(fd uintptr) bool {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for range maxReadsPerWake {
		n, drained, rerr := readFD(fd, buf, d.inq)
		switch {
		case rerr == syscall.EINTR:
			continue
		case rerr == syscall.EAGAIN:
			return false
		case rerr != nil:
			d.xErr = os.NewSyscallError("read", rerr)
			return true
		case n == 0:
			d.xEOF = true
			return true
		}
		if _, werr := d.dst.Write(buf[:n]); werr != nil {
			d.xErr = werr
			return true
		}
		d.moved(n)
		d.xMoved = true
		if drained {
			return false
		}
	}
	return true
}

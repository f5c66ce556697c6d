//go:build unix

package proxy

import (
	"os"
	"runtime"
	"syscall"
)

// shortReadDrains says that a read returning less than the buffer has
// emptied the socket: on Linux a TCP read stops short only when its receive
// queue is empty, and the runtime's edge-triggered epoll reports any data
// that arrives after it. Elsewhere transfer reads until EAGAIN.
const shortReadDrains = runtime.GOOS == "linux"

// transfer moves what src has to dst until src ends (eof), a read or write
// fails, src's read deadline passes, or maxReadsPerWake reads were made
// (more may be ready: the caller comes back). It drives the runtime's
// poller through syscall.RawConn: the callback reads the descriptor
// itself, and between readiness events it parks without a buffer. A read
// that drains the socket goes straight back to waiting, without the read
// that would find nothing (net.Conn.Read makes that read: the runtime
// forgets a readiness reported before each Read starts).
func (d *direction) transfer() (moved, eof bool, err error) {
	if d.raw == nil {
		sc, ok := d.src.(syscall.Conn)
		if !ok {
			return d.transferPlain()
		}
		if d.raw, err = sc.SyscallConn(); err != nil {
			return false, false, err
		}
	}
	var ioErr error
	err = d.raw.Read(func(fd uintptr) bool {
		bp := bufPool.Get().(*[]byte)
		defer bufPool.Put(bp)
		buf := *bp
		for range maxReadsPerWake {
			n, rerr := syscall.Read(int(fd), buf)
			switch {
			case rerr == syscall.EINTR:
				continue
			case rerr == syscall.EAGAIN:
				return false
			case rerr != nil:
				ioErr = os.NewSyscallError("read", rerr)
				return true
			case n == 0:
				eof = true
				return true
			}
			if _, werr := d.dst.Write(buf[:n]); werr != nil {
				ioErr = werr
				return true
			}
			d.moved(n)
			moved = true
			if shortReadDrains && n < len(buf) {
				return false
			}
		}
		return true
	})
	if ioErr != nil {
		err = ioErr
	}
	return moved, eof, err
}

//go:build unix

package proxy

import "syscall"

// peekReady reports whether fd has data or EOF to read, without consuming
// it. It is the callback of a RawConn.Read: false makes the runtime wait
// for the next readiness event.
func peekReady(fd uintptr) bool {
	var b [1]byte
	_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err != syscall.EAGAIN && err != syscall.EWOULDBLOCK
}

//go:build unix && !linux

package proxy

import "syscall"

// enableInq: only Linux reports what is left after a read.
func enableInq(uintptr) bool { return false }

// readFD reads what fd has into buf; drained is never known here, so
// transfer reads until EAGAIN.
func readFD(fd uintptr, buf []byte, _ bool) (n int, drained bool, err error) {
	n, err = syscall.Read(int(fd), buf)
	return n, false, err
}

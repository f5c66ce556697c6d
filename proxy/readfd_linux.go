package proxy

import (
	"encoding/binary"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// enableInq asks the kernel to report, with every read of fd, how many
// bytes are left to read (TCP_INQ, Linux 4.18): "after receiving a FIN",
// it reports 1, so that a read that leaves 0 has drained the socket, FIN
// included, and transfer can wait for the next readiness without the read
// that would find nothing. That read is what HAProxy saves through
// EPOLLRDHUP, which Go's runtime poller does not pass on.
func enableInq(fd uintptr) bool {
	return unix.SetsockoptInt(int(fd), unix.SOL_TCP, unix.TCP_INQ, 1) == nil
}

// inqSpace is the room for one TCP_CM_INQ control message (an int).
var inqSpace = unix.CmsgSpace(4)

// readFD reads what fd has into buf; drained says nothing is left to read,
// not even a FIN (known only with inq).
func readFD(fd uintptr, buf []byte, inq bool) (n int, drained bool, err error) {
	if !inq {
		n, err = syscall.Read(int(fd), buf)
		return n, false, err
	}
	// recvmsg by hand: unix.Recvmsg allocates room for a peer address on
	// every call, which a connected socket never fills.
	var oob [32]byte
	iov := unix.Iovec{Base: unsafe.SliceData(buf)}
	iov.SetLen(len(buf))
	msg := unix.Msghdr{Iov: &iov, Iovlen: 1, Control: &oob[0]}
	msg.SetControllen(inqSpace)
	r, _, errno := unix.Syscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&msg)), 0)
	if errno != 0 {
		return 0, false, errno
	}
	n = int(r)
	oobn := int(msg.Controllen)
	if n == 0 {
		return 0, false, nil
	}
	// One control message: a header (length, level, type), then the int.
	h := unix.CmsgLen(0)
	if oobn >= h+4 {
		level := int32(binary.NativeEndian.Uint32(oob[h-8:]))
		typ := int32(binary.NativeEndian.Uint32(oob[h-4:]))
		if level == unix.SOL_TCP && typ == unix.TCP_CM_INQ {
			return n, binary.NativeEndian.Uint32(oob[h:]) == 0, nil
		}
	}
	return n, false, nil
}

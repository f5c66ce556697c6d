//go:build unix

package main

import "syscall"

// raiseNoFileLimit raises the soft limit on open descriptors to the hard
// one (the children inherit it) and returns the hard one.
func raiseNoFileLimit() (hard uint64, ok bool) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, false
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	return uint64(lim.Max), true
}

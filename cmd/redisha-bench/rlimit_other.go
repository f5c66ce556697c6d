//go:build !unix

package main

// raiseNoFileLimit: no descriptor limit to raise on this OS (Windows).
func raiseNoFileLimit() (hard uint64, ok bool) { return 0, false }

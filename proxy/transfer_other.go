//go:build !unix

package proxy

// transfer moves what src has to dst; without raw descriptors it holds a
// buffer while it waits (see transferPlain).
func (d *direction) transfer() (moved, eof bool, err error) { return d.transferPlain() }

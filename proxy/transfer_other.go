//go:build !unix

package proxy

// rawTransfer is empty: transfer reads no raw descriptor here.
type rawTransfer struct{}

// transfer moves what src has to dst; without raw descriptors it holds a
// buffer while it waits (see transferPlain).
func (d *direction) transfer() (moved, eof bool, err error) {
	_ = d.rawTransfer // the field is transfer_unix.go's; staticcheck's U1000 sees it used here too
	return d.transferPlain()
}

//go:build !unix

package main

import "os"

// writeFileAtomic writes path through a renamed temporary file (renameio
// is Unix only).
func writeFileAtomic(path string, b []byte, perm os.FileMode) error {
	return writeFileRenaming(path, b, perm)
}

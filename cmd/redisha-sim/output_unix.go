//go:build unix

package main

import (
	"os"

	"github.com/google/renameio/v2"
)

// writeFileAtomic writes a temporary file beside path, syncs it and renames
// it over path.
func writeFileAtomic(path string, b []byte, perm os.FileMode) error {
	return renameio.WriteFile(path, b, perm)
}

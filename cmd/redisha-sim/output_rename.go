package main

import (
	"errors"
	"os"
	"path/filepath"
)

// writeFileRenaming writes a temporary file beside path, syncs it and
// renames it over path: writeFileAtomic where renameio does not build
// (Windows, where os.Rename replaces an existing file with MoveFileEx,
// MOVEFILE_REPLACE_EXISTING). It builds everywhere, so it is tested on
// Linux too.
func writeFileRenaming(path string, b []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	err = errors.Join(err, f.Sync(), f.Close(), os.Chmod(tmp, perm))
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

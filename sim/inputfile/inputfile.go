// Package inputfile reads the files a user hands to redisha-sim (scenarios,
// proxy configurations, saved runs) with one size limit, so that a wrong
// path (/dev/zero, a disk image, a log) fails at once with a clear error
// instead of reading until the process runs out of memory.
package inputfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// MaxSize is the largest file redisha-sim reads: 256 MiB. A scenario or
// a proxy configuration is a few kilobytes; a saved run (run --json) takes
// some 200 bytes per operation (6,837 operations in 1.39 MB, measured),
// so this holds the 1,000,000 operations a scenario may record
// (scenario.MaxOperations) with room to spare.
const MaxSize = 256 << 20

// ErrTooLarge is returned for a file larger than MaxSize.
var ErrTooLarge = errors.New("file too large")

// ErrNotFile is returned for something that is neither a regular file nor
// a pipe (a device such as /dev/zero, a directory, a socket).
var ErrNotFile = errors.New("not a regular file")

// Read reads the file at path: a regular file of at most MaxSize bytes,
// or a pipe (e.g. <(cmd) or /dev/stdin from a pipe), read up to MaxSize.
func Read(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return read(path, f)
}

// ReadFS is Read on a file system (e.g. embedded files).
func ReadFS(fsys fs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return read(name, f)
}

func read(name string, f fs.File) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	switch mode := fi.Mode(); {
	case mode.IsRegular():
		if fi.Size() > MaxSize {
			return nil, &fs.PathError{Op: "read", Path: name, Err: fmt.Errorf("%w: %d bytes, the limit is %d (%d MiB)", ErrTooLarge, fi.Size(), MaxSize, MaxSize>>20)}
		}
	case mode&fs.ModeNamedPipe != 0:
	default:
		return nil, &fs.PathError{Op: "read", Path: name, Err: fmt.Errorf("%w (%s)", ErrNotFile, kind(mode))}
	}
	// A regular file may grow while it is read, and a pipe has no size:
	// read one byte past the limit to tell.
	b, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	if len(b) > MaxSize {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fmt.Errorf("%w: more than %d bytes (%d MiB)", ErrTooLarge, MaxSize, MaxSize>>20)}
	}
	return b, nil
}

func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "mode " + m.String()
}

package inputfile

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

func TestReadRefusesDevicesAndDirectories(t *testing.T) {
	for _, path := range []string{"/dev/zero", "/dev/urandom", t.TempDir()} {
		_, err := Read(path)
		if !errors.Is(err, ErrNotFile) {
			t.Errorf("Read(%s): got %v, want ErrNotFile", path, err)
		}
		if err != nil && !strings.Contains(err.Error(), path) {
			t.Errorf("Read(%s): error %q does not name the file", path, err)
		}
	}
}

func TestReadRefusesAFileLargerThanTheLimitWithoutReadingIt(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "big.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// A sparse file: the size is what counts, not the blocks.
	if err := f.Truncate(MaxSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := Read(filepath.Join(dir, "big.yaml")); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Read: got %v, want ErrTooLarge", err)
	}
	if _, err := ReadFS(os.DirFS(dir), "big.yaml"); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ReadFS: got %v, want ErrTooLarge", err)
	}
}

func TestReadReadsSmallFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ok.yaml")
	if err := os.WriteFile(path, []byte("name: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := Read(path)
	if err != nil || string(b) != "name: x\n" {
		t.Errorf("got %q, %v; want the file", b, err)
	}
	fsys := fstest.MapFS{"a.yaml": {Data: []byte("x")}}
	if b, err := ReadFS(fsys, "a.yaml"); err != nil || string(b) != "x" {
		t.Errorf("ReadFS: got %q, %v; want the file", b, err)
	}
}

func TestReadReadsAPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	go func() {
		w.Write([]byte("name: piped\n"))
		w.Close()
	}()
	b, err := Read("/proc/self/fd/" + strconv.Itoa(int(r.Fd())))
	if err != nil || string(b) != "name: piped\n" {
		t.Errorf("got %q, %v; want what was piped", b, err)
	}
}

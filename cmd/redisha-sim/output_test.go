package main

import (
	"os"
	"path/filepath"
	"testing"
)

// An output replaces the file whole and leaves nothing else in its
// directory; a device is written as it is.
func TestWriteOutputReplacesTheFileWholeAndWritesDevices(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "run.json")
	for _, body := range []string{"a long first version", "short"} {
		if err := writeOutput(path, []byte(body)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != body {
			t.Fatalf("got %q (%v), want %q", got, err, body)
		}
	}
	if es, err := os.ReadDir(dir); err != nil || len(es) != 1 {
		t.Errorf("directory holds %d entries (%v), want the output alone", len(es), err)
	}
	if err := writeOutput(os.DevNull, []byte("x")); err != nil {
		t.Errorf("write %s: %v", os.DevNull, err)
	}
}

// The rename fallback (Windows) also replaces the file whole, with its
// mode, and leaves no temporary file.
func TestWriteFileRenamingReplacesTheFileWhole(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "run.json")
	for _, body := range []string{"a long first version", "short"} {
		if err := writeFileRenaming(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != body {
			t.Fatalf("got %q (%v), want %q", got, err, body)
		}
	}
	if fi, err := os.Stat(path); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o644 {
		t.Errorf("got mode %v, want 0644", fi.Mode().Perm())
	}
	if es, err := os.ReadDir(dir); err != nil || len(es) != 1 {
		t.Errorf("directory holds %d entries (%v), want the output alone", len(es), err)
	}
	if err := writeFileRenaming(filepath.Join(dir, "missing", "x.json"), []byte("x"), 0o644); err == nil {
		t.Error("got no error for a missing directory")
	}
}

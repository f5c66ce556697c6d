package lineio

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadReturnsLinesWithinTheLimitAndRefusesLongerOnes(t *testing.T) {
	// A 16-byte buffer makes a 40-byte line span several fragments.
	rd := bufio.NewReaderSize(strings.NewReader("a\n"+strings.Repeat("x", 39)+"\n"+strings.Repeat("y", 41)+"\nlast"), 16)
	for _, want := range []struct {
		line string
		err  error
	}{
		{"a\n", nil},
		{strings.Repeat("x", 39) + "\n", nil},
		{"", ErrTooLong},
	} {
		got, err := Read(rd, 40)
		if got != want.line || !errors.Is(err, want.err) && err != want.err {
			t.Fatalf("got %q, %v; want %q, %v", got, err, want.line, want.err)
		}
	}
	rd = bufio.NewReader(strings.NewReader("done\nlast"))
	Read(rd, 40)
	if got, err := Read(rd, 40); got != "last" || !errors.Is(err, io.EOF) {
		t.Fatalf("unterminated last line: got %q, %v; want \"last\", EOF", got, err)
	}
}

// Package lineio reads newline-terminated lines of bounded length, for the
// proxy's configuration files and its runtime API.
package lineio

import (
	"bufio"
	"errors"
)

// ErrTooLong is Read's answer to a line longer than its limit.
var ErrTooLong = errors.New("line too long")

// Read returns the next line of rd with its "\n", reading at most limit
// bytes of it (the newline included). A line that the end of the stream
// or an error cuts short comes without a newline, with that error (io.EOF
// at the end): the caller decides whether an unterminated last line
// counts. A longer line returns ErrTooLong, its rest unread.
func Read(rd *bufio.Reader, limit int) (string, error) {
	var line []byte
	for {
		frag, err := rd.ReadSlice('\n')
		if len(line)+len(frag) > limit {
			return "", ErrTooLong
		}
		line = append(line, frag...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return string(line), err
	}
}

package memory

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2/server"
)

// linkHooks are the link faults on one served connection.
type linkHooks interface {
	// in waits until a command of size bytes may reach the server (held
	// while the direction is blackholed or the connection lost, paced by
	// a bandwidth, late by a delay); false when the connection ended
	// meanwhile.
	in(size int) bool
	// outDelay draws how late a reply leaves.
	outDelay() time.Duration
	// out waits until a reply of size bytes may leave; false when the
	// connection ended meanwhile.
	out(size int) bool
}

// serveConn serves a client connection with miniredis, accepting inline
// commands ("PING\r\n", as HAProxy's tcp-check sends them) as well as RESP
// arrays: miniredis reads arrays only. It returns when the connection ends.
// hooks, when not nil, are the node's link faults on the connection
// (delay, blackhole, loss, bandwidth); replies keep their order.
func serveConn(c net.Conn, srv *server.Server, hooks linkHooks) {
	a, b := net.Pipe()
	srv.ServeConn(b)
	done := make(chan struct{})
	go func() {
		if hooks == nil {
			io.Copy(c, a) // replies
		} else {
			copyDelayed(c, a, hooks)
		}
		c.Close()
		close(done)
	}()
	rd := bufio.NewReader(c)
	w := bufio.NewWriter(a)
	for {
		args, err := readCommand(rd)
		if err != nil {
			break
		}
		if len(args) == 0 {
			continue
		}
		if hooks != nil && !hooks.in(int(respSize(args))) {
			break
		}
		writeArray(w, args)
		if rd.Buffered() == 0 {
			if w.Flush() != nil {
				break
			}
		}
	}
	w.Flush()
	a.Close()
	<-done
}

// copyDelayed copies src to dst as a slow link does: every chunk read
// (a reply, as miniredis writes one per command) is written
// hooks.outDelay() after it was read, never before the chunk ahead of it,
// and once hooks.out lets it pass. It returns once src has ended and all
// is written. A write error drops the rest and closes dst, which ends the
// connection's reading side and so src.
func copyDelayed(dst net.Conn, src io.Reader, hooks linkHooks) {
	var out outbox
	var failed atomic.Bool
	buf := make([]byte, 32*1024)
	for {
		k, err := src.Read(buf)
		if k > 0 {
			chunk := bytes.Clone(buf[:k])
			out.push(time.Now().Add(hooks.outDelay()), func() {
				if failed.Load() {
					return
				}
				if !hooks.out(len(chunk)) {
					failed.Store(true)
					dst.Close()
					return
				}
				if _, err := dst.Write(chunk); err != nil {
					failed.Store(true)
					dst.Close()
				}
			})
		}
		if err != nil {
			break
		}
	}
	written := make(chan struct{})
	out.push(time.Now(), func() { close(written) })
	<-written
}

// errProtocol is a malformed request.
var errProtocol = errors.New("protocol error")

// readCommand reads one command: a RESP array of bulk strings, or an
// inline command line split as Redis's sdssplitargs does.
func readCommand(rd *bufio.Reader) ([]string, error) {
	first, err := rd.Peek(1)
	if err != nil {
		return nil, err
	}
	if first[0] != '*' {
		line, err := rd.ReadString('\n')
		if err != nil && line == "" {
			return nil, err
		}
		return splitArgs(strings.TrimRight(line, "\r\n"))
	}
	line, err := rd.ReadString('\n')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil || n > 1024*1024 {
		return nil, errProtocol
	}
	args := make([]string, 0, max(n, 0))
	for i := 0; i < n; i++ {
		h, err := rd.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if len(h) < 2 || h[0] != '$' {
			return nil, errProtocol
		}
		size, err := strconv.Atoi(strings.TrimSpace(h[1:]))
		if err != nil || size < 0 || size > 512*1024*1024 {
			return nil, errProtocol
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(rd, buf); err != nil {
			return nil, err
		}
		args = append(args, string(buf[:size]))
	}
	return args, nil
}

func writeArray(w *bufio.Writer, args []string) {
	fmt.Fprintf(w, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(w, "$%d\r\n%s\r\n", len(a), a)
	}
}

// splitArgs splits an inline command: blanks separate words, "double
// quotes" take \n \r \t \xHH and \" escapes, 'single quotes' only \'.
func splitArgs(line string) ([]string, error) {
	var out []string
	i := 0
	for {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i >= len(line) {
			return out, nil
		}
		var cur strings.Builder
		inDq, inSq := false, false
		for ; i < len(line); i++ {
			ch := line[i]
			switch {
			case inDq:
				switch {
				case ch == '\\' && i+3 < len(line) && line[i+1] == 'x' && isHexDigit(line[i+2]) && isHexDigit(line[i+3]):
					v, _ := strconv.ParseUint(line[i+2:i+4], 16, 8)
					cur.WriteByte(byte(v))
					i += 3
				case ch == '\\' && i+1 < len(line):
					i++
					switch e := line[i]; e {
					case 'n':
						cur.WriteByte('\n')
					case 'r':
						cur.WriteByte('\r')
					case 't':
						cur.WriteByte('\t')
					case 'b':
						cur.WriteByte('\b')
					case 'a':
						cur.WriteByte('\a')
					default:
						cur.WriteByte(e)
					}
				case ch == '"':
					if i+1 < len(line) && line[i+1] != ' ' {
						return nil, errProtocol // closing quote must be followed by a space
					}
					inDq = false
				default:
					cur.WriteByte(ch)
				}
			case inSq:
				switch {
				case ch == '\\' && i+1 < len(line) && line[i+1] == '\'':
					i++
					cur.WriteByte('\'')
				case ch == '\'':
					if i+1 < len(line) && line[i+1] != ' ' {
						return nil, errProtocol
					}
					inSq = false
				default:
					cur.WriteByte(ch)
				}
			case ch == ' ' || ch == '\t':
				goto word
			case ch == '"':
				inDq = true
			case ch == '\'':
				inSq = true
			default:
				cur.WriteByte(ch)
			}
		}
		if inDq || inSq {
			return nil, errProtocol
		}
	word:
		out = append(out, cur.String())
	}
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

package tcpcheck

import (
	"context"
	"net"
	"testing"
	"time"
)

// pipeDialer connects checks to an in-memory peer that sends reply in
// chunks of the given sizes, then closes or stays silent.
type pipeDialer struct {
	reply  []byte
	chunks []byte
	close  bool
}

func (d pipeDialer) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	a, b := net.Pipe()
	go func() {
		defer b.Close()
		go func() {
			buf := make([]byte, 256)
			for {
				if _, err := b.Read(buf); err != nil {
					return
				}
			}
		}()
		data := d.reply
		for i := 0; len(data) > 0; i++ {
			n := len(data)
			if len(d.chunks) > 0 {
				n = min(n, int(d.chunks[i%len(d.chunks)])%32+1)
			}
			if _, err := b.Write(data[:n]); err != nil {
				return
			}
			data = data[n:]
		}
		if !d.close {
			time.Sleep(40 * time.Millisecond)
		}
	}()
	return a, nil
}

func FuzzCheckReplies(f *testing.F) {
	f.Add([]byte("+OK\r\n+PONG\r\n$40\r\nrole:master\r\nrepl_backlog_active:1\r\n+OK\r\n"), []byte{3, 1, 7}, true, "role:master", false, 0)
	f.Add([]byte("-ERR wrong\r\n"), []byte{}, true, "+OK", false, -1)
	f.Add([]byte("+PONG\r\n"), []byte{1}, false, "-ERR", true, 0)
	f.Add([]byte{}, []byte{}, true, "x", false, 5)
	f.Fuzz(func(t *testing.T, reply, chunks []byte, closes bool, pattern string, negate bool, minRecv int) {
		if pattern == "" || len(reply) > 1<<16 {
			return
		}
		exp, err := NewExpect(MatchString, negate, pattern)
		if err != nil {
			return
		}
		exp.MinRecv = max(minRecv%40, -1) // -1 is HAProxy's min-recv 0
		rules := []Rule{Send("AUTH x\r\n"), ExpectString("+"), Comment("c"), Send("PING\r\n"), exp}
		p, err := NewProgram(KindTCPCheck, rules)
		if err != nil {
			t.Fatal(err)
		}
		res := p.Run(t.Context(), pipeDialer{reply: reply, chunks: chunks, close: closes}, "fuzz:1", Timeouts{Inter: 20 * time.Millisecond})
		if res.Status <= StatusInit || res.Status > StatusL7Sts {
			t.Fatalf("status %d out of range", res.Status)
		}
		if res.Step < 0 || res.Step > len(p.Rules()) {
			t.Fatalf("step %d out of range", res.Step)
		}
		if res.Duration > 2*time.Second {
			t.Fatalf("check ran %v with inter 20ms", res.Duration)
		}
		if res.Passed() && res.Status != StatusL7OK {
			t.Fatalf("passed with %s", res.Status)
		}
	})
}

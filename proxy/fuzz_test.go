package proxy

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fuzzProxy is one proxy per fuzzing process, shared by the iterations:
// bareConfig (a backend "back" with server "redis1" at a closed port, not
// checked, a stats section with admin:1234 and Prometheus metrics).
var fuzzProxy = sync.OnceValues(func() (*Proxy, error) {
	cfg := bareConfig("127.0.0.1:1")
	cfg.Frontends[1].Stats.MetricsPath = "/metrics"
	return New(cfg, Options{})
})

func sharedProxy(t *testing.T) *Proxy {
	t.Helper()
	p, err := fuzzProxy()
	if err != nil {
		t.Fatalf("start proxy: %v", err)
	}
	return p
}

// memConn is a connection whose client sent in and then closed: reads
// drain in, writes collect in out.
type memConn struct {
	in  *bytes.Reader
	out bytes.Buffer
}

func (c *memConn) Read(b []byte) (int, error)       { return c.in.Read(b) }
func (c *memConn) Write(b []byte) (int, error)      { return c.out.Write(b) }
func (c *memConn) Close() error                     { return nil }
func (c *memConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *memConn) SetDeadline(time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }

// serverSnapshot is the state a runtime or admin command can change.
func serverSnapshot(p *Proxy) string {
	var b strings.Builder
	for _, s := range p.Backend("back").Servers() {
		b.WriteString(s.Name + " " + s.Admin.String() + " " + s.Status)
		cur, _, _ := p.Backend("back").Weight(s.Name)
		b.WriteString(" " + strconv.Itoa(cur) + "\n")
	}
	return b.String()
}

// FuzzRuntimeLine feeds a whole client stream to the runtime API (admin
// level): it must never panic; a stream with no newline runs nothing and
// gets no answer; a first line over the limit gets the error and nothing
// else; readLine never returns more than its limit, and what it returns is
// the stream's text in order.
func FuzzRuntimeLine(f *testing.F) {
	for _, s := range []string{
		"show stat\n", "show info;show stat json\n", "help\n", "prompt\nshow servers state\nquit\n",
		"set weight back/redis1 0", "set server back/redis1 state maint\n", "get weight back/redis1\r\n",
		"show stat 4 -1 -1\n", "disable server back/redis1;enable server back/redis1\n",
		"set weight back/redis1 50%\n", ";;;\n", "show events\n", strings.Repeat("a", maxRuntimeLine+1),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		p := sharedProxy(t)
		s := p.sockets[0]
		before := serverSnapshot(p)
		c := &memConn{in: bytes.NewReader(in)}
		s.handle(c)
		out := c.out.String()
		first, _, hasNL := bytes.Cut(in, []byte("\n"))
		n := len(first)
		if hasNL {
			n++
		}
		switch {
		case n > maxRuntimeLine:
			if out != "Command line too long (the limit is 16384 bytes).\n\n" {
				t.Fatalf("first line of %d bytes: got %.100q, want the error alone", n, out)
			}
			if got := serverSnapshot(p); got != before {
				t.Fatalf("a refused line changed the servers:\n%s\nwas\n%s", got, before)
			}
		case !hasNL:
			if out != "" {
				t.Fatalf("no newline: got %.100q, want no answer", out)
			}
			if got := serverSnapshot(p); got != before {
				t.Fatalf("an unfinished command changed the servers:\n%s\nwas\n%s", got, before)
			}
		}

		// readLine on its own, with a small limit.
		rd := bufio.NewReaderSize(bytes.NewReader(in), 16)
		var got []byte
		for {
			line, err := readLine(rd, 64)
			if len(line) > 64 {
				t.Fatalf("readLine returned %d bytes, limit 64", len(line))
			}
			got = append(got, line...)
			if err != nil {
				if err == errLineTooLong {
					// The lines before were returned whole.
					if !bytes.HasPrefix(in, got) {
						t.Fatalf("lines before the long one: got %q, not a prefix of the input", got)
					}
				} else if !bytes.Equal(got, in) {
					t.Fatalf("lines joined: got %q, want the input %q", got, in)
				}
				break
			}
			if !strings.HasSuffix(line, "\n") {
				t.Fatalf("a line without its newline came without an error: %q", line)
			}
		}
	})
}

// FuzzStatsHandler sends any request that parses as HTTP/1.1 to the stats
// handler: it must never panic; a request without the right credentials
// gets 401 (under the stats URI) with a well-formed WWW-Authenticate
// header, 503 (elsewhere) or the metrics, and never changes a server.
func FuzzStatsHandler(f *testing.F) {
	const auth = "Authorization: Basic YWRtaW46MTIzNA==\r\n"
	for _, s := range []string{
		"GET /stats HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /stats;csv;up HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n",
		"GET /stats;json HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n",
		"GET /stats;events HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n",
		"GET /stats;norefresh;st=DONE HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n",
		"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /stats HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n",
		"POST /stats;up HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 30\r\n\r\ns=redis1&action=maint&b=back\r\n",
		"POST /stats HTTP/1.1\r\nHost: x\r\n" + auth + "Referer: http://evil/\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 28\r\n\r\ns=redis1&action=drain&b=%231",
		"DELETE /stats HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		p := sharedProxy(t)
		s := p.stats[0]
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		req = req.WithContext(ctx)
		before := serverSnapshot(p)
		user, pass, ok := req.BasicAuth()
		authorized := ok && user == "admin" && pass == "1234"
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if authorized {
			if req.Method != http.MethodPost && serverSnapshot(p) != before {
				t.Fatalf("%s changed the servers", req.Method)
			}
			return
		}
		if got := serverSnapshot(p); got != before {
			t.Fatalf("an unauthorized %s %s changed the servers:\n%s\nwas\n%s", req.Method, req.URL, got, before)
		}
		switch rec.Code {
		case http.StatusUnauthorized:
			h := rec.Header().Get("WWW-Authenticate")
			realm, ok := strings.CutPrefix(h, `Basic realm="`)
			if !ok || !strings.HasSuffix(realm, `"`) || strings.Count(strings.ReplaceAll(realm, `\"`, ""), `"`) != 1 {
				t.Fatalf("WWW-Authenticate %q is not a basic challenge with one quoted realm", h)
			}
		case http.StatusServiceUnavailable, http.StatusOK:
		default:
			t.Fatalf("unauthorized %s %q: got %d, want 401, 503 or the metrics", req.Method, req.URL, rec.Code)
		}
		if rec.Code == http.StatusOK && req.URL.Path != "/metrics" {
			t.Fatalf("unauthorized %s %q: got 200 outside the metrics", req.Method, req.URL)
		}
	})
}

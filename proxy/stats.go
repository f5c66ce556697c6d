package proxy

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy/config"
)

// statsServer serves a stats section (a frontend or listen in mode http):
// the HTML page, ;csv, ;json, admin actions, Prometheus metrics and, as a
// redisha-sim extension, ;events (the event stream as NDJSON).
type statsServer struct {
	p   *Proxy
	cfg *config.Frontend
	st  *config.Stats
	ln  net.Listener
	srv *http.Server
	cop *http.CrossOriginProtection
	// writeTimeout bounds each write of a streamed answer (;events).
	writeTimeout time.Duration

	cur   atomic.Int64
	total atomic.Uint64
}

// Bounds of the stats listener.
const (
	// statsMaxHeader bounds a request's line and headers. HAProxy needs
	// the whole request head in one buffer (tune.bufsize, 16 kB by
	// default) and answers 400 to one that does not fit; net/http
	// answers 431.
	statsMaxHeader = 16 << 10
	// statsMaxBody bounds an admin form: ten thousand server names.
	statsMaxBody = 64 << 10
	// statsDefaultTimeout bounds requests and writes when the section
	// sets neither timeout http-request nor timeout client (HAProxy warns
	// about such a section and would wait for ever).
	statsDefaultTimeout = 10 * time.Second
)

func newStatsServer(p *Proxy, fc *config.Frontend) (*statsServer, error) {
	if len(fc.Binds) == 0 {
		return nil, fmt.Errorf("stats %s: no bind line", fc.Name)
	}
	ln, err := net.Listen("tcp", fc.Binds[0].Addr)
	if err != nil {
		return nil, fmt.Errorf("stats %s: bind %s: %w", fc.Name, fc.Binds[0].Addr, err)
	}
	s := &statsServer{p: p, cfg: fc, st: fc.Stats, ln: ln, cop: http.NewCrossOriginProtection()}
	// HAProxy bounds a request with "timeout http-request" (the head, and
	// the body with option http-buffer-request) and every wait for the
	// client with "timeout client", reads and writes alike. Here the
	// request deadline covers the head and the body from the first byte
	// (so a client announcing a body it never sends is closed), and
	// "timeout client" bounds writing the answer and the idle time
	// between requests.
	client := fc.Timeouts.Client
	if client <= 0 {
		client = statsDefaultTimeout
	}
	request := fc.Timeouts.HTTPRequest
	if request <= 0 {
		request = client
	}
	s.writeTimeout = client
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: request,
		ReadTimeout:       request,
		WriteTimeout:      client,
		IdleTimeout:       client,
		MaxHeaderBytes:    statsMaxHeader,
		// net/http logs what it cannot answer (accept failures, TLS
		// and protocol errors) here, not on stderr.
		ErrorLog: slog.NewLogLogger(p.log.With("stats", fc.Name).Handler(), slog.LevelWarn),
		ConnState: func(_ net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				s.cur.Add(1)
				s.total.Add(1)
			case http.StateClosed, http.StateHijacked:
				s.cur.Add(-1)
			}
		},
	}
	return s, nil
}

func (s *statsServer) serve(wg *sync.WaitGroup) {
	defer wg.Done()
	s.srv.Serve(s.ln)
}

func (s *statsServer) close() { s.srv.Close() }

// statsFor returns the stats server of a section, for its frontend row.
func (p *Proxy) statsFor(name string) *statsServer {
	for _, s := range p.stats {
		if s.cfg.Name == name {
			return s
		}
	}
	return nil
}

// options are the ";xxx" words after the stats URI.
type statsOptions struct {
	csv, json, up, noRefresh, events bool
	st                               string
}

func parseStatsOptions(rest string) statsOptions {
	var o statsOptions
	for _, w := range strings.Split(rest, ";") {
		switch {
		case w == "csv":
			o.csv = true
		case w == "json":
			o.json = true
		case w == "up":
			o.up = true
		case w == "norefresh":
			o.noRefresh = true
		case w == "events":
			o.events = true
		case strings.HasPrefix(w, "st="):
			o.st = w[3:]
		}
	}
	return o
}

func (s *statsServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if mp := s.st.MetricsPath; mp != "" && r.URL.Path == mp {
		// Like HAProxy's "http-request use-service", the exporter answers
		// before (and without) the stats authentication.
		s.p.metrics.handler().ServeHTTP(w, r)
		return
	}
	uri := s.st.URI
	path := r.URL.Path
	if r.URL.RawQuery != "" && strings.Contains(uri, "?") {
		path += "?" + r.URL.RawQuery
	}
	if !strings.HasPrefix(path, uri) {
		http.Error(w, "503 Service Unavailable: no server is available to handle this request.", http.StatusServiceUnavailable)
		return
	}
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm=`+quotedString(s.st.Realm))
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Cache-Control", "no-cache")
		if r.ContentLength != 0 {
			// Answer without reading the body, and close: the body of
			// an unauthenticated client is never read (net/http would
			// otherwise wait for up to 256 kB of it before answering).
			w.Header().Set("Connection", "close")
		}
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, "<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n")
		if r.ContentLength != 0 {
			// After the handler, net/http reads what is left of the body
			// before it closes; end that read now.
			http.NewResponseController(w).SetReadDeadline(time.Now())
		}
		return
	}
	opts := parseStatsOptions(path[len(uri):])
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPost:
		s.admin(w, r, opts)
		return
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "405 Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	switch {
	case opts.events:
		// A stream: no request deadline any more, but each write is
		// bounded, so that a client that stops reading is dropped.
		rc := http.NewResponseController(w)
		rc.SetReadDeadline(time.Time{})
		EventsHandler(s.p.events, s.p.done).ServeHTTP(&deadlineWriter{ResponseWriter: w, rc: rc, timeout: s.writeTimeout}, r)
	case opts.csv:
		var b strings.Builder
		writeCSV(&b, s.filter(s.p.statRows(), opts))
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte(b.String()))
	case opts.json:
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(statsJSON(s.filter(s.p.statRows(), opts)))
	default:
		if s.st.Refresh > 0 && !opts.noRefresh {
			w.Header().Set("Refresh", strconv.Itoa(int(s.st.Refresh.Seconds())))
		}
		w.Header().Set("Content-Type", "text/html")
		s.page(w, opts)
	}
}

// deadlineWriter sets the write deadline before each write and flush of
// a streamed answer.
type deadlineWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (d *deadlineWriter) Write(b []byte) (int, error) {
	d.rc.SetWriteDeadline(time.Now().Add(d.timeout))
	return d.ResponseWriter.Write(b)
}

func (d *deadlineWriter) Flush() {
	d.rc.SetWriteDeadline(time.Now().Add(d.timeout))
	d.rc.Flush()
}

func (d *deadlineWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }

// quotedString writes s as an HTTP quoted-string (RFC 9110 5.6.4): quotes
// and backslashes escaped with a backslash, control bytes (which a
// quoted-string cannot carry) dropped. (How HAProxy writes a realm holding
// a quote was not checked for this.)
func quotedString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range []byte(s) {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 && c != '\t' || c == 0x7f:
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// filter hides servers that are not UP with ";up".
func (s *statsServer) filter(rows []statRow, o statsOptions) []statRow {
	if !o.up {
		return rows
	}
	out := rows[:0:0]
	for _, r := range rows {
		if r.server != nil && !r.server.Up {
			continue
		}
		out = append(out, r)
	}
	return out
}

// authorized checks basic credentials against every "stats auth" line in
// constant time, whatever matches.
func (s *statsServer) authorized(r *http.Request) bool {
	if len(s.st.Auth) == 0 {
		return true
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	match := 0
	for _, c := range s.st.Auth {
		u := subtle.ConstantTimeCompare([]byte(user), []byte(c.User))
		p := subtle.ConstantTimeCompare([]byte(pass), []byte(c.Password))
		match |= u & p
	}
	return match == 1
}

// Admin action status codes, shown by the page after the redirect.
const (
	stDone = "DONE" // every named server changed
	stPart = "PART" // some did
	stNone = "NONE" // nothing to do
	stErrP = "ERRP" // invalid parameters
	stDeny = "DENY" // admin not enabled
)

// admin applies a POSTed action to servers of one backend, then redirects
// (303) to the page with ";st=<code>", as HAProxy does. Cross-origin
// browser requests are refused.
func (s *statsServer) admin(w http.ResponseWriter, r *http.Request, opts statsOptions) {
	if err := s.sameOrigin(r); err != nil {
		w.Header().Set("Connection", "close")
		http.Error(w, "403 Forbidden: cross-origin request refused", http.StatusForbidden)
		return
	}
	code := stDeny
	if s.st.Admin {
		r.Body = http.MaxBytesReader(w, r.Body, statsMaxBody)
		if err := r.ParseForm(); err != nil {
			code = stErrP
		} else {
			code = s.applyAdmin(r.PostForm["b"], r.PostForm["action"], r.PostForm["s"])
		}
	}
	loc := s.st.URI
	if opts.up {
		loc += ";up"
	}
	if opts.noRefresh {
		loc += ";norefresh"
	}
	w.Header().Set("Location", loc+";st="+code)
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusSeeOther)
}

// errCrossSite is sameOrigin's answer to a cross-site admin request.
var errCrossSite = errors.New("cross-site request")

// sameOrigin refuses an admin POST a browser sent from another site.
// HAProxy's stats page has no such check: a page elsewhere could make an
// authenticated browser post actions to it. Browsers say where a request
// comes from in Sec-Fetch-Site or Origin, which CrossOriginProtection
// checks; an older browser, or a form whose Origin was withheld, may send
// only a Referer, which must then name this host. A request with none of
// the three is not from a browser, and is allowed.
func (s *statsServer) sameOrigin(r *http.Request) error {
	if err := s.cop.Check(r); err != nil {
		return err
	}
	if r.Header.Get("Sec-Fetch-Site") != "" || r.Header.Get("Origin") != "" {
		return nil
	}
	ref := r.Header.Get("Referer")
	if ref == "" {
		return nil
	}
	u, err := url.Parse(ref)
	if err != nil || !strings.EqualFold(u.Host, r.Host) {
		return fmt.Errorf("referer %q: %w", ref, errCrossSite)
	}
	return nil
}

func last(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// applyAdmin runs one admin action on the named servers and returns the
// status code for the redirect.
func (s *statsServer) applyAdmin(bs, actions, servers []string) string {
	bname, action := last(bs), last(actions)
	if len(servers) == 0 || action == "" {
		return stNone
	}
	b := s.p.backendByRef(bname)
	if b == nil {
		return stErrP
	}
	var do func(name string) error
	switch action {
	case "ready", "enable":
		do = func(n string) error { return b.SetAdmin(n, AdminReady, ViaWeb) }
	case "drain":
		do = func(n string) error { return b.SetAdmin(n, AdminDrain, ViaWeb) }
	case "maint", "disable":
		do = func(n string) error { return b.SetAdmin(n, AdminMaint, ViaWeb) }
	case "dhlth":
		do = func(n string) error { return b.SetChecks(n, false, ViaWeb) }
	case "ehlth":
		do = func(n string) error { return b.SetChecks(n, true, ViaWeb) }
	case "hrunn", "start":
		do = func(n string) error { return b.SetHealth(n, true, ViaWeb) }
	case "hdown", "stop":
		do = func(n string) error { return b.SetHealth(n, false, ViaWeb) }
	case "shutdown":
		do = func(n string) error { _, err := b.ShutdownSessions(n); return err }
	case "dagent", "eagent", "arunn", "adown":
		return stNone // no agent checks here
	default:
		return stErrP
	}
	ok := 0
	for _, n := range servers {
		if do(n) == nil {
			ok++
		}
	}
	switch {
	case ok == len(servers):
		return stDone
	case ok > 0:
		return stPart
	}
	return stErrP
}

// backendByRef finds a backend by name or by "#<id>".
func (p *Proxy) backendByRef(ref string) *Backend {
	if id, ok := strings.CutPrefix(ref, "#"); ok {
		n, err := strconv.Atoi(id)
		if err != nil {
			return nil
		}
		for _, b := range p.backs {
			if p.ids["be:"+b.Name] == n {
				return b
			}
		}
		return nil
	}
	return p.backMap[ref]
}

package proxy

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy/config"
	"github.com/redisha-sim/redisha-sim/proxy/internal/lineio"
	"github.com/redisha-sim/redisha-sim/proxy/tcpcheck"
)

// runtimeSocket is HAProxy's runtime API ("stats socket"): a line of
// commands separated by ';' gets their answers, each ending with an empty
// line, then the connection closes unless "prompt" made it interactive. A
// script written for HAProxy (echo "show stat" | socat stdio /path) works.
type runtimeSocket struct {
	p       *Proxy
	cfg     config.StatsSocket
	ln      net.Listener
	timeout time.Duration
	// slots caps concurrent connections ("stats maxconn"), shared by
	// every socket of the process.
	slots chan struct{}

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func newRuntimeSocket(p *Proxy, sc config.StatsSocket) (*runtimeSocket, error) {
	if sc.Network == "unix" {
		// A socket file left by a previous run would make Listen fail.
		if fi, err := os.Lstat(sc.Address); err == nil && fi.Mode()&os.ModeSocket != 0 {
			os.Remove(sc.Address)
		}
	}
	ln, err := net.Listen(sc.Network, sc.Address)
	if err != nil {
		return nil, fmt.Errorf("stats socket %s: %w", sc.Address, err)
	}
	if sc.Network == "unix" && sc.Mode != 0 {
		if err := os.Chmod(sc.Address, os.FileMode(sc.Mode)); err != nil {
			ln.Close()
			return nil, fmt.Errorf("stats socket %s: %w", sc.Address, err)
		}
	}
	to := p.cfg.Global.StatsTimeout
	if to == 0 {
		to = 10 * time.Second
	}
	if p.cliSlots == nil {
		n := p.cfg.Global.StatsMaxConn
		if n <= 0 {
			n = defaultStatsMaxConn
		}
		p.cliSlots = make(chan struct{}, n)
	}
	return &runtimeSocket{p: p, cfg: sc, ln: ln, timeout: to, slots: p.cliSlots, conns: map[net.Conn]struct{}{}}, nil
}

func (s *runtimeSocket) serve(wg *sync.WaitGroup) {
	defer wg.Done()
	var conns sync.WaitGroup
	defer conns.Wait()
	var backoff time.Duration
	for {
		// Like HAProxy, stop accepting while "stats maxconn" connections
		// are open: the next ones wait in the kernel's backlog.
		select {
		case s.slots <- struct{}{}:
		case <-s.p.done:
			return
		}
		c, err := s.ln.Accept()
		if err != nil {
			<-s.slots
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors (EMFILE, ENFILE) or another transient
			// failure: keep the socket and retry, as the data path does.
			backoff = acceptBackoff(backoff)
			s.p.log.Warn("accept failed", "stats_socket", s.cfg.Address, "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-s.p.done:
				return
			}
			continue
		}
		backoff = 0
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		conns.Add(1)
		go func() {
			defer conns.Done()
			defer func() { <-s.slots }()
			s.handle(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// defaultStatsMaxConn is HAProxy's default "stats maxconn": the runtime
// API serves 10 connections at a time.
const defaultStatsMaxConn = 10

func (s *runtimeSocket) close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
}

// maxRuntimeLine bounds a command line of the runtime API. HAProxy reads a
// command line into one buffer of tune.bufsize (16384 bytes by default)
// and gives up on the connection when the line does not fit; this proxy
// answers an error, then closes.
const maxRuntimeLine = 16384

// errLineTooLong is readLine's answer to a line longer than its limit.
var errLineTooLong = lineio.ErrTooLong

// readLine reads one line ending with '\n' of at most limit bytes (the
// newline included). A line cut short by the end of the stream or an error
// is returned with that error and must not be run: HAProxy too runs only
// what ends with a newline, so a command followed by a reset instead of
// its newline does nothing.
func readLine(rd *bufio.Reader, limit int) (string, error) {
	return lineio.Read(rd, limit)
}

// lingerClose ends a connection whose client may still be sending: it
// half-closes the writing side, then discards at most 64 kB of input for
// at most a second, so that the answer already written is not destroyed
// by a reset (closing with unread input makes the kernel send RST), and
// the caller closes.
func lingerClose(c net.Conn, rd *bufio.Reader) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.SetReadDeadline(time.Now().Add(time.Second))
	io.CopyN(io.Discard, rd, 64<<10)
}

// runtimeCommands splits a complete line into its commands: separated by
// ';', trimmed, empty ones dropped.
func runtimeCommands(line string) []string {
	var out []string
	for _, cmd := range strings.Split(strings.TrimRight(line, "\r\n"), ";") {
		if cmd = strings.TrimSpace(cmd); cmd != "" {
			out = append(out, cmd)
		}
	}
	return out
}

// handle serves one connection: each complete line is run, its answers
// written; the connection closes after the first line unless "prompt"
// made it interactive, on a line too long, when the client ends it, or
// after the socket's timeout without a line.
func (s *runtimeSocket) handle(c net.Conn) {
	defer c.Close()
	rd := bufio.NewReaderSize(c, 4096)
	prompt := false
	for {
		if prompt {
			c.SetWriteDeadline(time.Now().Add(s.timeout))
			c.Write([]byte("> "))
		}
		c.SetReadDeadline(time.Now().Add(s.timeout))
		line, err := readLine(rd, maxRuntimeLine)
		if errors.Is(err, errLineTooLong) {
			c.SetWriteDeadline(time.Now().Add(s.timeout))
			fmt.Fprintf(c, "Command line too long (the limit is %d bytes).\n\n", maxRuntimeLine)
			lingerClose(c, rd)
			return
		}
		if err != nil {
			// The end of the stream or an error before the newline: an
			// unfinished command is not run.
			return
		}
		var out strings.Builder
		quit := false
		for _, cmd := range runtimeCommands(line) {
			switch cmd {
			case "prompt":
				prompt = !prompt
				continue
			case "quit":
				quit = true
				continue
			}
			out.WriteString(s.p.runtimeCommand(cmd, s.cfg.Level))
			out.WriteString("\n")
		}
		c.SetWriteDeadline(time.Now().Add(s.timeout))
		if _, err := c.Write([]byte(out.String())); err != nil {
			return
		}
		if quit || !prompt {
			return
		}
	}
}

// runtimeHelp lists the commands, as HAProxy's help does.
var runtimeHelp = [][2]string{
	{"help", "list the commands"},
	{"prompt", "toggle interactive mode with prompt"},
	{"quit", "disconnect"},
	{"show info", "report information about the running process"},
	{"show stat [json|typed]", "report counters for each proxy and server (CSV by default)"},
	{"show servers state [<backend>]", "dump volatile server information"},
	{"show events", "list the most recent proxy events (JSON lines)"},
	{"disable server <bk>/<srv>", "disable a server for maintenance (use 'set server' instead)"},
	{"enable server <bk>/<srv>", "enable a disabled server (use 'set server' instead)"},
	{"disable health <bk>/<srv>", "disable health checking"},
	{"enable health <bk>/<srv>", "enable health checking"},
	{"set server <bk>/<srv> state ready|drain|maint", "change a server's administrative state"},
	{"set server <bk>/<srv> health up|down", "force a server's health"},
	{"set server <bk>/<srv> weight <w>[%]", "change a server's weight"},
	{"set weight <bk>/<srv> <w>[%]", "change a server's weight (deprecated)"},
	{"get weight <bk>/<srv>", "report a server's current weight"},
	{"shutdown sessions server <bk>/<srv>", "kill sessions on a server"},
}

func helpText(intro string) string {
	var b strings.Builder
	b.WriteString(intro + "\n")
	for _, h := range runtimeHelp {
		fmt.Fprintf(&b, "  %-45s: %s\n", h[0], h[1])
	}
	return b.String()
}

// runtimeCommand runs one command at the given socket level and returns
// its answer (without the final empty line).
func (p *Proxy) runtimeCommand(cmd, level string) string {
	w := strings.Fields(cmd)
	admin := level == "admin"
	denied := "Permission denied\n"
	switch {
	case match(w, "help"):
		return helpText("The following commands are valid at this level:")
	case match(w, "show", "info"):
		return p.showInfo()
	case match(w, "show", "stat"):
		rows := p.statRows()
		if len(w) >= 3 && w[2] == "json" {
			b, _ := json.Marshal(statsJSON(rows))
			return string(b) + "\n"
		}
		if len(w) >= 5 {
			rows = filterRows(rows, w[2], w[3], w[4])
		}
		var b strings.Builder
		writeCSV(&b, rows)
		return strings.TrimSuffix(b.String(), "\n")
	case match(w, "show", "servers", "state"):
		return p.showServersState(w[3:])
	case match(w, "show", "events"):
		return p.showEvents()
	}
	if !admin {
		if len(w) > 0 && (w[0] == "enable" || w[0] == "disable" || w[0] == "set" || w[0] == "shutdown" || w[0] == "get") {
			return denied
		}
		return helpText("Unknown command, but maybe one of the following ones is a better match:")
	}
	var err error
	switch {
	case match(w, "disable", "server"):
		err = p.onServer(w, 2, func(b *Backend, s string) error { return b.SetAdmin(s, AdminMaint, ViaCLI) })
	case match(w, "enable", "server"):
		err = p.onServer(w, 2, func(b *Backend, s string) error { return b.SetAdmin(s, AdminReady, ViaCLI) })
	case match(w, "disable", "health"):
		err = p.onServer(w, 2, func(b *Backend, s string) error { return b.SetChecks(s, false, ViaCLI) })
	case match(w, "enable", "health"):
		err = p.onServer(w, 2, func(b *Backend, s string) error { return b.SetChecks(s, true, ViaCLI) })
	case match(w, "shutdown", "sessions", "server"):
		err = p.onServer(w, 3, func(b *Backend, s string) error { _, err := b.ShutdownSessions(s); return err })
	case match(w, "set", "weight"):
		if len(w) < 4 {
			return "Require <backend>/<server> and <weight> or <weight%>.\n"
		}
		err = p.onServer(w, 2, func(b *Backend, s string) error { return setWeight(b, s, w[3]) })
	case match(w, "get", "weight"):
		var out string
		err = p.onServer(w, 2, func(b *Backend, s string) error {
			cur, initial, err := b.Weight(s)
			out = fmt.Sprintf("%d (initial %d)\n", cur, initial)
			return err
		})
		if err == nil {
			return out
		}
	case match(w, "set", "server"):
		if len(w) < 5 {
			return "'set server <srv>' only supports 'agent', 'health', 'state', 'weight', 'addr', 'fqdn', 'check-addr' and 'check-port'.\n"
		}
		val := w[4]
		switch w[3] {
		case "state":
			st, ok := map[string]AdminState{"ready": AdminReady, "drain": AdminDrain, "maint": AdminMaint}[val]
			if !ok {
				return "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n"
			}
			err = p.onServer(w, 2, func(b *Backend, s string) error { return b.SetAdmin(s, st, ViaCLI) })
		case "health":
			if val != "up" && val != "down" {
				return "'set server <srv> health' expects 'up' or 'down' ('stopping' is not supported here).\n"
			}
			err = p.onServer(w, 2, func(b *Backend, s string) error { return b.SetHealth(s, val == "up", ViaCLI) })
		case "weight":
			err = p.onServer(w, 2, func(b *Backend, s string) error { return setWeight(b, s, val) })
		default:
			return "'set server <srv>' only supports 'health', 'state' and 'weight' here.\n"
		}
	default:
		return helpText("Unknown command, but maybe one of the following ones is a better match:")
	}
	return cliError(err)
}

func match(w []string, words ...string) bool {
	if len(w) < len(words) {
		return false
	}
	for i, x := range words {
		if w[i] != x {
			return false
		}
	}
	return true
}

// Errors of runtime commands, worded as HAProxy's CLI by cliError.
var (
	errBadRef      = errors.New("argument is not backend/server")
	errBadWeight   = errors.New("weight is not a number")
	errWeightRange = errors.New("weight out of range")
)

// onServer resolves w[i] ("backend/server") and applies fn.
func (p *Proxy) onServer(w []string, i int, fn func(*Backend, string) error) error {
	if len(w) <= i {
		return errBadRef
	}
	bname, sname, ok := strings.Cut(w[i], "/")
	if !ok {
		return errBadRef
	}
	b := p.backMap[bname]
	if b == nil {
		return ErrNoSuchBackend
	}
	if b.Server(sname) == nil {
		return ErrNoSuchServer
	}
	return fn(b, sname)
}

// cliError words an error as HAProxy's CLI does; nil is an empty answer.
func cliError(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrNoSuchBackend):
		return "No such backend.\n"
	case errors.Is(err, ErrNoSuchServer):
		return "No such server.\n"
	case errors.Is(err, errBadRef):
		return "Require 'backend/server'.\n"
	case errors.Is(err, ErrNoChecks):
		return "Health checks are not configured on this server, cannot enable.\n"
	case errors.Is(err, errBadWeight):
		return "Empty weight string empty or preceded by garbage\n"
	case errors.Is(err, errWeightRange):
		return "Absolute weight can only be between 0 and 256 inclusive.\n"
	}
	return err.Error() + "\n"
}

// setWeight applies "N" or "N%" (of the initial weight).
func setWeight(b *Backend, s, v string) error {
	_, initial, err := b.Weight(s)
	if err != nil {
		return err
	}
	pct := strings.HasSuffix(v, "%")
	n, err := strconv.Atoi(strings.TrimSuffix(v, "%"))
	if err != nil || n < 0 {
		return errBadWeight
	}
	if pct {
		n = initial * n / 100
	}
	if n > config.MaxWeight {
		return errWeightRange
	}
	return b.SetWeight(s, n)
}

// filterRows applies "show stat <iid> <type mask> <sid>": -1 means any; the
// type mask has 1 for frontends, 2 for backends, 4 for servers.
func filterRows(rows []statRow, iid, mask, sid string) []statRow {
	id, _ := strconv.Atoi(iid)
	m, _ := strconv.Atoi(mask)
	sv, _ := strconv.Atoi(sid)
	out := rows[:0:0]
	for _, r := range rows {
		bit := [...]int{1, 2, 4}[r.typ]
		if (id != -1 && r.iid != id) || (m != -1 && m&bit == 0) || (sv != -1 && r.typ == rowServer && r.sid != sv) {
			continue
		}
		out = append(out, r)
	}
	return out
}

func (p *Proxy) showInfo() string {
	up := time.Since(p.start)
	var cur int64
	var cum uint64
	for _, f := range p.fronts {
		cur += f.cur.Load()
		cum += f.total.Load()
	}
	host, _ := os.Hostname()
	lines := [][2]string{
		{"Name", "redisha-sim"}, {"Version", Version}, {"Nbthread", strconv.Itoa(runtime.GOMAXPROCS(0))},
		{"Nbproc", "1"}, {"Process_num", "1"}, {"Pid", strconv.Itoa(os.Getpid())},
		{"Uptime", fmt.Sprintf("%dd %dh%02dm%02ds", int(up.Hours())/24, int(up.Hours())%24, int(up.Minutes())%60, int(up.Seconds())%60)},
		{"Uptime_sec", strconv.Itoa(int(up.Seconds()))}, {"Maxconn", strconv.Itoa(p.cfg.Global.MaxConn)},
		{"CurrConns", strconv.FormatInt(cur, 10)}, {"CumConns", strconv.FormatUint(cum, 10)},
		{"Listeners", strconv.Itoa(len(p.fronts) + len(p.stats) + len(p.sockets))},
		{"Goroutines", strconv.Itoa(runtime.NumGoroutine())}, {"node", host}, {"Stopping", "0"},
		{"Start_time_sec", strconv.FormatInt(p.start.Unix(), 10)},
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l[0] + ": " + l[1] + "\n")
	}
	return b.String()
}

// showServersState prints HAProxy's "show servers state" format (version 1).
func (p *Proxy) showServersState(args []string) string {
	var b strings.Builder
	b.WriteString("1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n")
	now := time.Now()
	for _, be := range p.backs {
		if len(args) > 0 && args[0] != be.Name {
			continue
		}
		id := p.ids["be:"+be.Name]
		for _, s := range be.Servers() {
			host, port, _ := net.SplitHostPort(s.Addr)
			op := 0
			if s.Up {
				op = 2
			}
			adm := 0
			switch s.Admin {
			case AdminMaint:
				adm = 0x01
			case AdminDrain:
				adm = 0x08
			}
			// Result: 0 unknown (not checked yet), 2 failed, 3 passed.
			result, status := 0, tcpcheck.StatusInit.Number()
			if !s.LastCheckT.IsZero() {
				status = s.LastCheck.Status.Number()
				result = 2
				if s.LastCheck.Passed() {
					result = 3
				}
			}
			state := 0
			if s.Checked {
				state = 0x02
				if s.ChecksOn {
					state |= 0x04
				}
				if s.Checking {
					state |= 0x01
				}
			}
			fmt.Fprintf(&b, "%d %s %d %s %s %d %d %d %d %d %d %d %d %d 0 0 0 - %s - 0 %d - - 0\n",
				id, be.Name, s.ID, s.Name, host, op, adm, s.Weight, s.Weight, int(now.Sub(s.LastChange).Seconds()),
				status, result, s.Health.Health, state, port, be.Server(s.Name).cfg.CheckPort)
		}
	}
	return b.String()
}

func (p *Proxy) showEvents() string {
	sub := p.events.Subscribe(0, 0)
	defer sub.Close()
	var b strings.Builder
	enc := json.NewEncoder(&b)
	for {
		select {
		case e := <-sub.C:
			enc.Encode(e)
		default:
			return b.String()
		}
	}
}

package tcpcheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// BufferSize is the check's receive buffer (HAProxy's tune.bufsize): when it
// is full, an expect decides on what it holds.
const BufferSize = 16384

// Kind is the family a check program belongs to; it changes the wording of
// results, as in HAProxy.
type Kind int

const (
	// KindConnect is a plain connect check (a server with "check" and no
	// check option).
	KindConnect Kind = iota
	// KindTCPCheck runs "tcp-check" rules.
	KindTCPCheck
	// KindRedis is "option redis-check".
	KindRedis
)

// Program is a compiled check: rules with the implied connect added.
type Program struct {
	kind  Kind
	rules []Rule
	// implicit is true when rules[0] is the connect HAProxy adds when the
	// first rule is not one.
	implicit bool
}

// NewProgram compiles rules for kind. The rules are copied; KindConnect and
// KindRedis ignore them.
func NewProgram(kind Kind, rules []Rule) (*Program, error) {
	switch kind {
	case KindConnect:
		rules = nil
	case KindRedis:
		rules = Redis()
		rules[1].ErrorStatus = StatusL7Sts
	}
	p := &Program{kind: kind}
	first := ActComment
	for _, r := range rules {
		if r.Action != ActComment {
			first = r.Action
			break
		}
	}
	if first != ActConnect {
		p.rules = append(p.rules, Connect())
		p.implicit = true
	}
	// A comment labels every following rule that has none of its own,
	// until the next comment.
	comment := ""
	for _, r := range rules {
		if r.Action == ActComment {
			comment = r.Comment
		} else if r.Comment == "" {
			r.Comment = comment
		}
		if err := r.Compile(); err != nil {
			return nil, err
		}
		p.rules = append(p.rules, r)
	}
	return p, nil
}

// Rules returns the program's rules, the implied connect included.
func (p *Program) Rules() []Rule { return p.rules }

// Timeouts bound a check, with HAProxy's rules: without Check, Inter bounds
// the whole check; with Check, connecting is bounded by min(Connect, Inter)
// (or Inter when Connect is zero) and, once connected, the rest by Check.
type Timeouts struct {
	Inter   time.Duration
	Connect time.Duration
	Check   time.Duration
}

// Dialer opens the check's connections; *net.Dialer is one.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Result is the outcome of one check.
type Result struct {
	Status Status
	// Info is the detail HAProxy prints in quotes after "info:", e.g.
	// "Connection refused at initial connection step of tcp-check".
	Info string
	// Step is the rule that decided the result (HAProxy's numbering: the
	// implied connect is 0, the first written rule 1).
	Step int
	// Duration runs from the start of the check to its result.
	Duration time.Duration
	// Sent and Received count the bytes the check wrote to and read from
	// the server, over every connection it made (a redisha-sim extension:
	// HAProxy does not count them).
	Sent, Received int64
}

// Passed reports whether the check passed.
func (r Result) Passed() bool { return r.Status.Passed() }

// Describe is the result as HAProxy's log lines put it: "reason: Layer7
// timeout, info: \"...\", check duration: 1001ms"; layer 7 outcomes that
// carry data add "code: 0".
func (r Result) Describe() string {
	s := "reason: " + r.Status.Description()
	if r.Status >= StatusL7OK {
		s += ", code: 0"
	}
	if r.Info != "" {
		s += ", info: \"" + r.Info + "\""
	}
	return s + ", check duration: " + strconv.FormatInt(r.Duration.Milliseconds(), 10) + "ms"
}

// run is the state of one execution.
type run struct {
	p        *Program
	conn     net.Conn
	buf      []byte
	closed   bool
	deadline time.Time
	t        Timeouts
	start    time.Time
	step     int // index into p.rules
	// sent and received count the bytes written and read.
	sent, received int64
	// stop releases the watch that aborts the connection when ctx ends.
	stop func() bool
	// readErr is the error that ended reading, if not a clean close.
	readErr error
}

// Run executes the program against addr (the server's check address) and
// returns its result. It never returns before a result is known or the
// timeout has fired, unless ctx is done (then the status is SOCKERR).
func (p *Program) Run(ctx context.Context, d Dialer, addr string, t Timeouts) Result {
	r := &run{p: p, t: t, start: time.Now(), buf: make([]byte, 0, 1024)}
	r.deadline = r.start.Add(t.Inter)
	defer r.closeConn()
	for r.step = 0; r.step < len(p.rules); r.step++ {
		rule := &p.rules[r.step]
		var res *Result
		switch rule.Action {
		case ActConnect:
			res = r.connect(ctx, d, addr, rule)
		case ActSend:
			res = r.send(rule)
		case ActExpect:
			var restart bool
			res, restart = r.expect(rule)
			if restart {
				// New data arrived: HAProxy re-evaluates from the first
				// negated expect of this run of expects.
				r.step = r.chainHead() - 1
				continue
			}
		}
		if res != nil {
			if ctx.Err() != nil {
				res = r.fail(StatusSockErr, "check aborted"+r.where(rule))
			}
			res.Duration = time.Since(r.start)
			res.Sent, res.Received = r.sent, r.received
			return *res
		}
	}
	res := r.passed()
	res.Sent, res.Received = r.sent, r.received
	return res
}

// chainHead is where evaluation resumes after an expect waited: the first
// negated expect among the consecutive expects ending at the current rule,
// or the current rule.
func (r *run) chainHead() int {
	head := r.step
	for i := r.step - 1; i >= 0; i-- {
		rule := &r.p.rules[i]
		if rule.Action == ActComment {
			continue
		}
		if rule.Action != ActExpect {
			break
		}
		if rule.Negate {
			head = i
		}
	}
	return head
}

// passed builds the result of a check whose rules all succeeded.
func (r *run) passed() Result {
	lastIdx := len(r.p.rules) - 1
	for lastIdx > 0 && r.p.rules[lastIdx].Action == ActComment {
		lastIdx--
	}
	last := &r.p.rules[lastIdx]
	res := Result{Status: StatusL7OK, Info: "(tcp-check)", Step: r.stepID(lastIdx), Duration: time.Since(r.start)}
	switch {
	case r.p.kind == KindRedis:
		res.Info = "Redis server is ok"
	case last.Action == ActConnect:
		res.Status = StatusL4OK
		if r.p.implicit {
			res.Info = ""
		}
	case last.Action == ActExpect && last.OKStatus != StatusUnknown:
		res.Status = last.OKStatus
	}
	return res
}

// stepID is HAProxy's step number of rule i: the implied connect is step 0
// ("initial connection step"), written rules count from 1.
func (r *run) stepID(i int) int {
	if r.p.implicit {
		return i
	}
	return i + 1
}

// where is the "at step N of tcp-check (...)" suffix of a message. Checks
// that are not tcp-check (a plain connect, redis-check) have none.
func (r *run) where(rule *Rule) string {
	if r.p.kind != KindTCPCheck {
		return ""
	}
	id := r.stepID(r.step)
	if id == 0 {
		return " at initial connection step of tcp-check"
	}
	s := fmt.Sprintf(" at step %d of tcp-check (%s)", id, rule.describe())
	if rule.Comment != "" {
		s += fmt.Sprintf(" comment: '%s'", rule.Comment)
	}
	return s
}

func (r *run) fail(st Status, info string) *Result {
	return &Result{Status: st, Info: info, Step: r.stepID(r.step)}
}

func (r *run) closeConn() {
	if r.stop != nil {
		r.stop()
		r.stop = nil
	}
	if r.conn != nil {
		r.conn.Close()
		r.conn = nil
	}
}

func (r *run) connect(ctx context.Context, d Dialer, addr string, rule *Rule) *Result {
	r.closeConn()
	if rule.Port != 0 || rule.Addr != "" {
		host, port, err := net.SplitHostPort(addr)
		if err == nil {
			if rule.Addr != "" {
				host = rule.Addr
			}
			if rule.Port != 0 {
				port = strconv.Itoa(rule.Port)
			}
			addr = net.JoinHostPort(host, port)
		}
	}
	limit := r.deadline
	if r.t.Check > 0 && r.t.Connect > 0 && r.t.Connect < r.t.Inter {
		limit = time.Now().Add(r.t.Connect)
	}
	cctx, cancel := context.WithDeadline(ctx, limit)
	conn, err := d.DialContext(cctx, "tcp", addr)
	expired := cctx.Err() == context.DeadlineExceeded
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return r.fail(StatusSockErr, "check aborted"+r.where(rule))
		}
		if expired || isTimeout(err) {
			return r.fail(StatusL4Timeout, r.where(rule))
		}
		return r.fail(StatusL4Con, errnoText(err)+r.where(rule))
	}
	r.conn = conn
	r.buf = r.buf[:0]
	r.closed, r.readErr = false, nil
	if r.t.Check > 0 {
		r.deadline = time.Now().Add(r.t.Check)
	}
	if ctx.Done() != nil {
		r.stop = context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	}
	return nil
}

func (r *run) send(rule *Rule) *Result {
	r.buf = r.buf[:0]
	if r.conn == nil {
		return r.fail(StatusSockErr, "no connection"+r.where(rule))
	}
	r.conn.SetWriteDeadline(r.deadline)
	n, err := r.conn.Write(rule.Data)
	r.sent += int64(n)
	if err != nil {
		if isTimeout(err) {
			return r.fail(StatusL7Timeout, r.where(rule))
		}
		return r.fail(StatusSockErr, errnoText(err)+r.where(rule))
	}
	return nil
}

// expect evaluates rule against the buffer, reading more while HAProxy would
// wait: on a mismatch (unless min-recv is set), on too few bytes, and for a
// negated rule until the server closes, the buffer fills or time runs out.
// restart reports that new data arrived after waiting, so evaluation must
// resume from the head of the chain of expects.
func (r *run) expect(rule *Rule) (res *Result, restart bool) {
	if r.conn == nil {
		return r.fail(StatusSockErr, "no connection"+r.where(rule)), false
	}
	for waited := false; ; waited = true {
		if len(r.buf) == 0 && r.closed {
			if r.readErr != nil {
				return r.fail(StatusSockErr, errnoText(r.readErr)+r.where(rule)), false
			}
			return r.fail(orDefault(rule.ErrorStatus, StatusL7Rsp), r.emptyResponse(rule)), false
		}
		if len(r.buf) > 0 || r.closed {
			if waited && r.chainHead() != r.step {
				return nil, true
			}
			lastRead := r.closed || len(r.buf) >= BufferSize
			done, res := r.evaluate(rule, lastRead)
			if done {
				return res, false
			}
		}
		if res := r.read(rule); res != nil {
			return res, false
		}
	}
}

func (r *run) emptyResponse(rule *Rule) string {
	if r.p.kind == KindRedis {
		return ""
	}
	return fmt.Sprintf("TCPCHK got an empty response at step %d", r.stepID(r.step))
}

// evaluate decides an expect on the current buffer. It returns done=false
// when HAProxy would wait for more data, and a nil result when the rule
// passed.
func (r *run) evaluate(rule *Rule, lastRead bool) (bool, *Result) {
	if !lastRead {
		if (rule.Match == MatchString || rule.Match == MatchBinary) && len(r.buf) < len(rule.needle) {
			return false, nil
		}
		if rule.MinRecv > 0 && len(r.buf) < rule.MinRecv {
			return false, nil
		}
	}
	match := rule.matches(r.buf)
	if !match && !lastRead && rule.MinRecv == 0 {
		return false, nil
	}
	if match != rule.Negate {
		return true, nil
	}
	return true, r.fail(orDefault(rule.ErrorStatus, StatusL7Rsp), r.mismatch(rule, match))
}

// mismatch is HAProxy's message for an expect that failed on content.
func (r *run) mismatch(rule *Rule, matched bool) string {
	if r.p.kind == KindRedis {
		line, _, _ := bytes.Cut(r.buf, []byte("\r\n"))
		return string(line)
	}
	msg := "TCPCHK did not match content"
	if matched {
		msg = "TCPCHK matched unwanted content"
	}
	id := r.stepID(r.step)
	switch rule.Match {
	case MatchString:
		msg += fmt.Sprintf(" '%s' at step %d", rule.Pattern, id)
	case MatchBinary:
		msg += fmt.Sprintf(" (binary) at step %d", id)
	default:
		msg += fmt.Sprintf(" (regex) at step %d", id)
	}
	if rule.Comment != "" {
		msg += fmt.Sprintf(" comment: '%s'", rule.Comment)
	}
	return msg
}

// read appends what the server sends next to the buffer; it returns a
// result when the check must stop (timeout, error).
func (r *run) read(rule *Rule) *Result {
	if len(r.buf) >= BufferSize {
		r.closed = true
		return nil
	}
	if cap(r.buf)-len(r.buf) < 512 {
		nb := make([]byte, len(r.buf), min(2*cap(r.buf)+512, BufferSize))
		copy(nb, r.buf)
		r.buf = nb
	}
	r.conn.SetReadDeadline(r.deadline)
	n, err := r.conn.Read(r.buf[len(r.buf):min(cap(r.buf), BufferSize)])
	r.buf = r.buf[:len(r.buf)+n]
	r.received += int64(n)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, io.EOF):
		r.closed = true
		return nil
	case isTimeout(err):
		return r.fail(orDefault(rule.TimeoutStatus, StatusL7Timeout), r.where(rule))
	}
	// An error after data still lets the data be evaluated, as a last read;
	// with nothing received it is a socket error (reported by expect).
	r.closed = true
	r.readErr = err
	return nil
}

func orDefault(s, def Status) Status {
	if s == StatusUnknown {
		return def
	}
	return s
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// errnoText is the strerror text HAProxy prints for a socket error:
// "Connection refused", "Connection reset by peer".
func errnoText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if s := errno.Error(); s != "" {
			return strings.ToUpper(s[:1]) + s[1:]
		}
	}
	return err.Error()
}

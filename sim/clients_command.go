package sim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/drivers"
	"github.com/redisha-sim/redisha-sim/sim/internal/proc"
	"github.com/redisha-sim/redisha-sim/sim/rig"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
)

// Bounds of a command client (the program may be hostile or broken).
const (
	// CommandMaxLine bounds a line a command prints.
	CommandMaxLine = 64 << 10
	// commandExitWait bounds the wait for a command to exit once its
	// stdin is closed, before its process group is killed.
	commandExitWait = 2 * time.Second
	// commandStderrTail is how much of a command's stderr an error quotes.
	commandStderrTail = 1 << 10
)

// errNoAnswer is a command client's request with no answer by its
// timeout: indeterminate.
var errNoAnswer = errors.New("no answer within the timeout")

// commandClient is one process speaking the client protocol (README,
// "Client protocol"), shared by a workload's writers and readers in one
// group. The harness keeps the schedule, the timeouts and the clock; an
// answer after its request's timeout is recorded with it as late.
type commandClient struct {
	name    string // the workload's name, for errors
	cmd     *exec.Cmd
	stdin   *os.File
	rec     *timeline.Recorder
	cluster rig.Cluster
	failed  func(error)
	stderr  *tailBuffer
	exited  chan struct{} // closed when the process has been waited for

	wmu sync.Mutex // one request line at a time

	mu      sync.Mutex
	next    int64
	pending map[int64]*pendingReq
	closing bool
	lineNo  int
	tmpDir  string
}

type pendingReq struct {
	ch       chan answer
	timedOut bool
	idx      int // the recorded operation, once timed out; -1 before
	late     *answer
}

// answer is one line a command prints in answer to a request.
type answer struct {
	ID    *int64  `json:"id"`
	OK    *bool   `json:"ok"`
	Value *string `json:"value"`
	Error string  `json:"error"`
	Addr  string  `json:"addr"`
	Sent  *bool   `json:"sent"`
	at    time.Time
}

// startCommand starts a command (or the shipped redis-py driver) for a
// workload in a group and waits for its ready line.
func (sp *spawner) startCommand(ctx context.Context, w scenario.Spec, g *groupRun) (*commandClient, error) {
	name := w.Name
	if name == "" {
		name = w.Client
	}
	argv := w.Command
	dir := sp.s.CommandDir()
	var tmp string
	if w.Client == scenario.ClientRedisPySentinel {
		var err error
		tmp, err = os.MkdirTemp("", "redisha-sim-redispy-")
		if err != nil {
			return nil, fmt.Errorf("client %s: write the redis-py driver: %w", name, err)
		}
		p := filepath.Join(tmp, "driver.py")
		if err := os.WriteFile(p, drivers.RedisPy, 0o644); err != nil {
			os.RemoveAll(tmp)
			return nil, fmt.Errorf("client %s: write the redis-py driver: %w", name, err)
		}
		argv = []string{redisPyPython(), "-u", p}
	}
	var sentinels []string
	for _, in := range sp.cluster.Sentinels() {
		sentinels = append(sentinels, in.Addr())
	}
	env := append(os.Environ(),
		"REDISHA_SENTINELS="+strings.Join(sentinels, ","),
		"REDISHA_MASTER_NAME="+g.MasterName,
		"REDISHA_PASSWORD="+sp.s.Topology.Password,
		"REDISHA_SENTINEL_PASSWORD="+sp.s.Sentinel.Password,
		"REDISHA_MASTER_ADDR="+g.fe.MasterAddr,
		"REDISHA_REPLICA_ADDR="+g.fe.ReplicaAddr,
		"REDISHA_TIMEOUT_MS="+strconv.FormatInt(w.Writers.Timeout.D.Milliseconds(), 10),
	)
	cc, err := startCommandClient(ctx, name, argv, dir, env, w.ReadyTimeout.D, sp.rec, sp.cluster, func(err error) {
		select {
		case sp.failed <- err:
		default:
		}
	})
	if err != nil {
		if tmp != "" {
			os.RemoveAll(tmp)
		}
		return nil, err
	}
	cc.tmpDir = tmp
	sp.addCloser(cc.stop)
	return cc, nil
}

// redisPyPython is the python the redis-py driver runs with:
// $REDISHA_PYTHON when set, else Debian's /usr/bin/python3 (where
// python3-redis installs) when it exists, else python3 on PATH.
func redisPyPython() string {
	if p := os.Getenv("REDISHA_PYTHON"); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	return "python3"
}

// startCommandClient starts argv in dir, in its own process group (see
// proc.Group), and
// waits (at most readyTimeout) for its ready line. On any failure
// nothing is left running.
func startCommandClient(ctx context.Context, name string, argv []string, dir string, env []string, readyTimeout time.Duration, rec *timeline.Recorder, cluster rig.Cluster, failed func(error)) (*commandClient, error) {
	prog := argv[0]
	if strings.Contains(prog, "/") && !filepath.IsAbs(prog) && dir != "" {
		prog = filepath.Join(dir, prog)
	}
	cmd := exec.Command(prog, argv[1:]...)
	cmd.Dir, cmd.Env = dir, env
	proc.Group(cmd)
	cmd.WaitDelay = commandExitWait
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("client %s: %w", name, err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, fmt.Errorf("client %s: %w", name, err)
	}
	cc := &commandClient{name: name, cmd: cmd, stdin: inW, rec: rec, cluster: cluster, failed: failed,
		stderr: &tailBuffer{max: commandStderrTail}, exited: make(chan struct{}), pending: map[int64]*pendingReq{}}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, cc.stderr
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("client %s: start %s: %w", name, strings.Join(argv, " "), err)
	}
	go func() { cmd.Wait(); close(cc.exited) }()

	lines := bufio.NewReaderSize(outR, 4096)
	ready := make(chan error, 1)
	go func() {
		line, err := cc.readLine(lines)
		if err != nil {
			ready <- err
			return
		}
		var r struct {
			Ready *bool `json:"ready"`
		}
		if json.Unmarshal(line, &r) != nil || r.Ready == nil || !*r.Ready {
			ready <- fmt.Errorf("line 1 of its output is not the ready line {\"ready\": true}: %s", quoteLine(line))
			return
		}
		ready <- nil
	}()
	timer := time.NewTimer(readyTimeout)
	defer timer.Stop()
	select {
	case err = <-ready:
	case <-timer.C:
		err = fmt.Errorf("no ready line {\"ready\": true} within %v", readyTimeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		cc.kill()
		outR.Close()
		return nil, cc.errorf("%w", err)
	}
	go cc.readAnswers(lines, outR)
	// A program that exits while it should run fails the run, even when
	// a child it left holds its output open.
	go func() {
		<-cc.exited
		cc.fail(cc.exitError(), nil)
	}()
	return cc, nil
}

// errorf is an error naming the client, its stderr's tail appended.
func (cc *commandClient) errorf(format string, args ...any) error {
	err := fmt.Errorf("client %s: "+format, append([]any{cc.name}, args...)...)
	if tail := strings.TrimSpace(cc.stderr.String()); tail != "" {
		err = fmt.Errorf("%w (its stderr ends: %s)", err, quoteLine([]byte(tail)))
	}
	return err
}

// readLine reads one line of at most CommandMaxLine bytes.
func (cc *commandClient) readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		part, isPrefix, err := r.ReadLine()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, cc.exitError()
			}
			return nil, err
		}
		line = append(line, part...)
		if len(line) > CommandMaxLine {
			return nil, fmt.Errorf("line %d of its output is longer than %d bytes: %s", cc.lineNo+1, CommandMaxLine, quoteLine(line))
		}
		if !isPrefix {
			cc.lineNo++
			return line, nil
		}
	}
}

// exitError says how the process ended, once its output closed.
func (cc *commandClient) exitError() error {
	select {
	case <-cc.exited:
	case <-time.After(commandExitWait):
		return errors.New("closed its output")
	}
	if st := cc.cmd.ProcessState; st != nil {
		return fmt.Errorf("exited (%v)", st)
	}
	return errors.New("exited")
}

// readAnswers reads answers until the output closes; a bad line ends
// the run.
func (cc *commandClient) readAnswers(r *bufio.Reader, out *os.File) {
	defer out.Close()
	for {
		line, err := cc.readLine(r)
		if err != nil {
			cc.fail(err, nil)
			return
		}
		at := time.Now()
		var a answer
		if err := json.Unmarshal(line, &a); err != nil || a.ID == nil || a.OK == nil {
			cc.fail(fmt.Errorf("line %d of its output is not an answer {\"id\": N, \"ok\": true|false, ...}", cc.lineNo), line)
			return
		}
		a.at = at
		cc.mu.Lock()
		req, ok := cc.pending[*a.ID]
		if !ok {
			cc.mu.Unlock()
			cc.fail(fmt.Errorf("line %d of its output answers id %d, which was never sent (or was answered already)", cc.lineNo, *a.ID), line)
			return
		}
		delete(cc.pending, *a.ID)
		switch {
		case !req.timedOut:
			req.ch <- a
		case req.idx >= 0:
			cc.rec.Late(req.idx, cc.late(a))
		default:
			req.late = &a
		}
		cc.mu.Unlock()
	}
}

// fail reports a protocol error (unless the harness is closing the
// client) and kills the process group.
func (cc *commandClient) fail(err error, line []byte) {
	cc.mu.Lock()
	closing := cc.closing
	cc.closing = true
	cc.mu.Unlock()
	if closing {
		return
	}
	if line != nil {
		err = fmt.Errorf("%w: %s", err, quoteLine(line))
	}
	cc.kill()
	cc.failed(cc.errorf("%w", err))
}

func (cc *commandClient) late(a answer) timeline.Late {
	l := timeline.Late{At: cc.rec.Since(a.at), Result: timeline.ResultOK}
	if !*a.OK {
		l.Result, l.Err = timeline.ResultFail, shortErr(errors.New(a.Error))
	}
	return l
}

// do sends one request and waits for its answer until ctx is done.
func (cc *commandClient) do(ctx context.Context, write bool, key string, seq int) opResult {
	req := &pendingReq{ch: make(chan answer, 1), idx: -1}
	cc.mu.Lock()
	if cc.closing {
		cc.mu.Unlock()
		return opResult{err: errors.New("client stopped"), notSent: true}
	}
	cc.next++
	id := cc.next
	cc.pending[id] = req
	cc.mu.Unlock()
	msg := map[string]any{"id": id, "op": "get", "key": key}
	if write {
		msg["op"], msg["value"] = "set", strconv.Itoa(seq)
	}
	b, _ := json.Marshal(msg)
	if err := cc.send(ctx, append(b, '\n')); err != nil {
		cc.mu.Lock()
		delete(cc.pending, id)
		cc.mu.Unlock()
		return opResult{err: fmt.Errorf("send request: %w", err), notSent: true}
	}
	select {
	case a := <-req.ch:
		return cc.result(a, write)
	case <-ctx.Done():
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	select {
	case a := <-req.ch: // came as the timeout struck
		return cc.result(a, write)
	default:
	}
	req.timedOut = true
	return opResult{err: errNoAnswer, after: func(i int) {
		cc.mu.Lock()
		defer cc.mu.Unlock()
		req.idx = i
		if req.late != nil {
			cc.rec.Late(i, cc.late(*req.late))
		}
	}}
}

// send writes a request line, bounded by ctx's deadline (a program that
// does not read its stdin cannot block the harness).
func (cc *commandClient) send(ctx context.Context, line []byte) error {
	cc.wmu.Lock()
	defer cc.wmu.Unlock()
	if d, ok := ctx.Deadline(); ok {
		cc.stdin.SetWriteDeadline(d)
	}
	_, err := cc.stdin.Write(line)
	return err
}

// redisErrCode matches an error reply's code: READONLY, LOADING, ERR...
var redisErrCode = regexp.MustCompile(`^[A-Z][A-Z_]{2,}( |$)`)

// result turns an answer into an outcome. An error answer is a definite
// failure when it is a Redis error reply (it starts with an upper-case
// code: READONLY, LOADING, MASTERDOWN, NOAUTH, ERR...) or says the
// connection was refused; any other is indeterminate (the command may
// have been applied).
func (cc *commandClient) result(a answer, write bool) opResult {
	var res opResult
	if a.Addr != "" && cc.cluster != nil {
		res.node, _ = cc.cluster.NodeByAddr(a.Addr)
	}
	if *a.OK {
		res.found = !write && a.Value != nil
		return res
	}
	msg := a.Error
	if msg == "" {
		msg = "error (no message)"
	}
	res.err = errors.New(msg)
	switch {
	case a.Sent != nil && !*a.Sent:
		res.notSent = true
	case redisErrCode.MatchString(msg):
		res.definite = true
	case strings.Contains(strings.ToLower(msg), "refused"):
		res.notSent = true
	}
	return res
}

// close does nothing: the process is shared, stopped by the spawner.
func (cc *commandClient) close() {}

// stop closes the program's stdin, waits a little for it to exit, and
// kills its process group.
func (cc *commandClient) stop(context.Context) {
	cc.mu.Lock()
	cc.closing = true
	cc.mu.Unlock()
	cc.stdin.Close()
	select {
	case <-cc.exited:
	case <-time.After(commandExitWait):
	}
	cc.kill()
	if cc.tmpDir != "" {
		os.RemoveAll(cc.tmpDir)
	}
}

// kill kills the process group (what the program started too; on
// Windows its process tree) and waits for the program, bounded.
func (cc *commandClient) kill() {
	proc.KillGroup(cc.cmd)
	cc.stdin.Close()
	select {
	case <-cc.exited:
	case <-time.After(commandExitWait):
	}
}

// quoteLine quotes a line for an error, cut to 200 bytes.
func quoteLine(b []byte) string {
	if len(b) > 200 {
		return strconv.Quote(string(b[:200])) + "..."
	}
	return strconv.Quote(string(b))
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.ToValidUTF8(t.b, []byte("?")))
}

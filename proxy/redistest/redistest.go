// Package redistest starts real redis-server and redis-sentinel processes on
// loopback for tests, as net/http/httptest starts HTTP servers: each on a
// free port, in its own temporary directory, with stop, kill, pause and
// restart on the same port.
//
// Tests that need Redis call Require: it skips when redis-server is not
// installed, unless REDISHA_REQUIRE_REDIS is set (CI sets it, so a missing
// binary fails there instead of hiding tests).
package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RequireEnv makes a missing redis-server a failure instead of a skip.
const RequireEnv = "REDISHA_REQUIRE_REDIS"

// TB is the part of testing.TB that Require uses.
type TB interface {
	Helper()
	Skip(args ...any)
	Fatal(args ...any)
}

// Require skips t when redis-server is not installed, or fails it when
// RequireEnv is set.
func Require(t TB) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv(RequireEnv) != "" {
			t.Fatal("redis-server not found and " + RequireEnv + " is set: install Debian's redis-server")
		}
		t.Skip("redis-server not installed (set " + RequireEnv + " to make this a failure)")
	}
}

// RequirePause skips t where Pause cannot freeze a process (Windows, which
// has no SIGSTOP).
func RequirePause(t TB) {
	t.Helper()
	if !canFreeze {
		t.Skip("Pause needs SIGSTOP, which " + runtime.GOOS + " does not have")
	}
}

// Options configure a Redis process.
type Options struct {
	// Password sets requirepass and masterauth; for a Sentinel, its own
	// requirepass (a master's password is a "sentinel auth-pass" line of
	// Args).
	Password string
	// Persistence enables RDB snapshots on shutdown (save 3600 1); off by
	// default, as an empty save line.
	Persistence bool
	// Args are extra redis-server arguments ("--key value" pairs).
	Args []string
	// Sentinel starts redis-sentinel instead of redis-server; Args then
	// become the config file's lines (the port line is added).
	Sentinel bool
}

// Linux sends Pdeathsig when the OS thread that started the child exits,
// not the process (go.dev/issue/27505), and the Go runtime may retire
// threads: a child started from an arbitrary goroutine can be killed at a
// random time. Every child is therefore started from one goroutine locked
// to a thread that lives as long as the process.
var spawnCh = func() chan func() {
	ch := make(chan func())
	go func() {
		runtime.LockOSThread()
		for f := range ch {
			f()
		}
	}()
	return ch
}()

func startOnSpawner(cmd *exec.Cmd) error {
	done := make(chan error)
	spawnCh <- func() { done <- cmd.Start() }
	return <-done
}

// Server is one running (or stopped) redis process.
type Server struct {
	Port     int
	Addr     string
	Password string
	Dir      string
	opts     Options

	mu  sync.Mutex
	cmd *exec.Cmd
	// exited is closed when the current process exits.
	exited chan struct{}
}

// Start launches a process on a free loopback port and waits until it
// answers PING.
func Start(ctx context.Context, opts Options) (*Server, error) {
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return nil, fmt.Errorf("start redis: %w", err)
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s := &Server{Port: port, Addr: "127.0.0.1:" + strconv.Itoa(port), Password: opts.Password, Dir: dir, opts: opts}
		if err := s.Start(ctx); err != nil {
			lastErr = err
			continue
		}
		return s, nil
	}
	os.RemoveAll(dir)
	return nil, fmt.Errorf("start redis: %w", lastErr)
}

// freePort asks the kernel for a free loopback port. Another process may
// take it before redis binds it; Start retries then.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) args() ([]string, string, error) {
	if s.opts.Sentinel {
		conf := filepath.Join(s.Dir, "sentinel.conf")
		// Sentinel rewrites its file: keep it if it exists (restart).
		if _, err := os.Stat(conf); errors.Is(err, os.ErrNotExist) {
			lines := []string{"port " + strconv.Itoa(s.Port), "bind 127.0.0.1", "dir " + s.Dir}
			if s.Password != "" {
				lines = append(lines, "requirepass "+s.Password)
			}
			lines = append(lines, s.opts.Args...)
			if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
				return nil, "", err
			}
		}
		return []string{conf}, "redis-sentinel", nil
	}
	a := []string{
		"--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1", "--dir", s.Dir,
		"--appendonly", "no", "--protected-mode", "no", "--daemonize", "no",
		// Replicas sync at once instead of after Redis's 5 s default delay.
		"--repl-diskless-sync-delay", "0",
	}
	if s.opts.Persistence {
		a = append(a, "--save", "3600 1")
	} else {
		a = append(a, "--save", "")
	}
	if s.Password != "" {
		a = append(a, "--requirepass", s.Password, "--masterauth", s.Password)
	}
	return append(a, s.opts.Args...), "redis-server", nil
}

// Start (re)starts the process on its port, keeping its directory (and so
// its snapshot, if any), and waits until it answers.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return fmt.Errorf("redis on port %d is already running", s.Port)
	}
	args, bin, err := s.args()
	if err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = s.Dir
	logf, err := os.OpenFile(filepath.Join(s.Dir, "redis.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := startOnSpawner(cmd); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(exited) }()
	s.cmd, s.exited = cmd, exited
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := s.ping(ctx); err == nil {
			return nil
		}
		select {
		case <-exited:
			s.cmd = nil
			return fmt.Errorf("%s on port %d exited at start: %s", bin, s.Port, s.logTail())
		case <-ctx.Done():
			s.killLocked()
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.killLocked()
			return fmt.Errorf("%s on port %d did not answer PING within 10s: %s", bin, s.Port, s.logTail())
		}
	}
}

func (s *Server) logTail() string {
	return strings.Join(s.LogTail(5), " | ")
}

// LogTail returns the last n lines of the process's log (all its starts),
// for a failing test to show.
func (s *Server) LogTail(n int) []string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "redis.log"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}

func (s *Server) ping(ctx context.Context) error {
	c, err := net.DialTimeout("tcp", s.Addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	cmd := "PING\r\n"
	if s.Password != "" {
		cmd = "AUTH " + s.Password + "\r\nPING\r\n"
	}
	if _, err := c.Write([]byte(cmd)); err != nil {
		return err
	}
	rd := bufio.NewReader(c)
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			return err
		}
		if strings.HasPrefix(line, "+PONG") {
			return nil
		}
		if strings.HasPrefix(line, "-") && !strings.HasPrefix(line, "-LOADING") {
			return errors.New(strings.TrimSpace(line))
		}
		if strings.HasPrefix(line, "-LOADING") {
			return errors.New("loading")
		}
	}
}

// ErrPauseUnsupported is what Pause and Resume wrap where a process
// cannot be frozen (Windows: there is no SIGSTOP).
var ErrPauseUnsupported = fmt.Errorf("freezing a process (SIGSTOP) is not available on %s: %w", runtime.GOOS, errors.ErrUnsupported)

// withProcess calls f on the running process.
func (s *Server) withProcess(f func(*os.Process) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return fmt.Errorf("redis on port %d is not running", s.Port)
	}
	return f(s.cmd.Process)
}

// Kill stops the process with SIGKILL and waits for it to exit.
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.killLocked()
}

func (s *Server) killLocked() error {
	if s.cmd == nil {
		return nil
	}
	resume(s.cmd.Process)
	s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
	return nil
}

// Stop sends SIGTERM (Redis's graceful shutdown, which saves a snapshot
// when persistence is on) and waits up to timeout before killing. On
// Windows, which has no SIGTERM, it kills at once (no snapshot).
func (s *Server) Stop(timeout time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	if terminate(s.cmd.Process) != nil {
		s.cmd.Process.Kill() // no SIGTERM (Windows): no graceful shutdown
	}
	select {
	case <-s.exited:
	case <-time.After(timeout):
		s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
	return nil
}

// Pause freezes the process (SIGSTOP), as docker pause does: connections
// stay open and nothing is answered. Unix only: on Windows it returns an
// error that wraps ErrPauseUnsupported (tests that pause skip there).
func (s *Server) Pause() error {
	if err := s.withProcess(freeze); err != nil {
		return fmt.Errorf("pause redis on port %d: %w", s.Port, err)
	}
	return nil
}

// Resume continues a paused process (Unix only, as Pause).
func (s *Server) Resume() error {
	if err := s.withProcess(resume); err != nil {
		return fmt.Errorf("resume redis on port %d: %w", s.Port, err)
	}
	return nil
}

// Running reports whether the process is up.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// Close kills the process and removes its directory.
func (s *Server) Close() {
	s.Kill()
	os.RemoveAll(s.Dir)
}

// Client returns a go-redis client for the process.
func (s *Server) Client() *redis.Client {
	opt := &redis.Options{Addr: s.Addr, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second}
	opt.Password = s.Password
	return redis.NewClient(opt)
}

// Do runs one command on a fresh connection.
func (s *Server) Do(ctx context.Context, args ...any) (any, error) {
	c := s.Client()
	defer c.Close()
	return c.Do(ctx, args...).Result()
}

// ReplicaOf makes s a replica of m (or a master when m is nil) and, for a
// replica, waits until its link is up.
func (s *Server) ReplicaOf(ctx context.Context, m *Server) error {
	if m == nil {
		_, err := s.Do(ctx, "REPLICAOF", "NO", "ONE")
		return err
	}
	if _, err := s.Do(ctx, "REPLICAOF", "127.0.0.1", strconv.Itoa(m.Port)); err != nil {
		return err
	}
	// In sync when the replica's link is up and the master lists it as
	// online (after its first REPLCONF ACK: only then does ROLE show it).
	deadline := time.Now().Add(10 * time.Second)
	online := fmt.Sprintf("port=%d,state=online", s.Port)
	for time.Now().Before(deadline) {
		info, err := s.Do(ctx, "INFO", "replication")
		minfo, merr := m.Do(ctx, "INFO", "replication")
		if err == nil && merr == nil && strings.Contains(fmt.Sprint(info), "master_link_status:up") &&
			strings.Contains(fmt.Sprint(minfo), online) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("replica %s did not sync with %s within 10s", s.Addr, m.Addr)
}

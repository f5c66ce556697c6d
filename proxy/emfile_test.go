//go:build linux

package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// emfileChildEnv makes TestAcceptLoopsInAChildRunningOutOfDescriptors run:
// it is the child process of TestAcceptLoopsSurviveRunningOutOfDescriptors,
// with the address of the Redis stand-in as its value.
const emfileChildEnv = "REDISHA_TEST_EMFILE_CHILD"

// TestAcceptLoopsSurviveRunningOutOfDescriptors runs the proxy in a child
// process (this test binary again) that uses up its descriptors, while
// this process connects to its frontend, stats listener and runtime API:
// the accept loops must log, wait without spinning, and serve the waiting
// clients once the child frees its descriptors. The child lowers its own
// RLIMIT_NOFILE, so nothing in this process is starved.
//
// The exchange, one line each way on the child's stdout and stdin:
// child "emfile: starved fe=A stats=B cli=C", parent "dialed", child
// "emfile: freed", parent "done".
func TestAcceptLoopsSurviveRunningOutOfDescriptors(t *testing.T) {
	if os.Getenv(emfileChildEnv) != "" {
		t.Skip("in the child")
	}
	backend := pongServer(t)
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestAcceptLoopsInAChildRunningOutOfDescriptors$", "-test.v", "-test.count=1", "-test.timeout=60s")
	cmd.Env = append(os.Environ(), emfileChildEnv+"="+backend)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	lines := bufio.NewScanner(stdout)
	next := func(prefix string) string {
		t.Helper()
		for lines.Scan() {
			all.WriteString(lines.Text() + "\n")
			if rest, ok := strings.CutPrefix(lines.Text(), prefix); ok {
				return rest
			}
		}
		stdin.Close()
		cmd.Wait()
		t.Fatalf("child ended before %q:\n%s%s", prefix, all.String(), stderr.String())
		return ""
	}
	addrs := map[string]string{}
	for _, f := range strings.Fields(next("emfile: starved ")) {
		k, v, _ := strings.Cut(f, "=")
		addrs[k] = v
	}
	dial := func(addr string) net.Conn {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatalf("dial %s: %v", addr, err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	front, stats, cli := dial(addrs["fe"]), dial(addrs["stats"]), dial(addrs["cli"])
	front.Write([]byte("PING\r\n"))
	stats.Write([]byte("GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
	cli.Write([]byte("get weight back/redis1\n"))
	fmt.Fprintln(stdin, "dialed")
	next("emfile: freed")
	freed := time.Now()
	read := func(name string, c net.Conn, want string) {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil && err != io.EOF || !strings.HasPrefix(line, want) {
			t.Errorf("%s after descriptors were freed: got %q, %v, want %q", name, line, err, want)
		}
	}
	read("frontend", front, "+PONG")
	read("stats", stats, "HTTP/1.1 401")
	read("runtime API", cli, "1 (initial 1)")
	t.Logf("measured: the three clients served %v after the descriptors were freed", time.Since(freed).Round(time.Millisecond))
	fmt.Fprintln(stdin, "done")
	for lines.Scan() {
		all.WriteString(lines.Text() + "\n")
	}
	if err := cmd.Wait(); err != nil || !strings.Contains(all.String(), "--- PASS: TestAcceptLoopsInAChildRunningOutOfDescriptors") {
		t.Fatalf("child: %v\n%s%s", err, all.String(), stderr.String())
	}
	for _, l := range strings.Split(all.String(), "\n") {
		if strings.Contains(l, "measured:") {
			t.Log(strings.TrimSpace(l))
		}
	}
}

func TestAcceptLoopsInAChildRunningOutOfDescriptors(t *testing.T) {
	backend := os.Getenv(emfileChildEnv)
	if backend == "" {
		t.Skip("run by TestAcceptLoopsSurviveRunningOutOfDescriptors")
	}
	logs := &syncBuffer{}
	p, err := New(bareConfig(backend), Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	parent := bufio.NewScanner(os.Stdin)
	expect := func(want string) {
		t.Helper()
		if !parent.Scan() || parent.Text() != want {
			t.Fatalf("from the parent: got %q, want %q", parent.Text(), want)
		}
	}

	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	lim.Cur = 256
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	// Use up every descriptor.
	var fillers []*os.File
	defer func() {
		for _, f := range fillers {
			f.Close()
		}
	}()
	for {
		f, err := os.Open(os.DevNull)
		if errors.Is(err, syscall.EMFILE) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		fillers = append(fillers, f)
		if len(fillers) > 10000 {
			t.Fatal("RLIMIT_NOFILE has no effect")
		}
	}
	fmt.Printf("emfile: starved fe=%s stats=%s cli=%s\n", p.Frontend("fe").Addr(), p.StatsAddrs()[0], p.RuntimeAddrs()[0])
	expect("dialed")

	// Out of descriptors for a while: every listener says so, without
	// spinning.
	starved := time.Now()
	deadline := starved.Add(5 * time.Second)
	for !(strings.Contains(logs.String(), `msg="accept failed" frontend=fe`) &&
		strings.Contains(logs.String(), `msg="accept failed" stats_socket=`) &&
		strings.Contains(logs.String(), "http: Accept error")) {
		if time.Now().After(deadline) {
			t.Fatalf("no accept failure logged by every listener within 5s:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(time.Second)
	fails := strings.Count(logs.String(), `msg="accept failed"`) + strings.Count(logs.String(), "http: Accept error")
	starvedFor := time.Since(starved)
	if fails > 60 {
		t.Errorf("%d accept failures logged in %v: the loops spin", fails, starvedFor)
	}
	for _, f := range fillers {
		f.Close()
	}
	fillers = nil
	fmt.Printf("measured: %d accept failures logged by the three listeners in %v without descriptors\n", fails, starvedFor.Round(time.Millisecond))
	fmt.Println("emfile: freed")
	expect("done")
}

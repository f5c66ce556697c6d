//go:build unix

package proc

import (
	"bufio"
	"context"
	"io"
	"os"
	"testing"
	"time"
)

// A shell line that outlives its timeout is killed with what it started:
// the background sleep, which holds the pipe's write end, dies too, so the
// pipe ends at once instead of in 60 s.
func TestKillGroupOnTimeoutKillsWhatTheShellStarted(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	cmd := ShellCommand(ctx, Shell("sleep 60 & echo started; wait"))
	cmd.Cancel = func() error { return KillGroup(cmd) }
	cmd.WaitDelay = time.Second
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd.Stdout = w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	br := bufio.NewReader(r)
	if line, err := br.ReadString('\n'); line != "started\n" {
		t.Fatalf("got %q (%v), want the started line", line, err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatal("got a clean exit, want the timeout's kill")
	}
	r.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(br); err != nil {
		t.Errorf("got %v reading the rest of the output, want its end: the background sleep outlived the kill", err)
	}
}

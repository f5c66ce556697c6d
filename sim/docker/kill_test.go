package docker

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/fault"
)

// The timing model's docker parameters (sim/model: KillDelay, then
// RefuseWindow before a dead node's address hangs) rest on this sequence:
// after a kill through the Docker API, the node's address first keeps
// accepting, then refuses connections (the process is gone, its network
// namespace not yet), then stops answering at all (the IP is gone). The
// test dials the node every 5 ms through a kill and checks the order; the
// times it logs are what the model's figures came from.
func TestKilledContainerAcceptsThenRefusesThenHangs(t *testing.T) {
	requireDocker(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	c := startPair(ctx, t)
	n := c.Nodes()[0].(*Container)
	addr := n.Addr()

	type phase struct {
		outcome string
		from    time.Duration
	}
	var phases []phase
	kill := make(chan error, 1)
	t0 := time.Now()
	go func() { kill <- n.Do(ctx, fault.Kill) }()
	killed := false
	// Bounded: 3 s of dials, each at most 200 ms.
	for time.Since(t0) < 3*time.Second {
		at := time.Since(t0)
		conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		outcome := "accepts"
		var ne net.Error
		switch {
		case err == nil:
			conn.Close()
		case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET):
			// A dial that was in the listen backlog as the process died
			// is reset rather than refused (seen in CI at 12 ms after the
			// kill): it fails at once too, which is what the model's
			// refuse window stands for.
			outcome = "refuses"
		case errors.As(err, &ne) && ne.Timeout():
			outcome = "hangs"
		default:
			outcome = err.Error()
		}
		if len(phases) == 0 || phases[len(phases)-1].outcome != outcome {
			phases = append(phases, phase{outcome, at})
		}
		select {
		case err := <-kill:
			if err != nil {
				t.Fatalf("kill: %v", err)
			}
			killed = true
		default:
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !killed {
		if err := <-kill; err != nil {
			t.Fatalf("kill: %v", err)
		}
	}
	var seq []string
	for _, p := range phases {
		seq = append(seq, p.outcome)
		t.Logf("from %v: %s", p.from.Round(time.Millisecond), p.outcome)
	}
	want := []string{"accepts", "refuses", "hangs"}
	if len(seq) != len(want) || seq[0] != want[0] || seq[1] != want[1] || seq[2] != want[2] {
		t.Errorf("after a kill the address went %v, want %v", seq, want)
	}
}

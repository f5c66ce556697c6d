package proxy

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
	"time"
)

func TestLargeTransferArrivesWholeAndIsCounted(t *testing.T) {
	// More than one wake-up's worth of reads (maxReadsPerWake buffers),
	// in both directions at once, then a half-close that must follow the
	// data.
	const size = 3 << 20
	if size <= maxReadsPerWake*bufSize {
		t.Fatalf("size %d does not exceed one wake-up's reads (%d)", size, maxReadsPerWake*bufSize)
	}
	p := plainProxy(t, []string{tcpServer(t, echo)}, nil)
	sub := p.Events().Subscribe(64, 0)
	defer sub.Close()
	c := dial(t, p)
	msg := make([]byte, size)
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range msg {
		msg[i] = byte(rnd.Uint32())
	}
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(msg)
		if err == nil {
			err = c.CloseWrite()
		}
		werr <- err
	}()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read: %v after %d bytes", err, len(got))
	}
	if err := <-werr; err != nil {
		t.Fatalf("write: %v", err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("got %d bytes back, want the %d sent, unchanged", len(got), size)
	}
	e := sessionClose(t, sub)
	if e.BytesIn != size || e.BytesOut != size {
		t.Errorf("bytes in %d, out %d; want %d each", e.BytesIn, e.BytesOut, size)
	}
	if e.Termination != termNormal {
		t.Errorf("termination %q, want %q", e.Termination, termNormal)
	}
}

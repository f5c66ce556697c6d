package proxy

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/redisha-sim/redisha-sim/proxy/config"
)

// benchProxy proxies to a loopback echo server, or connects straight to it
// when direct is set, and returns the address to dial.
func benchTarget(b *testing.B, direct bool) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	if direct {
		return ln.Addr().String()
	}
	p, err := New(&config.Config{
		Frontends: []*config.Frontend{{Name: "fe", Binds: []config.Bind{{Addr: "127.0.0.1:0"}}, DefaultBackend: "be",
			Timeouts: config.Timeouts{Client: time.Minute}}},
		Backends: []*config.Backend{{Name: "be", Timeouts: config.Timeouts{Connect: time.Second, Server: time.Minute},
			Servers: []*config.Server{{Name: "echo", Addr: ln.Addr().String()}}}},
	}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	return p.Frontend("fe").Addr().String()
}

// benchRoundTrips sends size-byte messages and waits for each echo, as a
// Redis client without pipelining does.
func benchRoundTrips(b *testing.B, size int, direct bool) {
	c, err := net.Dial("tcp", benchTarget(b, direct))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	msg := make([]byte, size)
	buf := make([]byte, size)
	b.SetBytes(int64(2 * size))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRoundTrip64B(b *testing.B)       { benchRoundTrips(b, 64, false) }
func BenchmarkRoundTrip64BDirect(b *testing.B) { benchRoundTrips(b, 64, true) }
func BenchmarkRoundTrip4KB(b *testing.B)       { benchRoundTrips(b, 4096, false) }
func BenchmarkRoundTrip4KBDirect(b *testing.B) { benchRoundTrips(b, 4096, true) }

// benchStream measures bulk throughput: one side writes while the other
// reads the echo, the case where splice avoids copying through user space.
func benchStream(b *testing.B, direct bool) {
	c, err := net.Dial("tcp", benchTarget(b, direct))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	const chunk = 256 << 10
	msg := make([]byte, chunk)
	b.SetBytes(chunk)
	done := make(chan error, 1)
	go func() {
		_, err := io.CopyN(io.Discard, c, int64(b.N)*chunk)
		done <- err
	}()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

func BenchmarkStream(b *testing.B)       { benchStream(b, false) }
func BenchmarkStreamDirect(b *testing.B) { benchStream(b, true) }

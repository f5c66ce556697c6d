package proxy

import (
	"io"
	"net"
	"runtime"
	rtmetrics "runtime/metrics"
	"sync/atomic"
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

// BenchmarkIdleSessions reports what an idle routed session costs the Go
// runtime: goroutine stack bytes and heap bytes still live after a
// collection, per session, with 1000 sessions held open. The client and
// server ends live in this process too: the server accepts without a
// goroutine, so the stacks are the proxy's alone, but the heap figure
// includes the test's two connections per session. Unlike RSS, these do
// not depend on when the collector last ran. Every round adds 1000
// sessions (four descriptors each in this process): run it with
// -benchtime 1x to 3x.
func BenchmarkIdleSessions(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var held []net.Conn
	var accepted atomic.Int64
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
			accepted.Add(1)
		}
	}()
	b.Cleanup(func() {
		ln.Close()
		<-stopped
		for _, c := range held {
			c.Close()
		}
	})
	p, err := New(&config.Config{
		Frontends: []*config.Frontend{{Name: "fe", Binds: []config.Bind{{Addr: "127.0.0.1:0"}}, DefaultBackend: "be",
			Timeouts: config.Timeouts{Client: time.Minute}}},
		Backends: []*config.Backend{{Name: "be", Timeouts: config.Timeouts{Connect: time.Second, Server: time.Minute},
			Servers: []*config.Server{{Name: "s", Addr: ln.Addr().String()}}}},
	}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	addr := p.Frontend("fe").Addr().String()
	samples := []rtmetrics.Sample{{Name: "/memory/classes/heap/stacks:bytes"}, {Name: "/gc/heap/live:bytes"}}
	const n = 1000
	var stacks, heap float64
	for i := range b.N {
		runtime.GC()
		rtmetrics.Read(samples)
		s0, h0 := samples[0].Value.Uint64(), samples[1].Value.Uint64()
		conns := make([]net.Conn, 0, n)
		for range n {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			conns = append(conns, c)
		}
		// Every session routed (the server accepted n more), then a
		// moment for the directions to park.
		for deadline := time.Now().Add(10 * time.Second); accepted.Load() < int64(n)*int64(i+1); {
			if time.Now().After(deadline) {
				b.Fatalf("%d sessions routed, want %d", accepted.Load()-int64(n*i), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond)
		runtime.GC()
		rtmetrics.Read(samples)
		stacks += float64(samples[0].Value.Uint64()-s0) / n
		heap += float64(samples[1].Value.Uint64()-h0) / n
		// Sessions stay open until the end, so that none ends (and frees
		// memory) while a later round measures.
		b.Cleanup(func() {
			for _, c := range conns {
				c.Close()
			}
		})
	}
	b.ReportMetric(stacks/float64(b.N), "stack-B/session")
	b.ReportMetric(heap/float64(b.N), "heap-B/session")
}

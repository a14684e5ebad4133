package h2test

//lint:file-ignore SA1019 x/net/http2.Transport is deprecated for http.Transport, but only it can send the :protocol pseudo-header of an extended CONNECT (RFC 8441 section 4).

import (
	"context"
	"crypto/tls"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"wsraise/wsproto"
)

// WebSockets over HTTP/2 against WebSockets over HTTP/1.1, both over TLS
// to the same httptest server, which answers h2 to a client that
// negotiates it and HTTP/1.1 to one that does not. The CPU figures are
// the whole process's: client and server together.

// sockets is how many WebSockets BenchmarkOpenOver* opens per iteration.
const sockets = 100

// benchServer starts an echo server over TLS with HTTP/2 enabled and
// returns its wss:// URL.
func benchServer(b *testing.B) string {
	srv := httptest.NewUnstartedServer(echo(nil, nil, nil))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	b.Cleanup(srv.Close)
	return "wss" + strings.TrimPrefix(srv.URL, "https") + "/ws"
}

func h2Transport() *http2.Transport {
	return &http2.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
}

func h1Options() *wsproto.DialOptions {
	return &wsproto.DialOptions{TLSConfig: &tls.Config{InsecureSkipVerify: true}}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchOpen opens sockets WebSockets per iteration with opts, made anew
// for each iteration so that every iteration pays for its own TLS
// handshakes, then closes them all (close handshake) with the timer
// stopped. It reports the time and the CPU per WebSocket opened.
func benchOpen(b *testing.B, newOpts func() (*wsproto.DialOptions, func())) {
	url := benchServer(b)
	ctx := context.Background()
	conns := make([]*wsproto.Conn, 0, sockets)
	var wall, cpu time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		opts, done := newOpts()
		conns = conns[:0]
		b.StartTimer()
		start, cpu0 := time.Now(), cpuTime(b)
		for i := range sockets {
			c, _, err := wsproto.Dial(ctx, url, opts)
			if err != nil {
				b.Fatalf("WebSocket %d: %v", i, err)
			}
			conns = append(conns, c)
		}
		wall += time.Since(start)
		cpu += cpuTime(b) - cpu0
		b.StopTimer()
		for i, c := range conns {
			if err := c.Close(wsproto.StatusNormalClosure, ""); err != nil {
				b.Fatalf("WebSocket %d: Close: %v", i, err)
			}
		}
		done()
		b.StartTimer()
	}
	n := float64(b.N * sockets)
	b.ReportMetric(float64(wall.Nanoseconds())/n, "ns/socket")
	b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/socket")
}

// BenchmarkOpenOverHTTP2 opens all the WebSockets of an iteration on one
// HTTP/2 connection: one TLS handshake, then an extended CONNECT each.
func BenchmarkOpenOverHTTP2(b *testing.B) {
	benchOpen(b, func() (*wsproto.DialOptions, func()) {
		rt := h2Transport()
		return &wsproto.DialOptions{HTTP2: rt}, rt.CloseIdleConnections
	})
}

// BenchmarkOpenOverHTTP1TLS opens each WebSocket on its own TLS
// connection: a TLS handshake and an HTTP/1.1 Upgrade each.
func BenchmarkOpenOverHTTP1TLS(b *testing.B) {
	benchOpen(b, func() (*wsproto.DialOptions, func()) {
		return h1Options(), func() {}
	})
}

// benchEcho sends messages of 512 B and 16 KiB on one WebSocket and reads
// each echo back, reporting the CPU per round trip beside ns/op.
func benchEcho(b *testing.B, opts *wsproto.DialOptions) {
	url := benchServer(b)
	for _, size := range []struct {
		name string
		n    int
	}{{"512B", 512}, {"16KiB", 16 << 10}} {
		b.Run(size.name, func(b *testing.B) {
			ctx := context.Background()
			c, _, err := wsproto.Dial(ctx, url, opts)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close(wsproto.StatusNormalClosure, "")
			msg := make([]byte, size.n)
			for i := range msg {
				msg[i] = byte(i)
			}
			buf := make([]byte, 0, size.n)
			b.SetBytes(int64(size.n))
			b.ResetTimer()
			cpu0 := cpuTime(b)
			for range b.N {
				if err := c.Write(ctx, wsproto.MessageBinary, msg); err != nil {
					b.Fatal(err)
				}
				_, p, err := c.ReadAppend(ctx, buf[:0])
				if err != nil || len(p) != size.n {
					b.Fatalf("echo of %d bytes: %v", len(p), err)
				}
				buf = p
			}
			cpu := cpuTime(b) - cpu0
			b.StopTimer()
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/1e3, "cpu-us/op")
		})
	}
}

func BenchmarkEchoOverHTTP2(b *testing.B) {
	rt := h2Transport()
	defer rt.CloseIdleConnections()
	benchEcho(b, &wsproto.DialOptions{HTTP2: rt})
}

func BenchmarkEchoOverHTTP1TLS(b *testing.B) {
	benchEcho(b, h1Options())
}

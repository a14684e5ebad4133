package server_test

// Faults, hostile input and security checks against the server framework
// over loopback TCP. Each case asserts its defined end three ways: on the
// wire (what the faulty client reads), on the server (the handler's error
// and the one log record of the connection's end), and next to it (a
// healthy client of the same server keeps doing echo round trips during
// the fault and after it). The timeouts are the short ones of newFixture.
//
//	go test -race -run 'Faults|Hostile|Security' -v ./server  # with hostile_test.go's attacks
//	go test -race -run HostileInputCostsBoundedMemory/fragments -v ./server  # the million-fragment cases alone (always 1,000,000)

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"wsraise/internal/race"
	"wsraise/internal/rawpeer"
	"wsraise/server"
	"wsraise/wsproto"
)

// TestFaults: clients that misbehave at the TCP level or in time.
func TestFaults(t *testing.T) {
	cases := []struct {
		name string
		opts server.Options
		run  func(t *testing.T, f *fixture)
	}{
		{
			// The server's sends block once the socket buffers are full;
			// WriteTimeout cuts the connection: the peer sees 1006 and the
			// handler a *Disconnect with 1006, not a send blocked forever.
			name: "client stops reading: write timeout cuts it (1006)",
			run: func(t *testing.T, f *fixture) {
				p := rawpeer.Dial(t, f.addr, "/flood", "")
				f.expectDisconnect(t, "/flood", wsproto.StatusAbnormalClosure)
				f.expectEnd(t, "/flood", "none", 1006)
				if n := drainToEnd(t, p, fEnd); n < 64<<10 {
					t.Fatalf("only %d bytes before the end: the socket buffers were not full", n)
				}
			},
		},
		{
			name: "client vanishes mid-frame (FIN): 1006",
			run: func(t *testing.T, f *fixture) {
				p := rawpeer.Dial(t, f.addr, "/recv", "")
				b := rawpeer.Frame{Fin: true, Op: rawpeer.OpText, Payload: bytes.Repeat([]byte("x"), 1000)}.Mask().Encode()
				p.Write(b[:500])
				p.Conn.Close()
				f.expectDisconnect(t, "/recv", wsproto.StatusAbnormalClosure)
				f.expectEnd(t, "/recv", "none", 1006)
			},
		},
		{
			name: "client vanishes mid-header (RST): 1006",
			run: func(t *testing.T, f *fixture) {
				p := rawpeer.Dial(t, f.addr, "/recv", "")
				p.Write(rawpeer.Frame{Fin: true, Op: rawpeer.OpBinary, Length: 70000}.Mask().Encode()[:5])
				p.Conn.(*net.TCPConn).SetLinger(0) // close sends RST
				p.Conn.Close()
				f.expectDisconnect(t, "/recv", wsproto.StatusAbnormalClosure)
				f.expectEnd(t, "/recv", "none", 1006)
			},
		},
		{
			// A half-close without a close frame is the peer going away
			// abnormally: the server closes TCP at once, sending nothing.
			name: "client half-closes TCP without a close frame: 1006",
			run: func(t *testing.T, f *fixture) {
				p := rawpeer.Dial(t, f.addr, "/recv", "")
				p.Send(rawpeer.Text("last words"))
				p.Conn.(*net.TCPConn).CloseWrite()
				f.expectDisconnect(t, "/recv", wsproto.StatusAbnormalClosure)
				f.expectEnd(t, "/recv", "none", 1006)
				drainToEnd(t, p, fEnd)
			},
		},
		{
			// Section 5.5.2: the peer must answer pings; keepalive closes
			// one that does not with 1011.
			name: "client never answers pings: keepalive closes 1011",
			opts: server.Options{PingInterval: 100 * time.Millisecond, PongTimeout: 200 * time.Millisecond},
			run: func(t *testing.T, f *fixture) {
				p := rawpeer.Dial(t, f.addr, "/recv", "")
				pings := 0
				for {
					fr := p.Next()
					if fr.Op == rawpeer.OpPing {
						pings++
						continue
					}
					if fr.Op != rawpeer.OpClose || len(fr.Payload) < 2 {
						t.Fatalf("frame %#x %q, want pings then a close", fr.Op, fr.Payload)
					}
					code, reason := binary.BigEndian.Uint16(fr.Payload), string(fr.Payload[2:])
					if code != 1011 || reason != "keepalive ping timeout" {
						t.Fatalf("close %d %q, want 1011 keepalive ping timeout", code, reason)
					}
					break
				}
				if pings == 0 {
					t.Fatal("closed without a ping first")
				}
				p.AnswerClose(1011)
				f.expectDisconnect(t, "/recv", wsproto.StatusInternalError)
				r := f.expectEnd(t, "/recv", "server", 1011)
				if r.attrs["reason"] != "keepalive ping timeout" {
					t.Fatalf("logged reason %q", r.attrs["reason"])
				}
			},
		},
		{
			// net/http reads the request before the app sees it: the
			// slowloris defence is http.Server.ReadHeaderTimeout, which
			// closes the connection without an answer and without the app
			// ever running (so no record in its log).
			name: "handshake dribbled a byte at a time: ReadHeaderTimeout cuts it",
			run: func(t *testing.T, f *fixture) {
				start := time.Now() // the server's header timer starts after this
				nc := rawpeer.DialTCP(t, f.addr)
				req := rawpeer.Request(f.addr, "/recv", rawpeer.SampleKey, "")
				ended := make(chan error, 1)
				go func() {
					var b [1]byte
					nc.SetReadDeadline(time.Now().Add(fEnd))
					_, err := nc.Read(b[:])
					ended <- err
				}()
				sent := 0
			dribble:
				for sent < len(req) {
					nc.SetWriteDeadline(time.Now().Add(fEnd))
					if _, err := nc.Write([]byte{req[sent]}); err != nil {
						break
					}
					sent++
					select {
					case <-ended:
						ended <- nil
						break dribble
					case <-time.After(100 * time.Millisecond):
					}
				}
				err := <-ended
				if err != nil && !isEnd(err) {
					t.Fatalf("after %d of %d bytes: %v, want the server to close", sent, len(req), err)
				}
				if sent == len(req) {
					t.Fatalf("the whole dribbled request was read (%v)", time.Since(start))
				}
				if d := time.Since(start); d < fReadHeaderTimeout {
					t.Fatalf("cut after %v, before the header timeout", d)
				}
				if n := f.logs.count("/recv"); n != 0 {
					t.Fatalf("%d log records: the app saw the request", n)
				}
			},
		},
		{
			// The client's close is echoed (section 5.5.1) and TCP closed;
			// what it sends after its close is ignored.
			name: "client sends a close and keeps sending",
			run: func(t *testing.T, f *fixture) {
				p := rawpeer.Dial(t, f.addr, "/recv", "")
				p.Send(rawpeer.Close(1000, "bye"))
				for i := range 200 {
					p.Conn.SetWriteDeadline(time.Now().Add(rawpeer.Wait))
					if _, err := p.Conn.Write(p.Encode(rawpeer.Text("after close"))); err != nil {
						break
					}
					if i%20 == 0 {
						time.Sleep(5 * time.Millisecond)
					}
				}
				code, _ := p.ReadClose()
				if code != 1000 {
					t.Fatalf("close echo %d, want 1000", code)
				}
				drainToEnd(t, p, fEnd)
				f.expectDisconnect(t, "/recv", wsproto.StatusNormalClosure)
				r := f.expectEnd(t, "/recv", "client", 1000)
				if r.attrs["reason"] != "bye" {
					t.Fatalf("logged reason %q", r.attrs["reason"])
				}
			},
		},
		{
			// The server closes first; the client keeps sending data and
			// never answers: after CloseTimeout the server closes TCP.
			name: "client ignores the server's close and keeps sending",
			run: func(t *testing.T, f *fixture) {
				start := time.Now() // the server's close timer starts after this
				p := rawpeer.Dial(t, f.addr, "/raise", "")
				batch := bytes.Repeat(rawpeer.Binary(make([]byte, 100)).Mask().Encode(), 10)
				var werr error
				for range 2000 {
					p.Conn.SetWriteDeadline(time.Now().Add(rawpeer.Wait))
					if _, werr = p.Conn.Write(batch); werr != nil {
						break
					}
					time.Sleep(time.Millisecond)
				}
				if !isEnd(werr) {
					t.Fatalf("writes ended with %v, want the server to close TCP", werr)
				}
				if d := time.Since(start); d < fCloseTimeout {
					t.Fatalf("TCP closed after %v, before the close timeout", d)
				}
				code, reason := p.ReadClose()
				if code != 1008 || reason != "policy" {
					t.Fatalf("close %d %q, want 1008 policy", code, reason)
				}
				f.expectEnd(t, "/raise", "server", 1008)
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, c.opts)
			h := startHealthy(t, f.addr)
			c.run(t, f)
			h.finish()
		})
	}
}

// allocBound is the generous bound on what the whole process may allocate
// during one hostile case: the server's share of it must not grow with
// what the peer announces or sends.
const allocBound = 4 << 20

// TestHostileInputCostsBoundedMemory: input built to exhaust memory or
// CPU, or to crash.
func TestHostileInputCostsBoundedMemory(t *testing.T) {
	t.Run("frames announcing huge lengths", func(t *testing.T) {
		f := newFixture(t, server.Options{})
		h := startHealthy(t, f.addr)
		cases := []struct {
			name  string
			bytes func() []byte
			code  uint16
		}{
			// Section 5.2: "the most significant bit MUST be 0".
			{"single frame of 2^63 bytes", func() []byte { return rawpeer.Frame{Fin: true, Op: rawpeer.OpBinary, Length: 1 << 63}.Mask().Encode() }, 1002},
			{"single frame of 2^64-1 bytes", func() []byte {
				return rawpeer.Frame{Fin: true, Op: rawpeer.OpBinary, Length: 1<<64 - 1}.Mask().Encode()
			}, 1002},
			// Section 10.4: over the read limit (16 MiB), 1009 before any
			// payload is read or room is made for it.
			{"single frame of 2^63-1 bytes", func() []byte {
				return rawpeer.Frame{Fin: true, Op: rawpeer.OpBinary, Length: 1<<63 - 1}.Mask().Encode()
			}, 1009},
			{"text frame of 2^62 bytes", func() []byte { return rawpeer.Frame{Fin: true, Op: rawpeer.OpText, Length: 1 << 62}.Mask().Encode() }, 1009},
			{"frame of 16 MiB + 1", func() []byte {
				return rawpeer.Frame{Fin: true, Op: rawpeer.OpBinary, Length: 16<<20 + 1}.Mask().Encode()
			}, 1009},
			{"fragments adding up to 16 MiB + 1", func() []byte {
				b := append(rawpeer.Frame{Op: rawpeer.OpBinary, Length: 64 << 10}.Mask().Encode(), make([]byte, 64<<10)...)
				return append(b, rawpeer.Frame{Fin: true, Op: rawpeer.OpCont, Length: 16<<20 - 64<<10 + 1}.Mask().Encode()...)
			}, 1009},
			{"continuation of 2^63-1 after 10 bytes", func() []byte {
				b := append(rawpeer.Frame{Op: rawpeer.OpBinary, Length: 10}.Mask().Encode(), make([]byte, 10)...)
				return append(b, rawpeer.Frame{Fin: true, Op: rawpeer.OpCont, Length: 1<<63 - 1}.Mask().Encode()...)
			}, 1009},
			// Section 5.5: control frames have at most 125 bytes.
			{"ping of 2^63-1 bytes", func() []byte { return rawpeer.Frame{Fin: true, Op: rawpeer.OpPing, Length: 1<<63 - 1}.Mask().Encode() }, 1002},
			{"close of 65535 bytes", func() []byte { return rawpeer.Frame{Fin: true, Op: rawpeer.OpClose, Length: 65535}.Mask().Encode() }, 1002},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				b := c.bytes()
				var code uint16
				alloc := allocDuring(func() {
					p := rawpeer.Dial(t, f.addr, "/count", "")
					p.Write(b)
					code, _ = p.ReadClose()
					p.AnswerClose(code)
					p.Conn.Close()
					f.expectEnd(t, "/count", "server", int(c.code))
				})
				if code != c.code {
					t.Fatalf("close %d, want %d", code, c.code)
				}
				f.expectDisconnect(t, "/count", wsproto.StatusCode(c.code))
				if alloc > allocBound {
					t.Fatalf("%d bytes allocated, want under %d", alloc, allocBound)
				}
				t.Logf("allocated %d bytes", alloc)
			})
		}
		h.finish()
	})

	// A message in a great many tiny fragments (section 5.4 sets no limit
	// on their number) is delivered whole; memory follows the message's
	// size (bounded by the read limit), never the count of frames.
	t.Run("a million tiny fragments", func(t *testing.T) {
		const n = 1_000_000
		for _, size := range []int{1, 0} {
			t.Run(strconv.Itoa(size)+"-byte fragments", func(t *testing.T) {
				f := newFixture(t, server.Options{})
				h := startHealthy(t, f.addr)
				const perBatch = 1000
				batch := bytes.Repeat(rawpeer.Frame{Op: rawpeer.OpCont, Payload: make([]byte, size)}.Mask().Encode(), perBatch)
				first := rawpeer.Frame{Op: rawpeer.OpText, Payload: []byte("a")}.Mask().Encode()
				last := rawpeer.Frame{Fin: true, Op: rawpeer.OpCont}.Mask().Encode()
				p := rawpeer.Dial(t, f.addr, "/count", "")
				want := strconv.Itoa(1 + size*(n/perBatch*perBatch))
				start := time.Now()
				alloc := allocDuring(func() {
					p.Write(first)
					for range n / perBatch {
						p.Write(batch)
					}
					p.Write(last)
					p.ExpectText(want)
				})
				took := time.Since(start)
				p.CloseNormally()
				f.expectEnd(t, "/count", "client", 1000)
				h.finish()
				bound := uint64(allocBound + 8*size*n)
				if alloc > bound {
					t.Fatalf("%d fragments: %d bytes allocated, want under %d", n, alloc, bound)
				}
				t.Logf("%d fragments of %d bytes in %v, %d bytes allocated", n+1, size, took, alloc)
			})
		}
	})

	// Section 5.5.2: every ping is answered with a pong carrying its
	// payload, in order, as long as the peer reads them.
	t.Run("ping flood, peer reading", func(t *testing.T) {
		f := newFixture(t, server.Options{})
		h := startHealthy(t, f.addr)
		const perBatch, batches = 100, 100
		var batch, pongs []byte
		for i := range perBatch {
			payload := bytes.Repeat([]byte{byte(i)}, 125)
			batch = append(batch, rawpeer.Ping(payload).Mask().Encode()...)
			pongs = append(pongs, rawpeer.Pong(payload).Encode()...)
		}
		p := rawpeer.Dial(t, f.addr, "/recv", "")
		got := make([]byte, len(pongs))
		alloc := allocDuring(func() {
			for i := range batches {
				p.Write(batch)
				p.Conn.SetReadDeadline(time.Now().Add(rawpeer.Wait))
				if _, err := io.ReadFull(p.R, got); err != nil {
					t.Fatalf("batch %d: %v", i, err)
				}
				if !bytes.Equal(got, pongs) {
					t.Fatalf("batch %d: pongs differ from the pings", i)
				}
			}
		})
		p.CloseNormally()
		f.expectEnd(t, "/recv", "client", 1000)
		h.finish()
		bound := uint64(allocBound)
		if race.Enabled {
			bound += 2048 * perBatch * batches // a 4 KiB read buffer every fourth ping
		}
		if alloc > bound {
			t.Fatalf("%d pings: %d bytes allocated, want under %d", perBatch*batches, alloc, bound)
		}
		t.Logf("%d pings answered, %d bytes allocated", perBatch*batches, alloc)
	})

	// A peer that floods pings and reads nothing: the pongs fill the
	// socket buffers, and the server's write timeout cuts the connection
	// (1006) instead of leaving its reading goroutine blocked forever.
	for _, keepalive := range []bool{false, true} {
		name := "ping flood, peer not reading"
		opts := server.Options{}
		if keepalive {
			name += ", keepalive on"
			opts.PingInterval, opts.PongTimeout = 200*time.Millisecond, 200*time.Millisecond
		}
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, opts)
			h := startHealthy(t, f.addr)
			var batch []byte
			for range 100 {
				batch = append(batch, rawpeer.Ping(make([]byte, 125)).Mask().Encode()...)
			}
			p := rawpeer.Dial(t, f.addr, "/recv", "")
			p.Conn.SetWriteDeadline(time.Now().Add(fEnd))
			var werr error
			written := 0
			alloc := allocDuring(func() {
				for range 100_000 {
					var n int
					n, werr = p.Conn.Write(batch)
					written += n
					if werr != nil {
						break
					}
				}
			})
			if !isEnd(werr) {
				t.Fatalf("flood ended with %v after %d bytes, want the server to cut the connection", werr, written)
			}
			// Keepalive closes: its close frame goes out if the pongs
			// have left room for it (1011, then the close timeout), or
			// not (1006); either way within PongTimeout + CloseTimeout.
			end := f.ends.take(t, "/recv", fEnd)
			var d *server.Disconnect
			if !errors.As(end.err, &d) || d.Code != wsproto.StatusAbnormalClosure && d.Code != wsproto.StatusInternalError {
				t.Fatalf("handler returned %v, want a disconnect with 1006 or 1011", end.err)
			}
			if d.Code == wsproto.StatusInternalError {
				f.expectEnd(t, "/recv", "server", 1011)
			} else {
				f.expectEnd(t, "/recv", "none", 1006)
			}
			h.finish()
			bound := uint64(allocBound)
			if race.Enabled {
				bound += 2048 * uint64(written/131) // see the reading case
			}
			if alloc > bound {
				t.Fatalf("%d bytes allocated, want under %d", alloc, bound)
			}
			t.Logf("cut after %d bytes of pings, %d bytes allocated", written, alloc)
		})
	}

	// net/http reads at most MaxHeaderBytes of a request's headers (1 MiB
	// by default) and answers 431 beyond; the app never sees the request.
	// Its net/textproto allocates up to about 7 times the limit for one
	// long line, so the bound follows the server's MaxHeaderBytes.
	for _, limit := range []int{0, 64 << 10} {
		name := "oversized headers, MaxHeaderBytes " + strconv.Itoa(limit)
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, server.Options{}, func(s *http.Server) { s.MaxHeaderBytes = limit })
			h := startHealthy(t, f.addr)
			bound := uint64(allocBound)
			if limit == 0 {
				bound = 2 * allocBound
			}
			line := "X-Pad: " + strings.Repeat("p", 1000) + "\r\n"
			for _, req := range []struct {
				name string
				b    []byte
			}{
				{"2 MiB of 1 KiB lines", []byte(rawpeer.Request(f.addr, "/echo", rawpeer.SampleKey, strings.Repeat(line, 2<<20/len(line))))},
				{"one 2 MiB line", []byte(rawpeer.Request(f.addr, "/echo", rawpeer.SampleKey, "X-Big: "+strings.Repeat("b", 2<<20)+"\r\n"))},
			} {
				var status int
				var err error
				alloc := allocDuring(func() {
					nc := rawpeer.DialTCP(t, f.addr)
					go func() {
						nc.SetWriteDeadline(time.Now().Add(fEnd))
						nc.Write(req.b) // fails once the server closes
					}()
					status, _, err = httpStatus(nc, fEnd)
					nc.Close()
				})
				if status != http.StatusRequestHeaderFieldsTooLarge {
					t.Fatalf("%s: status %d (%v), want 431", req.name, status, err)
				}
				if alloc > bound {
					t.Fatalf("%s: %d bytes allocated, want under %d", req.name, alloc, bound)
				}
				t.Logf("%s: 431, %d bytes allocated", req.name, alloc)
			}
			if n := f.logs.count("/echo"); n != 0 {
				t.Fatalf("%d log records: the app saw the request", n)
			}
			h.finish()
		})
	}
}

// TestHostileInvalidUTF8ClosesWith1007 puts one invalid byte at every
// offset of a 1 KiB text message, sent whole and in 100-byte fragments:
// each must close with 1007 (RFC 6455 section 8.1), wherever the byte
// falls in a frame.
func TestHostileInvalidUTF8ClosesWith1007(t *testing.T) {
	f := newFixture(t, server.Options{})
	h := startHealthy(t, f.addr)
	const size = 1024
	type job struct {
		offset     int
		fragmented bool
	}
	jobs := make(chan job)
	errs := make(chan error, 2)
	var wg sync.WaitGroup
	for range 2 { // two workers: the machine has two cores
		wg.Go(func() {
			for j := range jobs {
				if err := badUTF8Case(f.addr, size, j.offset, j.fragmented); err != nil {
					errs <- fmt.Errorf("offset %d, fragmented %v: %w", j.offset, j.fragmented, err)
					for range jobs {
					}
					return
				}
			}
		})
	}
	for _, fragmented := range []bool{false, true} {
		for i := range size {
			jobs <- job{i, fragmented}
		}
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i := range 2 * size {
		r := f.expectEnd(t, "/recv", "server", 1007)
		if r.attrs["reason"] != "invalid UTF-8 in text message" {
			t.Fatalf("record %d: reason %q", i, r.attrs["reason"])
		}
		f.expectDisconnect(t, "/recv", wsproto.StatusInvalidPayload)
	}
	h.finish()
	t.Logf("%d connections closed with 1007", 2*size)
}

// badUTF8Case sends a text message of size bytes, valid but for 0xFF at
// offset, and expects a close with 1007. It reports instead of failing,
// for use from other goroutines.
func badUTF8Case(addr string, size, offset int, fragmented bool) error {
	msg := bytes.Repeat([]byte("a"), size)
	msg[offset] = 0xFF
	var frames []byte
	if !fragmented {
		frames = rawpeer.Frame{Fin: true, Op: rawpeer.OpText, Payload: msg}.Mask().Encode()
	} else {
		op := byte(rawpeer.OpText)
		for start := 0; start < size; start += 100 {
			end := min(start+100, size)
			frames = append(frames, rawpeer.Frame{Fin: end == size, Op: op, Payload: msg[start:end]}.Mask().Encode()...)
			op = rawpeer.OpCont
		}
	}
	nc, err := net.DialTimeout("tcp", addr, rawpeer.Wait)
	if err != nil {
		return err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(rawpeer.Wait))
	if _, err := io.WriteString(nc, rawpeer.Request(addr, "/recv", rawpeer.SampleKey, "")); err != nil {
		return err
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return fmt.Errorf("handshake: %s", resp.Status)
	}
	if _, err := nc.Write(frames); err != nil {
		return err
	}
	fr, err := rawpeer.ReadFrame(br)
	if err != nil {
		return err
	}
	if fr.Op != rawpeer.OpClose || len(fr.Payload) < 2 || binary.BigEndian.Uint16(fr.Payload) != 1007 {
		return fmt.Errorf("frame %#x %q, want a close with 1007", fr.Op, fr.Payload)
	}
	nc.Write(rawpeer.Frame{Fin: true, Op: rawpeer.OpClose, Payload: fr.Payload[:2]}.Mask().Encode())
	if _, err := br.ReadByte(); !isEnd(err) {
		return fmt.Errorf("after the close: %v, want the end of the connection", err)
	}
	return nil
}

// TestHostileBadHandshakesAreRefused floods the server with bad
// handshakes, many at a time, while a healthy client keeps working: each
// gets its HTTP status, or, if it never finishes its request, is cut by
// ReadHeaderTimeout with no answer. The leak check of TestMain then finds
// no goroutine left.
func TestHostileBadHandshakesAreRefused(t *testing.T) {
	f := newFixture(t, server.Options{})
	h := startHealthy(t, f.addr)
	a := f.addr
	kinds := []struct {
		name   string
		req    string
		status int  // 0: no answer
		cut    bool // ended by the header timeout
	}{
		{"garbage", "\x00\x01\x02 garbage \xff\r\n\r\n", http.StatusBadRequest, false},
		{"partial request line", "GET /echo HT", http.StatusBadRequest, true},
		{"headers never ended", "GET /echo HTTP/1.1\r\nHost: " + a + "\r\nUpgrade: websocket\r\n", 0, true},
		{"not an upgrade", "GET /echo HTTP/1.1\r\nHost: " + a + "\r\n\r\n", http.StatusUpgradeRequired, false},
		{"POST", "POST /echo HTTP/1.1\r\nHost: " + a + "\r\nContent-Length: 0\r\n\r\n", http.StatusMethodNotAllowed, false},
		{"HTTP/1.0", strings.Replace(rawpeer.Request(a, "/echo", rawpeer.SampleKey, ""), "HTTP/1.1", "HTTP/1.0", 1), http.StatusUpgradeRequired, false},
		{"version 8", strings.Replace(rawpeer.Request(a, "/echo", rawpeer.SampleKey, ""), "Version: 13", "Version: 8", 1), http.StatusUpgradeRequired, false},
		{"bad key", strings.Replace(rawpeer.Request(a, "/echo", rawpeer.SampleKey, ""), rawpeer.SampleKey, "short", 1), http.StatusBadRequest, false},
		{"two keys", rawpeer.Request(a, "/echo", rawpeer.SampleKey, "Sec-WebSocket-Key: "+rawpeer.SampleKey+"\r\n"), http.StatusBadRequest, false},
		{"cross origin", rawpeer.Request(a, "/echo", rawpeer.SampleKey, "Origin: https://evil.example\r\n"), http.StatusForbidden, false},
		{"unknown path", rawpeer.Request(a, "/nowhere", rawpeer.SampleKey, ""), http.StatusNotFound, false},
		{"no Host", "GET /echo HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", http.StatusBadRequest, false},
	}
	const perKind, concurrent = 20, 24
	sem := make(chan struct{}, concurrent)
	errs := make(chan error, len(kinds)*perKind)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range perKind {
		for _, k := range kinds {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				if err := badHandshake(a, k.req, k.status, k.cut); err != nil {
					errs <- fmt.Errorf("%s #%d: %w", k.name, i, err)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	h.finish()
	// The app logs the refusals it makes itself (the cross-origin ones),
	// and nothing for those net/http answers first.
	for range perKind {
		r := f.logs.take(t, "/echo", fEnd)
		if r.attrs["status"] != "403" {
			t.Fatalf("log record %v, want a 403 refusal", r.attrs)
		}
	}
	t.Logf("%d bad handshakes, %d at a time, in %v", len(kinds)*perKind, concurrent, time.Since(start))
}

// badHandshake sends req and expects status, or, for 0, the connection
// closed without an answer; if cut, not before the header timeout.
func badHandshake(addr, req string, status int, cut bool) error {
	sent := time.Now() // the server's header timer starts after this
	nc, err := net.DialTimeout("tcp", addr, rawpeer.Wait)
	if err != nil {
		return err
	}
	defer nc.Close()
	nc.SetWriteDeadline(time.Now().Add(rawpeer.Wait))
	if _, err := io.WriteString(nc, req); err != nil {
		return err
	}
	got, body, err := httpStatus(nc, fEnd)
	switch {
	case status == 0 && err == nil:
		return fmt.Errorf("answered %d %q to an unfinished request", got, body)
	case status == 0 && !isEnd(err):
		return fmt.Errorf("%v, want the connection cut", err)
	case cut && time.Since(sent) < fReadHeaderTimeout:
		return fmt.Errorf("cut after %v, before the header timeout", time.Since(sent))
	case status != 0 && got != status:
		return fmt.Errorf("status %d %q (%v), want %d", got, body, err, status)
	}
	return nil
}

// TestSecurity: the default refuses cross-site handshakes, and the close
// reason never carries an error's text unless Options.Debug is set.
func TestSecurity(t *testing.T) {
	t.Run("origin", func(t *testing.T) {
		cases := []struct {
			origin   string
			patterns []string
			status   int
		}{
			{"", nil, http.StatusSwitchingProtocols}, // not a browser
			{"http://{host}", nil, http.StatusSwitchingProtocols},
			{"https://evil.example", nil, http.StatusForbidden},
			{"http://{host}.evil.example", nil, http.StatusForbidden},
			{"null", nil, http.StatusForbidden}, // sandboxed pages, files
			{"not a url", nil, http.StatusForbidden},
			{"https://app.example.com", []string{"*.example.com"}, http.StatusSwitchingProtocols},
			{"https://example.com.evil", []string{"*.example.com"}, http.StatusForbidden},
		}
		for _, c := range cases {
			t.Run(c.origin, func(t *testing.T) {
				f := newFixture(t, server.Options{OriginPatterns: c.patterns})
				origin := strings.ReplaceAll(c.origin, "{host}", f.addr)
				extra := ""
				if origin != "" {
					extra = "Origin: " + origin + "\r\n"
				}
				nc := rawpeer.DialTCP(t, f.addr)
				nc.SetWriteDeadline(time.Now().Add(rawpeer.Wait))
				io.WriteString(nc, rawpeer.Request(f.addr, "/recv", rawpeer.SampleKey, extra))
				status, body, err := httpStatus(nc, rawpeer.Wait)
				if status != c.status {
					t.Fatalf("status %d %q (%v), want %d", status, body, err, c.status)
				}
				if status == http.StatusForbidden {
					if body != "origin not allowed\n" {
						t.Fatalf("body %q", body)
					}
					r := f.logs.take(t, "/recv", fEnd)
					if r.attrs["status"] != "403" {
						t.Fatalf("log record %v, want a 403 refusal", r.attrs)
					}
				}
			})
		}
	})

	t.Run("no internal error text in the close reason", func(t *testing.T) {
		for _, debug := range []bool{false, true} {
			f := newFixture(t, server.Options{Debug: debug})
			for _, route := range []string{"/leak", "/leakpanic"} {
				c, err := f.dial(t, route)
				if err != nil {
					t.Fatal(err)
				}
				code, reason := closeOf(t, c)
				if code != wsproto.StatusInternalError {
					t.Fatalf("debug %v, %s: close %d %q, want 1011", debug, route, code, reason)
				}
				if leaked := strings.Contains(reason, "hunter2"); leaked != debug {
					t.Fatalf("debug %v, %s: close reason %q", debug, route, reason)
				}
				if !debug && reason != "Internal Error" {
					t.Fatalf("%s: close reason %q, want Internal Error", route, reason)
				}
				// The text is for the log, at error level.
				r := f.expectEnd(t, route, "server", 1011)
				if r.level != slog.LevelError || !strings.Contains(r.attrs["error"], secret) {
					t.Fatalf("%s: logged %v %v, want the error at error level", route, r.level, r.attrs)
				}
			}
			// Before accept: 500 with a generic body.
			_, err := f.dial(t, "/leakpre")
			var he *wsproto.HandshakeError
			if !errors.As(err, &he) || he.Status != http.StatusInternalServerError || strings.Contains(he.Body, "hunter2") {
				t.Fatalf("debug %v, /leakpre: %v, want a 500 without the error text", debug, err)
			}
			r := f.logs.take(t, "/leakpre", fEnd)
			if r.level != slog.LevelError || !strings.Contains(r.attrs["error"], secret) {
				t.Fatalf("/leakpre: logged %v %v, want the error at error level", r.level, r.attrs)
			}
		}
	})
}

// closeOf reads until the connection ends and returns the close code and
// reason the server sent.
func closeOf(t testing.TB, c *wsproto.Conn) (wsproto.StatusCode, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rawpeer.Wait)
	defer cancel()
	for range 100 {
		_, _, err := c.Read(ctx)
		var ce *wsproto.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Reason
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
	}
	t.Fatal("no close")
	return 0, ""
}

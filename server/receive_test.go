package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"testing"

	"wsraise/internal/race"
	"wsraise/server"
	"wsraise/server/wstest"
	"wsraise/wsproto"
)

// receiveSizes sit on both sides of the pooled buffer sizes (512 bytes and
// up, in powers of two), with a large message between small ones so that a
// buffer sized for it is reused for the next.
var receiveSizes = []int{0, 1, 511, 512, 513, 4096, 65535, 65536, 65537, 3 << 20, 7, 1 << 20, 100}

func receivePattern(i, size int) []byte {
	p := make([]byte, size)
	for j := range p {
		p[j] = byte(i*31 + j*7 + j>>8)
	}
	return p
}

// TestReceiveMethods sends messages of many sizes and has the handler take
// each with a different receive method. Every message must arrive whole,
// and what Receive and ReceiveBytes returned must still be intact after
// all the later messages: those slices are the caller's, never reused.
func TestReceiveMethods(t *testing.T) {
	methods := []string{"Receive", "ReceiveBytes", "ReceiveAppend", "ReceiveText", "ReceiveJSON"}
	_, srv, _ := serve(t, server.Options{}, func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		var kept [][]byte
		var keptAt []int
		var dst []byte
		for i, size := range receiveSizes {
			want := receivePattern(i, size)
			var got []byte
			switch method := methods[i%len(methods)]; method {
			case "Receive":
				typ, p, err := ws.Receive(ws.Context())
				if err != nil || typ != wsproto.MessageBinary {
					return fmt.Errorf("message %d: %v %v", i, typ, err)
				}
				got = p
				kept, keptAt = append(kept, p), append(keptAt, i)
			case "ReceiveBytes":
				p, err := ws.ReceiveBytes(ws.Context())
				if err != nil {
					return fmt.Errorf("message %d: %v", i, err)
				}
				got = p
				kept, keptAt = append(kept, p), append(keptAt, i)
			case "ReceiveAppend":
				typ, p, err := ws.ReceiveAppend(ws.Context(), dst[:0])
				if err != nil || typ != wsproto.MessageBinary {
					return fmt.Errorf("message %d: %v %v", i, typ, err)
				}
				got, dst = p, p
			case "ReceiveText":
				// The client sends this one as text: the pattern's bytes
				// are not UTF-8, so it sends their hex.
				s, err := ws.ReceiveText(ws.Context())
				if err != nil {
					return fmt.Errorf("message %d: %v", i, err)
				}
				got, want = []byte(s), fmt.Appendf(nil, "%x", want)
			case "ReceiveJSON":
				var v []byte // JSON: a base64 string
				if err := ws.ReceiveJSON(ws.Context(), &v); err != nil {
					return fmt.Errorf("message %d: %v", i, err)
				}
				got = v
			}
			if !bytes.Equal(got, want) {
				return server.Raise(4000, fmt.Sprintf("message %d (%d bytes) differs", i, size))
			}
		}
		for k, p := range kept {
			if !bytes.Equal(p, receivePattern(keptAt[k], receiveSizes[keptAt[k]])) {
				return server.Raise(4001, fmt.Sprintf("message %d changed after it was received", keptAt[k]))
			}
		}
		return ws.Close(wsproto.StatusNormalClosure, "all intact")
	})
	c := srv.Connect(t, "/ws")
	for i, size := range receiveSizes {
		p := receivePattern(i, size)
		switch methods[i%len(methods)] {
		case "ReceiveText":
			c.SendText(fmt.Sprintf("%x", p))
		case "ReceiveJSON":
			c.SendText(fmt.Sprintf("%q", bytesToBase64(p)))
		default:
			c.SendBytes(p)
		}
	}
	c.ExpectClose(wsproto.StatusNormalClosure, "all intact")
}

// TestReceiveAppendAllocs: a handler that receives into a reused slice
// allocates nothing per message in steady state (counted over the whole
// process, client included, whose writes allocate nothing either). 64 KiB
// fills its pooled buffer exactly, so the end of each message is found by
// the one-byte probe.
func TestReceiveAppendAllocs(t *testing.T) {
	if race.Enabled {
		t.Skip("allocations are counted without -race (.ci/run does)")
	}
	const warm, n = 20, 500
	for _, size := range []int{16, 4096, 64 << 10} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			result := make(chan float64, 1)
			_, srv, _ := serve(t, server.Options{}, func(ws *server.WebSocket) error {
				if err := ws.Accept(); err != nil {
					return err
				}
				var buf []byte
				var ms runtime.MemStats
				var before uint64
				for i := range warm + n {
					if i == warm {
						runtime.ReadMemStats(&ms)
						before = ms.Mallocs
					}
					_, p, err := ws.ReceiveAppend(ws.Context(), buf[:0])
					if err != nil {
						return err
					}
					buf = p
				}
				runtime.ReadMemStats(&ms)
				result <- float64(ms.Mallocs-before) / n
				return ws.Close(wsproto.StatusNormalClosure, "")
			})
			c := srv.Connect(t, "/ws")
			msg := receivePattern(1, size)
			ctx := context.Background()
			for range warm + n {
				if err := c.Conn.Write(ctx, wsproto.MessageBinary, msg); err != nil {
					t.Fatal(err)
				}
			}
			c.ExpectClose(wsproto.StatusNormalClosure, "")
			// A per-message allocation shows as 1 or more; other goroutines
			// of the test (the HTTP server, the client) add a few in all.
			if allocs := <-result; allocs > 0.25 {
				t.Errorf("%.2f allocations per message, want 0", allocs)
			}
		})
	}
}

func bytesToBase64(p []byte) string {
	b, _ := json.Marshal(p)
	return string(b[1 : len(b)-1])
}

// TestReceiveBytesTakesBinaryOnly: ReceiveBytes returns binary messages,
// empty ones too; a text message closes with 1003.
func TestReceiveBytesTakesBinaryOnly(t *testing.T) {
	t.Run("binary messages", func(t *testing.T) {
		got := make(chan []byte, 2)
		_, srv, rec := serve(t, server.Options{}, func(ws *server.WebSocket) error {
			if err := ws.Accept(); err != nil {
				return err
			}
			for range 2 {
				b, err := ws.ReceiveBytes(ws.Context())
				if err != nil {
					return err
				}
				got <- b
			}
			return ws.Close(wsproto.StatusNormalClosure, "got them")
		})
		c := srv.Connect(t, "/ws")
		msg := []byte{0x00, 0xff, 0xfe, 'h', 'i', 0x80} // not UTF-8: binary is not checked
		c.SendBytes(msg)
		c.SendBytes(nil)
		if b := within(t, got, "the first message"); string(b) != string(msg) {
			t.Errorf("ReceiveBytes % x, want % x", b, msg)
		}
		if b := within(t, got, "the empty message"); len(b) != 0 {
			t.Errorf("ReceiveBytes % x, want an empty message", b)
		}
		c.ExpectClose(wsproto.StatusNormalClosure, "got them")
		checkLog(t, rec.end(t), slog.LevelInfo, "server", 1000, "got them")
	})

	t.Run("a text message closes with 1003", func(t *testing.T) {
		errs := make(chan error, 1)
		_, srv, rec := serve(t, server.Options{}, func(ws *server.WebSocket) error {
			if err := ws.Accept(); err != nil {
				return err
			}
			_, err := ws.ReceiveBytes(ws.Context())
			errs <- err
			return err
		})
		c := srv.Connect(t, "/ws")
		c.SendText("hello")
		c.ExpectClose(wsproto.StatusUnsupportedData, "expected a binary message")
		checkUnsupported(t, within(t, errs, "ReceiveBytes"), "expected a binary message")
		checkLog(t, rec.end(t), slog.LevelInfo, "server", 1003, "expected a binary message")
	})
}

// TestReceiveTextRejectsBinary: ReceiveText returns a text message; a
// binary one closes with 1003.
func TestReceiveTextRejectsBinary(t *testing.T) {
	errs := make(chan error, 1)
	_, srv, rec := serve(t, server.Options{}, func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		s, err := ws.ReceiveText(ws.Context())
		if err != nil {
			errs <- err
			return err
		}
		if s != "first" {
			t.Errorf("ReceiveText %q, want \"first\"", s)
		}
		_, err = ws.ReceiveText(ws.Context())
		errs <- err
		return err
	})
	c := srv.Connect(t, "/ws")
	c.SendText("first")
	c.SendBytes([]byte("second, but binary"))
	c.ExpectClose(wsproto.StatusUnsupportedData, "expected a text message")
	checkUnsupported(t, within(t, errs, "ReceiveText"), "expected a text message")
	checkLog(t, rec.end(t), slog.LevelInfo, "server", 1003, "expected a text message")
}

// checkUnsupported checks the error a receive of the wrong type returned.
func checkUnsupported(t *testing.T, err error, reason string) {
	t.Helper()
	var wse *server.WebSocketException
	if !errors.As(err, &wse) || wse.Code != wsproto.StatusUnsupportedData || wse.Reason != reason {
		t.Errorf("receive returned %T %v, want a *server.WebSocketException 1003 %q", err, err, reason)
	}
	if got := server.CloseStatus(err); got != wsproto.StatusUnsupportedData {
		t.Errorf("CloseStatus %v, want 1003", got)
	}
}

// TestReceiveDefaultReadLimitIs16MiB: with Options.ReadLimit 0, a message of exactly
// wsproto.DefaultReadLimit (16 MiB) arrives whole, and one byte more closes
// with 1009. The client streams both in fragments, so that only the server
// holds a whole message in memory.
func TestReceiveDefaultReadLimitIs16MiB(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 32 MiB")
	}
	const limit = 16 << 20 // as documented on Options.ReadLimit, not taken from wsproto
	errs := make(chan error, 1)
	_, srv, rec := serve(t, server.Options{}, func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		b, err := ws.ReceiveBytes(ws.Context())
		if err != nil {
			return err
		}
		if err := ws.SendText(ws.Context(), fmt.Sprintf("%d %x", len(b), sha256.Sum256(b))); err != nil {
			return err
		}
		b = nil
		_, err = ws.ReceiveBytes(ws.Context())
		errs <- err
		return err
	})
	c := srv.Connect(t, "/ws")

	sum, err := streamBinary(c.Conn, limit)
	if err != nil {
		t.Fatalf("sending %d bytes: %v", limit, err)
	}
	if got, want := c.ReceiveText(), fmt.Sprintf("%d %x", limit, sum); got != want {
		t.Fatalf("the server received %q, want %q", got, want)
	}

	if _, err := streamBinary(c.Conn, limit+1); err != nil {
		// The server drains what follows its close frame, so the rest of
		// the message should still go out; if not, the close frame says
		// what happened.
		t.Logf("sending %d bytes: %v", limit+1, err)
	}
	c.ExpectClose(wsproto.StatusMessageTooBig, "message too big")
	var d *server.Disconnect
	if err := within(t, errs, "the second ReceiveBytes"); !errors.As(err, &d) || d.Code != wsproto.StatusMessageTooBig || d.ByPeer {
		t.Errorf("ReceiveBytes returned %v, want a disconnect 1009 by the server", err)
	}
	checkLog(t, rec.end(t), slog.LevelInfo, "server", 1009, "message too big")
}

// streamBinary sends a binary message of n bytes with a message writer, in
// 64 KiB writes, and returns the SHA-256 of what it sent.
func streamBinary(c *wsproto.Conn, n int) ([32]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), wstest.Timeout)
	defer cancel()
	w, err := c.Writer(ctx, wsproto.MessageBinary)
	if err != nil {
		return [32]byte{}, err
	}
	h := sha256.New()
	chunk := make([]byte, 64<<10)
	rand.Read(chunk)
	for off := 0; off < n; off += len(chunk) {
		p := chunk[:min(len(chunk), n-off)]
		// Every chunk differs, so that a lost or repeated one shows.
		copy(p, fmt.Sprintf("%08x", off))
		h.Write(p)
		if _, err := w.Write(p); err != nil {
			w.Close()
			return [32]byte{}, err
		}
	}
	if err := w.Close(); err != nil {
		return [32]byte{}, err
	}
	return [32]byte(h.Sum(nil)), nil
}

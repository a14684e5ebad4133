package wsproto

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"wsraise/internal/rawpeer"
)

// FuzzCheckRequest parses arbitrary bytes as an HTTP request and, when
// net/http accepts them, judges them as a handshake: the verdict is one of
// the documented statuses, and Upgrade agrees with it.
func FuzzCheckRequest(f *testing.F) {
	f.Add([]byte("GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			return
		}
		status, err := checkRequest(r)
		switch status {
		case 0:
			if err != nil {
				t.Fatalf("status 0 with error %v", err)
			}
			// What success implies.
			if r.Method != http.MethodGet || !r.ProtoAtLeast(1, 1) {
				t.Fatalf("accepted %s %s", r.Method, r.Proto)
			}
			if len(r.Header["Sec-Websocket-Key"]) != 1 || acceptKey(r.Header.Get("Sec-WebSocket-Key")) == "" {
				t.Fatalf("accepted key %q", r.Header["Sec-Websocket-Key"])
			}
		case http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusUpgradeRequired:
			if err == nil {
				t.Fatalf("status %d without an error", status)
			}
		default:
			t.Fatalf("status %d (%v)", status, err)
		}
		if s2, err2 := CheckRequest(r); s2 != status || (err2 == nil) != (err == nil) {
			t.Fatalf("CheckRequest %d %v, checkRequest %d %v", s2, err2, status, err)
		}
		// Upgrade, on a ResponseWriter that cannot be hijacked, refuses
		// with the same status, or 501 for a valid request.
		want := status
		if want == 0 {
			want = http.StatusNotImplemented
		}
		rec := httptest.NewRecorder()
		c, uerr := Upgrade(rec, r, nil)
		var he *HandshakeError
		if c != nil || !errors.As(uerr, &he) || he.Status != want || rec.Code != want {
			t.Fatalf("Upgrade: %v, recorded %d, want %d", uerr, rec.Code, want)
		}
	})
}

// fzConn is a net.Conn that reads from in, chunk bytes at a time, then
// reports io.EOF, and records what is written.
type fzConn struct {
	in    []byte
	chunk int
	mu    sync.Mutex
	out   bytes.Buffer
}

func (c *fzConn) Read(p []byte) (int, error) {
	if len(c.in) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.chunk)], c.in)
	c.in = c.in[n:]
	return n, nil
}

func (c *fzConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Write(p)
}

func (c *fzConn) Close() error                       { return nil }
func (c *fzConn) LocalAddr() net.Addr                { return fzAddr{} }
func (c *fzConn) RemoteAddr() net.Addr               { return fzAddr{} }
func (c *fzConn) SetDeadline(t time.Time) error      { return nil }
func (c *fzConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *fzConn) SetWriteDeadline(t time.Time) error { return nil }

type fzAddr struct{}

func (fzAddr) Network() string { return "fuzz" }
func (fzAddr) String() string  { return "fuzz" }

const fzReadLimit = 1024

// FuzzServerRead feeds arbitrary bytes, then EOF, to a server connection and
// reads until it fails. It must not panic or hang; every message it returns
// respects the read limit and UTF-8; the final error is an abnormal closure
// at EOF or a close with a code that may be on the wire (or 1005 from a close
// frame without one); and what the server writes back is a sequence of
// well-formed unmasked control frames, ending with the close frame if one
// was sent.
func FuzzServerRead(f *testing.F) {
	f.Add([]byte{0x81, 0x85, 1, 2, 3, 4, 'h' ^ 1, 'e' ^ 2, 'l' ^ 3, 'l' ^ 4, 'o' ^ 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		nc := &fzConn{in: data, chunk: 1 + len(data)%13}
		allocBefore := fzAllocated()
		c := newConn(nc, nil, true, config{readLimit: fzReadLimit})
		ctx := context.Background()
		var err error
		messages := 0
		for i := 0; ; i++ {
			// A message takes at least a 6-byte header.
			if i > len(data)/6+1 {
				t.Fatalf("%d messages from %d bytes", i, len(data))
			}
			var typ MessageType
			var p []byte
			typ, p, err = c.Read(ctx)
			if err != nil {
				break
			}
			if typ != MessageText && typ != MessageBinary {
				t.Fatalf("message type %v", typ)
			}
			if len(p) > fzReadLimit {
				t.Fatalf("message of %d bytes over the limit", len(p))
			}
			if typ == MessageText && !utf8.Valid(p) {
				t.Fatalf("invalid UTF-8 text %q", p)
			}
			messages++
		}
		// Never allocate beyond the read limit: whatever a header
		// announces, the connection allocates for each message at most
		// about twice the limit (the slice grows as bytes arrive), plus its
		// own state and pooled buffers. The counter is the process's, so
		// the bound has slack for the fuzzing engine's own allocations.
		// Another goroutine of the test binary may allocate meanwhile: an
		// input over the bound is read again, and fails if it is over both
		// times.
		bound := uint64(messages+1)*4*fzReadLimit + 4*uint64(len(data)) + 1<<20
		if got := fzAllocated() - allocBefore; got > bound {
			if again := fzReadAllocs(data); again > bound {
				t.Fatalf("%d and %d bytes allocated for %d bytes of input and %d messages (bound %d)", got, again, len(data), messages, bound)
			}
		}
		var ce *CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("final error %v (%T)", err, err)
		}
		switch {
		case ce.Code == StatusAbnormalClosure:
			if !errors.Is(err, io.ErrUnexpectedEOF) || ce.Received {
				t.Fatalf("abnormal closure not at EOF: %v", err)
			}
		case ce.Code == StatusNoStatusRcvd:
			if !ce.Received {
				t.Fatalf("1005 not received: %v", err)
			}
		case !ce.Code.Valid():
			t.Fatalf("final error with code %d: %v", ce.Code, err)
		case !ce.Received && ce.Code != StatusProtocolError && ce.Code != StatusInvalidPayload && ce.Code != StatusMessageTooBig:
			t.Fatalf("server chose code %v", ce.Code)
		}
		select {
		case <-c.Done():
		default:
			t.Fatal("the connection is still open after the read failed")
		}
		if _, _, err2 := c.Read(ctx); err2 == nil {
			t.Fatal("Read after the end succeeded")
		}

		// What the server wrote.
		out := bytes.NewReader(nc.out.Bytes())
		var lastClose []byte
		sawClose := false
		for out.Len() > 0 {
			if sawClose {
				t.Fatalf("%d bytes after the close frame", out.Len())
			}
			f, ferr := rawpeer.ReadFrame(out)
			if ferr != nil || f.Masked || !f.Fin || f.RSV != 0 || len(f.Payload) > maxControlPayload {
				t.Fatalf("server frame %#x fin %v rsv %03b masked %v, %d bytes: %v", f.Op, f.Fin, f.RSV, f.Masked, len(f.Payload), ferr)
			}
			payload := f.Payload
			switch f.Op {
			case rawpeer.OpPong:
			case rawpeer.OpClose:
				sawClose = true
				lastClose = payload
				if len(payload) == 1 {
					t.Fatal("close payload of 1 byte")
				}
				if len(payload) >= 2 {
					code := StatusCode(binary.BigEndian.Uint16(payload))
					if !code.Valid() || !utf8.Valid(payload[2:]) {
						t.Fatalf("server sent close payload %q", payload)
					}
				}
			default:
				t.Fatalf("server sent a frame with opcode %#x", f.Op)
			}
		}
		// The close frame the server sent matches the error.
		switch {
		case ce.Code == StatusAbnormalClosure:
			if sawClose {
				t.Fatalf("close frame %q sent, yet the end is abnormal", lastClose)
			}
		case ce.Code == StatusNoStatusRcvd:
			if !sawClose || len(lastClose) != 0 {
				t.Fatalf("answer to a close without code: %v %q", sawClose, lastClose)
			}
		default:
			if !sawClose || len(lastClose) < 2 || StatusCode(binary.BigEndian.Uint16(lastClose)) != ce.Code {
				t.Fatalf("error %v, close frame sent %v %q", err, sawClose, lastClose)
			}
		}
	})
}

// fzAllocated is the bytes the process has allocated so far
// (runtime/metrics, which, unlike ReadMemStats, does not stop the world).
func fzAllocated() uint64 {
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(sample)
	return sample[0].Value.Uint64()
}

// fzReadAllocs reads data through a fresh server connection until it
// fails, and returns the bytes allocated meanwhile.
func fzReadAllocs(data []byte) uint64 {
	before := fzAllocated()
	c := newConn(&fzConn{in: data, chunk: 1 + len(data)%13}, nil, true, config{readLimit: fzReadLimit})
	for {
		if _, _, err := c.Read(context.Background()); err != nil {
			return fzAllocated() - before
		}
	}
}

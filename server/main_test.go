package server_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"wsraise/internal/leakcheck"
	"wsraise/server"
	"wsraise/server/wstest"
)

// TestMain fails the run if any goroutine of this module outlives the
// tests: a handler, a reading goroutine, a keepalive timer's callback.
func TestMain(m *testing.M) { leakcheck.Main(m, 5*time.Second) }

// ---- helpers shared by the tests of this package ----

// logEntry is one slog record, flattened.
type logEntry struct {
	level slog.Level
	msg   string
	attrs map[string]slog.Value
}

func (e logEntry) str(key string) string {
	v, ok := e.attrs[key]
	if !ok {
		return "<missing>"
	}
	return v.String()
}

func (e logEntry) int(key string) int64 {
	v, ok := e.attrs[key]
	if !ok || v.Kind() != slog.KindInt64 {
		return -1
	}
	return v.Int64()
}

// logRecorder is a slog.Handler that hands every record to the test.
type logRecorder struct {
	ch chan logEntry
}

func newLogRecorder() *logRecorder { return &logRecorder{ch: make(chan logEntry, 4096)} }

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { panic("not used by the server") }
func (l *logRecorder) WithGroup(string) slog.Handler            { panic("not used by the server") }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	e := logEntry{level: r.Level, msg: r.Message, attrs: map[string]slog.Value{}}
	r.Attrs(func(a slog.Attr) bool {
		e.attrs[a.Key] = a.Value.Resolve()
		return true
	})
	select {
	case l.ch <- e:
	default:
		panic("logRecorder: too many records")
	}
	return nil
}

// next returns the next record, failing the test if none comes in time.
func (l *logRecorder) next(t testing.TB) logEntry {
	t.Helper()
	select {
	case e := <-l.ch:
		return e
	case <-time.After(wstest.Timeout):
		t.Fatalf("no log record within %v", wstest.Timeout)
		return logEntry{}
	}
}

// end returns the next record, which must be the record of a connection's
// end, and checks that it was the only one.
func (l *logRecorder) end(t testing.TB) logEntry {
	t.Helper()
	e := l.next(t)
	if e.msg != "websocket connection ended" && e.msg != "websocket handshake refused" {
		t.Fatalf("log record %q %v before the connection's end record", e.msg, e.attrs)
	}
	if n := len(l.ch); n != 0 {
		t.Fatalf("%d more log records after the end record", n)
	}
	return e
}

// newApp returns an app logging to a recorder, served on loopback. When the
// test ends it checks that every handler has returned.
func newApp(t testing.TB, opts server.Options) (*server.App, *wstest.Server, *logRecorder) {
	t.Helper()
	rec := newLogRecorder()
	opts.Logger = slog.New(rec)
	app := server.New(opts)
	srv := wstest.Serve(t, app)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := app.Shutdown(ctx); err != nil {
			t.Errorf("handlers still running when the test ended: %v", err)
		}
	})
	return app, srv, rec
}

// within waits for ch to be closed or to deliver, failing the test after
// wstest.Timeout.
func within[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(wstest.Timeout):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// ---- a raw client: frames written and read by hand ----

type rawConn struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

// rawDial performs the opening handshake by hand and returns the TCP
// connection, with nothing of wsproto on the client side: it never answers
// a ping, never replies to a close, and reads only when told to.
func rawDial(t testing.TB, srv *wstest.Server, path string, header http.Header) *rawConn {
	t.Helper()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.DialTimeout("tcp", u.Host, wstest.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	var key [16]byte
	rand.Read(key[:])
	k := base64.StdEncoding.EncodeToString(key[:])
	var req strings.Builder
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", path, u.Host)
	fmt.Fprintf(&req, "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", k)
	for name, vs := range header {
		for _, v := range vs {
			fmt.Fprintf(&req, "%s: %s\r\n", name, v)
		}
	}
	req.WriteString("\r\n")
	nc.SetDeadline(time.Now().Add(wstest.Timeout))
	if _, err := io.WriteString(nc, req.String()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("raw handshake: %s", resp.Status)
	}
	nc.SetDeadline(time.Time{})
	return &rawConn{t: t, nc: nc, br: br}
}

const (
	opCont  = 0x0
	opText  = 0x1
	opBin   = 0x2
	opClose = 0x8
	opPing  = 0x9
	opPong  = 0xA
)

// write sends one final frame, masked as a client must.
func (c *rawConn) write(op byte, payload []byte) {
	c.t.Helper()
	c.writeFrame(op, payload, true)
}

func (c *rawConn) writeFrame(op byte, payload []byte, masked bool) {
	c.t.Helper()
	c.writeFrameFin(true, op, payload, masked)
}

// writeFragment sends a masked frame with FIN clear: more of the message
// is to come (RFC 6455 section 5.4).
func (c *rawConn) writeFragment(op byte, payload []byte) {
	c.t.Helper()
	c.writeFrameFin(false, op, payload, true)
}

func (c *rawConn) writeFrameFin(fin bool, op byte, payload []byte, masked bool) {
	c.t.Helper()
	b := []byte{op}
	if fin {
		b[0] |= 0x80
	}
	mbit := byte(0)
	if masked {
		mbit = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, mbit|byte(n))
	case n < 1<<16:
		b = append(b, mbit|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, mbit|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	p := append([]byte(nil), payload...)
	if masked {
		var key [4]byte
		rand.Read(key[:])
		b = append(b, key[:]...)
		for i := range p {
			p[i] ^= key[i%4]
		}
	}
	c.nc.SetWriteDeadline(time.Now().Add(wstest.Timeout))
	if _, err := c.nc.Write(append(b, p...)); err != nil {
		c.t.Fatalf("raw write: %v", err)
	}
}

// writeClose sends a close frame with code and reason.
func (c *rawConn) writeClose(code uint16, reason string) {
	c.t.Helper()
	c.write(opClose, append(binary.BigEndian.AppendUint16(nil, code), reason...))
}

// readFrame reads one frame; the server's frames are never masked and,
// from this server, never fragmented.
func (c *rawConn) readFrame(timeout time.Duration) (op byte, payload []byte, err error) {
	c.nc.SetReadDeadline(time.Now().Add(timeout))
	defer c.nc.SetReadDeadline(time.Time{})
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return 0, nil, err
	}
	if h[0]&0x80 == 0 {
		return 0, nil, fmt.Errorf("fragmented frame from the server: % x", h)
	}
	if h[1]&0x80 != 0 {
		return 0, nil, fmt.Errorf("masked frame from the server: % x", h)
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var e [2]byte
		if _, err := io.ReadFull(c.br, e[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(e[:]))
	case 127:
		var e [8]byte
		if _, err := io.ReadFull(c.br, e[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(e[:])
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(c.br, payload); err != nil {
		return 0, nil, err
	}
	return h[0] & 0x0f, payload, nil
}

// expectCloseFrame reads frames, skipping data and pings (without
// answering them), until a close frame, and returns its payload.
func (c *rawConn) expectCloseFrame() []byte {
	c.t.Helper()
	for {
		op, p, err := c.readFrame(wstest.Timeout)
		if err != nil {
			c.t.Fatalf("raw read, waiting for a close frame: %v", err)
		}
		if op == opClose {
			return p
		}
	}
}

// expectEOF checks that the server closes the TCP connection with nothing
// more sent.
func (c *rawConn) expectEOF() {
	c.t.Helper()
	op, p, err := c.readFrame(wstest.Timeout)
	if err == nil {
		c.t.Fatalf("frame %#x % x after the close frame, want the end of the TCP connection", op, p)
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		c.t.Fatalf("after the close frame: %v, want EOF", err)
	}
}

func closePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// receiveOnce is a handler that accepts, waits in Receive, and reports
// what Receive returned on errs before returning it.
func receiveOnce(errs chan<- error) server.Handler {
	return func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		_, _, err := ws.Receive(ws.Context())
		errs <- err
		return err
	}
}

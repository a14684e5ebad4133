// Package wstest tests WebSocket apps the way a real client sees them:
// over loopback TCP, with the close code and reason as they arrive on the
// wire after accept, and the HTTP status and body of a refused handshake.
// It is Starlette's TestClient.websocket_connect for wsraise, except that it
// never reports a close code no real client could receive.
package wstest

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"wsraise/wsproto"
)

// Timeout bounds every wait of the client, so a broken server fails the
// test instead of hanging it.
var Timeout = 10 * time.Second

// Server is an app served on a loopback port for the length of a test.
type Server struct {
	URL string // ws://127.0.0.1:port
	srv *httptest.Server
}

// Serve starts h on 127.0.0.1 and stops it when the test ends. If h is
// an app (anything with Shutdown(context.Context) error, as *server.App),
// it is shut down first, waiting up to Timeout for its handlers, so that
// nothing of this test runs, or logs, into the next one.
func Serve(t testing.TB, h http.Handler) *Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		if app, ok := h.(interface{ Shutdown(context.Context) error }); ok {
			ctx, cancel := context.WithTimeout(context.Background(), Timeout)
			defer cancel()
			if err := app.Shutdown(ctx); err != nil {
				t.Errorf("wstest: handlers still running after %v: %v", Timeout, err)
			}
		}
		srv.Close()
	})
	return &Server{URL: "ws" + strings.TrimPrefix(srv.URL, "http"), srv: srv}
}

// Logger returns a logger that writes to t.Log, for an app under test:
// server.New(server.Options{Logger: wstest.Logger(t)}). Its records then
// show with the test that caused them, and only when it fails or runs
// with -v.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, nil))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// A DialOption sets what Connect sends with the handshake.
type DialOption func(*wsproto.DialOptions)

// WithHeader adds headers to the handshake request (Authorization,
// Origin...).
func WithHeader(h http.Header) DialOption {
	return func(o *wsproto.DialOptions) {
		if o.Header == nil {
			o.Header = http.Header{}
		}
		for k, v := range h {
			o.Header[k] = append(o.Header[k], v...)
		}
	}
}

// WithCookie adds a cookie to the handshake request.
func WithCookie(c *http.Cookie) DialOption {
	return func(o *wsproto.DialOptions) {
		if o.Header == nil {
			o.Header = http.Header{}
		}
		o.Header.Add("Cookie", c.String())
	}
}

// WithSubprotocols offers subprotocols, in order of preference.
func WithSubprotocols(p ...string) DialOption {
	return func(o *wsproto.DialOptions) { o.Subprotocols = append(o.Subprotocols, p...) }
}

// Conn is a client connection to the server.
type Conn struct {
	t    testing.TB
	Conn *wsproto.Conn
}

// Dial opens a connection to path, returning the handshake's error (a
// *wsproto.HandshakeError for a refusal) instead of failing the test.
func (s *Server) Dial(t testing.TB, path string, opts *wsproto.DialOptions) (*Conn, error) {
	t.Helper()
	if opts == nil {
		opts = &wsproto.DialOptions{CloseTimeout: time.Second}
	}
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	c, _, err := wsproto.Dial(ctx, s.URL+path, opts)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.CloseNow() })
	return &Conn{t: t, Conn: c}, nil
}

// Connect opens a connection to path and fails the test if it is refused.
func (s *Server) Connect(t testing.TB, path string, opts ...DialOption) *Conn {
	t.Helper()
	do := &wsproto.DialOptions{CloseTimeout: time.Second}
	for _, o := range opts {
		o(do)
	}
	c, err := s.Dial(t, path, do)
	if err != nil {
		t.Fatalf("connect %s: %v", path, err)
	}
	return c
}

// Subprotocol returns the subprotocol the server accepted, or "".
func (c *Conn) Subprotocol() string { return c.Conn.Subprotocol() }

// Close performs the close handshake with code and reason, failing the
// test if it does not complete.
func (c *Conn) Close(code wsproto.StatusCode, reason string) {
	c.t.Helper()
	if err := c.Conn.Close(code, reason); err != nil {
		c.t.Fatalf("close: %v", err)
	}
}

// SendJSON sends v encoded as JSON in a text message, failing the test on
// error.
func (c *Conn) SendJSON(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatalf("send JSON: %v", err)
	}
	c.SendText(string(b))
}

// ReceiveJSON decodes the next message into v, failing the test unless it
// is JSON.
func (c *Conn) ReceiveJSON(v any) {
	c.t.Helper()
	_, p, err := c.Receive()
	if err != nil {
		c.t.Fatalf("receive JSON: %v", err)
	}
	if err := json.Unmarshal(p, v); err != nil {
		c.t.Fatalf("receive JSON: %v in %q", err, p)
	}
}

// Refused dials path, expects the handshake to be refused, and returns the
// HTTP status and body the client received.
func (s *Server) Refused(t testing.TB, path string, header http.Header) (int, string) {
	t.Helper()
	c, err := s.Dial(t, path, &wsproto.DialOptions{Header: header})
	if err == nil {
		c.Conn.CloseNow()
		t.Fatalf("%s: handshake accepted, want a refusal", path)
	}
	var he *wsproto.HandshakeError
	if !errors.As(err, &he) {
		t.Fatalf("%s: %v, want a refused handshake", path, err)
	}
	return he.Status, he.Body
}

// ExpectRefused dials path and fails the test unless the handshake is
// refused with status and body.
func (s *Server) ExpectRefused(t testing.TB, path string, status int, body string) {
	t.Helper()
	gotStatus, gotBody := s.Refused(t, path, nil)
	if gotStatus != status || gotBody != body {
		t.Fatalf("%s: refused with %d %q, want %d %q", path, gotStatus, gotBody, status, body)
	}
}

func (c *Conn) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), Timeout)
}

// SendText sends a text message, failing the test on error.
func (c *Conn) SendText(s string) {
	c.t.Helper()
	ctx, cancel := c.ctx()
	defer cancel()
	if err := c.Conn.Write(ctx, wsproto.MessageText, []byte(s)); err != nil {
		c.t.Fatalf("send text: %v", err)
	}
}

// SendBytes sends a binary message, failing the test on error.
func (c *Conn) SendBytes(b []byte) {
	c.t.Helper()
	ctx, cancel := c.ctx()
	defer cancel()
	if err := c.Conn.Write(ctx, wsproto.MessageBinary, b); err != nil {
		c.t.Fatalf("send bytes: %v", err)
	}
}

// Receive returns the next message or the error that ended the connection.
func (c *Conn) Receive() (wsproto.MessageType, []byte, error) {
	ctx, cancel := c.ctx()
	defer cancel()
	return c.Conn.Read(ctx)
}

// ReceiveText returns the next message, failing the test unless it is text.
func (c *Conn) ReceiveText() string {
	c.t.Helper()
	typ, p, err := c.Receive()
	if err != nil || typ != wsproto.MessageText {
		c.t.Fatalf("receive text: got %v message, error %v", typ, err)
	}
	return string(p)
}

// Closed reads until the connection ends, discarding messages, and returns
// the close code and reason the server sent: 1005 for a close frame
// without a code, 1006 when the connection ended without a close frame.
// It fails the test if the connection does not end within Timeout.
func (c *Conn) Closed() (wsproto.StatusCode, string) {
	c.t.Helper()
	for {
		_, _, err := c.Receive()
		if err == nil {
			continue
		}
		var ce *wsproto.CloseError
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			c.t.Fatalf("connection still open after %v", Timeout)
		case errors.As(err, &ce) && ce.Received:
			return ce.Code, ce.Reason
		case errors.As(err, &ce) && ce.Code != wsproto.StatusAbnormalClosure:
			c.t.Fatalf("the client failed the connection itself: %v", err)
		}
		return wsproto.StatusAbnormalClosure, ""
	}
}

// ExpectClose fails the test unless the server closes with code and reason.
func (c *Conn) ExpectClose(code wsproto.StatusCode, reason string) {
	c.t.Helper()
	gotCode, gotReason := c.Closed()
	if gotCode != code || gotReason != reason {
		c.t.Fatalf("closed with %v %q, want %v %q", gotCode, gotReason, code, reason)
	}
}

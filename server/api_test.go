package server_test

// Parts of the handler's API that the semantics tests do not reach:
// WithHeader, ReceiveBytes and ReceiveText on the wrong type, the handshake
// timeout, the default read limit, CloseStatus, and what a handler reads
// from the handshake request (query, cookies, path values).

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"wsraise/internal/rawpeer"
	"wsraise/server"
	"wsraise/server/wstest"
	"wsraise/wsproto"
)

// ---- WithHeader ----

func TestAPIAcceptWithHeader(t *testing.T) {
	t.Run("headers in the 101 response", func(t *testing.T) {
		_, srv, rec := serve(t, server.Options{}, func(ws *server.WebSocket) error {
			h := http.Header{}
			h.Add("Set-Cookie", "session=abc; Path=/; HttpOnly")
			h.Add("Set-Cookie", "theme=dark")
			h.Set("X-Room-Id", "lobby-42")
			if err := ws.Accept(server.WithHeader(h)); err != nil {
				return err
			}
			return ws.Close(wsproto.StatusNormalClosure, "with headers")
		})
		ctx, cancel := context.WithTimeout(context.Background(), wstest.Timeout)
		defer cancel()
		c, resp, err := wsproto.Dial(ctx, srv.URL+"/ws", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		if resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if got, want := resp.Header.Values("Set-Cookie"), []string{"session=abc; Path=/; HttpOnly", "theme=dark"}; !slices.Equal(got, want) {
			t.Errorf("Set-Cookie %q, want %q", got, want)
		}
		if got := resp.Header.Values("X-Room-Id"); !slices.Equal(got, []string{"lobby-42"}) {
			t.Errorf("X-Room-Id %q", got)
		}
		// The handshake's own headers are still there, once each.
		if got := resp.Header.Values("Upgrade"); !slices.Equal(got, []string{"websocket"}) {
			t.Errorf("Upgrade %q", got)
		}
		if got := resp.Header.Values("Sec-WebSocket-Accept"); len(got) != 1 {
			t.Errorf("Sec-WebSocket-Accept %q", got)
		}
		// And the connection works.
		_, _, err = c.Read(ctx)
		var ce *wsproto.CloseError
		if !errors.As(err, &ce) || !ce.Received || ce.Code != wsproto.StatusNormalClosure || ce.Reason != "with headers" {
			t.Fatalf("read %v, want the server's close 1000 \"with headers\"", err)
		}
		checkLog(t, rec.end(t), slog.LevelInfo, "server", 1000, "with headers")
	})

	// A header the handshake sets itself may not be added: Accept fails and
	// the client gets 500 instead of a response it would have to reject.
	t.Run("a handshake header is refused", func(t *testing.T) {
		errs := make(chan error, 1)
		_, srv, rec := serve(t, server.Options{}, func(ws *server.WebSocket) error {
			err := ws.Accept(server.WithHeader(http.Header{"Sec-Websocket-Accept": {"forged"}}))
			errs <- err
			return err
		})
		he := dialRefused(t, srv, "/ws", nil)
		if he.Status != http.StatusInternalServerError {
			t.Errorf("refused with %d %q, want 500", he.Status, he.Body)
		}
		if got := he.Header.Values("Sec-WebSocket-Accept"); len(got) != 0 {
			t.Errorf("refusal carries Sec-WebSocket-Accept %q", got)
		}
		var hErr *wsproto.HandshakeError
		if err := within(t, errs, "Accept"); !errors.As(err, &hErr) || hErr.Status != http.StatusInternalServerError {
			t.Errorf("Accept returned %v, want a *wsproto.HandshakeError with status 500", err)
		}
		checkRefusalLog(t, rec.end(t), slog.LevelError, http.StatusInternalServerError)
	})
}

// ---- ReceiveBytes, ReceiveText ----

func TestAPIReceiveBytes(t *testing.T) {
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

func TestAPIReceiveTextRejectsBinary(t *testing.T) {
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

// ---- HandshakeTimeout ----

// TestAPIHandshakeTimeout: a client that sends its handshake and then reads
// nothing, with a receive buffer pinned at 128 KiB; the 101 response
// carries a header far larger than what the kernel buffers on both sides
// can hold (the send buffer of a TCP socket is capped by net.ipv4.tcp_wmem,
// 4 MiB by default), so writing it blocks for sure, and only the handshake
// timeout ends the write.
func TestAPIHandshakeTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	huge := strings.Repeat("a", 32<<20)
	type result struct {
		err   error
		took  time.Duration
		state server.State
	}
	results := make(chan result, 1)
	_, srv, rec := serve(t, server.Options{HandshakeTimeout: timeout}, func(ws *server.WebSocket) error {
		start := time.Now()
		err := ws.Accept(server.WithHeader(http.Header{"X-Huge": {huge}}))
		results <- result{err, time.Since(start), ws.State()}
		return err
	})
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.DialTimeout("tcp", u.Host, wstest.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// Pinned, so the kernel does not grow it; not below the loopback MSS
	// (64 KiB), or the window would stay shut and the drain below stall.
	if err := nc.(*net.TCPConn).SetReadBuffer(128 << 10); err != nil {
		t.Fatal(err)
	}
	req := rawpeer.Request(u.Host, "/ws", rawpeer.SampleKey, "")
	nc.SetDeadline(time.Now().Add(wstest.Timeout))
	if _, err := io.WriteString(nc, req); err != nil {
		t.Fatal(err)
	}

	r := within(t, results, "Accept")
	if r.err == nil {
		t.Fatal("Accept wrote a 32 MiB response to a client that reads nothing")
	}
	if !errors.Is(r.err, os.ErrDeadlineExceeded) {
		t.Errorf("Accept returned %v, want a write timeout (os.ErrDeadlineExceeded)", r.err)
	}
	if r.took < timeout || r.took > 5*time.Second {
		t.Errorf("Accept returned after %v, want about the handshake timeout %v (the default is 10s)", r.took, timeout)
	}
	if r.state != server.Disconnected {
		t.Errorf("state %v after the failed Accept, want disconnected", r.state)
	}

	// The server closed the connection: what the client now reads is the
	// start of the response, then the end of the stream, not a hang.
	nc.SetReadDeadline(time.Now().Add(wstest.Timeout))
	head := make([]byte, len("HTTP/1.1 101"))
	if _, err := io.ReadFull(nc, head); err != nil || string(head) != "HTTP/1.1 101" {
		t.Errorf("response starts with %q (%v)", head, err)
	}
	if n, err := io.Copy(io.Discard, nc); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("after the timeout the connection was not closed: %v (read %d)", err, n)
	}

	e := rec.end(t)
	if e.level != slog.LevelError || !strings.Contains(e.str("error"), "timeout") {
		t.Errorf("log record %v error=%q, want an error record naming the timeout", e.level, e.str("error"))
	}
	if _, ok := e.attrs["code"]; ok {
		t.Errorf("a handshake that never completed is logged with a close code: %v", e.attrs)
	}
}

// ---- The default read limit ----

// TestAPIDefaultReadLimit: with Options.ReadLimit 0, a message of exactly
// wsproto.DefaultReadLimit (16 MiB) arrives whole, and one byte more closes
// with 1009. The client streams both in fragments, so that only the server
// holds a whole message in memory.
func TestAPIDefaultReadLimit(t *testing.T) {
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

// ---- CloseStatus ----

func TestAPICloseStatus(t *testing.T) {
	// A disconnect from a real protocol failure: the client sends an
	// unmasked frame and the server fails the connection with 1002.
	errs := make(chan error, 1)
	_, srv, rec := serve(t, server.Options{}, receiveOnce(errs))
	c := rawpeer.Dial(t, hostport(srv), "/ws", "")
	c.Write(rawpeer.Text("hi").Encode())
	c.SkipToClose()
	c.ExpectEOF()
	c.Conn.Close()
	disc := within(t, errs, "the handler's Receive")
	var protoErr *wsproto.CloseError
	if !errors.As(disc, &protoErr) {
		t.Fatalf("Receive returned %T %v, which wraps no *wsproto.CloseError", disc, disc)
	}
	checkLog(t, rec.end(t), slog.LevelInfo, "server", 1002, "client frame is not masked")

	cases := []struct {
		name string
		err  error
		want wsproto.StatusCode
	}{
		{"WebSocketException", server.Raise(wsproto.StatusPolicyViolation, "policy"), 1008},
		{"WebSocketException, private code", server.Raise(4001, ""), 4001},
		{"Disconnect", &server.Disconnect{Code: wsproto.StatusGoingAway, Reason: "bye", ByPeer: true}, 1001},
		{"Disconnect without a CloseError", &server.Disconnect{Code: 4000}, 4000},
		{"wrapped WebSocketException", fmt.Errorf("room: %w", server.Raise(wsproto.StatusTryAgainLater, "later")), 1013},
		{"wrapped Disconnect", fmt.Errorf("receiving: %w", &server.Disconnect{Code: wsproto.StatusAbnormalClosure}), 1006},
		{"twice wrapped", fmt.Errorf("a: %w", fmt.Errorf("b: %w", server.Raise(3000, ""))), 3000},
		{"joined", errors.Join(errors.New("other"), server.Raise(wsproto.StatusPolicyViolation, "")), 1008},
		{"Disconnect of a protocol failure", disc, wsproto.StatusProtocolError},
		{"its CloseError", protoErr, wsproto.StatusProtocolError},
		{"its CloseError, wrapped", fmt.Errorf("read: %w", protoErr), wsproto.StatusProtocolError},
		{"CloseError", &wsproto.CloseError{Code: wsproto.StatusInvalidPayload}, 1007},
		{"plain error", errors.New("boom"), 0},
		{"context error", context.Canceled, 0},
		{"misuse error", server.ErrNotAccepted, 0},
		{"nil", nil, 0},
	}
	for _, tc := range cases {
		if got := server.CloseStatus(tc.err); got != tc.want {
			t.Errorf("%s: CloseStatus(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

// ---- The handshake request: query, cookies, path values ----

func TestAPIRequestQueryCookiesPathValues(t *testing.T) {
	type seen struct {
		Room, User, Rest, Unknown string
		Token, Q, Empty           string
		Tags                      []string
		HasEmpty, HasAbsent       bool
		Session, Theme            string
		NoCookie                  bool
	}
	app, srv, rec := newApp(t, server.Options{})
	app.Handle("/rooms/{room}/users/{user}/{rest...}", func(ws *server.WebSocket) error {
		r := ws.Request()
		q := r.URL.Query()
		s := seen{
			Room: ws.PathValue("room"), User: ws.PathValue("user"), Rest: ws.PathValue("rest"),
			Unknown: ws.PathValue("nope"),
			Token:   q.Get("token"), Q: q.Get("q"), Empty: q.Get("empty"), Tags: q["tag"],
			HasEmpty: q.Has("empty"), HasAbsent: q.Has("absent"),
		}
		if ck, err := r.Cookie("session"); err == nil {
			s.Session = ck.Value
		}
		if ck, err := r.Cookie("theme"); err == nil {
			s.Theme = ck.Value
		}
		_, err := r.Cookie("absent")
		s.NoCookie = errors.Is(err, http.ErrNoCookie)
		if err := ws.Accept(); err != nil {
			return err
		}
		if err := ws.SendJSON(ws.Context(), s); err != nil {
			return err
		}
		return ws.Close(wsproto.StatusNormalClosure, "")
	})
	c, err := srv.Dial(t, "/rooms/lobby%20one/users/ann/a/b/c.txt?token=t%26k%3D1&tag=x&tag=y&q=a+b&empty=", &wsproto.DialOptions{
		Header: http.Header{"Cookie": {"session=s3cr3t; theme=dark"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got seen
	if err := json.Unmarshal([]byte(c.ReceiveText()), &got); err != nil {
		t.Fatal(err)
	}
	want := seen{
		Room: "lobby one", User: "ann", Rest: "a/b/c.txt", Unknown: "",
		Token: "t&k=1", Q: "a b", Empty: "", Tags: []string{"x", "y"},
		HasEmpty: true, HasAbsent: false,
		Session: "s3cr3t", Theme: "dark", NoCookie: true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the handler read\n%+v\nwant\n%+v", got, want)
	}
	c.ExpectClose(wsproto.StatusNormalClosure, "")
	e := rec.end(t)
	checkLog(t, e, slog.LevelInfo, "server", 1000, "")
	if r := e.str("route"); r != "/rooms/{room}/users/{user}/{rest...}" {
		t.Errorf("route %q", r)
	}
}

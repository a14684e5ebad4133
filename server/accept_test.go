package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
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

// TestSendFromAnotherGoroutineAfterAccept: a handler registers its
// WebSocket with the rest of the program, then accepts; another goroutine
// sends as soon as the client has its 101. The send must go out: the
// connection is usable from every goroutine from the moment the 101 can
// reach the client (it failed with ErrNotAccepted about 12 times in 500
// when the state was set after the 101 without a lock).
func TestSendFromAnotherGoroutineAfterAccept(t *testing.T) {
	const n = 300
	registered := make(chan *server.WebSocket, 1)
	_, srv, _ := serve(t, server.Options{PingInterval: -1}, func(ws *server.WebSocket) error {
		registered <- ws
		if err := ws.Accept(); err != nil {
			return err
		}
		_, _, err := ws.Receive(ws.Context()) // until the client closes
		return err
	})
	for i := range n {
		c := srv.Connect(t, "/ws")
		ws := within(t, registered, "the handler")
		if err := ws.SendText(context.Background(), fmt.Sprint(i)); err != nil {
			t.Fatalf("connection %d: send once the client had its 101: %v", i, err)
		}
		if got := c.ReceiveText(); got != fmt.Sprint(i) {
			t.Fatalf("connection %d: got %q", i, got)
		}
		c.Conn.Close(wsproto.StatusNormalClosure, "")
	}
}

// TestSendBeforeAccept: before Accept, and after a refusal, a send
// returns ErrNotAccepted.
func TestSendBeforeAccept(t *testing.T) {
	errs := make(chan error, 2)
	_, srv, _ := serve(t, server.Options{}, func(ws *server.WebSocket) error {
		errs <- ws.SendText(ws.Context(), "too early")
		ws.Close(wsproto.StatusPolicyViolation, "no")
		errs <- ws.SendText(ws.Context(), "refused")
		return nil
	})
	srv.Refused(t, "/ws", nil)
	for _, when := range []string{"before accept", "after the refusal"} {
		if err := within(t, errs, "the handler"); !errors.Is(err, server.ErrNotAccepted) {
			t.Errorf("send %s: %v, want ErrNotAccepted", when, err)
		}
	}
}

// TestAcceptWithHeaderSetsResponseHeaders: the headers of WithHeader go
// out in the 101 response, beside the handshake's own, which it may not
// set.
func TestAcceptWithHeaderSetsResponseHeaders(t *testing.T) {
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

// TestAcceptWriteBoundedByHandshakeTimeout: a client that sends its handshake and then reads
// nothing, with a receive buffer pinned at 128 KiB; the 101 response
// carries a header far larger than what the kernel buffers on both sides
// can hold (the send buffer of a TCP socket is capped by net.ipv4.tcp_wmem,
// 4 MiB by default), so writing it blocks for sure, and only the handshake
// timeout ends the write.
func TestAcceptWriteBoundedByHandshakeTimeout(t *testing.T) {
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

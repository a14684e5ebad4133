package server_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"wsraise/internal/rawpeer"
	"wsraise/server"
	"wsraise/wsproto"
)

// TestCloseInvalidCode: ws.Close with a code that may not be sent sends
// 1011 instead and returns an error that names the code (it returned nil);
// the log has the error once.
func TestCloseInvalidCode(t *testing.T) {
	got := make(chan error, 1)
	_, srv, rec := serve(t, server.Options{}, func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		err := ws.Close(999, "bad")
		got <- err
		return nil
	})
	srv.Connect(t, "/ws").ExpectClose(wsproto.StatusInternalError, "Internal Error")
	if err := within(t, got, "Close's error"); err == nil || !strings.Contains(err.Error(), "999") {
		t.Fatalf("Close(999): %v, want an error naming 999", err)
	}
	e := rec.end(t)
	if e.level != slog.LevelError || strings.Count(e.str("error"), "999") != 1 {
		t.Errorf("log %v %v, want one error naming 999", e.level, e.attrs)
	}
}

// TestCloseContext: a close handshake the peer does not answer is cut when
// the context ends, well before the close timeout, and CloseContext returns
// the context's error.
func TestCloseContext(t *testing.T) {
	got := make(chan error, 1)
	_, srv, _ := serve(t, server.Options{CloseTimeout: time.Minute, PingInterval: -1}, func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(ws.Context(), 50*time.Millisecond)
		defer cancel()
		got <- ws.CloseContext(ctx, wsproto.StatusNormalClosure, "bye")
		return nil
	})
	c := rawpeer.Dial(t, hostport(srv), "/ws", "") // never answers the close
	c.SkipToClose()
	if err := within(t, got, "CloseContext"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("CloseContext: %v, want context.DeadlineExceeded", err)
	}
	c.ExpectEOF()
}

// State is Disconnected as soon as the peer's close is handled, or TCP
// drops, not only after this side closes; a second Accept still says
// ErrAlreadyAccepted.
func TestStateAfterPeerLeaves(t *testing.T) {
	for _, how := range []string{"close frame", "TCP drop"} {
		t.Run(how, func(t *testing.T) {
			app, srv, _ := newApp(t, server.Options{})
			states := make(chan string, 2)
			app.Handle("/ws", func(ws *server.WebSocket) error {
				if err := ws.Accept(); err != nil {
					return err
				}
				_, _, err := ws.Receive(ws.Context())
				states <- ws.State().String()
				if aerr := ws.Accept(); !errors.Is(aerr, server.ErrAlreadyAccepted) {
					states <- fmt.Sprint("second Accept: ", aerr)
				} else {
					states <- "ok"
				}
				return err
			})
			c := rawpeer.Dial(t, hostport(srv), "/ws", "")
			if how == "close frame" {
				c.Send(rawpeer.Close(1000, ""))
				c.SkipToClose()
			} else {
				c.Conn.Close()
			}
			if s := within(t, states, "the handler"); s != "disconnected" {
				t.Errorf("State after the peer left: %s", s)
			}
			if s := within(t, states, "the handler"); s != "ok" {
				t.Error(s)
			}
		})
	}
}

// A close the peer leaves unanswered (it reads the close frame, then drops
// TCP) is a *Disconnect with 1006 from ws.Close (RFC 6455 section 7.1.5:
// the close handshake did not complete), which the handler may return
// without a failure being logged.
func TestCloseUnansweredIsDisconnect(t *testing.T) {
	app, srv, rec := newApp(t, server.Options{})
	closed := make(chan error, 1)
	app.Handle("/ws", func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		err := ws.Close(wsproto.StatusNormalClosure, "bye")
		closed <- err
		return err
	})
	c := rawpeer.Dial(t, hostport(srv), "/ws", "")
	c.SkipToClose()
	c.Conn.Close()
	var d *server.Disconnect
	if err := within(t, closed, "Close"); !errors.As(err, &d) || d.Code != wsproto.StatusAbnormalClosure {
		t.Fatalf("Close returned %v, want a *Disconnect with 1006", err)
	}
	e := rec.end(t)
	if e.level != slog.LevelInfo {
		t.Errorf("log %v %v, want info (a disconnect is not a failure)", e.level, e.attrs)
	}
}

// TestCloseStatusOfErrors: CloseStatus finds the close code in every kind
// of error a handler may hold, wrapped or not, and 0 in the others.
func TestCloseStatusOfErrors(t *testing.T) {
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

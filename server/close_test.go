package server_test

import (
	"context"
	"errors"
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

package server_test

// Refusing a handshake before accept: an invalid close code with the
// default refusal, and the HTTP statuses an HTTPException may refuse with.

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"wsraise/server"
)

// An invalid close code before accept, with the default refusal: the handshake is
// refused with 403 and the reason, and the invalid code is logged as the
// bug it is.
func TestBeforeAcceptRefused(t *testing.T) {
	app, srv, rec := newApp(t, server.Options{})
	app.Handle("/ws", func(ws *server.WebSocket) error {
		return server.Raise(1005, "no status")
	})
	he := dialRefused(t, srv, "/ws", nil)
	if he.Status != http.StatusForbidden || he.Body != "no status" {
		t.Errorf("refusal %d %q, want 403 \"no status\"", he.Status, he.Body)
	}
	e := rec.end(t)
	if e.level != slog.LevelError || !strings.Contains(e.str("error"), "invalid close code 1005") {
		t.Errorf("log: %v %v, want an error naming code 1005", e.level, e.attrs)
	}
}

// An HTTPException cannot refuse a handshake with a 1xx or 2xx status (a
// 101 would claim to accept it): 500, logged. 3xx, 4xx and 5xx go as
// they are.
func TestHTTPExceptionStatusBeforeAccept(t *testing.T) {
	for _, tc := range []struct {
		status, want int
		level        slog.Level
	}{
		{101, 500, slog.LevelError},
		{103, 500, slog.LevelError},
		{200, 500, slog.LevelError},
		{302, 302, slog.LevelInfo},
		{401, 401, slog.LevelInfo},
		{503, 503, slog.LevelInfo},
		{600, 500, slog.LevelError},
	} {
		app, srv, rec := newApp(t, server.Options{})
		app.Handle("/ws", func(ws *server.WebSocket) error {
			return &server.HTTPException{Status: tc.status, Detail: "detail"}
		})
		he := dialRefused(t, srv, "/ws", nil)
		if he.Status != tc.want {
			t.Errorf("status %d: client got %d, want %d", tc.status, he.Status, tc.want)
		}
		e := rec.end(t)
		if e.level != tc.level || e.int("status") != int64(tc.want) {
			t.Errorf("status %d: log %v %v, want %v with status %d", tc.status, e.level, e.attrs, tc.level, tc.want)
		}
	}
}

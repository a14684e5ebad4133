package server_test

import (
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"wsraise/server"
	"wsraise/wsproto"
)

// mustPanic runs f and returns the text of its panic, failing the test if
// it does not panic.
func mustPanic(t *testing.T, f func()) (msg string) {
	t.Helper()
	defer func() {
		v := recover()
		if v == nil {
			t.Fatal("no panic")
		}
		msg = fmt.Sprint(v)
	}()
	f()
	return ""
}

// Misuse is refused when it is registered, not at the first request, with
// a panic that names the caller's file and line, as net/http's ServeMux
// does.
func TestRegistrationMisuse(t *testing.T) {
	ok := func(ws *server.WebSocket) error { return nil }
	for _, tc := range []struct {
		name, want string
		register   func()
	}{
		{"nil handler", "nil handler for \"/ws\"", func() {
			server.New(server.Options{}).Handle("/ws", nil)
		}},
		{"nil guard", "nil guard", func() {
			server.New(server.Options{}).Handle("/ws", ok).Guard(nil)
		}},
		{"nil exception handler", "nil exception handler", func() {
			server.HandleException[*appError](server.New(server.Options{}), nil)
		}},
		{"method other than GET", "not POST", func() {
			server.New(server.Options{}).Handle("POST /ws", ok)
		}},
		{"zero App", "not made by server.New", func() {
			var app server.App
			app.Handle("/ws", ok)
		}},
		{"zero App, exception handler", "not made by server.New", func() {
			var app server.App
			server.HandleException(&app, func(*server.WebSocket, *appError) error { return nil })
		}},
		{"zero App, served", "ServeHTTP on an App not made by server.New", func() {
			var app server.App
			app.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/ws", nil))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := mustPanic(t, tc.register)
			if !strings.Contains(msg, tc.want) || !strings.Contains(msg, "registration_test.go:") {
				t.Errorf("panic %q, want one that says %q and names this file and line", msg, tc.want)
			}
		})
	}
	// GET, with or without a host, is accepted.
	app := server.New(server.Options{})
	app.Handle("GET /a", ok)
	app.Handle("GET example.com/b", ok)
	app.Handle("/c", ok)
}

// valueErr has a value-receiver Error method: an error returned as a
// valueErr, not a *valueErr, never matches a handler for *valueErr.
type valueErr struct{}

func (valueErr) Error() string { return "value error" }

func TestRegistrationWarnsValueReceiver(t *testing.T) {
	rec := newLogRecorder()
	app := server.New(server.Options{Logger: slog.New(rec)})
	server.HandleException(app, func(*server.WebSocket, *valueErr) error { return nil })
	e := rec.next(t)
	if e.level != slog.LevelWarn || !strings.Contains(e.msg, "value-receiver Error method") ||
		!strings.Contains(e.str("at"), "registration_test.go:") {
		t.Errorf("log %v %q %v, want a warning about the value receiver that names this line", e.level, e.msg, e.attrs)
	}
	server.HandleException(app, func(*server.WebSocket, valueErr) error { return nil })
	server.HandleException(app, func(*server.WebSocket, *appError) error { return nil })
	select {
	case e := <-rec.ch:
		t.Errorf("a warning for a handler that can match: %q", e.msg)
	default:
	}
}

// A Key never set on a WebSocket gives T's zero value, and Get says so.
func TestKeyUnset(t *testing.T) {
	key := server.NewKey[*User]("user")
	other := server.NewKey[*User]("other")
	got := make(chan string, 1)
	app, srv, _ := newApp(t, server.Options{})
	app.Handle("/ws", func(ws *server.WebSocket) error {
		other.Set(ws, &User{Name: "bob"})
		u, ok := key.Get(ws)
		got <- fmt.Sprintf("%v %v %v %s", u, ok, key.Value(ws) == nil, other.Value(ws).Name)
		return server.Raise(wsproto.StatusPolicyViolation, "done")
	})
	srv.Refused(t, "/ws", nil)
	if g := within(t, got, "the handler"); g != "<nil> false true bob" {
		t.Fatalf("unset key: %q, want \"<nil> false true bob\"", g)
	}
}

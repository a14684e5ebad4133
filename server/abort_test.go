package server_test

// A handler that aborts: net/http's abort signal (http.ErrAbortHandler)
// and runtime.Goexit, from a handler or from an exception handler, end the
// connection by the rules.

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"wsraise/internal/rawpeer"
	"wsraise/server"
	"wsraise/server/wstest"
)

// boomErr is the error the handlers below raise to reach the exception
// handler a test registers for it.
type boomErr struct{ err error }

func (e *boomErr) Error() string { return e.err.Error() }

var errBoom = &boomErr{errors.New("boom")}

// abortApp serves /ws: handler, after an Accept if accept is set, with
// onBoom as the route's exception handler for *boomErr.
func abortApp(t *testing.T, accept bool, handler func(*server.WebSocket) error, onBoom func(*server.WebSocket, *boomErr) error) (*wstest.Server, *logRecorder) {
	t.Helper()
	app, srv, rec := newApp(t, server.Options{})
	route := app.Handle("/ws", func(ws *server.WebSocket) error {
		if accept {
			if err := ws.Accept(); err != nil {
				return err
			}
		}
		return handler(ws)
	})
	server.HandleException(route, onBoom)
	return srv, rec
}

// http.ErrAbortHandler, returned or panicked, from a handler or an
// exception handler, cuts the connection with no answer and is not a
// failure: before accept the client gets no HTTP response, after accept
// no close frame. The process survives (it crashed before: the panic
// was re-raised in the handler's own goroutine).
func TestAbortHandler(t *testing.T) {
	for _, tc := range []struct {
		name    string
		accept  bool
		handler func(ws *server.WebSocket) error
	}{
		{"panic before accept", false, func(ws *server.WebSocket) error { panic(http.ErrAbortHandler) }},
		{"returned before accept", false, func(ws *server.WebSocket) error { return http.ErrAbortHandler }},
		{"panic after accept", true, func(ws *server.WebSocket) error { panic(http.ErrAbortHandler) }},
		{"from an exception handler after accept", true, func(ws *server.WebSocket) error { return errBoom }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, rec := abortApp(t, tc.accept, tc.handler, func(*server.WebSocket, *boomErr) error {
				panic(http.ErrAbortHandler)
			})
			if !tc.accept {
				u, _ := url.Parse(srv.URL)
				nc, err := net.Dial("tcp", u.Host)
				if err != nil {
					t.Fatal(err)
				}
				defer nc.Close()
				io.WriteString(nc, rawpeer.Request(u.Host, "/ws", rawpeer.SampleKey, ""))
				nc.SetReadDeadline(time.Now().Add(5 * time.Second))
				b, err := io.ReadAll(nc)
				if len(b) != 0 || (err != nil && !errors.Is(err, syscall.ECONNRESET)) {
					t.Fatalf("client read %q, %v; want the connection closed with no response", b, err)
				}
				e := rec.end(t)
				if e.level != slog.LevelInfo || !strings.Contains(e.str("reason"), "ErrAbortHandler") {
					t.Errorf("log: %v %v, want an info record saying the handler aborted", e.level, e.attrs)
				}
				return
			}
			c := rawpeer.Dial(t, hostport(srv), "/ws", "")
			c.ExpectEOF() // no close frame first
			e := rec.end(t)
			if e.level != slog.LevelInfo || e.int("code") != 1006 {
				t.Errorf("log: %v %v, want info, 1006", e.level, e.attrs)
			}
		})
	}
}

// runtime.Goexit (t.FailNow, say) in a handler or an exception handler
// still ends the connection by the rules (1011 after accept, 500 before)
// and logs it; nothing is left behind (leakcheck, TestMain).
func TestGoexit(t *testing.T) {
	for _, tc := range []struct {
		name    string
		accept  bool
		handler func(ws *server.WebSocket) error
	}{
		{"before accept", false, func(ws *server.WebSocket) error { runtime.Goexit(); return nil }},
		{"after accept", true, func(ws *server.WebSocket) error { runtime.Goexit(); return nil }},
		{"in an exception handler", true, func(ws *server.WebSocket) error { return errBoom }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, rec := abortApp(t, tc.accept, tc.handler, func(*server.WebSocket, *boomErr) error {
				runtime.Goexit()
				return nil
			})
			if !tc.accept {
				he := dialRefused(t, srv, "/ws", nil)
				if he.Status != http.StatusInternalServerError {
					t.Errorf("status %d, want 500", he.Status)
				}
				checkRefusalLog(t, rec.end(t), slog.LevelError, http.StatusInternalServerError)
				return
			}
			c := rawpeer.Dial(t, hostport(srv), "/ws", "")
			if got, want := c.SkipToClose(), rawpeer.ClosePayload(1011, "Internal Error"); string(got) != string(want) {
				t.Errorf("close frame %q, want %q", got, want)
			}
			c.Send(rawpeer.Close(1011, ""))
			e := rec.end(t)
			if e.level != slog.LevelError || !strings.Contains(e.str("error"), "Goexit") {
				t.Errorf("log: %v %v, want an error record naming Goexit", e.level, e.attrs)
			}
		})
	}
}

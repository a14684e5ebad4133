package server_test

// One test per row of /work/shared/SEMANTICS.md, each asserting what a real
// client receives on the wire: after accept, the close code and the exact
// reason bytes of the close frame the client read; before accept, the HTTP
// status, body and headers.

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"wsraise/server"
	"wsraise/server/wstest"
	"wsraise/wsproto"
)

// serve registers h on "/ws" of a new app and serves it.
func serve(t testing.TB, opts server.Options, h server.Handler) (*server.App, *wstest.Server, *logRecorder) {
	t.Helper()
	app, srv, rec := newApp(t, opts)
	app.Handle("/ws", h)
	return app, srv, rec
}

// dialRefused dials path and returns the refusal, failing the test if the
// handshake was accepted.
func dialRefused(t testing.TB, srv *wstest.Server, path string, header http.Header) *wsproto.HandshakeError {
	t.Helper()
	c, err := srv.Dial(t, path, &wsproto.DialOptions{Header: header})
	if err == nil {
		c.Conn.CloseNow()
		t.Fatalf("%s: handshake accepted, want a refusal", path)
	}
	var he *wsproto.HandshakeError
	if !errors.As(err, &he) {
		t.Fatalf("%s: %v, want a refused handshake", path, err)
	}
	return he
}

// checkLog checks the end record of a connection closed after accept.
func checkLog(t testing.TB, e logEntry, level slog.Level, closedBy string, code wsproto.StatusCode, reason string) {
	t.Helper()
	if e.level != level || e.str("closed_by") != closedBy || e.int("code") != int64(code) || e.str("reason") != reason {
		t.Errorf("log record %v closed_by=%s code=%d reason=%q, want %v %s %d %q (attrs %v)",
			e.level, e.str("closed_by"), e.int("code"), e.str("reason"), level, closedBy, code, reason, e.attrs)
	}
	if level == slog.LevelInfo {
		if _, ok := e.attrs["error"]; ok {
			t.Errorf("record at info level carries an error: %v", e.attrs["error"])
		}
	}
}

// checkRefusalLog checks the end record of a refused handshake.
func checkRefusalLog(t testing.TB, e logEntry, level slog.Level, status int) {
	t.Helper()
	if e.level != level || e.int("status") != int64(status) {
		t.Errorf("log record %v status=%d, want %v %d (attrs %v)", e.level, e.int("status"), level, status, e.attrs)
	}
	if _, ok := e.attrs["code"]; ok {
		t.Errorf("refusal logged with a close code: %v", e.attrs)
	}
}

// ---- Row 1 ----

func TestRow01RaiseAfterAccept(t *testing.T) {
	const reason = "Closing the connection..."
	handler := func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		return server.Raise(wsproto.StatusPolicyViolation, reason)
	}

	t.Run("client", func(t *testing.T) {
		_, srv, rec := serve(t, server.Options{}, handler)
		c := srv.Connect(t, "/ws")
		c.ExpectClose(wsproto.StatusPolicyViolation, reason)
		checkLog(t, rec.end(t), slog.LevelInfo, "server", 1008, reason)
	})

	// The close handshake: the server sends its close frame, waits for the
	// client's, and only then closes TCP.
	t.Run("handshake", func(t *testing.T) {
		_, srv, rec := serve(t, server.Options{CloseTimeout: 30 * time.Second}, handler)
		c := rawDial(t, srv, "/ws", nil)
		if got, want := c.expectCloseFrame(), closePayload(1008, reason); string(got) != string(want) {
			t.Fatalf("close frame % x, want % x", got, want)
		}
		// The server is waiting for our close frame: TCP must still be open.
		if op, p, err := c.readFrame(200 * time.Millisecond); !isTimeout(err) {
			t.Fatalf("after its close frame the server sent %#x % x, %v; want it to wait for ours", op, p, err)
		}
		select {
		case e := <-rec.ch:
			t.Fatalf("connection ended before the client's close frame: %v", e.attrs)
		default:
		}
		c.writeClose(1008, "")
		c.expectEOF()
		e := rec.end(t)
		checkLog(t, e, slog.LevelInfo, "server", 1008, reason)
		if d := e.attrs["duration"].Duration(); d >= 30*time.Second {
			t.Errorf("duration %v: the close timeout ended the connection", d)
		}
	})
}

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}

// ---- Row 2 ----

func TestRow02RaiseBeforeAccept(t *testing.T) {
	const reason = "Closing the connection..."
	raise := func(ws *server.WebSocket) error {
		return server.Raise(wsproto.StatusPolicyViolation, reason)
	}
	neverRuns := func(ws *server.WebSocket) error {
		t.Error("handler ran after its guard raised")
		return nil
	}

	t.Run("default 403", func(t *testing.T) {
		_, srv, rec := serve(t, server.Options{}, raise)
		he := dialRefused(t, srv, "/ws", nil)
		if he.Status != http.StatusForbidden || he.Body != reason {
			t.Errorf("refused with %d %q, want 403 %q", he.Status, he.Body, reason)
		}
		if ct := he.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
		if h := he.Header.Get("X-Content-Type-Options"); h != "nosniff" {
			t.Errorf("X-Content-Type-Options %q", h)
		}
		checkRefusalLog(t, rec.end(t), slog.LevelInfo, http.StatusForbidden)
	})

	t.Run("guard", func(t *testing.T) {
		app, srv, rec := newApp(t, server.Options{})
		app.Handle("/ws", neverRuns).Guard(raise)
		srv.ExpectRefused(t, "/ws", http.StatusForbidden, reason)
		checkRefusalLog(t, rec.end(t), slog.LevelInfo, http.StatusForbidden)
	})

	t.Run("close before accept", func(t *testing.T) {
		_, srv, rec := serve(t, server.Options{}, func(ws *server.WebSocket) error {
			return ws.Close(wsproto.StatusPolicyViolation, reason)
		})
		srv.ExpectRefused(t, "/ws", http.StatusForbidden, reason)
		checkRefusalLog(t, rec.end(t), slog.LevelInfo, http.StatusForbidden)
	})

	t.Run("app CloseAfterAccept", func(t *testing.T) {
		_, srv, rec := serve(t, server.Options{CloseAfterAccept: true}, raise)
		srv.Connect(t, "/ws").ExpectClose(wsproto.StatusPolicyViolation, reason)
		checkLog(t, rec.end(t), slog.LevelInfo, "server", 1008, reason)
	})

	t.Run("app CloseAfterAccept guard", func(t *testing.T) {
		app, srv, rec := newApp(t, server.Options{CloseAfterAccept: true})
		app.Handle("/ws", neverRuns).Guard(raise)
		srv.Connect(t, "/ws").ExpectClose(wsproto.StatusPolicyViolation, reason)
		checkLog(t, rec.end(t), slog.LevelInfo, "server", 1008, reason)
	})

	t.Run("route CloseAfterAccept", func(t *testing.T) {
		app, srv, rec := newApp(t, server.Options{})
		app.Handle("/after", raise).CloseAfterAccept()
		app.Handle("/refuse", raise)
		srv.Connect(t, "/after").ExpectClose(wsproto.StatusPolicyViolation, reason)
		checkLog(t, rec.end(t), slog.LevelInfo, "server", 1008, reason)
		srv.ExpectRefused(t, "/refuse", http.StatusForbidden, reason)
		checkRefusalLog(t, rec.end(t), slog.LevelInfo, http.StatusForbidden)
	})
}

// ---- Row 3 ----

// Error types for the match order. Each handler closes with its own reason,
// so the client sees which one ran.
type (
	coded interface {
		error
		Code() int
	}
	temporary interface {
		error
		Temporary() bool
	}

	exactErr struct{ n int }
	otherErr struct{}
	bothErr  struct{} // implements coded and temporary
	outerErr struct{ inner error }
)

func (*exactErr) Error() string   { return "exact" }
func (*exactErr) Code() int       { return 1 }
func (*otherErr) Error() string   { return "other" }
func (*bothErr) Error() string    { return "both" }
func (*bothErr) Code() int        { return 2 }
func (*bothErr) Temporary() bool  { return true }
func (e *outerErr) Error() string { return "outer: " + e.inner.Error() }
func (e *outerErr) Unwrap() error { return e.inner }
func (e *outerErr) Code() int     { return 3 }

// closeWith returns an exception handler closing with 4000 and reason.
func closeWith[E error](reason string) func(*server.WebSocket, E) error {
	return func(ws *server.WebSocket, err E) error {
		return ws.Close(4000, reason)
	}
}

func TestRow03HandlerMatchOrder(t *testing.T) {
	cases := []struct {
		name  string
		setup func(app *server.App, route *server.Route)
		raise error
		want  string
	}{
		{
			name: "exact type before an interface registered earlier",
			setup: func(app *server.App, _ *server.Route) {
				server.HandleException(app, closeWith[coded]("coded"))
				server.HandleException(app, closeWith[*exactErr]("exact"))
			},
			raise: &exactErr{}, want: "exact",
		},
		{
			name: "interfaces in registration order",
			setup: func(app *server.App, _ *server.Route) {
				server.HandleException(app, closeWith[temporary]("temporary"))
				server.HandleException(app, closeWith[coded]("coded"))
			},
			raise: &bothErr{}, want: "temporary",
		},
		{
			name: "interfaces in registration order, reversed",
			setup: func(app *server.App, _ *server.Route) {
				server.HandleException(app, closeWith[coded]("coded"))
				server.HandleException(app, closeWith[temporary]("temporary"))
			},
			raise: &bothErr{}, want: "coded",
		},
		{
			name: "catch-all after an exact match",
			setup: func(app *server.App, _ *server.Route) {
				server.HandleException(app, closeWith[error]("catch-all"))
				server.HandleException(app, closeWith[*exactErr]("exact"))
			},
			raise: &exactErr{}, want: "exact",
		},
		{
			name: "catch-all after an interface match",
			setup: func(app *server.App, _ *server.Route) {
				server.HandleException(app, closeWith[error]("catch-all"))
				server.HandleException(app, closeWith[coded]("coded"))
			},
			raise: &bothErr{}, want: "coded",
		},
		{
			name: "catch-all when nothing else matches",
			setup: func(app *server.App, _ *server.Route) {
				server.HandleException(app, closeWith[*exactErr]("exact"))
				server.HandleException(app, closeWith[error]("catch-all"))
			},
			raise: errors.New("plain"), want: "catch-all",
		},
		{
			name: "wrapped with fmt.Errorf %w",
			setup: func(app *server.App, _ *server.Route) {
				server.HandleException(app, closeWith[*exactErr]("exact"))
			},
			raise: fmt.Errorf("loading: %w", fmt.Errorf("query: %w", &exactErr{})), want: "exact",
		},
		{
			name: "outermost link first",
			setup: func(app *server.App, _ *server.Route) {
				server.HandleException(app, closeWith[*exactErr]("exact"))
				server.HandleException(app, closeWith[*outerErr]("outer"))
			},
			raise: &outerErr{inner: &exactErr{}}, want: "outer",
		},
		{
			name: "an outer link's interface before an inner link's exact type",
			setup: func(app *server.App, _ *server.Route) {
				server.HandleException(app, closeWith[*exactErr]("exact"))
				server.HandleException(app, closeWith[coded]("coded"))
			},
			raise: fmt.Errorf("w: %w", &outerErr{inner: &exactErr{}}), want: "coded",
		},
		{
			name: "errors.Join in order",
			setup: func(app *server.App, _ *server.Route) {
				server.HandleException(app, closeWith[*otherErr]("other"))
				server.HandleException(app, closeWith[*exactErr]("exact"))
			},
			raise: errors.Join(errors.New("plain"), &exactErr{}, &otherErr{}), want: "exact",
		},
		{
			name: "errors.Join depth first",
			setup: func(app *server.App, _ *server.Route) {
				server.HandleException(app, closeWith[*otherErr]("other"))
				server.HandleException(app, closeWith[*exactErr]("exact"))
			},
			raise: fmt.Errorf("ctx: %w", errors.Join(fmt.Errorf("a: %w", &otherErr{}), &exactErr{})), want: "other",
		},
		{
			name: "route's exact handler over the app's",
			setup: func(app *server.App, route *server.Route) {
				server.HandleException(app, closeWith[*exactErr]("app"))
				server.HandleException(route, closeWith[*exactErr]("route"))
			},
			raise: &exactErr{}, want: "route",
		},
		{
			name: "route's interface handler over the app's",
			setup: func(app *server.App, route *server.Route) {
				server.HandleException(app, closeWith[coded]("app"))
				server.HandleException(route, closeWith[coded]("route"))
			},
			raise: &exactErr{}, want: "route",
		},
		{
			name: "route's catch-all over the app's",
			setup: func(app *server.App, route *server.Route) {
				server.HandleException(app, closeWith[error]("app"))
				server.HandleException(route, closeWith[error]("route"))
			},
			raise: errors.New("plain"), want: "route",
		},
		{
			name: "app's exact handler before route's catch-all",
			setup: func(app *server.App, route *server.Route) {
				server.HandleException(app, closeWith[*exactErr]("app"))
				server.HandleException(route, closeWith[error]("route"))
			},
			raise: &exactErr{}, want: "app",
		},
		{
			name: "app handler when the route has none",
			setup: func(app *server.App, route *server.Route) {
				server.HandleException(app, closeWith[*exactErr]("app"))
				server.HandleException(route, closeWith[*otherErr]("route"))
			},
			raise: &exactErr{}, want: "app",
		},
		{
			name: "a later registration for the same type replaces the earlier",
			setup: func(app *server.App, _ *server.Route) {
				server.HandleException(app, closeWith[*exactErr]("first"))
				server.HandleException(app, closeWith[*exactErr]("second"))
			},
			raise: &exactErr{}, want: "second",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			app, srv, rec := newApp(t, server.Options{})
			route := app.Handle("/ws", func(ws *server.WebSocket) error {
				if err := ws.Accept(); err != nil {
					return err
				}
				return tc.raise
			})
			tc.setup(app, route)
			srv.Connect(t, "/ws").ExpectClose(4000, tc.want)
			checkLog(t, rec.end(t), slog.LevelInfo, "server", 4000, tc.want)
		})
	}

	// The handler gets the matching link of the chain, typed, and the same
	// WebSocket: it can still send before closing.
	t.Run("handler gets the link and the websocket", func(t *testing.T) {
		app, srv, rec := newApp(t, server.Options{})
		app.Handle("/ws", func(ws *server.WebSocket) error {
			if err := ws.Accept(); err != nil {
				return err
			}
			return fmt.Errorf("ctx: %w", &exactErr{n: 42})
		})
		server.HandleException(app, func(ws *server.WebSocket, err *exactErr) error {
			if err := ws.SendText(fmt.Sprintf("n=%d state=%v", err.n, ws.State())); err != nil {
				return err
			}
			return ws.Close(wsproto.StatusPolicyViolation, "Custom exception")
		})
		c := srv.Connect(t, "/ws")
		if got := c.ReceiveText(); got != "n=42 state=connected" {
			t.Errorf("message %q", got)
		}
		c.ExpectClose(wsproto.StatusPolicyViolation, "Custom exception")
		checkLog(t, rec.end(t), slog.LevelInfo, "server", 1008, "Custom exception")
	})

	// A panic with an error, deep in the handler's stack, is matched like a
	// returned error.
	t.Run("panic with an error", func(t *testing.T) {
		app, srv, rec := newApp(t, server.Options{})
		app.Handle("/ws", func(ws *server.WebSocket) error {
			if err := ws.Accept(); err != nil {
				return err
			}
			deepPanic(3, fmt.Errorf("deep: %w", &exactErr{}))
			return nil
		})
		server.HandleException(app, closeWith[*exactErr]("exact"))
		srv.Connect(t, "/ws").ExpectClose(4000, "exact")
		checkLog(t, rec.end(t), slog.LevelInfo, "server", 4000, "exact")
	})

	// Before accept, the handler runs with the handshake still open; its
	// Close refuses it.
	t.Run("handler before accept", func(t *testing.T) {
		app, srv, rec := newApp(t, server.Options{})
		app.Handle("/ws", func(ws *server.WebSocket) error { return &exactErr{} })
		server.HandleException(app, func(ws *server.WebSocket, err *exactErr) error {
			if ws.State() != server.Connecting {
				t.Errorf("state %v in the exception handler, want connecting", ws.State())
			}
			return ws.Close(wsproto.StatusPolicyViolation, "Custom exception")
		})
		srv.ExpectRefused(t, "/ws", http.StatusForbidden, "Custom exception")
		checkRefusalLog(t, rec.end(t), slog.LevelInfo, http.StatusForbidden)
	})
}

func deepPanic(depth int, v any) {
	if depth == 0 {
		panic(v)
	}
	deepPanic(depth-1, v)
}

// ---- Row 4 ----

func TestRow04HandlerFails(t *testing.T) {
	raiseExact := func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		return &exactErr{}
	}
	cases := []struct {
		name       string
		handler    func(ws *server.WebSocket, err *exactErr) error
		wantCode   wsproto.StatusCode
		wantReason string
		wantInLog  string
	}{
		{
			name: "returns a WebSocketException",
			handler: func(ws *server.WebSocket, err *exactErr) error {
				return server.Raise(4001, "from the handler")
			},
			wantCode: 4001, wantReason: "from the handler", wantInLog: "from the handler",
		},
		{
			name: "returns the error it handles",
			handler: func(ws *server.WebSocket, err *exactErr) error {
				return err
			},
			wantCode: 1011, wantReason: "Internal Error", wantInLog: "exact",
		},
		{
			name: "returns a plain error",
			handler: func(ws *server.WebSocket, err *exactErr) error {
				return errors.New("handler broke")
			},
			wantCode: 1011, wantReason: "Internal Error", wantInLog: "handler broke",
		},
		{
			name: "panics with a WebSocketException",
			handler: func(ws *server.WebSocket, err *exactErr) error {
				deepPanic(2, server.Raise(4002, "panicked"))
				return nil
			},
			wantCode: 4002, wantReason: "panicked", wantInLog: "panicked",
		},
		{
			name: "panics with a non-error",
			handler: func(ws *server.WebSocket, err *exactErr) error {
				panic("handler panic")
			},
			wantCode: 1011, wantReason: "Internal Error", wantInLog: "handler panic",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var calls, catchAll atomic.Int32
			app, srv, rec := serve(t, server.Options{}, raiseExact)
			server.HandleException(app, func(ws *server.WebSocket, err *exactErr) error {
				calls.Add(1)
				return tc.handler(ws, err)
			})
			// Never called with the handler's own error: no loops.
			server.HandleException(app, func(ws *server.WebSocket, err error) error {
				catchAll.Add(1)
				return ws.Close(4999, "catch-all")
			})
			srv.Connect(t, "/ws").ExpectClose(tc.wantCode, tc.wantReason)
			e := rec.end(t)
			checkLog(t, e, slog.LevelError, "server", tc.wantCode, tc.wantReason)
			if !strings.Contains(e.str("error"), tc.wantInLog) {
				t.Errorf("logged error %q does not mention %q", e.str("error"), tc.wantInLog)
			}
			if calls.Load() != 1 || catchAll.Load() != 0 {
				t.Errorf("handler called %d times, catch-all %d; want 1 and 0", calls.Load(), catchAll.Load())
			}
		})
	}

	t.Run("catch-all fails", func(t *testing.T) {
		var calls atomic.Int32
		app, srv, rec := serve(t, server.Options{}, raiseExact)
		server.HandleException(app, func(ws *server.WebSocket, err error) error {
			calls.Add(1)
			return fmt.Errorf("catch-all: %w", err)
		})
		srv.Connect(t, "/ws").ExpectClose(wsproto.StatusInternalError, "Internal Error")
		checkLog(t, rec.end(t), slog.LevelError, "server", 1011, "Internal Error")
		if calls.Load() != 1 {
			t.Errorf("catch-all called %d times", calls.Load())
		}
	})

	t.Run("before accept", func(t *testing.T) {
		app, srv, rec := serve(t, server.Options{}, func(ws *server.WebSocket) error { return &exactErr{} })
		server.HandleException(app, func(ws *server.WebSocket, err *exactErr) error {
			return errors.New("handler broke")
		})
		srv.ExpectRefused(t, "/ws", http.StatusInternalServerError, "Internal Server Error")
		e := rec.end(t)
		checkRefusalLog(t, e, slog.LevelError, http.StatusInternalServerError)
		if !strings.Contains(e.str("error"), "handler broke") {
			t.Errorf("logged error %q", e.str("error"))
		}
	})
}

// ---- Row 5 ----

func TestRow05UnhandledAfterAccept(t *testing.T) {
	cases := []struct {
		name      string
		debug     bool
		fail      func() error
		reason    string
		wantInLog string
	}{
		{"returned", false, func() error { return errors.New("database down") }, "Internal Error", "database down"},
		{"wrapped", false, func() error { return fmt.Errorf("loading: %w", errors.New("database down")) }, "Internal Error", "loading: database down"},
		{"panic with an error", false, func() error { deepPanic(3, errors.New("database down")); return nil }, "Internal Error", "database down"},
		{"panic with a string", false, func() error { deepPanic(3, "nil map"); return nil }, "Internal Error", "panic: nil map"},
		{"debug", true, func() error { return errors.New("database down") }, "database down", "database down"},
		{"debug, long error", true, func() error { return errors.New(strings.Repeat("x", 200)) }, strings.Repeat("x", 123), strings.Repeat("x", 200)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, srv, rec := serve(t, server.Options{Debug: tc.debug}, func(ws *server.WebSocket) error {
				if err := ws.Accept(); err != nil {
					return err
				}
				return tc.fail()
			})
			srv.Connect(t, "/ws").ExpectClose(wsproto.StatusInternalError, tc.reason)
			e := rec.end(t)
			checkLog(t, e, slog.LevelError, "server", 1011, tc.reason)
			if e.str("route") != "/ws" || !strings.Contains(e.str("error"), tc.wantInLog) {
				t.Errorf("logged route %q error %q, want /ws and %q", e.str("route"), e.str("error"), tc.wantInLog)
			}
			if strings.HasPrefix(tc.name, "panic with a string") && !strings.Contains(e.str("stack"), "deepPanic") {
				t.Errorf("panic logged without its stack: %q", e.str("stack"))
			}
		})
	}
}

// ---- Row 6 ----

func TestRow06UnhandledBeforeAccept(t *testing.T) {
	for _, where := range []string{"handler", "guard", "panic"} {
		t.Run(where, func(t *testing.T) {
			app, srv, rec := newApp(t, server.Options{Debug: true})
			fail := func(ws *server.WebSocket) error {
				if where == "panic" {
					panic(errors.New("database down"))
				}
				return errors.New("database down")
			}
			r := app.Handle("/ws", fail)
			if where == "guard" {
				r.Guard(fail)
			}
			he := dialRefused(t, srv, "/ws", nil)
			// Even in debug mode the error text stays in the log.
			if he.Status != http.StatusInternalServerError || he.Body != "Internal Server Error" {
				t.Errorf("refused with %d %q", he.Status, he.Body)
			}
			e := rec.end(t)
			checkRefusalLog(t, e, slog.LevelError, http.StatusInternalServerError)
			if !strings.Contains(e.str("error"), "database down") {
				t.Errorf("logged error %q", e.str("error"))
			}
		})
	}
}

// ---- Row 7 ----

func TestRow07ReturnNilAfterAccept(t *testing.T) {
	_, srv, rec := serve(t, server.Options{}, func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		return ws.SendText("bye")
	})
	c := srv.Connect(t, "/ws")
	if got := c.ReceiveText(); got != "bye" {
		t.Errorf("message %q", got)
	}
	c.ExpectClose(wsproto.StatusNormalClosure, "")
	checkLog(t, rec.end(t), slog.LevelInfo, "server", 1000, "")
}

// ---- Row 8 ----

func TestRow08ReturnNilWithoutAccept(t *testing.T) {
	_, srv, rec := serve(t, server.Options{}, func(ws *server.WebSocket) error { return nil })
	srv.ExpectRefused(t, "/ws", http.StatusInternalServerError, "Internal Server Error")
	e := rec.end(t)
	checkRefusalLog(t, e, slog.LevelError, http.StatusInternalServerError)
	if !strings.Contains(e.str("error"), "without completing the handshake") {
		t.Errorf("logged error %q", e.str("error"))
	}
}

// ---- Row 9 ----

func TestRow09HTTPExceptionBeforeAccept(t *testing.T) {
	cases := []struct {
		name       string
		exc        *server.HTTPException
		wantStatus int
		wantBody   string
		wantHeader http.Header
	}{
		{"with header", &server.HTTPException{Status: 401, Detail: "login first", Header: http.Header{"Www-Authenticate": {`Bearer realm="chat"`}}},
			401, "login first", http.Header{"Www-Authenticate": {`Bearer realm="chat"`}, "Content-Type": {"text/plain; charset=utf-8"}}},
		{"no detail", &server.HTTPException{Status: 404}, 404, "Not Found", nil},
		{"rate limit", &server.HTTPException{Status: 429, Detail: "slow down", Header: http.Header{"Retry-After": {"30"}}},
			429, "slow down", http.Header{"Retry-After": {"30"}}},
	}
	for _, tc := range cases {
		for _, where := range []string{"handler", "guard"} {
			t.Run(tc.name+" "+where, func(t *testing.T) {
				app, srv, rec := newApp(t, server.Options{})
				raise := func(ws *server.WebSocket) error { return fmt.Errorf("auth: %w", tc.exc) }
				r := app.Handle("/ws", raise)
				if where == "guard" {
					r.Guard(raise)
				}
				he := dialRefused(t, srv, "/ws", nil)
				if he.Status != tc.wantStatus || he.Body != tc.wantBody {
					t.Errorf("refused with %d %q, want %d %q", he.Status, he.Body, tc.wantStatus, tc.wantBody)
				}
				for k, v := range tc.wantHeader {
					if got := he.Header.Values(k); strings.Join(got, "|") != strings.Join(v, "|") {
						t.Errorf("header %s: %q, want %q", k, got, v)
					}
				}
				checkRefusalLog(t, rec.end(t), slog.LevelInfo, tc.wantStatus)
			})
		}
	}
}

// ---- Row 10 ----

func TestRow10HTTPExceptionAfterAccept(t *testing.T) {
	cases := []struct {
		status int
		detail string
		code   wsproto.StatusCode
	}{
		{401, "login first", 4401},
		{403, "forbidden", 4403},
		{404, "no such room", 4404},
		{400, "", 4400},
		{599, "edge", 4599},
		{302, "moved", 1011},
		{200, "ok?", 1011},
		{600, "too high", 1011},
		{399, "just below", 1011},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			_, srv, rec := serve(t, server.Options{}, func(ws *server.WebSocket) error {
				if err := ws.Accept(); err != nil {
					return err
				}
				return &server.HTTPException{Status: tc.status, Detail: tc.detail}
			})
			srv.Connect(t, "/ws").ExpectClose(tc.code, tc.detail)
			checkLog(t, rec.end(t), slog.LevelInfo, "server", tc.code, tc.detail)
		})
	}
}

// ---- Row 11 ----

func TestRow11InvalidCloseCode(t *testing.T) {
	invalid := []wsproto.StatusCode{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}
	for _, code := range invalid {
		for _, how := range []string{"raise", "close", "raise before accept"} {
			t.Run(fmt.Sprintf("%d %s", code, how), func(t *testing.T) {
				opts := server.Options{CloseAfterAccept: how == "raise before accept"}
				_, srv, rec := serve(t, opts, func(ws *server.WebSocket) error {
					if how == "raise before accept" {
						return server.Raise(code, "bad code")
					}
					if err := ws.Accept(); err != nil {
						return err
					}
					if how == "close" {
						return ws.Close(code, "bad code")
					}
					return server.Raise(code, "bad code")
				})
				srv.Connect(t, "/ws").ExpectClose(wsproto.StatusInternalError, "Internal Error")
				e := rec.end(t)
				checkLog(t, e, slog.LevelError, "server", 1011, "Internal Error")
				if !strings.Contains(e.str("error"), fmt.Sprint(int(code))) {
					t.Errorf("logged error %q does not name code %d", e.str("error"), code)
				}
			})
		}
	}
	// The codes that may be sent go out as raised.
	for _, code := range []wsproto.StatusCode{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999} {
		t.Run(fmt.Sprintf("%d valid", code), func(t *testing.T) {
			_, srv, rec := serve(t, server.Options{}, func(ws *server.WebSocket) error {
				if err := ws.Accept(); err != nil {
					return err
				}
				return server.Raise(code, "fine")
			})
			srv.Connect(t, "/ws").ExpectClose(code, "fine")
			checkLog(t, rec.end(t), slog.LevelInfo, "server", code, "fine")
		})
	}
}

// ---- Row 12 ----

func TestRow12ReasonSanitised(t *testing.T) {
	long := "a" + strings.Repeat("€", 66) + "b" // 200 bytes; byte 123 is inside a "€"
	if len(long) != 200 {
		t.Fatalf("len %d", len(long))
	}
	emoji := strings.Repeat("😀", 50) // 200 bytes of 4-byte characters
	cases := []struct {
		name, reason, want string
	}{
		{"long multi-byte", long, "a" + strings.Repeat("€", 40)},
		{"long 4-byte", emoji, strings.Repeat("😀", 30)},
		{"exactly 123 bytes", strings.Repeat("€", 41), strings.Repeat("€", 41)},
		{"124 bytes", strings.Repeat("x", 124), strings.Repeat("x", 123)},
		{"invalid UTF-8", "bad\xffbytes\xc3", "bad\uFFFDbytes\uFFFD"},
		{"invalid and long", strings.Repeat("\xffa", 60), strings.Repeat("\uFFFDa", 30) + "\uFFFD"},
		{"a run of invalid bytes is one U+FFFD", "x\xff\xfe\xfdy", "x\uFFFDy"},
		{"empty", "", ""},
	}
	for _, tc := range cases {
		for _, how := range []string{"raise", "close"} {
			t.Run(tc.name+" "+how, func(t *testing.T) {
				_, srv, rec := serve(t, server.Options{}, func(ws *server.WebSocket) error {
					if err := ws.Accept(); err != nil {
						return err
					}
					if how == "close" {
						return ws.Close(4000, tc.reason)
					}
					return server.Raise(4000, tc.reason)
				})
				c := srv.Connect(t, "/ws")
				code, reason := c.Closed()
				if code != 4000 || reason != tc.want {
					t.Errorf("closed with %v %q, want 4000 %q", code, reason, tc.want)
				}
				if len(reason) > wsproto.MaxCloseReason || !utf8.ValidString(reason) {
					t.Errorf("reason of %d bytes, valid UTF-8 %v", len(reason), utf8.ValidString(reason))
				}
				checkLog(t, rec.end(t), slog.LevelInfo, "server", 4000, tc.want)
			})
		}
	}
}

// ---- Row 13 ----

func TestRow13PeerGone(t *testing.T) {
	for _, how := range []string{"close frame", "tcp dropped"} {
		t.Run(how, func(t *testing.T) {
			type result struct {
				sendErr  error
				closeErr error
			}
			results := make(chan result, 1)
			_, srv, rec := serve(t, server.Options{}, func(ws *server.WebSocket) error {
				if err := ws.Accept(); err != nil {
					return err
				}
				// Context ends once the reading goroutine sees the end.
				select {
				case <-ws.Context().Done():
				case <-time.After(wstest.Timeout):
					return errors.New("context not cancelled by the peer's leaving")
				}
				var r result
				r.sendErr = ws.SendText("anyone there?")
				r.closeErr = ws.Close(wsproto.StatusNormalClosure, "")
				results <- r
				return server.Raise(wsproto.StatusPolicyViolation, "too late")
			})
			c := srv.Connect(t, "/ws")
			if how == "close frame" {
				if err := c.Conn.Close(wsproto.StatusGoingAway, "leaving"); err != nil {
					t.Fatalf("client close: %v", err)
				}
			} else {
				c.Conn.CloseNow()
			}
			r := within(t, results, "the handler")
			var d *server.Disconnect
			if !errors.As(r.sendErr, &d) {
				t.Fatalf("send after the peer left: %T %v, want a *server.Disconnect", r.sendErr, r.sendErr)
			}
			wantCode, wantReason := wsproto.StatusAbnormalClosure, ""
			if how == "close frame" {
				wantCode, wantReason = wsproto.StatusGoingAway, "leaving"
			}
			if d.Code != wantCode || d.Reason != wantReason || !d.ByPeer {
				t.Errorf("disconnect %+v, want %v %q by peer", d, wantCode, wantReason)
			}
			if r.closeErr != nil {
				t.Errorf("Close after the peer left: %v, want nil", r.closeErr)
			}
			e := rec.end(t)
			closedBy := "none"
			if how == "close frame" {
				closedBy = "client"
			}
			checkLog(t, e, slog.LevelInfo, closedBy, wantCode, wantReason)
		})
	}
}

// ---- Row 14 ----

func TestRow14InvalidJSON(t *testing.T) {
	receive := func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		for {
			var v struct{ N int }
			if err := ws.ReceiveJSON(&v); err != nil {
				return err
			}
			if err := ws.SendJSON(v); err != nil {
				return err
			}
		}
	}

	t.Run("default", func(t *testing.T) {
		_, srv, rec := serve(t, server.Options{}, receive)
		c := srv.Connect(t, "/ws")
		c.SendText(`{"N": 7}`)
		if got := c.ReceiveText(); got != `{"N":7}` {
			t.Errorf("echo %q", got)
		}
		c.SendText(`{"N": not json`)
		c.ExpectClose(wsproto.StatusInvalidPayload, "invalid JSON")
		checkLog(t, rec.end(t), slog.LevelInfo, "server", 1007, "invalid JSON")
	})

	t.Run("wrong type, binary message", func(t *testing.T) {
		_, srv, rec := serve(t, server.Options{}, receive)
		c := srv.Connect(t, "/ws")
		c.SendBytes([]byte(`{"N": "seven"}`))
		c.ExpectClose(wsproto.StatusInvalidPayload, "invalid JSON")
		checkLog(t, rec.end(t), slog.LevelInfo, "server", 1007, "invalid JSON")
	})

	t.Run("wrapped", func(t *testing.T) {
		_, srv, rec := serve(t, server.Options{}, func(ws *server.WebSocket) error {
			return fmt.Errorf("reading the request: %w", receive(ws))
		})
		c := srv.Connect(t, "/ws")
		c.SendText(`[`)
		c.ExpectClose(wsproto.StatusInvalidPayload, "invalid JSON")
		checkLog(t, rec.end(t), slog.LevelInfo, "server", 1007, "invalid JSON")
	})

	for _, on := range []string{"app", "route", "catch-all"} {
		t.Run("overridden on "+on, func(t *testing.T) {
			app, srv, rec := newApp(t, server.Options{})
			route := app.Handle("/ws", receive)
			h := func(ws *server.WebSocket, err *server.JSONError) error {
				return ws.Close(4400, "bad json: "+err.Err.Error())
			}
			switch on {
			case "app":
				server.HandleException(app, h)
			case "route":
				server.HandleException(route, h)
			case "catch-all":
				server.HandleException(app, func(ws *server.WebSocket, err error) error {
					var je *server.JSONError
					if !errors.As(err, &je) {
						return err
					}
					return h(ws, je)
				})
			}
			c := srv.Connect(t, "/ws")
			c.SendText(`{`)
			want := "bad json: unexpected end of JSON input"
			c.ExpectClose(4400, want)
			checkLog(t, rec.end(t), slog.LevelInfo, "server", 4400, want)
		})
	}
}

// ---- Rows 15 to 18: the client leaves ----

// disconnectApp serves a handler that receives until an error, reports it,
// and returns it (wrapped, if wrap).
func disconnectApp(t *testing.T, wrap bool) (*wstest.Server, *logRecorder, <-chan error) {
	errs := make(chan error, 1)
	_, srv, rec := serve(t, server.Options{}, func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		for {
			if _, _, err := ws.Receive(); err != nil {
				errs <- err
				if wrap {
					return fmt.Errorf("receiving: %w", err)
				}
				return err
			}
		}
	})
	return srv, rec, errs
}

func expectDisconnect(t *testing.T, err error, code wsproto.StatusCode, reason string) {
	t.Helper()
	var d *server.Disconnect
	if !errors.As(err, &d) {
		t.Fatalf("receive returned %T %v, want a *server.Disconnect", err, err)
	}
	if d.Code != code || d.Reason != reason || !d.ByPeer {
		t.Errorf("disconnect %v %q by peer %v, want %v %q by peer", d.Code, d.Reason, d.ByPeer, code, reason)
	}
	if server.CloseStatus(err) != code {
		t.Errorf("CloseStatus %v", server.CloseStatus(err))
	}
	var ce *wsproto.CloseError
	if !errors.As(err, &ce) || ce.Code != code || !ce.Received && code != wsproto.StatusAbnormalClosure {
		t.Errorf("wrapped CloseError %+v", ce)
	}
}

func TestRow15ClientCloses(t *testing.T) {
	t.Run("raw", func(t *testing.T) {
		srv, rec, errs := disconnectApp(t, false)
		c := rawDial(t, srv, "/ws", nil)
		c.writeClose(4001, "bye now")
		expectDisconnect(t, within(t, errs, "the handler's receive"), 4001, "bye now")
		// The protocol layer's reply echoes the code.
		if got, want := c.expectCloseFrame(), closePayload(4001, ""); string(got) != string(want) {
			t.Errorf("close reply % x, want % x", got, want)
		}
		c.expectEOF()
		checkLog(t, rec.end(t), slog.LevelInfo, "client", 4001, "bye now")
	})

	t.Run("client library", func(t *testing.T) {
		srv, rec, errs := disconnectApp(t, false)
		c := srv.Connect(t, "/ws")
		if err := c.Conn.Close(wsproto.StatusNormalClosure, "done"); err != nil {
			t.Fatalf("close handshake: %v", err)
		}
		if end := c.Conn.Err(); end == nil || end.Code != wsproto.StatusNormalClosure || end.Received {
			t.Errorf("client's end %+v", end)
		}
		expectDisconnect(t, within(t, errs, "the handler's receive"), 1000, "done")
		checkLog(t, rec.end(t), slog.LevelInfo, "client", 1000, "done")
	})
}

func TestRow16ClientClosesWithoutCode(t *testing.T) {
	srv, rec, errs := disconnectApp(t, false)
	c := rawDial(t, srv, "/ws", nil)
	c.write(opClose, nil)
	expectDisconnect(t, within(t, errs, "the handler's receive"), wsproto.StatusNoStatusRcvd, "")
	if got := c.expectCloseFrame(); len(got) != 0 {
		t.Errorf("close reply % x, want an empty one", got)
	}
	c.expectEOF()
	checkLog(t, rec.end(t), slog.LevelInfo, "client", 1005, "")
}

func TestRow17TCPDropped(t *testing.T) {
	srv, rec, errs := disconnectApp(t, false)
	c := rawDial(t, srv, "/ws", nil)
	c.write(opText, []byte("half a conversation"))
	c.nc.Close()
	expectDisconnect(t, within(t, errs, "the handler's receive"), wsproto.StatusAbnormalClosure, "")
	checkLog(t, rec.end(t), slog.LevelInfo, "none", 1006, "")
}

func TestRow18ReturnDisconnect(t *testing.T) {
	for _, wrap := range []bool{false, true} {
		t.Run(fmt.Sprintf("wrapped=%v", wrap), func(t *testing.T) {
			srv, rec, errs := disconnectApp(t, wrap)
			c := rawDial(t, srv, "/ws", nil)
			c.writeClose(1000, "done")
			expectDisconnect(t, within(t, errs, "the handler's receive"), 1000, "done")
			// Exactly one close frame, the protocol layer's reply; then EOF.
			if got, want := c.expectCloseFrame(), closePayload(1000, ""); string(got) != string(want) {
				t.Errorf("close reply % x, want % x", got, want)
			}
			c.expectEOF()
			checkLog(t, rec.end(t), slog.LevelInfo, "client", 1000, "done")
		})
	}
}

// ---- Row 19 ----

func TestRow19Misuse(t *testing.T) {
	type result struct {
		name string
		err  error
	}
	results := make(chan []result, 1)
	_, srv, rec := serve(t, server.Options{}, func(ws *server.WebSocket) error {
		var rs []result
		_, _, err := ws.Receive()
		rs = append(rs, result{"Receive", err})
		_, err = ws.ReceiveText()
		rs = append(rs, result{"ReceiveText", err})
		err = ws.ReceiveJSON(new(any))
		rs = append(rs, result{"ReceiveJSON", err})
		rs = append(rs, result{"SendText", ws.SendText("x")})
		rs = append(rs, result{"SendBytes", ws.SendBytes([]byte("x"))})
		rs = append(rs, result{"Accept", ws.Accept()})
		rs = append(rs, result{"Accept again", ws.Accept()})
		results <- rs
		return nil
	})
	srv.Connect(t, "/ws").ExpectClose(wsproto.StatusNormalClosure, "")
	want := []error{server.ErrNotAccepted, server.ErrNotAccepted, server.ErrNotAccepted, server.ErrNotAccepted, server.ErrNotAccepted, nil, server.ErrAlreadyAccepted}
	for i, r := range within(t, results, "the handler") {
		if !errors.Is(r.err, want[i]) || (want[i] == nil) != (r.err == nil) {
			t.Errorf("%s: %v, want %v", r.name, r.err, want[i])
		}
	}
	checkLog(t, rec.end(t), slog.LevelInfo, "server", 1000, "")

	t.Run("accept after refusing", func(t *testing.T) {
		errs := make(chan error, 1)
		_, srv, rec := serve(t, server.Options{}, func(ws *server.WebSocket) error {
			ws.Close(wsproto.StatusPolicyViolation, "no")
			errs <- ws.Accept()
			return nil
		})
		srv.ExpectRefused(t, "/ws", http.StatusForbidden, "no")
		if err := within(t, errs, "the handler"); !errors.Is(err, server.ErrHandshakeAnswered) {
			t.Errorf("Accept after a refusal: %v", err)
		}
		checkRefusalLog(t, rec.end(t), slog.LevelInfo, http.StatusForbidden)
	})
}

// ---- Protocol failures seen by the handler ----

func TestProtocolFailures(t *testing.T) {
	cases := []struct {
		name   string
		send   func(c *rawConn)
		code   wsproto.StatusCode
		reason string
	}{
		{"over the read limit", func(c *rawConn) { c.write(opBin, make([]byte, 2000)) }, 1009, "message too big"},
		{"invalid UTF-8 text", func(c *rawConn) { c.write(opText, []byte("ok\xff")) }, 1007, "invalid UTF-8 in text message"},
		{"unmasked frame", func(c *rawConn) { c.writeFrame(opText, []byte("hi"), false) }, 1002, "client frame is not masked"},
		{"invalid close code", func(c *rawConn) { c.writeClose(1005, "") }, 1002, "invalid close code 1005"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := make(chan error, 1)
			_, srv, rec := serve(t, server.Options{ReadLimit: 1024}, func(ws *server.WebSocket) error {
				if err := ws.Accept(); err != nil {
					return err
				}
				_, _, err := ws.Receive()
				errs <- err
				return err
			})
			c := rawDial(t, srv, "/ws", nil)
			tc.send(c)
			if got, want := c.expectCloseFrame(), closePayload(uint16(tc.code), tc.reason); string(got) != string(want) {
				t.Errorf("close frame % x (%q), want % x", got, got, want)
			}
			// The server half-closes TCP right after its close frame: nothing
			// more is sent. Then a client closes its side.
			c.expectEOF()
			c.nc.Close()
			err := within(t, errs, "the handler's receive")
			var d *server.Disconnect
			if !errors.As(err, &d) || d.Code != tc.code || d.ByPeer {
				t.Errorf("receive returned %v, want a disconnect with %v sent by the server", err, tc.code)
			}
			checkLog(t, rec.end(t), slog.LevelInfo, "server", tc.code, tc.reason)
		})
	}

	// Over the limit with a real client, which sees 1009.
	t.Run("client library", func(t *testing.T) {
		_, srv, rec := serve(t, server.Options{ReadLimit: 1024}, func(ws *server.WebSocket) error {
			if err := ws.Accept(); err != nil {
				return err
			}
			_, _, err := ws.Receive()
			return err
		})
		c := srv.Connect(t, "/ws")
		c.SendBytes(make([]byte, 4096))
		c.ExpectClose(wsproto.StatusMessageTooBig, "message too big")
		checkLog(t, rec.end(t), slog.LevelInfo, "server", 1009, "message too big")
	})
}

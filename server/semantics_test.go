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
	"testing"
	"time"

	"wsraise/internal/rawpeer"
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

// ---- a WebSocketException after accept ----

func TestRaiseAfterAccept(t *testing.T) {
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
		c := rawpeer.Dial(t, hostport(srv), "/ws", "")
		if got, want := c.SkipToClose(), rawpeer.ClosePayload(1008, reason); string(got) != string(want) {
			t.Fatalf("close frame % x, want % x", got, want)
		}
		// The server is waiting for our close frame: TCP must still be open.
		if f, err := c.ReadFrame(200 * time.Millisecond); !isTimeout(err) {
			t.Fatalf("after its close frame the server sent %#x % x, %v; want it to wait for ours", f.Op, f.Payload, err)
		}
		select {
		case e := <-rec.ch:
			t.Fatalf("connection ended before the client's close frame: %v", e.attrs)
		default:
		}
		c.Send(rawpeer.Close(1008, ""))
		c.ExpectEOF()
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

// ---- a WebSocketException before accept ----

func TestRaiseBeforeAccept(t *testing.T) {
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
		app.Handle("/after", raise).CloseAfterAccept(true)
		app.Handle("/refuse", raise)
		srv.Connect(t, "/after").ExpectClose(wsproto.StatusPolicyViolation, reason)
		checkLog(t, rec.end(t), slog.LevelInfo, "server", 1008, reason)
		srv.ExpectRefused(t, "/refuse", http.StatusForbidden, reason)
		checkRefusalLog(t, rec.end(t), slog.LevelInfo, http.StatusForbidden)
	})

	t.Run("route turns the app's CloseAfterAccept off", func(t *testing.T) {
		app, srv, rec := newApp(t, server.Options{CloseAfterAccept: true})
		app.Handle("/refuse", raise).CloseAfterAccept(false)
		app.Handle("/after", raise)
		srv.ExpectRefused(t, "/refuse", http.StatusForbidden, reason)
		checkRefusalLog(t, rec.end(t), slog.LevelInfo, http.StatusForbidden)
		srv.Connect(t, "/after").ExpectClose(wsproto.StatusPolicyViolation, reason)
		checkLog(t, rec.end(t), slog.LevelInfo, "server", 1008, reason)
	})
}

// ---- which exception handler runs ----

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

func TestHandlerMatchOrder(t *testing.T) {
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
			if err := ws.SendText(ws.Context(), fmt.Sprintf("n=%d state=%v", err.n, ws.State())); err != nil {
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

package server_test

// docs/SEMANTICS.md, "Raising": what the framework does with what a
// handler raises (semantics_test.go has the exceptions themselves, which
// handler runs, and the helpers).

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

// ---- an exception handler that fails ----

func TestHandlerFails(t *testing.T) {
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

// ---- an unhandled error after accept ----

func TestUnhandledAfterAccept(t *testing.T) {
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

// ---- an unhandled error before accept ----

func TestUnhandledBeforeAccept(t *testing.T) {
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

// ---- nil after accept ----

func TestReturnNilAfterAccept(t *testing.T) {
	_, srv, rec := serve(t, server.Options{}, func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		return ws.SendText(ws.Context(), "bye")
	})
	c := srv.Connect(t, "/ws")
	if got := c.ReceiveText(); got != "bye" {
		t.Errorf("message %q", got)
	}
	c.ExpectClose(wsproto.StatusNormalClosure, "")
	checkLog(t, rec.end(t), slog.LevelInfo, "server", 1000, "")
}

// ---- nil without accept ----

func TestReturnNilWithoutAccept(t *testing.T) {
	_, srv, rec := serve(t, server.Options{}, func(ws *server.WebSocket) error { return nil })
	srv.ExpectRefused(t, "/ws", http.StatusInternalServerError, "Internal Server Error")
	e := rec.end(t)
	checkRefusalLog(t, e, slog.LevelError, http.StatusInternalServerError)
	if !strings.Contains(e.str("error"), "without completing the handshake") {
		t.Errorf("logged error %q", e.str("error"))
	}
}

// ---- an HTTPException before accept ----

func TestHTTPExceptionBeforeAccept(t *testing.T) {
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

// ---- an HTTPException after accept ----

func TestHTTPExceptionAfterAccept(t *testing.T) {
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

// ---- an invalid close code ----

func TestInvalidCloseCode(t *testing.T) {
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

// ---- a reason that cannot go out as it is ----

func TestReasonSanitised(t *testing.T) {
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

// ---- raising after the peer left ----

func TestPeerGone(t *testing.T) {
	for _, how := range []string{"close frame", "tcp dropped"} {
		t.Run(how, func(t *testing.T) {
			type result struct {
				sendErr  error
				closeErr error
			}
			results := make(chan result, 1)
			_, srv, rec := serve(t, server.Options{}, func(ws *server.WebSocket) error {
				if err := ws.Accept(server.SendOnly()); err != nil {
					return err
				}
				// Context ends once SendOnly's reader sees the end.
				select {
				case <-ws.Context().Done():
				case <-time.After(wstest.Timeout):
					return errors.New("context not cancelled by the peer's leaving")
				}
				var r result
				r.sendErr = ws.SendText(ws.Context(), "anyone there?")
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

// ---- JSON that does not decode ----

func TestInvalidJSON(t *testing.T) {
	receive := func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		for {
			var v struct{ N int }
			if err := ws.ReceiveJSON(ws.Context(), &v); err != nil {
				return err
			}
			if err := ws.SendJSON(ws.Context(), v); err != nil {
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

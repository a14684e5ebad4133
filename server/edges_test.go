package server_test

// Edges of the contract found by review: net/http's abort signal,
// runtime.Goexit, exception handlers that pass a disconnect on, invalid
// codes and statuses before accept, State after the peer leaves, and
// shutting down together with an http.Server.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"wsraise/internal/rawpeer"
	"wsraise/server"
	"wsraise/server/wstest"
	"wsraise/wsproto"
)

// boomErr is the error the handlers below raise to reach the exception
// handler a test registers for it.
type boomErr struct{ err error }

func (e *boomErr) Error() string { return e.err.Error() }

var errBoom = &boomErr{errors.New("boom")}

// edgeApp serves /ws: handler, after an Accept if accept is set, with
// onBoom as the route's exception handler for *boomErr.
func edgeApp(t *testing.T, accept bool, handler func(*server.WebSocket) error, onBoom func(*server.WebSocket, *boomErr) error) (*wstest.Server, *logRecorder) {
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
			srv, rec := edgeApp(t, tc.accept, tc.handler, func(*server.WebSocket, *boomErr) error {
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
			srv, rec := edgeApp(t, tc.accept, tc.handler, func(*server.WebSocket, *boomErr) error {
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

// A disconnect passed on through an exception handler: a catch-all that passes on
// the disconnect it was given (every normal leave of a client goes
// through it) is not a failure.
func TestHandlerPassesDisconnectOn(t *testing.T) {
	app, srv, rec := newApp(t, server.Options{})
	app.Handle("/ws", func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		_, _, err := ws.Receive(ws.Context())
		return err
	})
	server.HandleException(app, func(ws *server.WebSocket, err error) error { return err })
	c := rawpeer.Dial(t, hostport(srv), "/ws", "")
	c.Send(rawpeer.Close(1000, "bye"))
	if got := c.SkipToClose(); string(got) != string(rawpeer.ClosePayload(1000, "")) {
		t.Errorf("close reply %q", got)
	}
	checkLog(t, rec.end(t), slog.LevelInfo, "client", 1000, "bye")
}

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

// ShutdownServer shuts an http.Server and the app down together and
// returns only once every handler has returned: a program may exit right
// after it and cut nothing short. (http.Server.Shutdown alone returns at
// once: it does not see hijacked connections, and runs its
// RegisterOnShutdown functions without waiting for them.)
func TestShutdownServer(t *testing.T) {
	rec := newLogRecorder()
	app := server.New(server.Options{Logger: slog.New(rec)})
	var returned atomic.Bool
	accepted := make(chan struct{}, 1)
	app.Handle("/ws", func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		accepted <- struct{}{}
		_, _, err := ws.Receive(ws.Context())
		time.Sleep(200 * time.Millisecond) // the handler's own cleanup
		returned.Store(true)
		return err
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: app}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := wsproto.Dial(ctx, "ws://"+ln.Addr().String()+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	within(t, accepted, "accept")
	read := make(chan error, 1)
	go func() {
		_, _, err := c.Read(ctx)
		read <- err
	}()
	if err := app.ShutdownServer(ctx, srv); err != nil {
		t.Fatalf("ShutdownServer: %v", err)
	}
	if !returned.Load() {
		t.Error("ShutdownServer returned before the handler did")
	}
	if err := within(t, served, "Serve"); !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve returned %v", err)
	}
	var ce *wsproto.CloseError
	if err := within(t, read, "the client's read"); !errors.As(err, &ce) || ce.Code != wsproto.StatusGoingAway || ce.Reason != "server shutting down" {
		t.Errorf("client read %v, want 1001 \"server shutting down\"", err)
	}
	checkLog(t, rec.end(t), slog.LevelInfo, "server", wsproto.StatusGoingAway, "server shutting down")
}

// Shutdown cancels the context of a handler that has not accepted yet (a
// guard waiting on it, here): the guard returns, the handshake is refused
// with 503, which is not a failure, and Shutdown does not wait for ctx.
func TestShutdownPendingHandler(t *testing.T) {
	app, srv, rec := newApp(t, server.Options{})
	waiting := make(chan struct{})
	app.Handle("/ws", func(ws *server.WebSocket) error {
		return errors.New("the handler must not run")
	}).Guard(func(ws *server.WebSocket) error {
		close(waiting)
		<-ws.Context().Done()
		return ws.Context().Err()
	})
	refused := make(chan *wsproto.HandshakeError, 1)
	go func() {
		_, err := srv.Dial(t, "/ws", nil)
		var he *wsproto.HandshakeError
		errors.As(err, &he)
		refused <- he
	}()
	within(t, waiting, "the guard")
	start := time.Now()
	done := shutdownAsync(app, 5*time.Second)
	he := within(t, refused, "the refusal")
	if he == nil || he.Status != http.StatusServiceUnavailable || he.Body != "server shutting down" || he.Header.Get("Retry-After") != "1" {
		t.Fatalf("refusal %+v, want 503 \"server shutting down\" with Retry-After", he)
	}
	if err := within(t, done, "Shutdown"); err != nil || time.Since(start) > 2*time.Second {
		t.Errorf("Shutdown: %v after %v", err, time.Since(start))
	}
	checkRefusalLog(t, rec.end(t), slog.LevelInfo, http.StatusServiceUnavailable)
}

// asErr stands for another error through an As method, as errors.As
// allows, without wrapping it.
type asErr struct{ target error }

func (e *asErr) Error() string { return "as: " + e.target.Error() }
func (e *asErr) As(target any) bool {
	switch t := target.(type) {
	case **exactErr:
		if v, ok := e.target.(*exactErr); ok {
			*t = v
			return true
		}
	case **server.WebSocketException:
		if v, ok := e.target.(*server.WebSocketException); ok {
			*t = v
			return true
		}
	}
	return false
}

// Matching "as errors.As does": a link's As method counts, for exception
// handlers (the handler gets the value As gives) and for the built-in
// rules.
func TestAsMethod(t *testing.T) {
	t.Run("exception handler", func(t *testing.T) {
		app, srv, rec := newApp(t, server.Options{})
		app.Handle("/ws", func(ws *server.WebSocket) error {
			if err := ws.Accept(); err != nil {
				return err
			}
			return fmt.Errorf("context: %w", &asErr{&exactErr{n: 7}})
		})
		server.HandleException(app, func(ws *server.WebSocket, err *exactErr) error {
			return ws.Close(4000+wsproto.StatusCode(err.n), "exact via As")
		})
		server.HandleException(app, func(ws *server.WebSocket, err error) error {
			return ws.Close(4999, "catch-all")
		})
		srv.Connect(t, "/ws").ExpectClose(4007, "exact via As")
		checkLog(t, rec.end(t), slog.LevelInfo, "server", 4007, "exact via As")
	})
	t.Run("built-in rule", func(t *testing.T) {
		app, srv, rec := newApp(t, server.Options{})
		app.Handle("/ws", func(ws *server.WebSocket) error {
			if err := ws.Accept(); err != nil {
				return err
			}
			return &asErr{server.Raise(wsproto.StatusPolicyViolation, "raised via As")}
		})
		srv.Connect(t, "/ws").ExpectClose(wsproto.StatusPolicyViolation, "raised via As")
		checkLog(t, rec.end(t), slog.LevelInfo, "server", 1008, "raised via As")
	})
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

package server_test

// The section "Around the handler" of SEMANTICS.md: guards, origin,
// subprotocols, keepalive, shutdown and logging, as a client sees them.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"wsraise/internal/rawpeer"
	"wsraise/server"
	"wsraise/server/wstest"
	"wsraise/wsproto"
)

// ---- Guards ----

func TestGuards(t *testing.T) {
	type call struct{ name, room, token string }

	t.Run("run in order before the handler", func(t *testing.T) {
		calls := make(chan call, 10)
		app, srv, rec := newApp(t, server.Options{})
		guard := func(name string) server.Guard {
			return func(ws *server.WebSocket) error {
				if ws.State() != server.Connecting {
					t.Errorf("guard %s runs in state %v", name, ws.State())
				}
				calls <- call{name, ws.PathValue("room"), ws.Request().Header.Get("Authorization")}
				return nil
			}
		}
		app.Handle("/rooms/{room}", func(ws *server.WebSocket) error {
			calls <- call{name: "handler"}
			if err := ws.Accept(); err != nil {
				return err
			}
			return ws.Close(wsproto.StatusNormalClosure, "welcome")
		}).Guard(guard("auth")).Guard(guard("limit"))
		c, err := srv.Dial(t, "/rooms/lobby", &wsproto.DialOptions{Header: http.Header{"Authorization": {"Bearer t0k"}}})
		if err != nil {
			t.Fatal(err)
		}
		c.ExpectClose(wsproto.StatusNormalClosure, "welcome")
		rec.end(t)
		got := []call{<-calls, <-calls, <-calls}
		want := []call{{"auth", "lobby", "Bearer t0k"}, {"limit", "lobby", "Bearer t0k"}, {name: "handler"}}
		if !slices.Equal(got, want) {
			t.Errorf("calls %v, want %v", got, want)
		}
	})

	cases := []struct {
		name       string
		raise      error
		wantStatus int
		wantBody   string
		wantHeader http.Header
	}{
		{"WebSocketException", server.Raise(wsproto.StatusPolicyViolation, "no token"), 403, "no token", nil},
		{"HTTPException", &server.HTTPException{Status: 401, Detail: "bad token", Header: http.Header{"Www-Authenticate": {"Bearer"}}},
			401, "bad token", http.Header{"Www-Authenticate": {"Bearer"}}},
		{"HTTPException wrapped", fmt.Errorf("auth: %w", &server.HTTPException{Status: 429, Detail: "slow down"}), 429, "slow down", nil},
		{"panic with HTTPException", nil, 401, "panicked", nil},
	}
	for _, tc := range cases {
		t.Run("raises "+tc.name, func(t *testing.T) {
			var later atomic.Int32
			app, srv, rec := newApp(t, server.Options{})
			app.Handle("/ws", func(ws *server.WebSocket) error {
				later.Add(1)
				return ws.Accept()
			}).Guard(func(ws *server.WebSocket) error {
				if tc.raise == nil {
					panic(&server.HTTPException{Status: 401, Detail: "panicked"})
				}
				return tc.raise
			}, func(ws *server.WebSocket) error {
				later.Add(1)
				return nil
			})
			he := dialRefused(t, srv, "/ws", nil)
			if he.Status != tc.wantStatus || he.Body != tc.wantBody {
				t.Errorf("refused with %d %q, want %d %q", he.Status, he.Body, tc.wantStatus, tc.wantBody)
			}
			for k, v := range tc.wantHeader {
				if got := he.Header.Values(k); !slices.Equal(got, v) {
					t.Errorf("header %s %q, want %q", k, got, v)
				}
			}
			checkRefusalLog(t, rec.end(t), slog.LevelInfo, tc.wantStatus)
			if n := later.Load(); n != 0 {
				t.Errorf("%d later guards or handler ran after a guard raised", n)
			}
		})
	}
}

// ---- Origin ----

func TestOrigin(t *testing.T) {
	cases := []struct {
		name   string
		opts   server.Options
		origin string // "SELF" is replaced by the server's own origin
		ok     bool
	}{
		{"no Origin (not a browser)", server.Options{}, "", true},
		{"same origin", server.Options{}, "http://SELF", true},
		{"same origin, https scheme", server.Options{}, "https://SELF", true},
		{"cross origin", server.Options{}, "http://evil.example", false},
		{"same host, other port", server.Options{}, "http://127.0.0.1:1", false},
		{"null origin", server.Options{}, "null", false},
		{"garbage", server.Options{}, "::not a url", false},
		{"allowed pattern", server.Options{OriginPatterns: []string{"*.example.com"}}, "https://app.example.com", true},
		{"allowed pattern, case", server.Options{OriginPatterns: []string{"*.example.com"}}, "https://APP.Example.COM", true},
		{"pattern with port", server.Options{OriginPatterns: []string{"localhost:*"}}, "http://localhost:3000", true},
		{"pattern does not match the apex", server.Options{OriginPatterns: []string{"*.example.com"}}, "https://example.com", false},
		{"pattern does not match another domain", server.Options{OriginPatterns: []string{"*.example.com"}}, "https://app.example.org", false},
		{"opt-out", server.Options{InsecureSkipOriginCheck: true}, "http://evil.example", true},
		{"opt-out, null", server.Options{InsecureSkipOriginCheck: true}, "null", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ran atomic.Int32
			_, srv, rec := serve(t, tc.opts, func(ws *server.WebSocket) error {
				ran.Add(1)
				if err := ws.Accept(); err != nil {
					return err
				}
				return ws.Close(wsproto.StatusNormalClosure, "hello")
			})
			u, _ := url.Parse(srv.URL)
			var h http.Header
			if tc.origin != "" {
				h = http.Header{"Origin": {strings.Replace(tc.origin, "SELF", u.Host, 1)}}
			}
			if tc.ok {
				c, err := srv.Dial(t, "/ws", &wsproto.DialOptions{Header: h})
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				c.ExpectClose(wsproto.StatusNormalClosure, "hello")
				checkLog(t, rec.end(t), slog.LevelInfo, "server", 1000, "hello")
				return
			}
			he := dialRefused(t, srv, "/ws", h)
			if he.Status != http.StatusForbidden || he.Body != "origin not allowed\n" {
				t.Errorf("refused with %d %q, want 403 \"origin not allowed\\n\"", he.Status, he.Body)
			}
			checkRefusalLog(t, rec.end(t), slog.LevelInfo, http.StatusForbidden)
			if ran.Load() != 0 {
				t.Error("the handler ran for a refused origin")
			}
		})
	}
}

// ---- Subprotocols ----

func TestSubprotocols(t *testing.T) {
	offered := []string{"chat.v1", "chat.v2"}
	cases := []struct {
		name    string
		pick    string
		wantErr error
	}{
		{"pick an offered one", "chat.v2", nil},
		{"pick the first", "chat.v1", nil},
		{"pick none", "", nil},
		{"pick one not offered", "chat.v3", server.ErrSubprotocol},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			type result struct {
				err         error
				subprotocol string
			}
			results := make(chan result, 1)
			_, srv, rec := serve(t, server.Options{}, func(ws *server.WebSocket) error {
				var opts []server.AcceptOption
				if tc.pick != "" {
					opts = append(opts, server.WithSubprotocol(tc.pick))
				}
				err := ws.Accept(opts...)
				results <- result{err, ws.Subprotocol()}
				if err != nil {
					return err
				}
				return ws.SendText(ws.Context(), ws.Subprotocol())
			})
			c, err := srv.Dial(t, "/ws", &wsproto.DialOptions{Subprotocols: offered})
			r := within(t, results, "the handler")
			if !errors.Is(r.err, tc.wantErr) || (tc.wantErr == nil) != (r.err == nil) {
				t.Fatalf("Accept: %v, want %v", r.err, tc.wantErr)
			}
			if tc.wantErr != nil {
				// The handler returned the error before accepting: 500.
				var he *wsproto.HandshakeError
				if !errors.As(err, &he) || he.Status != 500 || he.Body != "Internal Server Error" {
					t.Fatalf("dial: %v, want a 500 refusal", err)
				}
				e := rec.end(t)
				checkRefusalLog(t, e, slog.LevelError, 500)
				if !strings.Contains(e.str("error"), "did not offer") {
					t.Errorf("logged error %q", e.str("error"))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Conn.Subprotocol(); got != tc.pick || r.subprotocol != tc.pick {
				t.Errorf("client sees %q, server %q, want %q", got, r.subprotocol, tc.pick)
			}
			if got := c.ReceiveText(); got != tc.pick {
				t.Errorf("message %q", got)
			}
			c.ExpectClose(wsproto.StatusNormalClosure, "")
			rec.end(t)
		})
	}

	// Picking one not offered leaves the handshake open: the handler may
	// still accept without one.
	t.Run("recover from a wrong pick", func(t *testing.T) {
		errs := make(chan error, 1)
		_, srv, rec := serve(t, server.Options{}, func(ws *server.WebSocket) error {
			errs <- ws.Accept(server.WithSubprotocol("nope"))
			return ws.Accept()
		})
		c, err := srv.Dial(t, "/ws", &wsproto.DialOptions{Subprotocols: offered})
		if err != nil {
			t.Fatal(err)
		}
		if err := within(t, errs, "the handler"); !errors.Is(err, server.ErrSubprotocol) {
			t.Errorf("first Accept: %v", err)
		}
		if c.Conn.Subprotocol() != "" {
			t.Errorf("subprotocol %q", c.Conn.Subprotocol())
		}
		c.ExpectClose(wsproto.StatusNormalClosure, "")
		rec.end(t)
	})
}

// ---- Keepalive ----

func TestKeepalive(t *testing.T) {
	// A client that never answers pings is closed with 1011.
	t.Run("no pong", func(t *testing.T) {
		errs := make(chan error, 1)
		_, srv, rec := serve(t, server.Options{PingInterval: 20 * time.Millisecond, PongTimeout: 50 * time.Millisecond},
			receiveOnce(errs))
		c := rawpeer.Dial(t, hostport(srv), "/ws", "")
		pings := 0
		var closeFrame []byte
		for closeFrame == nil {
			f, err := c.ReadFrame(wstest.Timeout)
			if err != nil {
				t.Fatalf("waiting for the keepalive close: %v", err)
			}
			switch f.Op {
			case rawpeer.OpPing:
				pings++
			case rawpeer.OpClose:
				closeFrame = f.Payload
			default:
				t.Fatalf("frame %#x", f.Op)
			}
		}
		if pings == 0 {
			t.Error("closed without a ping")
		}
		if want := rawpeer.ClosePayload(1011, "keepalive ping timeout"); string(closeFrame) != string(want) {
			t.Errorf("close frame % x (%q), want % x", closeFrame, closeFrame, want)
		}
		c.Send(rawpeer.Close(1011, ""))
		c.ExpectEOF()
		var d *server.Disconnect
		if err := within(t, errs, "the handler"); !errors.As(err, &d) || d.Code != 1011 || d.ByPeer {
			t.Errorf("handler's receive: %v, want a disconnect 1011 by the server", err)
		}
		checkLog(t, rec.end(t), slog.LevelInfo, "server", 1011, "keepalive ping timeout")
	})

	// A client that answers stays connected across several pings.
	t.Run("pongs keep it open", func(t *testing.T) {
		_, srv, rec := serve(t, server.Options{PingInterval: 10 * time.Millisecond, PongTimeout: time.Second},
			func(ws *server.WebSocket) error {
				if err := ws.Accept(); err != nil {
					return err
				}
				msg, err := ws.ReceiveText(ws.Context())
				if err != nil {
					return err
				}
				return ws.Close(wsproto.StatusNormalClosure, "got "+msg)
			})
		c := rawpeer.Dial(t, hostport(srv), "/ws", "")
		// The second ping comes after the first pong was checked.
		for pings := 0; pings < 2; {
			f, err := c.ReadFrame(wstest.Timeout)
			if err != nil {
				t.Fatalf("after %d pings: %v", pings, err)
			}
			if f.Op != rawpeer.OpPing {
				t.Fatalf("after %d pings: frame %#x % x, want a ping", pings, f.Op, f.Payload)
			}
			c.Send(rawpeer.Pong(f.Payload))
			pings++
		}
		c.Send(rawpeer.Text("done"))
		if got, want := c.SkipToClose(), rawpeer.ClosePayload(1000, "got done"); string(got) != string(want) {
			t.Errorf("close frame %q, want %q", got, want)
		}
		c.Send(rawpeer.Close(1000, ""))
		c.ExpectEOF()
		checkLog(t, rec.end(t), slog.LevelInfo, "server", 1000, "got done")
	})
}

// ---- Shutdown ----

// shutdownAsync runs app.Shutdown in the background: the close handshake
// needs the clients to read, which the test does meanwhile.
func shutdownAsync(app *server.App, timeout time.Duration) <-chan error {
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		done <- app.Shutdown(ctx)
	}()
	return done
}

func TestShutdown(t *testing.T) {
	for _, tc := range []struct {
		name string
		code wsproto.StatusCode
		want wsproto.StatusCode
	}{
		{"default 1001", 0, wsproto.StatusGoingAway},
		{"1012 by option", wsproto.StatusServiceRestart, wsproto.StatusServiceRestart},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 5
			accepted := make(chan struct{}, n)
			errs := make(chan error, n)
			app, srv, rec := serve(t, server.Options{ShutdownCode: tc.code}, func(ws *server.WebSocket) error {
				if err := ws.Accept(); err != nil {
					return err
				}
				accepted <- struct{}{}
				_, _, err := ws.Receive(ws.Context())
				errs <- err
				return err
			})
			var clients []*wstest.Conn
			for range n {
				clients = append(clients, srv.Connect(t, "/ws"))
				within(t, accepted, "accept")
			}
			done := shutdownAsync(app, wstest.Timeout)
			for _, c := range clients {
				c.ExpectClose(tc.want, "server shutting down")
			}
			if err := within(t, done, "Shutdown"); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			for range n {
				var d *server.Disconnect
				if err := within(t, errs, "the handlers"); !errors.As(err, &d) || d.Code != tc.want || d.ByPeer {
					t.Errorf("handler saw %v, want a disconnect %v by the server", err, tc.want)
				}
			}
			for range n {
				checkLog(t, rec.next(t), slog.LevelInfo, "server", tc.want, "server shutting down")
			}
			// New handshakes are refused.
			he := dialRefused(t, srv, "/ws", nil)
			if he.Status != http.StatusServiceUnavailable || he.Body != "server shutting down\n" || he.Header.Get("Retry-After") != "1" {
				t.Errorf("after shutdown: %d %q Retry-After %q", he.Status, he.Body, he.Header.Get("Retry-After"))
			}
			// And logged, like every other refusal.
			checkRefusalLog(t, rec.end(t), slog.LevelInfo, http.StatusServiceUnavailable)
		})
	}

	// Every message whose send returned nil reaches the client, in order,
	// before the close frame.
	t.Run("messages before the close", func(t *testing.T) {
		sent := make(chan int, 1)
		var sendErr error
		app, srv, _ := serve(t, server.Options{}, func(ws *server.WebSocket) error {
			if err := ws.Accept(); err != nil {
				return err
			}
			for i := 0; ; i++ {
				if err := ws.SendText(ws.Context(), strconv.Itoa(i)); err != nil {
					sendErr = err
					sent <- i
					return err
				}
			}
		})
		c := srv.Connect(t, "/ws")
		var done <-chan error
		got := 0
		for {
			typ, p, err := c.Receive()
			if err != nil {
				var ce *wsproto.CloseError
				if !errors.As(err, &ce) || !ce.Received || ce.Code != 1001 || ce.Reason != "server shutting down" {
					t.Fatalf("after %d messages: %v, want close 1001", got, err)
				}
				break
			}
			if typ != wsproto.MessageText || string(p) != strconv.Itoa(got) {
				t.Fatalf("message %d: %v %q", got, typ, p)
			}
			got++
			if got == 100 {
				done = shutdownAsync(app, wstest.Timeout)
			}
		}
		if n := within(t, sent, "the handler"); n != got {
			t.Errorf("handler sent %d messages, client received %d", n, got)
		}
		var d *server.Disconnect
		if !errors.As(sendErr, &d) || d.Code != 1001 || d.ByPeer {
			t.Errorf("handler's send: %v, want a disconnect 1001 by the server", sendErr)
		}
		if err := within(t, done, "Shutdown"); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})

	// A handler that ignores the disconnect holds Shutdown up to its
	// context; so does a client that never answers the close frame.
	t.Run("context ends first", func(t *testing.T) {
		release := make(chan struct{})
		accepted := make(chan struct{}, 2)
		app, srv, rec := newApp(t, server.Options{CloseTimeout: time.Minute})
		app.Handle("/stubborn", func(ws *server.WebSocket) error {
			if err := ws.Accept(); err != nil {
				return err
			}
			accepted <- struct{}{}
			<-release
			return nil
		})
		app.Handle("/ws", func(ws *server.WebSocket) error {
			if err := ws.Accept(); err != nil {
				return err
			}
			accepted <- struct{}{}
			_, _, err := ws.Receive(ws.Context())
			return err
		})
		stubborn := srv.Connect(t, "/stubborn")
		silent := rawpeer.Dial(t, hostport(srv), "/ws", "") // never answers the close
		within(t, accepted, "accept")
		within(t, accepted, "accept")
		start := time.Now()
		done := shutdownAsync(app, 300*time.Millisecond)
		stubborn.ExpectClose(wsproto.StatusGoingAway, "server shutting down")
		if got, want := silent.SkipToClose(), rawpeer.ClosePayload(1001, "server shutting down"); string(got) != string(want) {
			t.Errorf("close frame %q", got)
		}
		if err := within(t, done, "Shutdown"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown: %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("Shutdown took %v with a 300ms context", d)
		}
		// What was left is closed at once: the silent client sees EOF.
		silent.ExpectEOF()
		e := rec.next(t)
		checkLog(t, e, slog.LevelInfo, "server", 1001, "server shutting down")
		close(release)
		checkLog(t, rec.next(t), slog.LevelInfo, "server", 1001, "server shutting down")
	})
}

// ---- Logging ----

func TestLogging(t *testing.T) {
	afterAccept := []string{"closed_by", "code", "duration", "remote", "reason", "route"}
	refusal := []string{"duration", "reason", "remote", "route", "status"}
	cases := []struct {
		name    string
		handler server.Handler
		client  func(t *testing.T, srv *wstest.Server) string // returns the client's address, if known
		level   slog.Level
		keys    []string
		check   map[string]string
	}{
		{
			name: "server closes",
			handler: func(ws *server.WebSocket) error {
				ws.Accept()
				return server.Raise(1008, "policy")
			},
			level: slog.LevelInfo, keys: afterAccept,
			check: map[string]string{"closed_by": "server", "code": "1008", "reason": "policy"},
		},
		{
			name: "client closes",
			handler: func(ws *server.WebSocket) error {
				ws.Accept()
				_, _, err := ws.Receive(ws.Context())
				return err
			},
			client: func(t *testing.T, srv *wstest.Server) string {
				c := srv.Connect(t, "/rooms/a")
				c.Conn.Close(4000, "leaving")
				return c.Conn.LocalAddr().String()
			},
			level: slog.LevelInfo, keys: afterAccept,
			check: map[string]string{"closed_by": "client", "code": "4000", "reason": "leaving"},
		},
		{
			name: "nobody closes",
			handler: func(ws *server.WebSocket) error {
				ws.Accept()
				_, _, err := ws.Receive(ws.Context())
				return err
			},
			client: func(t *testing.T, srv *wstest.Server) string {
				c := srv.Connect(t, "/rooms/a")
				c.Conn.CloseNow()
				return c.Conn.LocalAddr().String()
			},
			level: slog.LevelInfo, keys: afterAccept,
			check: map[string]string{"closed_by": "none", "code": "1006", "reason": ""},
		},
		{
			name: "refused",
			handler: func(ws *server.WebSocket) error {
				return server.Raise(1008, "no")
			},
			level: slog.LevelInfo, keys: refusal,
			check: map[string]string{"status": "403", "reason": "no"},
		},
		{
			name: "exception handler fails",
			handler: func(ws *server.WebSocket) error {
				ws.Accept()
				return &otherErr{}
			},
			level: slog.LevelError, keys: append(afterAccept, "error"),
			check: map[string]string{"closed_by": "server", "code": "1011", "reason": "Internal Error"},
		},
		{
			name: "unhandled after accept",
			handler: func(ws *server.WebSocket) error {
				ws.Accept()
				return errors.New("boom")
			},
			level: slog.LevelError, keys: append(afterAccept, "error"),
			check: map[string]string{"closed_by": "server", "code": "1011", "reason": "Internal Error", "error": "boom"},
		},
		{
			name: "panic after accept",
			handler: func(ws *server.WebSocket) error {
				ws.Accept()
				panic(42)
			},
			level: slog.LevelError, keys: append(afterAccept, "error", "stack"),
			check: map[string]string{"closed_by": "server", "code": "1011", "reason": "Internal Error", "error": "panic: 42"},
		},
		{
			name: "unhandled before accept",
			handler: func(ws *server.WebSocket) error {
				return errors.New("boom")
			},
			level: slog.LevelError, keys: append(refusal, "error"),
			check: map[string]string{"status": "500", "reason": "Internal Server Error", "error": "boom"},
		},
		{
			name:    "nil without accept",
			handler: func(ws *server.WebSocket) error { return nil },
			level:   slog.LevelError, keys: append(refusal, "error"),
			check: map[string]string{"status": "500", "reason": "Internal Server Error", "error": "handler returned without completing the handshake"},
		},
		{
			name: "invalid close code",
			handler: func(ws *server.WebSocket) error {
				ws.Accept()
				return server.Raise(1005, "x")
			},
			level: slog.LevelError, keys: append(afterAccept, "error"),
			check: map[string]string{"closed_by": "server", "code": "1011", "reason": "Internal Error"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			app, srv, rec := newApp(t, server.Options{})
			app.Handle("/rooms/{room}", tc.handler)
			server.HandleException(app, func(ws *server.WebSocket, err *otherErr) error {
				return errors.New("exception handler broke")
			})
			start := time.Now()
			addr := ""
			if tc.client != nil {
				addr = tc.client(t, srv)
			} else if slices.Contains(tc.keys, "closed_by") {
				c := srv.Connect(t, "/rooms/a")
				addr = c.Conn.LocalAddr().String()
				c.Closed()
			} else {
				dialRefused(t, srv, "/rooms/a", nil)
			}
			e := rec.end(t)
			elapsed := time.Since(start)
			if e.level != tc.level {
				t.Errorf("level %v, want %v", e.level, tc.level)
			}
			keys := slices.Sorted(maps.Keys(e.attrs))
			if want := slices.Sorted(slices.Values(tc.keys)); !slices.Equal(keys, want) {
				t.Errorf("attributes %v, want %v", keys, want)
			}
			if e.str("route") != "/rooms/{room}" {
				t.Errorf("route %q", e.str("route"))
			}
			if addr != "" && e.str("remote") != addr {
				t.Errorf("remote %q, want the client's %q", e.str("remote"), addr)
			} else if !strings.HasPrefix(e.str("remote"), "127.0.0.1:") {
				t.Errorf("remote %q", e.str("remote"))
			}
			if d := e.attrs["duration"]; d.Kind() != slog.KindDuration || d.Duration() <= 0 || d.Duration() > elapsed {
				t.Errorf("duration %v, want in (0, %v]", d, elapsed)
			}
			wantMsg := "websocket connection ended"
			if slices.Contains(tc.keys, "status") {
				wantMsg = "websocket handshake refused"
			}
			if e.msg != wantMsg {
				t.Errorf("message %q, want %q", e.msg, wantMsg)
			}
			if stack, ok := e.attrs["stack"]; ok {
				// One readable line, innermost first, from the handler on.
				s := stack.String()
				if strings.Contains(s, "\n") || !strings.HasPrefix(s, "wsraise/server_test.") ||
					!strings.Contains(s, "(around_test.go:") || strings.Contains(s, "panic(") {
					t.Errorf("stack %q, want one line that starts at the handler", s)
				}
			}
			for k, v := range tc.check {
				if k == "error" {
					if !strings.Contains(e.str(k), v) {
						t.Errorf("error %q does not contain %q", e.str(k), v)
					}
				} else if e.str(k) != v {
					t.Errorf("%s = %q, want %q", k, e.str(k), v)
				}
			}
		})
	}

	// One record per connection, also with many at once.
	t.Run("one record per connection", func(t *testing.T) {
		const n = 20
		app, srv, rec := newApp(t, server.Options{})
		app.Handle("/ws/{i}", func(ws *server.WebSocket) error {
			if err := ws.Accept(); err != nil {
				return err
			}
			return ws.Close(4000, ws.PathValue("i"))
		})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				c, err := srv.Dial(t, fmt.Sprintf("/ws/%d", i), nil)
				if err != nil {
					t.Error(err)
					return
				}
				c.ExpectClose(4000, strconv.Itoa(i))
			})
		}
		wg.Wait()
		seen := map[string]bool{}
		for range n {
			e := rec.next(t)
			if e.str("route") != "/ws/{i}" || seen[e.str("reason")] {
				t.Errorf("record %v", e.attrs)
			}
			seen[e.str("reason")] = true
		}
		if len(seen) != n || len(rec.ch) != 0 {
			t.Errorf("%d distinct records, %d extra", len(seen), len(rec.ch))
		}
	})
}

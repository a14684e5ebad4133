package server_test

// Shutdown (docs/SEMANTICS.md, "Around the handler"): the app closes every
// open connection and waits for its handlers.

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"wsraise/internal/rawpeer"
	"wsraise/server"
	"wsraise/server/wstest"
	"wsraise/wsproto"
)

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

// The http.Server from app.Server has its Shutdown wired to the app's:
// srv.Shutdown alone starts closing every WebSocket with 1001, though it
// does not wait for them (ShutdownServer does).
func TestServerShutdownClosesWebSockets(t *testing.T) {
	app := server.New(server.Options{Logger: discardLogger()})
	app.Handle("/ws", func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		_, _, err := ws.Receive(ws.Context())
		return err
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := app.Server(nil)
	go srv.Serve(ln)
	ctx, cancel := context.WithTimeout(context.Background(), wstest.Timeout)
	defer cancel()
	c, _, err := wsproto.Dial(ctx, "ws://"+ln.Addr().String()+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	var ce *wsproto.CloseError
	if _, _, err := c.Read(ctx); !errors.As(err, &ce) || ce.Code != wsproto.StatusGoingAway {
		t.Fatalf("client read %v, want 1001 from the app's shutdown", err)
	}
	if err := app.Shutdown(ctx); err != nil {
		t.Fatalf("handlers still running: %v", err)
	}
}

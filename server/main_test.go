package server_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"wsraise/internal/leakcheck"
	"wsraise/server"
	"wsraise/server/wstest"
)

// TestMain fails the run if any goroutine of this module outlives the
// tests: a handler, a reading goroutine, a keepalive timer's callback.
func TestMain(m *testing.M) { leakcheck.Main(m, 5*time.Second) }

// ---- helpers shared by the tests of this package ----

// logEntry is one slog record, flattened.
type logEntry struct {
	level slog.Level
	msg   string
	attrs map[string]slog.Value
}

func (e logEntry) str(key string) string {
	v, ok := e.attrs[key]
	if !ok {
		return "<missing>"
	}
	return v.String()
}

func (e logEntry) int(key string) int64 {
	v, ok := e.attrs[key]
	if !ok || v.Kind() != slog.KindInt64 {
		return -1
	}
	return v.Int64()
}

// logRecorder is a slog.Handler that hands every record to the test.
type logRecorder struct {
	ch chan logEntry
}

func newLogRecorder() *logRecorder { return &logRecorder{ch: make(chan logEntry, 4096)} }

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { panic("not used by the server") }
func (l *logRecorder) WithGroup(string) slog.Handler            { panic("not used by the server") }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	e := logEntry{level: r.Level, msg: r.Message, attrs: map[string]slog.Value{}}
	r.Attrs(func(a slog.Attr) bool {
		e.attrs[a.Key] = a.Value.Resolve()
		return true
	})
	select {
	case l.ch <- e:
	default:
		panic("logRecorder: too many records")
	}
	return nil
}

// next returns the next record, failing the test if none comes in time.
func (l *logRecorder) next(t testing.TB) logEntry {
	t.Helper()
	select {
	case e := <-l.ch:
		return e
	case <-time.After(wstest.Timeout):
		t.Fatalf("no log record within %v", wstest.Timeout)
		return logEntry{}
	}
}

// end returns the next record, which must be the record of a connection's
// end, and checks that it was the only one.
func (l *logRecorder) end(t testing.TB) logEntry {
	t.Helper()
	e := l.next(t)
	if e.msg != "websocket connection ended" && e.msg != "websocket handshake refused" {
		t.Fatalf("log record %q %v before the connection's end record", e.msg, e.attrs)
	}
	if n := len(l.ch); n != 0 {
		t.Fatalf("%d more log records after the end record", n)
	}
	return e
}

// newApp returns an app logging to a recorder, served on loopback. When the
// test ends it checks that every handler has returned.
func newApp(t testing.TB, opts server.Options) (*server.App, *wstest.Server, *logRecorder) {
	t.Helper()
	rec := newLogRecorder()
	opts.Logger = slog.New(rec)
	app := server.New(opts)
	srv := wstest.Serve(t, app)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := app.Shutdown(ctx); err != nil {
			t.Errorf("handlers still running when the test ended: %v", err)
		}
	})
	return app, srv, rec
}

// within waits for ch to be closed or to deliver, failing the test after
// wstest.Timeout.
func within[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(wstest.Timeout):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// receiveOnce is a handler that accepts, waits in Receive, and reports
// what Receive returned on errs before returning it.
func receiveOnce(errs chan<- error) server.Handler {
	return func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		_, _, err := ws.Receive(ws.Context())
		errs <- err
		return err
	}
}

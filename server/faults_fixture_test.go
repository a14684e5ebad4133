package server_test

// Helpers for faults_test.go: a server app with routes made for faults,
// its log and its handlers' errors sorted by route, a healthy client that
// keeps doing echo round trips next to the faulty one, helpers for the
// raw peer's TCP connections, and an allocation meter.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"wsraise/internal/rawpeer"
	"wsraise/server"
	"wsraise/wsproto"
)

// byRoute collects values per route and lets a test wait for the next one.
type byRoute[T any] struct {
	mu   sync.Mutex
	m    map[string][]T
	news chan struct{} // closed and replaced on every put
}

func newByRoute[T any]() *byRoute[T] {
	return &byRoute[T]{m: map[string][]T{}, news: make(chan struct{})}
}

func (b *byRoute[T]) put(route string, v T) {
	b.mu.Lock()
	b.m[route] = append(b.m[route], v)
	close(b.news)
	b.news = make(chan struct{})
	b.mu.Unlock()
}

// take returns the oldest value for route, waiting up to timeout.
func (b *byRoute[T]) take(t testing.TB, route string, timeout time.Duration) T {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		b.mu.Lock()
		if vs := b.m[route]; len(vs) > 0 {
			b.m[route] = vs[1:]
			b.mu.Unlock()
			return vs[0]
		}
		news := b.news
		b.mu.Unlock()
		select {
		case <-news:
		case <-deadline.C:
			t.Fatalf("nothing for route %s within %v", route, timeout)
			var zero T
			return zero
		}
	}
}

// count returns how many values route has, without taking them.
func (b *byRoute[T]) count(route string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.m[route])
}

// record is one slog record, flattened.
type record struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

// recorder is a slog.Handler that files records by their route attribute.
type recorder struct{ *byRoute[record] }

func (r recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r recorder) WithGroup(string) slog.Handler            { return r }
func (r recorder) Handle(_ context.Context, rec slog.Record) error {
	e := record{level: rec.Level, msg: rec.Message, attrs: map[string]string{}}
	rec.Attrs(func(a slog.Attr) bool {
		e.attrs[a.Key] = a.Value.Resolve().String()
		return true
	})
	r.put(e.attrs["route"], e)
	return nil
}

// handlerEnd is what a route's handler returned.
type handlerEnd struct{ err error }

// fixture is an app served on loopback with the routes of the fault cases.
type fixture struct {
	addr string
	app  *server.App
	logs recorder
	ends *byRoute[handlerEnd]
}

// Short timeouts, so that every fault ends well within a second or two.
const (
	fWriteTimeout      = 300 * time.Millisecond
	fCloseTimeout      = 500 * time.Millisecond
	fHandshakeTimeout  = 300 * time.Millisecond
	fReadHeaderTimeout = 400 * time.Millisecond
	fEnd               = 5 * time.Second // bound on any wait for a defined end
)

const secret = "db password=hunter2"

// newFixture serves an app with opts (timeouts defaulted to the short ones
// above, keepalive off unless set) behind an http.Server with a short
// ReadHeaderTimeout, on 127.0.0.1; config may change the http.Server.
func newFixture(t testing.TB, opts server.Options, config ...func(*http.Server)) *fixture {
	t.Helper()
	f := &fixture{logs: recorder{newByRoute[record]()}, ends: newByRoute[handlerEnd]()}
	opts.Logger = slog.New(f.logs)
	if opts.PingInterval == 0 {
		opts.PingInterval = -1
	}
	if opts.WriteTimeout == 0 {
		opts.WriteTimeout = fWriteTimeout
	}
	if opts.CloseTimeout == 0 {
		opts.CloseTimeout = fCloseTimeout
	}
	if opts.HandshakeTimeout == 0 {
		opts.HandshakeTimeout = fHandshakeTimeout
	}
	f.app = server.New(opts)
	handle := func(route string, h server.Handler) {
		f.app.Handle(route, func(ws *server.WebSocket) error {
			err := h(ws)
			f.ends.put(route, handlerEnd{err})
			return err
		})
	}
	accepted := func(h server.Handler) server.Handler {
		return func(ws *server.WebSocket) error {
			if err := ws.Accept(); err != nil {
				return err
			}
			return h(ws)
		}
	}
	handle("/echo", accepted(func(ws *server.WebSocket) error {
		for {
			typ, p, err := ws.Receive(ws.Context())
			if err != nil {
				return err
			}
			if typ == wsproto.MessageText {
				err = ws.SendText(ws.Context(), string(p))
			} else {
				err = ws.SendBytes(ws.Context(), p)
			}
			if err != nil {
				return err
			}
		}
	}))
	// /count answers each message with its length, so that a large
	// message costs the test client nothing to check.
	handle("/count", accepted(func(ws *server.WebSocket) error {
		for {
			_, p, err := ws.Receive(ws.Context())
			if err != nil {
				return err
			}
			if err := ws.SendText(ws.Context(), strconv.Itoa(len(p))); err != nil {
				return err
			}
		}
	}))
	// /recv reads and drops messages until the connection ends.
	handle("/recv", accepted(func(ws *server.WebSocket) error {
		for {
			if _, _, err := ws.Receive(ws.Context()); err != nil {
				return err
			}
		}
	}))
	// /flood sends 64 KiB messages until a send fails (bounded in count).
	handle("/flood", accepted(func(ws *server.WebSocket) error {
		msg := make([]byte, 64<<10)
		for range 4096 {
			if err := ws.SendBytes(ws.Context(), msg); err != nil {
				return err
			}
		}
		return errors.New("flood: every send succeeded")
	}))
	handle("/raise", accepted(func(ws *server.WebSocket) error {
		return server.Raise(wsproto.StatusPolicyViolation, "policy")
	}))
	handle("/leak", accepted(func(ws *server.WebSocket) error {
		return errors.New(secret)
	}))
	handle("/leakpanic", accepted(func(ws *server.WebSocket) error {
		panic(fmt.Errorf("query failed: %w", errors.New(secret)))
	}))
	handle("/leakpre", func(ws *server.WebSocket) error {
		return errors.New(secret) // before accept
	})

	srv := httptest.NewUnstartedServer(f.app)
	srv.Config.ReadHeaderTimeout = fReadHeaderTimeout
	for _, c := range config {
		c(srv.Config)
	}
	srv.Start()
	f.addr = srv.Listener.Addr().String()
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), fEnd)
		defer cancel()
		if err := f.app.Shutdown(ctx); err != nil {
			t.Errorf("handlers still running at the end of the test: %v", err)
		}
	})
	return f
}

// expectEnd waits for the one log record of a connection's end on route
// and checks who closed and the code.
func (f *fixture) expectEnd(t testing.TB, route, closedBy string, code int) record {
	t.Helper()
	r := f.logs.take(t, route, fEnd)
	if r.msg != "websocket connection ended" {
		t.Fatalf("log record %q %v, want the end of the connection", r.msg, r.attrs)
	}
	if r.attrs["closed_by"] != closedBy || r.attrs["code"] != strconv.Itoa(code) {
		t.Fatalf("end logged as closed_by=%s code=%s reason=%q error=%q, want closed_by=%s code=%d",
			r.attrs["closed_by"], r.attrs["code"], r.attrs["reason"], r.attrs["error"], closedBy, code)
	}
	return r
}

// expectDisconnect waits for route's handler to return and checks that it
// returned a *server.Disconnect with code.
func (f *fixture) expectDisconnect(t testing.TB, route string, code wsproto.StatusCode) {
	t.Helper()
	end := f.ends.take(t, route, fEnd)
	var d *server.Disconnect
	if !errors.As(end.err, &d) || d.Code != code {
		t.Fatalf("handler of %s returned %v, want a disconnect with %d", route, end.err, code)
	}
}

// dial connects a wsraise client to path.
func (f *fixture) dial(t testing.TB, path string) (*wsproto.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rawpeer.Wait)
	defer cancel()
	c, _, err := wsproto.Dial(ctx, "ws://"+f.addr+path, &wsproto.DialOptions{CloseTimeout: time.Second})
	if err == nil {
		t.Cleanup(func() { c.CloseNow() })
	}
	return c, err
}

// healthy is a well-behaved client doing echo round trips, from its own
// goroutine, while a fault happens on another connection of the server.
type healthy struct {
	t     testing.TB
	c     *wsproto.Conn
	stop  chan struct{}
	done  chan struct{}
	trips int
	err   error
}

func startHealthy(t testing.TB, addr string) *healthy {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rawpeer.Wait)
	defer cancel()
	c, _, err := wsproto.Dial(ctx, "ws://"+addr+"/echo", &wsproto.DialOptions{CloseTimeout: time.Second})
	if err != nil {
		t.Fatalf("healthy client: %v", err)
	}
	h := &healthy{t: t, c: c, stop: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(func() { c.CloseNow() })
	// One checked round trip before the fault starts, made before the loop
	// runs so that no other read of the connection can take its echo.
	if err := h.roundTrip(-1); err != nil {
		t.Fatalf("healthy client before the fault: %v", err)
	}
	go h.loop()
	return h
}

func (h *healthy) roundTrip(i int) error {
	ctx, cancel := context.WithTimeout(context.Background(), rawpeer.Wait)
	defer cancel()
	msg := "healthy " + strconv.Itoa(i)
	if err := h.c.Write(ctx, wsproto.MessageText, []byte(msg)); err != nil {
		return err
	}
	_, p, err := h.c.Read(ctx)
	if err == nil && string(p) != msg {
		err = fmt.Errorf("echo %q, want %q", p, msg)
	}
	return err
}

// loop does round trips every 10 ms, at most 2000, until stopped. Reading
// also answers the server's pings.
func (h *healthy) loop() {
	defer close(h.done)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i := range 2000 {
		select {
		case <-h.stop:
			return
		case <-tick.C:
		}
		if err := h.roundTrip(i); err != nil {
			h.err = err
			return
		}
		h.trips++
	}
}

// finish stops the loop, checks that round trips kept succeeding during
// the fault, does one more, and closes normally.
func (h *healthy) finish() {
	h.t.Helper()
	close(h.stop)
	<-h.done
	if h.err != nil {
		h.t.Fatalf("healthy client failed during the fault after %d round trips: %v", h.trips, h.err)
	}
	if err := h.roundTrip(1 << 20); err != nil {
		h.t.Fatalf("healthy client after the fault: %v", err)
	}
	if err := h.c.Close(wsproto.StatusNormalClosure, ""); err != nil {
		h.t.Fatalf("healthy client close: %v", err)
	}
}

// allocDuring returns the bytes the whole process allocated while f ran.
func allocDuring(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// httpStatus reads an HTTP response from nc and returns its status and
// body, or 0 and the error if none comes.
func httpStatus(nc net.Conn, timeout time.Duration) (int, string, error) {
	nc.SetReadDeadline(time.Now().Add(timeout))
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(body), nil
}

// isEnd reports whether err is how a TCP connection ends: EOF or a reset.
func isEnd(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// drainToEnd reads frames until the stream ends, failing if it does not
// within timeout or if a close frame comes; it returns the bytes of
// payload read.
func drainToEnd(t testing.TB, p *rawpeer.Peer, timeout time.Duration) int {
	t.Helper()
	p.Conn.SetReadDeadline(time.Now().Add(timeout))
	n := 0
	for range 1 << 16 {
		f, err := rawpeer.ReadFrame(p.R)
		if err != nil {
			if !isEnd(err) {
				t.Fatalf("after %d payload bytes: %v, want the end of the connection", n, err)
			}
			return n
		}
		if f.Op == rawpeer.OpClose {
			t.Fatalf("close frame %q, want the connection cut (1006)", f.Payload)
		}
		n += len(f.Payload)
	}
	t.Fatalf("the stream did not end after %d payload bytes", n)
	return n
}

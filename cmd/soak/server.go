package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"

	"wsraise/internal/demo"
	"wsraise/server"
	"wsraise/wsproto"
)

// endCounter is a slog.Handler that counts the app's connection-end
// records by level, who closed and code, keeping the first error records.
type endCounter struct {
	mu     sync.Mutex
	ends   map[string]int
	total  int
	errors []string
}

func newEndCounter() *endCounter { return &endCounter{ends: map[string]int{}} }

func (e *endCounter) Enabled(context.Context, slog.Level) bool { return true }
func (e *endCounter) WithAttrs([]slog.Attr) slog.Handler       { return e }
func (e *endCounter) WithGroup(string) slog.Handler            { return e }

func (e *endCounter) Handle(_ context.Context, r slog.Record) error {
	var by, reason string
	code := int64(-1)
	conn := false // the record is about a connection
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "remote":
			conn = true
		case "closed_by":
			by = a.Value.String()
		case "code":
			code = a.Value.Int64()
		case "reason":
			reason = a.Value.String()
		}
		return true
	})
	if !conn && r.Level < slog.LevelWarn {
		return nil // a notice of the app's, such as App.Server's at start
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if r.Message == "websocket connection ended" {
		e.total++
	}
	key := fmt.Sprintf("%s %s by %s %d %q", r.Level, r.Message, by, code, reason)
	e.ends[key]++
	if r.Level >= slog.LevelWarn && len(e.errors) < keepFaults {
		e.errors = append(e.errors, fmt.Sprintf("%s %s", key, r.Message))
	}
	return nil
}

func (e *endCounter) snapshot() (map[string]int, int, []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := make(map[string]int, len(e.ends))
	for k, v := range e.ends {
		m[k] = v
	}
	return m, e.total, append([]string(nil), e.errors...)
}

// endKey is the key endCounter gives a record of a clean end.
func endKey(by string, code wsproto.StatusCode, reason string) string {
	return fmt.Sprintf("%s %s by %s %d %q", slog.LevelInfo, "websocket connection ended", by, int64(code), reason)
}

// demoServer is the demo app served on a loopback port in this process.
type demoServer struct {
	app  *server.App
	srv  *http.Server
	URL  string
	ends *endCounter
	errc chan error
}

func startDemo(ping, pongTimeout time.Duration, code wsproto.StatusCode) (*demoServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ends := newEndCounter()
	app, h := demo.NewWithOptions(server.Options{
		Logger:       slog.New(ends),
		PingInterval: ping,
		PongTimeout:  pongTimeout,
		ShutdownCode: code,
		// -conns may ask for up to 100,000 connections: no app-wide cap
		// (MaxConnections' default, 10,000, is for services).
		MaxConnections: -1,
	})
	d := &demoServer{
		app:  app,
		srv:  app.Server(h), // timeouts and header limit, as cmd/demo
		URL:  "ws://" + ln.Addr().String(),
		ends: ends,
		errc: make(chan error, 1),
	}
	go func() { d.errc <- d.srv.Serve(ln) }()
	return d, nil
}

// shutdown stops the HTTP server and the app, as cmd/demo does.
func (d *demoServer) shutdown(timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := d.app.ShutdownServer(ctx, d.srv)
	took := time.Since(start)
	if serr := <-d.errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return took, err
}

// sampler records the peaks of the process's goroutines, open files and
// heap while the soak runs.
type sampler struct {
	mu                sync.Mutex
	goroutines, files int
	heap              uint64
	stop              chan struct{}
	done              chan struct{}
}

func startSampler(every time.Duration) *sampler {
	s := &sampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			s.sample()
			select {
			case <-t.C:
			case <-s.stop:
				return
			}
		}
	}()
	return s
}

func (s *sampler) sample() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	g, f := runtime.NumGoroutine(), openFiles()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.goroutines = max(s.goroutines, g)
	s.files = max(s.files, f)
	s.heap = max(s.heap, ms.HeapAlloc)
}

func (s *sampler) finish() (goroutines, files int, heap uint64) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.goroutines, s.files, s.heap
}

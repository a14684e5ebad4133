package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"wsraise/wsproto"
)

// TestDemo runs the program as a user does, on a loopback port: each
// route answers as the README says, and SIGTERM shuts it down gracefully,
// the open connection receiving 1001.
func TestDemo(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln, slog.New(slog.NewTextHandler(&logs, nil))) }()
	base := "ws://" + ln.Addr().String()
	tctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	closeOf := func(path string) *wsproto.CloseError {
		c, _, err := wsproto.Dial(tctx, base+path, nil)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		defer c.CloseNow()
		_, _, err = c.Read(tctx)
		var ce *wsproto.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("%s: read ended with %v, want a close", path, err)
		}
		return ce
	}
	for path, want := range map[string]string{
		"/ws":             "Closing the connection...",
		"/custom":         "Custom exception",
		"/reject-visible": "Rejected before accept", // CloseAfterAccept: accepted, then closed
	} {
		if ce := closeOf(path); ce.Code != 1008 || ce.Reason != want || !ce.Received {
			t.Errorf("%s: close %d %q, want 1008 %q", path, ce.Code, ce.Reason, want)
		}
	}

	_, _, err = wsproto.Dial(tctx, base+"/reject", nil)
	var he *wsproto.HandshakeError
	if !errors.As(err, &he) || he.Status != http.StatusForbidden {
		t.Errorf("/reject: %v, want a 403 refusal", err)
	}

	resp, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(page, []byte("CloseEvent")) && !bytes.Contains(page, []byte("onclose")) {
		t.Errorf("/: status %d, page of %d bytes without the CloseEvent display", resp.StatusCode, len(page))
	}

	resp, err = http.Get("http://" + ln.Addr().String() + "/favicon.ico")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" {
		t.Errorf("/favicon.ico: status %d, type %q; want 200 image/svg+xml", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	echo, _, err := wsproto.Dial(tctx, base+"/echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer echo.CloseNow()
	if err := echo.Write(tctx, wsproto.MessageText, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, p, err := echo.Read(tctx); err != nil || string(p) != "hello" {
		t.Fatalf("echo: %q %v", p, err)
	}

	// SIGTERM: the open connection is closed with 1001, and run returns.
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_, _, err = echo.Read(tctx)
	var ce *wsproto.CloseError
	if !errors.As(err, &ce) || ce.Code != wsproto.StatusGoingAway {
		t.Fatalf("after SIGTERM the echo read ended with %v, want 1001", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-tctx.Done():
		t.Fatal("run did not return after SIGTERM")
	}
	// One record per connection end, and none for a lean echo message.
	if n := strings.Count(logs.String(), "route=/echo"); n != 1 {
		t.Errorf("%d log records for /echo, want 1:\n%s", n, logs.String())
	}
}

// syncBuffer collects the log, written from the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

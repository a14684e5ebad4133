package main

import (
	"io"
	"log/slog"
	"net"
	"testing"
)

// TestAttackSmall runs the attack at a small scale against the app in this
// process: 20 stalled messages that inflate to 3 MiB each, where the
// default budget (64 MiB) holds at most 16 (each takes a 4 MiB buffer and
// 48 KiB of inflating): the rest are refused with 1013, none fails, and a
// normal client is served at the end.
func TestAttackSmall(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := newApp(slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := app.Server(nil)
	go srv.Serve(ln)
	defer srv.Close()
	out, err := attack(ln.Addr().String(), 5, 20, 5, 3<<20)
	if err != nil {
		t.Fatal(err)
	}
	if out.failed != 0 || out.refused < 4 || out.refused == 20 {
		t.Fatalf("%d refused, %d failed; want 4 to 19 refused, none failed", out.refused, out.failed)
	}
}

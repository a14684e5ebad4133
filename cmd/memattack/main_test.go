package main

import (
	"io"
	"log/slog"
	"net"
	"testing"
)

// TestAttackSmall runs the attack at a small scale against the app in this
// process: every connection gets its defined answer (the stalled messages
// past the budget a 1013, which this scale does not reach) and a normal
// client is served at the end.
func TestAttackSmall(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := newApp(slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := app.Server(nil)
	go srv.Serve(ln)
	defer srv.Close()
	if err := attack(ln.Addr().String(), 20, 5, 5, 1<<20); err != nil {
		t.Fatal(err)
	}
}

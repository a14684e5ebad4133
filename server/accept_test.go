package server_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"wsraise/server"
	"wsraise/wsproto"
)

// TestSendFromAnotherGoroutineAfterAccept: a handler registers its
// WebSocket with the rest of the program, then accepts; another goroutine
// sends as soon as the client has its 101. The send must go out: the
// connection is usable from every goroutine from the moment the 101 can
// reach the client (it failed with ErrNotAccepted about 12 times in 500
// when the state was set after the 101 without a lock).
func TestSendFromAnotherGoroutineAfterAccept(t *testing.T) {
	const n = 300
	registered := make(chan *server.WebSocket, 1)
	_, srv, _ := serve(t, server.Options{PingInterval: -1}, func(ws *server.WebSocket) error {
		registered <- ws
		if err := ws.Accept(); err != nil {
			return err
		}
		_, _, err := ws.Receive(ws.Context()) // until the client closes
		return err
	})
	for i := range n {
		c := srv.Connect(t, "/ws")
		ws := within(t, registered, "the handler")
		if err := ws.SendText(context.Background(), fmt.Sprint(i)); err != nil {
			t.Fatalf("connection %d: send once the client had its 101: %v", i, err)
		}
		if got := c.ReceiveText(); got != fmt.Sprint(i) {
			t.Fatalf("connection %d: got %q", i, got)
		}
		c.Conn.Close(wsproto.StatusNormalClosure, "")
	}
}

// TestSendBeforeAccept: before Accept, and after a refusal, a send
// returns ErrNotAccepted.
func TestSendBeforeAccept(t *testing.T) {
	errs := make(chan error, 2)
	_, srv, _ := serve(t, server.Options{}, func(ws *server.WebSocket) error {
		errs <- ws.SendText(ws.Context(), "too early")
		ws.Close(wsproto.StatusPolicyViolation, "no")
		errs <- ws.SendText(ws.Context(), "refused")
		return nil
	})
	srv.Refused(t, "/ws", nil)
	for _, when := range []string{"before accept", "after the refusal"} {
		if err := within(t, errs, "the handler"); !errors.Is(err, server.ErrNotAccepted) {
			t.Errorf("send %s: %v, want ErrNotAccepted", when, err)
		}
	}
}

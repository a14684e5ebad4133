package server_test

import (
	"context"
	"testing"
	"time"

	"wsraise/server"
)

// TestContextOutlivesServeHTTP: the handler goes on after ServeHTTP has
// returned (and net/http has cancelled the request's context); the
// connection's context stays alive until the connection ends.
func TestContextOutlivesServeHTTP(t *testing.T) {
	afterEnd := make(chan error, 1)
	_, srv, _ := serve(t, server.Options{}, func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		select { // ServeHTTP returns once the connection is hijacked
		case <-ws.Request().Context().Done():
		case <-time.After(10 * time.Second):
			return ws.SendText("ServeHTTP did not return after accept")
		}
		if err := ws.Context().Err(); err != nil {
			return ws.SendText("context ended with ServeHTTP: " + err.Error())
		}
		if err := ws.SendText("alive"); err != nil {
			return err
		}
		_, err := ws.ReceiveText() // the client closes
		select {
		case <-ws.Context().Done():
			afterEnd <- nil
		case <-time.After(10 * time.Second):
			afterEnd <- context.DeadlineExceeded
		}
		return err
	})
	c := srv.Connect(t, "/ws")
	if got := c.ReceiveText(); got != "alive" {
		t.Fatal(got)
	}
	c.Conn.Close(1000, "")
	if err := <-afterEnd; err != nil {
		t.Fatal("the connection's context did not end with the connection")
	}
}

package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"wsraise/server"
	"wsraise/server/wstest"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestContextOutlivesServeHTTP: the handler goes on after ServeHTTP has
// returned at the hijack (and net/http has cancelled the request's
// context); the connection's context, which Request() carries, stays
// alive until the connection ends.
func TestContextOutlivesServeHTTP(t *testing.T) {
	afterEnd := make(chan error, 1)
	served := make(chan struct{})
	app := server.New(server.Options{Logger: discardLogger()})
	app.Handle("/ws", func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		select { // ServeHTTP returns once the connection is hijacked
		case <-served:
		case <-time.After(wstest.Timeout):
			return ws.SendText(ws.Context(), "ServeHTTP did not return after accept")
		}
		if err := ws.Context().Err(); err != nil {
			return ws.SendText(ws.Context(), "context ended with ServeHTTP: "+err.Error())
		}
		if err := ws.Request().Context().Err(); err != nil {
			return ws.SendText(ws.Context(), "Request's context ended with ServeHTTP: "+err.Error())
		}
		if err := ws.SendText(ws.Context(), "alive"); err != nil {
			return err
		}
		_, err := ws.ReceiveText(ws.Request().Context()) // the client closes
		select {
		case <-ws.Context().Done():
			afterEnd <- nil
		case <-time.After(wstest.Timeout):
			afterEnd <- context.DeadlineExceeded
		}
		return err
	})
	srv := wstest.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		app.ServeHTTP(w, r)
		close(served)
	}))
	c := srv.Connect(t, "/ws")
	if got := c.ReceiveText(); got != "alive" {
		t.Fatal(got)
	}
	c.Conn.Close(1000, "")
	if err := <-afterEnd; err != nil {
		t.Fatal("the connection's context did not end with the connection")
	}
}

package server_test

// Exception dispatch (dispatch.go): a disconnect an exception handler
// passes on, and errors that match through an As method.

import (
	"fmt"
	"log/slog"
	"testing"

	"wsraise/internal/rawpeer"
	"wsraise/server"
	"wsraise/wsproto"
)

// A disconnect passed on through an exception handler: a catch-all that passes on
// the disconnect it was given (every normal leave of a client goes
// through it) is not a failure.
func TestHandlerPassesDisconnectOn(t *testing.T) {
	app, srv, rec := newApp(t, server.Options{})
	app.Handle("/ws", func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		_, _, err := ws.Receive(ws.Context())
		return err
	})
	server.HandleException(app, func(ws *server.WebSocket, err error) error { return err })
	c := rawpeer.Dial(t, hostport(srv), "/ws", "")
	c.Send(rawpeer.Close(1000, "bye"))
	if got := c.SkipToClose(); string(got) != string(rawpeer.ClosePayload(1000, "")) {
		t.Errorf("close reply %q", got)
	}
	checkLog(t, rec.end(t), slog.LevelInfo, "client", 1000, "bye")
}

// asErr stands for another error through an As method, as errors.As
// allows, without wrapping it.
type asErr struct{ target error }

func (e *asErr) Error() string { return "as: " + e.target.Error() }
func (e *asErr) As(target any) bool {
	switch t := target.(type) {
	case **exactErr:
		if v, ok := e.target.(*exactErr); ok {
			*t = v
			return true
		}
	case **server.WebSocketException:
		if v, ok := e.target.(*server.WebSocketException); ok {
			*t = v
			return true
		}
	}
	return false
}

// Matching "as errors.As does": a link's As method counts, for exception
// handlers (the handler gets the value As gives) and for the built-in
// rules.
func TestAsMethod(t *testing.T) {
	t.Run("exception handler", func(t *testing.T) {
		app, srv, rec := newApp(t, server.Options{})
		app.Handle("/ws", func(ws *server.WebSocket) error {
			if err := ws.Accept(); err != nil {
				return err
			}
			return fmt.Errorf("context: %w", &asErr{&exactErr{n: 7}})
		})
		server.HandleException(app, func(ws *server.WebSocket, err *exactErr) error {
			return ws.Close(4000+wsproto.StatusCode(err.n), "exact via As")
		})
		server.HandleException(app, func(ws *server.WebSocket, err error) error {
			return ws.Close(4999, "catch-all")
		})
		srv.Connect(t, "/ws").ExpectClose(4007, "exact via As")
		checkLog(t, rec.end(t), slog.LevelInfo, "server", 4007, "exact via As")
	})
	t.Run("built-in rule", func(t *testing.T) {
		app, srv, rec := newApp(t, server.Options{})
		app.Handle("/ws", func(ws *server.WebSocket) error {
			if err := ws.Accept(); err != nil {
				return err
			}
			return &asErr{server.Raise(wsproto.StatusPolicyViolation, "raised via As")}
		})
		srv.Connect(t, "/ws").ExpectClose(wsproto.StatusPolicyViolation, "raised via As")
		checkLog(t, rec.end(t), slog.LevelInfo, "server", 1008, "raised via As")
	})
}

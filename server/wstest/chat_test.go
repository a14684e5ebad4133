package wstest_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"wsraise/server"
	"wsraise/server/wstest"
	"wsraise/wsproto"
)

// newChatApp is the app under test: a route that needs a token, greets
// the user by JSON, and echoes until the client leaves.
func newChatApp(t *testing.T) *server.App {
	app := server.New(server.Options{Logger: wstest.Logger(t)})
	app.Handle("/chat", func(ws *server.WebSocket) error {
		if ws.Request().Header.Get("Authorization") != "Bearer s3cret" {
			return server.Raise(wsproto.StatusPolicyViolation, "no token")
		}
		if err := ws.Accept(server.WithSubprotocol("chat.v1")); err != nil {
			return err
		}
		ctx := ws.Context()
		name := "stranger"
		if c, err := ws.Request().Cookie("name"); err == nil {
			name = c.Value
		}
		if err := ws.SendJSON(ctx, map[string]string{"hello": name}); err != nil {
			return err
		}
		for {
			typ, msg, err := ws.Receive(ctx)
			if err != nil {
				return err
			}
			if err := ws.Send(ctx, typ, msg); err != nil {
				return err
			}
		}
	})
	return app
}

// A test of a route, as a user writes it: connect with a header and a
// subprotocol, exchange JSON and text, close, and check a refusal. When
// the test ends, wstest shuts the app down and waits for its handlers.
func TestChat(t *testing.T) {
	srv := wstest.Serve(t, newChatApp(t))

	c := srv.Connect(t, "/chat",
		wstest.WithHeader(map[string][]string{"Authorization": {"Bearer s3cret"}}),
		wstest.WithSubprotocols("chat.v1"),
		wstest.WithCookie(&http.Cookie{Name: "name", Value: "ada"}))
	if got := c.Subprotocol(); got != "chat.v1" {
		t.Fatalf("subprotocol %q, want chat.v1", got)
	}
	var hello map[string]string
	c.ReceiveJSON(&hello)
	if hello["hello"] != "ada" {
		t.Fatalf("greeting %v", hello)
	}
	c.SendText("ping")
	if got := c.ReceiveText(); got != "ping" {
		t.Fatalf("echo %q, want ping", got)
	}
	c.Close(wsproto.StatusNormalClosure, "bye")

	srv.ExpectRefused(t, "/chat", 403, "no token")
}

// Serve shuts an app down at the end of the test and waits for its
// handlers: none runs, or logs, after the test has ended.
func TestServeShutsTheAppDown(t *testing.T) {
	ended := make(chan error, 1)
	t.Run("inner", func(t *testing.T) {
		app := server.New(server.Options{Logger: wstest.Logger(t)})
		app.Handle("/wait", func(ws *server.WebSocket) error {
			if err := ws.Accept(); err != nil {
				return err
			}
			_, _, err := ws.Receive(context.Background())
			ended <- err
			return err
		})
		srv := wstest.Serve(t, app)
		srv.Connect(t, "/wait")
	})
	select {
	case err := <-ended:
		var d *server.Disconnect
		if !errors.As(err, &d) {
			t.Fatalf("handler ended with %v, want a *server.Disconnect", err)
		}
	default:
		t.Fatal("the handler was still running when the inner test ended")
	}
}

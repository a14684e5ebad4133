package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"wsraise/internal/rawpeer"
	"wsraise/server"
	"wsraise/server/wstest"
	"wsraise/wsproto"
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

// TestReceiveContext: a receive whose context ends returns the context's
// error and leaves the connection usable: "the first message within a
// deadline, or close 1008" is a few lines, and a later receive gets the
// next message.
func TestReceiveContext(t *testing.T) {
	_, srv, _ := serve(t, server.Options{}, func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(ws.Context(), 50*time.Millisecond)
		defer cancel()
		_, err := ws.ReceiveText(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			return server.Raise(4000, fmt.Sprint("first receive: ", err))
		}
		if err := ws.SendText(ws.Context(), "late"); err != nil {
			return err
		}
		msg, err := ws.ReceiveText(ws.Context())
		if err != nil {
			return err
		}
		return server.Raise(wsproto.StatusPolicyViolation, "got "+msg)
	})
	c := srv.Connect(t, "/ws")
	if got := c.ReceiveText(); got != "late" {
		t.Fatalf("%q, want \"late\"", got)
	}
	c.SendText("hello")
	c.ExpectClose(wsproto.StatusPolicyViolation, "got hello")
}

// TestReceiveContextMidMessage: a receive interrupted in the middle of a
// fragmented message loses that message; the next receive gets the next
// whole message.
func TestReceiveContextMidMessage(t *testing.T) {
	_, srv, _ := serve(t, server.Options{PingInterval: -1}, func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(ws.Context(), 100*time.Millisecond)
		defer cancel()
		if _, err := ws.ReceiveText(ctx); !errors.Is(err, context.DeadlineExceeded) {
			return server.Raise(4000, fmt.Sprint("first receive: ", err))
		}
		if err := ws.SendText(ws.Context(), "interrupted"); err != nil {
			return err
		}
		msg, err := ws.ReceiveText(ws.Context())
		if err != nil {
			return err
		}
		return server.Raise(wsproto.StatusPolicyViolation, "got "+msg)
	})
	c := rawpeer.Dial(t, hostport(srv), "/ws", "")
	c.Send(rawpeer.Fragment(rawpeer.OpText, false, "part one, "))
	f, err := c.ReadFrame(wstest.Timeout)
	if err != nil || f.Op != rawpeer.OpText || string(f.Payload) != "interrupted" {
		t.Fatalf("frame %#x %q %v, want the text \"interrupted\"", f.Op, f.Payload, err)
	}
	c.Send(rawpeer.Fragment(rawpeer.OpCont, true, "the rest")) // ends the lost message
	c.Send(rawpeer.Text("next"))
	if p := c.SkipToClose(); string(p) != string(rawpeer.ClosePayload(1008, "got next")) {
		t.Fatalf("close %q, want 1008 \"got next\"", p)
	}
}

// TestSendContext: a send whose context has ended sends nothing and
// leaves the connection usable; Send sends either message type.
func TestSendContext(t *testing.T) {
	_, srv, _ := serve(t, server.Options{}, func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		ctx, cancel := context.WithCancel(ws.Context())
		cancel()
		if err := ws.SendText(ctx, "never"); !errors.Is(err, context.Canceled) {
			return server.Raise(4000, fmt.Sprint("cancelled send: ", err))
		}
		for {
			typ, msg, err := ws.Receive(ws.Context())
			if err != nil {
				return err
			}
			if err := ws.Send(ws.Context(), typ, msg); err != nil {
				return err
			}
		}
	})
	c := srv.Connect(t, "/ws")
	c.SendText("text")
	c.SendBytes([]byte{0, 1, 2})
	if typ, p, err := c.Receive(); err != nil || typ != wsproto.MessageText || string(p) != "text" {
		t.Fatalf("first echo %v %q %v, want the text \"text\"", typ, p, err)
	}
	if typ, p, err := c.Receive(); err != nil || typ != wsproto.MessageBinary || string(p) != "\x00\x01\x02" {
		t.Fatalf("second echo %v %q %v, want the binary 00 01 02", typ, p, err)
	}
	c.Conn.Close(wsproto.StatusNormalClosure, "")
}

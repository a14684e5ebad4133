package server_test

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"wsraise/server"
	"wsraise/wsproto"
)

type panicRecord struct{ field *int }

// A runtime panic in a handler (a nil dereference, an index out of range)
// is a bug, not a raised error: 1011 after accept, 500 before, logged with
// its stack at error level, and never handed to an exception handler, not
// even a catch-all. A panic with an error of the application's own still
// raises it.
func TestPanicRuntimeError(t *testing.T) {
	var nilRecord *panicRecord
	for _, tc := range []struct {
		name   string
		accept bool
		panic  func()
	}{
		{"nil dereference after accept", true, func() { _ = *nilRecord.field }},
		{"index out of range after accept", true, func() { _ = []int{}[len(t.Name())] }},
		{"nil dereference before accept", false, func() { _ = *nilRecord.field }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app, srv, rec := newApp(t, server.Options{})
			caught := make(chan error, 1)
			server.HandleException(app, func(ws *server.WebSocket, err error) error {
				caught <- err
				return ws.Close(4000, "caught")
			})
			app.Handle("/ws", func(ws *server.WebSocket) error {
				if tc.accept {
					if err := ws.Accept(); err != nil {
						return err
					}
				}
				tc.panic()
				return nil
			})
			if tc.accept {
				c := srv.Connect(t, "/ws")
				c.ExpectClose(wsproto.StatusInternalError, "Internal Error")
			} else if status, _ := srv.Refused(t, "/ws", nil); status != http.StatusInternalServerError {
				t.Errorf("refused with %d, want 500", status)
			}
			e := rec.end(t)
			if e.level != slog.LevelError || !strings.Contains(e.str("error"), "runtime error") ||
				!strings.Contains(e.str("stack"), "panic_test.go") {
				t.Errorf("log %v %v, want an error with the runtime error and a stack through the handler", e.level, e.attrs)
			}
			select {
			case err := <-caught:
				t.Errorf("the catch-all exception handler got the runtime panic: %v", err)
			default:
			}
		})
	}
}

type appError struct{ what string }

func (e *appError) Error() string { return e.what }

func TestPanicWithApplicationError(t *testing.T) {
	app, srv, _ := newApp(t, server.Options{})
	server.HandleException(app, func(ws *server.WebSocket, err *appError) error {
		return ws.Close(4001, "handled "+err.what)
	})
	app.Handle("/ws", func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		panic(errors.Join(errors.New("context"), &appError{"deep"}))
	})
	srv.Connect(t, "/ws").ExpectClose(4001, "handled deep")
}

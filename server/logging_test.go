package server_test

// Logging (docs/SEMANTICS.md, "Around the handler"): one record per
// connection's end or refusal, with its level and attributes.

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"wsraise/server"
	"wsraise/server/wstest"
)

func TestLogging(t *testing.T) {
	afterAccept := []string{"closed_by", "code", "duration", "remote", "reason", "route"}
	refusal := []string{"duration", "reason", "remote", "route", "status"}
	cases := []struct {
		name    string
		handler server.Handler
		client  func(t *testing.T, srv *wstest.Server) string // returns the client's address, if known
		level   slog.Level
		keys    []string
		check   map[string]string
	}{
		{
			name: "server closes",
			handler: func(ws *server.WebSocket) error {
				ws.Accept()
				return server.Raise(1008, "policy")
			},
			level: slog.LevelInfo, keys: afterAccept,
			check: map[string]string{"closed_by": "server", "code": "1008", "reason": "policy"},
		},
		{
			name: "client closes",
			handler: func(ws *server.WebSocket) error {
				ws.Accept()
				_, _, err := ws.Receive(ws.Context())
				return err
			},
			client: func(t *testing.T, srv *wstest.Server) string {
				c := srv.Connect(t, "/rooms/a")
				c.Conn.Close(4000, "leaving")
				return c.Conn.LocalAddr().String()
			},
			level: slog.LevelInfo, keys: afterAccept,
			check: map[string]string{"closed_by": "client", "code": "4000", "reason": "leaving"},
		},
		{
			name: "nobody closes",
			handler: func(ws *server.WebSocket) error {
				ws.Accept()
				_, _, err := ws.Receive(ws.Context())
				return err
			},
			client: func(t *testing.T, srv *wstest.Server) string {
				c := srv.Connect(t, "/rooms/a")
				c.Conn.CloseNow()
				return c.Conn.LocalAddr().String()
			},
			level: slog.LevelInfo, keys: afterAccept,
			check: map[string]string{"closed_by": "none", "code": "1006", "reason": ""},
		},
		{
			name: "refused",
			handler: func(ws *server.WebSocket) error {
				return server.Raise(1008, "no")
			},
			level: slog.LevelInfo, keys: refusal,
			check: map[string]string{"status": "403", "reason": "no"},
		},
		{
			name: "exception handler fails",
			handler: func(ws *server.WebSocket) error {
				ws.Accept()
				return &otherErr{}
			},
			level: slog.LevelError, keys: append(afterAccept, "error"),
			check: map[string]string{"closed_by": "server", "code": "1011", "reason": "Internal Error"},
		},
		{
			name: "unhandled after accept",
			handler: func(ws *server.WebSocket) error {
				ws.Accept()
				return errors.New("boom")
			},
			level: slog.LevelError, keys: append(afterAccept, "error"),
			check: map[string]string{"closed_by": "server", "code": "1011", "reason": "Internal Error", "error": "boom"},
		},
		{
			name: "panic after accept",
			handler: func(ws *server.WebSocket) error {
				ws.Accept()
				panic(42)
			},
			level: slog.LevelError, keys: append(afterAccept, "error", "stack"),
			check: map[string]string{"closed_by": "server", "code": "1011", "reason": "Internal Error", "error": "panic: 42"},
		},
		{
			name: "unhandled before accept",
			handler: func(ws *server.WebSocket) error {
				return errors.New("boom")
			},
			level: slog.LevelError, keys: append(refusal, "error"),
			check: map[string]string{"status": "500", "reason": "Internal Server Error", "error": "boom"},
		},
		{
			name:    "nil without accept",
			handler: func(ws *server.WebSocket) error { return nil },
			level:   slog.LevelError, keys: append(refusal, "error"),
			check: map[string]string{"status": "500", "reason": "Internal Server Error", "error": "handler returned without completing the handshake"},
		},
		{
			name: "invalid close code",
			handler: func(ws *server.WebSocket) error {
				ws.Accept()
				return server.Raise(1005, "x")
			},
			level: slog.LevelError, keys: append(afterAccept, "error"),
			check: map[string]string{"closed_by": "server", "code": "1011", "reason": "Internal Error"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			app, srv, rec := newApp(t, server.Options{})
			app.Handle("/rooms/{room}", tc.handler)
			server.HandleException(app, func(ws *server.WebSocket, err *otherErr) error {
				return errors.New("exception handler broke")
			})
			start := time.Now()
			addr := ""
			if tc.client != nil {
				addr = tc.client(t, srv)
			} else if slices.Contains(tc.keys, "closed_by") {
				c := srv.Connect(t, "/rooms/a")
				addr = c.Conn.LocalAddr().String()
				c.Closed()
			} else {
				dialRefused(t, srv, "/rooms/a", nil)
			}
			e := rec.end(t)
			elapsed := time.Since(start)
			if e.level != tc.level {
				t.Errorf("level %v, want %v", e.level, tc.level)
			}
			keys := slices.Sorted(maps.Keys(e.attrs))
			if want := slices.Sorted(slices.Values(tc.keys)); !slices.Equal(keys, want) {
				t.Errorf("attributes %v, want %v", keys, want)
			}
			if e.str("route") != "/rooms/{room}" {
				t.Errorf("route %q", e.str("route"))
			}
			if addr != "" && e.str("remote") != addr {
				t.Errorf("remote %q, want the client's %q", e.str("remote"), addr)
			} else if !strings.HasPrefix(e.str("remote"), "127.0.0.1:") {
				t.Errorf("remote %q", e.str("remote"))
			}
			if d := e.attrs["duration"]; d.Kind() != slog.KindDuration || d.Duration() <= 0 || d.Duration() > elapsed {
				t.Errorf("duration %v, want in (0, %v]", d, elapsed)
			}
			wantMsg := "websocket connection ended"
			if slices.Contains(tc.keys, "status") {
				wantMsg = "websocket handshake refused"
			}
			if e.msg != wantMsg {
				t.Errorf("message %q, want %q", e.msg, wantMsg)
			}
			if stack, ok := e.attrs["stack"]; ok {
				// One readable line, innermost first, from the handler on.
				s := stack.String()
				if strings.Contains(s, "\n") || !strings.HasPrefix(s, "wsraise/server_test.") ||
					!strings.Contains(s, "(logging_test.go:") || strings.Contains(s, "panic(") {
					t.Errorf("stack %q, want one line that starts at the handler", s)
				}
			}
			for k, v := range tc.check {
				if k == "error" {
					if !strings.Contains(e.str(k), v) {
						t.Errorf("error %q does not contain %q", e.str(k), v)
					}
				} else if e.str(k) != v {
					t.Errorf("%s = %q, want %q", k, e.str(k), v)
				}
			}
		})
	}

	// One record per connection, also with many at once.
	t.Run("one record per connection", func(t *testing.T) {
		const n = 20
		app, srv, rec := newApp(t, server.Options{})
		app.Handle("/ws/{i}", func(ws *server.WebSocket) error {
			if err := ws.Accept(); err != nil {
				return err
			}
			return ws.Close(4000, ws.PathValue("i"))
		})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				c, err := srv.Dial(t, fmt.Sprintf("/ws/%d", i), nil)
				if err != nil {
					t.Error(err)
					return
				}
				c.ExpectClose(4000, strconv.Itoa(i))
			})
		}
		wg.Wait()
		seen := map[string]bool{}
		for range n {
			e := rec.next(t)
			if e.str("route") != "/ws/{i}" || seen[e.str("reason")] {
				t.Errorf("record %v", e.attrs)
			}
			seen[e.str("reason")] = true
		}
		if len(seen) != n || len(rec.ch) != 0 {
			t.Errorf("%d distinct records, %d extra", len(seen), len(rec.ch))
		}
	})
}

package server_test

// Guards (docs/SEMANTICS.md, "Around the handler"): functions run before
// the handler, before accept, that may refuse the handshake.

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"

	"wsraise/server"
	"wsraise/wsproto"
)

func TestGuards(t *testing.T) {
	type call struct{ name, room, token string }

	t.Run("run in order before the handler", func(t *testing.T) {
		calls := make(chan call, 10)
		app, srv, rec := newApp(t, server.Options{})
		guard := func(name string) server.Guard {
			return func(ws *server.WebSocket) error {
				if ws.State() != server.Connecting {
					t.Errorf("guard %s runs in state %v", name, ws.State())
				}
				calls <- call{name, ws.PathValue("room"), ws.Request().Header.Get("Authorization")}
				return nil
			}
		}
		app.Handle("/rooms/{room}", func(ws *server.WebSocket) error {
			calls <- call{name: "handler"}
			if err := ws.Accept(); err != nil {
				return err
			}
			return ws.Close(wsproto.StatusNormalClosure, "welcome")
		}).Guard(guard("auth")).Guard(guard("limit"))
		c, err := srv.Dial(t, "/rooms/lobby", &wsproto.DialOptions{Header: http.Header{"Authorization": {"Bearer t0k"}}})
		if err != nil {
			t.Fatal(err)
		}
		c.ExpectClose(wsproto.StatusNormalClosure, "welcome")
		rec.end(t)
		got := []call{<-calls, <-calls, <-calls}
		want := []call{{"auth", "lobby", "Bearer t0k"}, {"limit", "lobby", "Bearer t0k"}, {name: "handler"}}
		if !slices.Equal(got, want) {
			t.Errorf("calls %v, want %v", got, want)
		}
	})

	cases := []struct {
		name       string
		raise      error
		wantStatus int
		wantBody   string
		wantHeader http.Header
	}{
		{"WebSocketException", server.Raise(wsproto.StatusPolicyViolation, "no token"), 403, "no token", nil},
		{"HTTPException", &server.HTTPException{Status: 401, Detail: "bad token", Header: http.Header{"Www-Authenticate": {"Bearer"}}},
			401, "bad token", http.Header{"Www-Authenticate": {"Bearer"}}},
		{"HTTPException wrapped", fmt.Errorf("auth: %w", &server.HTTPException{Status: 429, Detail: "slow down"}), 429, "slow down", nil},
		{"panic with HTTPException", nil, 401, "panicked", nil},
	}
	for _, tc := range cases {
		t.Run("raises "+tc.name, func(t *testing.T) {
			var later atomic.Int32
			app, srv, rec := newApp(t, server.Options{})
			app.Handle("/ws", func(ws *server.WebSocket) error {
				later.Add(1)
				return ws.Accept()
			}).Guard(func(ws *server.WebSocket) error {
				if tc.raise == nil {
					panic(&server.HTTPException{Status: 401, Detail: "panicked"})
				}
				return tc.raise
			}, func(ws *server.WebSocket) error {
				later.Add(1)
				return nil
			})
			he := dialRefused(t, srv, "/ws", nil)
			if he.Status != tc.wantStatus || he.Body != tc.wantBody {
				t.Errorf("refused with %d %q, want %d %q", he.Status, he.Body, tc.wantStatus, tc.wantBody)
			}
			for k, v := range tc.wantHeader {
				if got := he.Header.Values(k); !slices.Equal(got, v) {
					t.Errorf("header %s %q, want %q", k, got, v)
				}
			}
			checkRefusalLog(t, rec.end(t), slog.LevelInfo, tc.wantStatus)
			if n := later.Load(); n != 0 {
				t.Errorf("%d later guards or handler ran after a guard raised", n)
			}
		})
	}
}

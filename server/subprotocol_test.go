package server_test

// Subprotocols (docs/SEMANTICS.md, "Around the handler"): Accept picks
// one the client offered; one it did not offer is an error.

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"wsraise/server"
	"wsraise/wsproto"
)

func TestSubprotocols(t *testing.T) {
	offered := []string{"chat.v1", "chat.v2"}
	cases := []struct {
		name    string
		pick    string
		wantErr error
	}{
		{"pick an offered one", "chat.v2", nil},
		{"pick the first", "chat.v1", nil},
		{"pick none", "", nil},
		{"pick one not offered", "chat.v3", server.ErrSubprotocol},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			type result struct {
				err         error
				subprotocol string
			}
			results := make(chan result, 1)
			_, srv, rec := serve(t, server.Options{}, func(ws *server.WebSocket) error {
				var opts []server.AcceptOption
				if tc.pick != "" {
					opts = append(opts, server.WithSubprotocol(tc.pick))
				}
				err := ws.Accept(opts...)
				results <- result{err, ws.Subprotocol()}
				if err != nil {
					return err
				}
				return ws.SendText(ws.Context(), ws.Subprotocol())
			})
			c, err := srv.Dial(t, "/ws", &wsproto.DialOptions{Subprotocols: offered})
			r := within(t, results, "the handler")
			if !errors.Is(r.err, tc.wantErr) || (tc.wantErr == nil) != (r.err == nil) {
				t.Fatalf("Accept: %v, want %v", r.err, tc.wantErr)
			}
			if tc.wantErr != nil {
				// The handler returned the error before accepting: 500.
				var he *wsproto.HandshakeError
				if !errors.As(err, &he) || he.Status != 500 || he.Body != "Internal Server Error" {
					t.Fatalf("dial: %v, want a 500 refusal", err)
				}
				e := rec.end(t)
				checkRefusalLog(t, e, slog.LevelError, 500)
				if !strings.Contains(e.str("error"), "did not offer") {
					t.Errorf("logged error %q", e.str("error"))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Conn.Subprotocol(); got != tc.pick || r.subprotocol != tc.pick {
				t.Errorf("client sees %q, server %q, want %q", got, r.subprotocol, tc.pick)
			}
			if got := c.ReceiveText(); got != tc.pick {
				t.Errorf("message %q", got)
			}
			c.ExpectClose(wsproto.StatusNormalClosure, "")
			rec.end(t)
		})
	}

	// Picking one not offered leaves the handshake open: the handler may
	// still accept without one.
	t.Run("recover from a wrong pick", func(t *testing.T) {
		errs := make(chan error, 1)
		_, srv, rec := serve(t, server.Options{}, func(ws *server.WebSocket) error {
			errs <- ws.Accept(server.WithSubprotocol("nope"))
			return ws.Accept()
		})
		c, err := srv.Dial(t, "/ws", &wsproto.DialOptions{Subprotocols: offered})
		if err != nil {
			t.Fatal(err)
		}
		if err := within(t, errs, "the handler"); !errors.Is(err, server.ErrSubprotocol) {
			t.Errorf("first Accept: %v", err)
		}
		if c.Conn.Subprotocol() != "" {
			t.Errorf("subprotocol %q", c.Conn.Subprotocol())
		}
		c.ExpectClose(wsproto.StatusNormalClosure, "")
		rec.end(t)
	})
}

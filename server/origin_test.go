package server_test

// The origin check (docs/SEMANTICS.md, "Around the handler"): a
// cross-site handshake is refused with 403 before any handler runs, unless
// its origin is allowed.

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"wsraise/server"
	"wsraise/wsproto"
)

func TestOrigin(t *testing.T) {
	cases := []struct {
		name   string
		opts   server.Options
		origin string // "SELF" is replaced by the server's own origin
		ok     bool
	}{
		{"no Origin (not a browser)", server.Options{}, "", true},
		{"same origin", server.Options{}, "http://SELF", true},
		{"same origin, https scheme", server.Options{}, "https://SELF", true},
		{"cross origin", server.Options{}, "http://evil.example", false},
		{"same host, other port", server.Options{}, "http://127.0.0.1:1", false},
		{"null origin", server.Options{}, "null", false},
		{"garbage", server.Options{}, "::not a url", false},
		{"allowed pattern", server.Options{OriginPatterns: []string{"*.example.com"}}, "https://app.example.com", true},
		{"allowed pattern, case", server.Options{OriginPatterns: []string{"*.example.com"}}, "https://APP.Example.COM", true},
		{"pattern with port", server.Options{OriginPatterns: []string{"localhost:*"}}, "http://localhost:3000", true},
		{"pattern does not match the apex", server.Options{OriginPatterns: []string{"*.example.com"}}, "https://example.com", false},
		{"pattern does not match another domain", server.Options{OriginPatterns: []string{"*.example.com"}}, "https://app.example.org", false},
		{"opt-out", server.Options{InsecureSkipOriginCheck: true}, "http://evil.example", true},
		{"opt-out, null", server.Options{InsecureSkipOriginCheck: true}, "null", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ran atomic.Int32
			_, srv, rec := serve(t, tc.opts, func(ws *server.WebSocket) error {
				ran.Add(1)
				if err := ws.Accept(); err != nil {
					return err
				}
				return ws.Close(wsproto.StatusNormalClosure, "hello")
			})
			u, _ := url.Parse(srv.URL)
			var h http.Header
			if tc.origin != "" {
				h = http.Header{"Origin": {strings.Replace(tc.origin, "SELF", u.Host, 1)}}
			}
			if tc.ok {
				c, err := srv.Dial(t, "/ws", &wsproto.DialOptions{Header: h})
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				c.ExpectClose(wsproto.StatusNormalClosure, "hello")
				checkLog(t, rec.end(t), slog.LevelInfo, "server", 1000, "hello")
				return
			}
			he := dialRefused(t, srv, "/ws", h)
			if he.Status != http.StatusForbidden || he.Body != "origin not allowed\n" {
				t.Errorf("refused with %d %q, want 403 \"origin not allowed\\n\"", he.Status, he.Body)
			}
			checkRefusalLog(t, rec.end(t), slog.LevelInfo, http.StatusForbidden)
			if ran.Load() != 0 {
				t.Error("the handler ran for a refused origin")
			}
		})
	}
}

package server_test

import (
	"bytes"
	"context"
	"testing"

	"wsraise/server"
	"wsraise/server/wstest"
	"wsraise/wsproto"
)

// TestCompressionOption: Options.Compression and Route.Compression flow
// into the handshake. A client that offers permessage-deflate gets it on a
// route where the app or the route switches it on, with the route's
// parameters when it overrides, and not where it is off; a compressible
// message is echoed whole either way.
func TestCompressionOption(t *testing.T) {
	echo := func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		for {
			typ, p, err := ws.Receive(ws.Context())
			if err != nil {
				return err
			}
			if typ == wsproto.MessageText {
				err = ws.SendText(ws.Context(), string(p))
			} else {
				err = ws.SendBytes(ws.Context(), p)
			}
			if err != nil {
				return err
			}
		}
	}
	app, srv, _ := newApp(t, server.Options{Compression: &wsproto.CompressionOptions{}})
	app.Handle("/app", echo)
	app.Handle("/route", echo).Compression(&wsproto.CompressionOptions{NoContextTakeover: true, PeerNoContextTakeover: true})
	app.Handle("/off", echo).Compression(nil)

	msg := bytes.Repeat([]byte(`{"user":"alice","text":"hello, compressed world"},`), 40)
	for _, tc := range []struct {
		path, want string
	}{
		{"/app", "permessage-deflate"},
		{"/route", "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{"/off", ""},
	} {
		t.Run(tc.path, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), wstest.Timeout)
			defer cancel()
			c, _, err := wsproto.Dial(ctx, srv.URL+tc.path, &wsproto.DialOptions{Compression: &wsproto.CompressionOptions{}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			if c.Extensions() != tc.want || c.Compressed() != (tc.want != "") {
				t.Fatalf("agreed %q, want %q", c.Extensions(), tc.want)
			}
			for range 3 {
				if err := c.Write(ctx, wsproto.MessageText, msg); err != nil {
					t.Fatal(err)
				}
				typ, got, err := c.Read(ctx)
				if err != nil || typ != wsproto.MessageText || !bytes.Equal(got, msg) {
					t.Fatalf("echo: %v %d bytes, %v", typ, len(got), err)
				}
			}
			if err := c.Close(wsproto.StatusNormalClosure, ""); err != nil {
				t.Fatal(err)
			}
		})
	}
}

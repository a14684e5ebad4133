package server_test

// Keepalive (docs/SEMANTICS.md, "Around the handler"): the server's pings,
// and the close 1011 when no pong comes in time.

import (
	"errors"
	"log/slog"
	"testing"
	"time"

	"wsraise/internal/rawpeer"
	"wsraise/server"
	"wsraise/server/wstest"
	"wsraise/wsproto"
)

func TestKeepalive(t *testing.T) {
	// A client that never answers pings is closed with 1011.
	t.Run("no pong", func(t *testing.T) {
		errs := make(chan error, 1)
		_, srv, rec := serve(t, server.Options{PingInterval: 20 * time.Millisecond, PongTimeout: 50 * time.Millisecond},
			receiveOnce(errs))
		c := rawpeer.Dial(t, hostport(srv), "/ws", "")
		pings := 0
		var closeFrame []byte
		for closeFrame == nil {
			f, err := c.ReadFrame(wstest.Timeout)
			if err != nil {
				t.Fatalf("waiting for the keepalive close: %v", err)
			}
			switch f.Op {
			case rawpeer.OpPing:
				pings++
			case rawpeer.OpClose:
				closeFrame = f.Payload
			default:
				t.Fatalf("frame %#x", f.Op)
			}
		}
		if pings == 0 {
			t.Error("closed without a ping")
		}
		if want := rawpeer.ClosePayload(1011, "keepalive ping timeout"); string(closeFrame) != string(want) {
			t.Errorf("close frame % x (%q), want % x", closeFrame, closeFrame, want)
		}
		c.Send(rawpeer.Close(1011, ""))
		c.ExpectEOF()
		var d *server.Disconnect
		if err := within(t, errs, "the handler"); !errors.As(err, &d) || d.Code != 1011 || d.ByPeer {
			t.Errorf("handler's receive: %v, want a disconnect 1011 by the server", err)
		}
		checkLog(t, rec.end(t), slog.LevelInfo, "server", 1011, "keepalive ping timeout")
	})

	// A client that answers stays connected across several pings.
	t.Run("pongs keep it open", func(t *testing.T) {
		_, srv, rec := serve(t, server.Options{PingInterval: 10 * time.Millisecond, PongTimeout: time.Second},
			func(ws *server.WebSocket) error {
				if err := ws.Accept(); err != nil {
					return err
				}
				msg, err := ws.ReceiveText(ws.Context())
				if err != nil {
					return err
				}
				return ws.Close(wsproto.StatusNormalClosure, "got "+msg)
			})
		c := rawpeer.Dial(t, hostport(srv), "/ws", "")
		// The second ping comes after the first pong was checked.
		for pings := 0; pings < 2; {
			f, err := c.ReadFrame(wstest.Timeout)
			if err != nil {
				t.Fatalf("after %d pings: %v", pings, err)
			}
			if f.Op != rawpeer.OpPing {
				t.Fatalf("after %d pings: frame %#x % x, want a ping", pings, f.Op, f.Payload)
			}
			c.Send(rawpeer.Pong(f.Payload))
			pings++
		}
		c.Send(rawpeer.Text("done"))
		if got, want := c.SkipToClose(), rawpeer.ClosePayload(1000, "got done"); string(got) != string(want) {
			t.Errorf("close frame %q, want %q", got, want)
		}
		c.Send(rawpeer.Close(1000, ""))
		c.ExpectEOF()
		checkLog(t, rec.end(t), slog.LevelInfo, "server", 1000, "got done")
	})
}

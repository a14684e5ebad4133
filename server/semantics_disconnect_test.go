package server_test

// docs/SEMANTICS.md, "Receiving a disconnect", and the protocol failures a handler sees:
// the client leaves, or breaks the protocol.

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"testing"

	"wsraise/internal/rawpeer"
	"wsraise/server"
	"wsraise/server/wstest"
	"wsraise/wsproto"
)

// ---- the client leaves ----

// disconnectApp serves a handler that receives until an error, reports it,
// and returns it (wrapped, if wrap).
func disconnectApp(t *testing.T, wrap bool) (*wstest.Server, *logRecorder, <-chan error) {
	errs := make(chan error, 1)
	_, srv, rec := serve(t, server.Options{}, func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		for {
			if _, _, err := ws.Receive(ws.Context()); err != nil {
				errs <- err
				if wrap {
					return fmt.Errorf("receiving: %w", err)
				}
				return err
			}
		}
	})
	return srv, rec, errs
}

func expectDisconnect(t *testing.T, err error, code wsproto.StatusCode, reason string) {
	t.Helper()
	var d *server.Disconnect
	if !errors.As(err, &d) {
		t.Fatalf("receive returned %T %v, want a *server.Disconnect", err, err)
	}
	if d.Code != code || d.Reason != reason || !d.ByPeer {
		t.Errorf("disconnect %v %q by peer %v, want %v %q by peer", d.Code, d.Reason, d.ByPeer, code, reason)
	}
	if server.CloseStatus(err) != code {
		t.Errorf("CloseStatus %v", server.CloseStatus(err))
	}
	var ce *wsproto.CloseError
	if !errors.As(err, &ce) || ce.Code != code || !ce.Received && code != wsproto.StatusAbnormalClosure {
		t.Errorf("wrapped CloseError %+v", ce)
	}
}

func TestClientCloses(t *testing.T) {
	t.Run("raw", func(t *testing.T) {
		srv, rec, errs := disconnectApp(t, false)
		c := rawpeer.Dial(t, hostport(srv), "/ws", "")
		c.Send(rawpeer.Close(4001, "bye now"))
		expectDisconnect(t, within(t, errs, "the handler's receive"), 4001, "bye now")
		// The protocol layer's reply echoes the code.
		if got, want := c.SkipToClose(), rawpeer.ClosePayload(4001, ""); string(got) != string(want) {
			t.Errorf("close reply % x, want % x", got, want)
		}
		c.ExpectEOF()
		checkLog(t, rec.end(t), slog.LevelInfo, "client", 4001, "bye now")
	})

	t.Run("client library", func(t *testing.T) {
		srv, rec, errs := disconnectApp(t, false)
		c := srv.Connect(t, "/ws")
		if err := c.Conn.Close(wsproto.StatusNormalClosure, "done"); err != nil {
			t.Fatalf("close handshake: %v", err)
		}
		if end := c.Conn.Err(); end == nil || end.Code != wsproto.StatusNormalClosure || end.Received {
			t.Errorf("client's end %+v", end)
		}
		expectDisconnect(t, within(t, errs, "the handler's receive"), 1000, "done")
		checkLog(t, rec.end(t), slog.LevelInfo, "client", 1000, "done")
	})
}

func TestClientClosesWithoutCode(t *testing.T) {
	srv, rec, errs := disconnectApp(t, false)
	c := rawpeer.Dial(t, hostport(srv), "/ws", "")
	c.Send(rawpeer.Close(0, ""))
	expectDisconnect(t, within(t, errs, "the handler's receive"), wsproto.StatusNoStatusRcvd, "")
	if got := c.SkipToClose(); len(got) != 0 {
		t.Errorf("close reply % x, want an empty one", got)
	}
	c.ExpectEOF()
	checkLog(t, rec.end(t), slog.LevelInfo, "client", 1005, "")
}

func TestTCPDropped(t *testing.T) {
	srv, rec, errs := disconnectApp(t, false)
	c := rawpeer.Dial(t, hostport(srv), "/ws", "")
	c.Send(rawpeer.Text("half a conversation"))
	c.Conn.Close()
	expectDisconnect(t, within(t, errs, "the handler's receive"), wsproto.StatusAbnormalClosure, "")
	checkLog(t, rec.end(t), slog.LevelInfo, "none", 1006, "")
}

func TestReturnDisconnect(t *testing.T) {
	for _, wrap := range []bool{false, true} {
		t.Run(fmt.Sprintf("wrapped=%v", wrap), func(t *testing.T) {
			srv, rec, errs := disconnectApp(t, wrap)
			c := rawpeer.Dial(t, hostport(srv), "/ws", "")
			c.Send(rawpeer.Close(1000, "done"))
			expectDisconnect(t, within(t, errs, "the handler's receive"), 1000, "done")
			// Exactly one close frame, the protocol layer's reply; then EOF.
			if got, want := c.SkipToClose(), rawpeer.ClosePayload(1000, ""); string(got) != string(want) {
				t.Errorf("close reply % x, want % x", got, want)
			}
			c.ExpectEOF()
			checkLog(t, rec.end(t), slog.LevelInfo, "client", 1000, "done")
		})
	}
}

// ---- misuse of Accept and the receive methods ----

func TestMisuse(t *testing.T) {
	type result struct {
		name string
		err  error
	}
	results := make(chan []result, 1)
	_, srv, rec := serve(t, server.Options{}, func(ws *server.WebSocket) error {
		var rs []result
		_, _, err := ws.Receive(ws.Context())
		rs = append(rs, result{"Receive", err})
		_, err = ws.ReceiveText(ws.Context())
		rs = append(rs, result{"ReceiveText", err})
		err = ws.ReceiveJSON(ws.Context(), new(any))
		rs = append(rs, result{"ReceiveJSON", err})
		rs = append(rs, result{"SendText", ws.SendText(ws.Context(), "x")})
		rs = append(rs, result{"SendBytes", ws.SendBytes(ws.Context(), []byte("x"))})
		rs = append(rs, result{"Accept", ws.Accept()})
		rs = append(rs, result{"Accept again", ws.Accept()})
		results <- rs
		return nil
	})
	srv.Connect(t, "/ws").ExpectClose(wsproto.StatusNormalClosure, "")
	want := []error{server.ErrNotAccepted, server.ErrNotAccepted, server.ErrNotAccepted, server.ErrNotAccepted, server.ErrNotAccepted, nil, server.ErrAlreadyAccepted}
	for i, r := range within(t, results, "the handler") {
		if !errors.Is(r.err, want[i]) || (want[i] == nil) != (r.err == nil) {
			t.Errorf("%s: %v, want %v", r.name, r.err, want[i])
		}
	}
	checkLog(t, rec.end(t), slog.LevelInfo, "server", 1000, "")

	t.Run("accept after refusing", func(t *testing.T) {
		errs := make(chan error, 1)
		_, srv, rec := serve(t, server.Options{}, func(ws *server.WebSocket) error {
			ws.Close(wsproto.StatusPolicyViolation, "no")
			errs <- ws.Accept()
			return nil
		})
		srv.ExpectRefused(t, "/ws", http.StatusForbidden, "no")
		if err := within(t, errs, "the handler"); !errors.Is(err, server.ErrHandshakeAnswered) {
			t.Errorf("Accept after a refusal: %v", err)
		}
		checkRefusalLog(t, rec.end(t), slog.LevelInfo, http.StatusForbidden)
	})
}

// ---- Protocol failures seen by the handler ----

func TestProtocolFailures(t *testing.T) {
	cases := []struct {
		name   string
		send   func(c *rawpeer.Peer)
		code   wsproto.StatusCode
		reason string
	}{
		{"over the read limit", func(c *rawpeer.Peer) { c.Send(rawpeer.Binary(make([]byte, 2000))) }, 1009, "message too big"},
		{"invalid UTF-8 text", func(c *rawpeer.Peer) { c.Send(rawpeer.Text("ok\xff")) }, 1007, "invalid UTF-8 in text message"},
		{"unmasked frame", func(c *rawpeer.Peer) { c.Write(rawpeer.Text("hi").Encode()) }, 1002, "client frame is not masked"},
		{"invalid close code", func(c *rawpeer.Peer) { c.Send(rawpeer.Close(1005, "")) }, 1002, "invalid close code 1005"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := make(chan error, 1)
			_, srv, rec := serve(t, server.Options{ReadLimit: 1024}, receiveOnce(errs))
			c := rawpeer.Dial(t, hostport(srv), "/ws", "")
			tc.send(c)
			if got, want := c.SkipToClose(), rawpeer.ClosePayload(uint16(tc.code), tc.reason); string(got) != string(want) {
				t.Errorf("close frame % x (%q), want % x", got, got, want)
			}
			// The server half-closes TCP right after its close frame: nothing
			// more is sent. Then a client closes its side.
			c.ExpectEOF()
			c.Conn.Close()
			err := within(t, errs, "the handler's receive")
			var d *server.Disconnect
			if !errors.As(err, &d) || d.Code != tc.code || d.ByPeer {
				t.Errorf("receive returned %v, want a disconnect with %v sent by the server", err, tc.code)
			}
			checkLog(t, rec.end(t), slog.LevelInfo, "server", tc.code, tc.reason)
		})
	}

	// Over the limit with a real client, which sees 1009.
	t.Run("client library", func(t *testing.T) {
		_, srv, rec := serve(t, server.Options{ReadLimit: 1024}, func(ws *server.WebSocket) error {
			if err := ws.Accept(); err != nil {
				return err
			}
			_, _, err := ws.Receive(ws.Context())
			return err
		})
		c := srv.Connect(t, "/ws")
		c.SendBytes(make([]byte, 4096))
		c.ExpectClose(wsproto.StatusMessageTooBig, "message too big")
		checkLog(t, rec.end(t), slog.LevelInfo, "server", 1009, "message too big")
	})
}

package server

import (
	"context"
	"encoding/json"
	"errors"
	"unsafe"

	"wsraise/wsproto"
)

// Send sends p as one message of type typ, text or binary: what a relay
// or an echo passes on without looking at the type. ctx bounds the send:
// one it interrupts before any byte went out changes nothing and returns
// ctx's error; one interrupted midway ends the connection (a frame was cut
// short, the peer sees 1006) and returns a *Disconnect. Options.WriteTimeout
// bounds every send whatever ctx says.
func (ws *WebSocket) Send(ctx context.Context, typ wsproto.MessageType, p []byte) error {
	c, err := ws.accepted()
	if err != nil {
		return err
	}
	if err := c.Write(ws.ioContext(ctx), typ, p); err != nil {
		var ce *wsproto.CloseError
		// A write that fails on the network ends the connection (the peer
		// vanished, or stopped reading past the write timeout): that is a
		// disconnect, not a failure of the handler.
		if errors.As(err, &ce) || errors.Is(err, wsproto.ErrClosed) || c.Err() != nil {
			if c.Err() != nil {
				ws.ended()
			}
			return ws.disconnectFrom(err)
		}
		return err
	}
	return nil
}

// SendText sends a text message.
func (ws *WebSocket) SendText(ctx context.Context, s string) error {
	// The bytes of s go out as they are, without a copy: Conn.Write only
	// reads its argument (a client masks into a buffer of its own).
	return ws.Send(ctx, wsproto.MessageText, unsafe.Slice(unsafe.StringData(s), len(s)))
}

// SendBytes sends a binary message.
func (ws *WebSocket) SendBytes(ctx context.Context, b []byte) error {
	return ws.Send(ctx, wsproto.MessageBinary, b)
}

// SendJSON sends v encoded as JSON, in a text message.
func (ws *WebSocket) SendJSON(ctx context.Context, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return ws.Send(ctx, wsproto.MessageText, b)
}

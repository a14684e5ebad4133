package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"wsraise/wsproto"
)

// Close closes the connection with code and reason. Before accept, it
// refuses the handshake with 403 and the reason as body (or, with
// CloseAfterAccept, accepts and then closes). A reason is cut to 123
// bytes at a character boundary, with invalid UTF-8 replaced. A code that
// may not be sent is not: 1011 goes instead (403 before accept), and
// Close returns an error that names the code, also logged with the
// connection's end. After the connection has ended, Close does nothing
// and returns nil (or the invalid code's error). If the peer leaves
// without answering the close frame, or does not answer within
// Options.CloseTimeout, Close returns a *Disconnect (1006), which a
// handler may return as it is.
func (ws *WebSocket) Close(code wsproto.StatusCode, reason string) error {
	return ws.close(context.Background(), code, reason)
}

// CloseContext is Close, bounded by ctx as well: if ctx ends before the
// close handshake does, the connection is cut (the peer sees 1006 if our
// close frame had not reached it) and ctx's error is returned.
func (ws *WebSocket) CloseContext(ctx context.Context, code wsproto.StatusCode, reason string) error {
	return ws.close(ctx, code, reason)
}

func (ws *WebSocket) close(ctx context.Context, code wsproto.StatusCode, reason string) error {
	var codeErr error
	if !code.Valid() {
		codeErr = fmt.Errorf("server: invalid close code %d raised (reason %q): RFC 6455 section 7.4 does not allow sending it", int(code), reason)
	}
	ws.mu.Lock()
	if ws.State() == Connecting && !ws.answered {
		if !ws.closeAfterAccept() {
			if codeErr != nil {
				// No close frame is sent here, but the bug is logged all
				// the same.
				ws.codeErr = codeErr
			}
			ws.refuseLocked(http.StatusForbidden, reason, nil)
			ws.mu.Unlock()
			return codeErr
		}
		ws.mu.Unlock()
		if err := ws.Accept(); err != nil {
			return err
		}
		ws.mu.Lock()
	}
	c := ws.conn.Load()
	if c == nil || ws.State() != Connected || ws.closed != nil {
		ws.mu.Unlock()
		return codeErr
	}
	if codeErr != nil {
		// A bug of the application, logged with the connection's end
		// record (at error level), not in a record of its own.
		ws.codeErr = codeErr
		code, reason = wsproto.StatusInternalError, "Internal Error"
	}
	reason = sanitizeReason(reason)
	ws.closed = &closeRecord{code, reason}
	ws.closing.Store(true)
	ws.mu.Unlock()
	ws.stopKeepalive()
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { c.CloseNow() })
		defer stop()
	}
	err := c.Close(code, reason)
	ws.ended()
	switch {
	case codeErr != nil:
		return codeErr
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err() // ctx cut the connection, perhaps before our close frame went out
	case errors.Is(err, wsproto.ErrClosed):
		return nil // the peer was first: nothing to do
	}
	// The peer did not answer the close frame (it left, or timed out):
	// the close handshake did not complete, which RFC 6455 sections 7.1.5
	// and 7.4.1 report as 1006. A disconnect, which a handler may return
	// without it being logged as a failure.
	return ws.disconnectFrom(&wsproto.CloseError{Code: wsproto.StatusAbnormalClosure, Err: err})
}

// disconnect is the error for a connection whose reading has ended.
func (ws *WebSocket) disconnect() error {
	ws.rd.mu.Lock()
	err := ws.rd.err
	ws.rd.mu.Unlock()
	return ws.disconnectFrom(err)
}

// disconnectFrom turns the protocol layer's error into a *Disconnect.
func (ws *WebSocket) disconnectFrom(err error) error {
	var ce *wsproto.CloseError
	if !errors.As(err, &ce) {
		if end := ws.conn.Load().Err(); end != nil {
			ce = end
		} else {
			ce = &wsproto.CloseError{Code: wsproto.StatusAbnormalClosure, Err: err}
		}
	}
	return &Disconnect{
		Code:   ce.Code,
		Reason: ce.Reason,
		ByPeer: ce.Received || ce.Code == wsproto.StatusAbnormalClosure,
		Err:    ce,
	}
}

// sanitizeReason makes any string a valid close reason: invalid UTF-8
// replaced by U+FFFD, then cut at a character boundary to at most 123
// bytes (RFC 6455 section 5.5: a control frame's payload is at most 125
// bytes, two of them the code).
func sanitizeReason(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= wsproto.MaxCloseReason {
		return s
	}
	cut := wsproto.MaxCloseReason
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

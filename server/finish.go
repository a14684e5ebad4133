package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

	"wsraise/wsproto"
)

// run calls the guards and the handler, recovering a panic. A panic with
// an error is raised like a returned error; with another value it becomes
// a *PanicError, which no exception handler sees.
func (ws *WebSocket) run() (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = panicError(v)
		}
	}()
	for _, g := range ws.route.guards {
		if err := g(ws); err != nil {
			return err
		}
	}
	return ws.route.handler(ws)
}

func panicError(v any) error {
	if err, ok := v.(error); ok {
		return err
	}
	return &PanicError{Value: v, Stack: debug.Stack()}
}

// errGoexit stands for a handler, guard or exception handler that called
// runtime.Goexit (t.FailNow in a test, say) instead of returning.
var errGoexit = errors.New("handler called runtime.Goexit instead of returning")

// finish applies the rules of SEMANTICS.md to what the handler returned,
// makes sure the connection is over, and logs its end. With handlers
// false, exception handlers are not consulted (a handler or an exception
// handler called runtime.Goexit).
func (ws *WebSocket) finish(err error, start time.Time, handlers bool) {
	var failure error // logged at error level
	switch {
	case err == nil:
		failure = ws.endQuietly()
	case errors.Is(err, http.ErrAbortHandler):
		// net/http's signal to abort a response: the connection is cut
		// with no answer, or with no close frame once accepted, and
		// nothing is logged as a failure (net/http logs no stack for it).
		ws.abort()
	default:
		var pe *PanicError
		handled := false
		if handlers && !errors.As(err, &pe) {
			h, link := findHandler([]*handlerSet{&ws.route.handlers, &ws.app.handlers}, err)
			if h != nil {
				handled = true
				herr := ws.callHandler(h, link)
				switch {
				case herr == nil:
					failure = ws.endQuietly()
				case errors.Is(herr, http.ErrAbortHandler):
					ws.abort()
				case isDisconnect(herr):
					// Rows 13 and 18: the peer is gone (the handler passed
					// the disconnect on, or its send failed): not a failure.
					failure = ws.applyDefaults(herr)
				default:
					// Row 4: the handler's own error goes to the defaults,
					// never to handlers again, and is logged.
					failure = fmt.Errorf("exception handler failed on %w: %w", err, herr)
					ws.applyDefaults(herr)
				}
			}
		}
		if !handled {
			failure = ws.applyDefaults(err)
		}
	}
	ws.stopKeepalive()
	if ws.conn != nil {
		ws.awaitClose()
		ws.conn.CloseNow() // a no-op after a completed close
		// Wait for the reading goroutine: nothing outlives the handler.
		for m := range ws.msgs {
			putBuffer(m.buf)
		}
		ws.app.untrack(ws)
	}
	ws.cancel()
	ws.mu.Lock()
	if ws.codeErr != nil {
		failure = errors.Join(failure, ws.codeErr)
	}
	ws.mu.Unlock()
	ws.app.logEnd(ws.route, ws.req, start, ws.endInfo(failure))
}

// awaitClose waits for a close handshake that another goroutine started
// (Shutdown, or a Close racing with the handler's return) to end, so that
// CloseNow does not cut it short: closing TCP with the peer's data unread
// resets the connection, and the peer would see 1006 instead of the close
// frame. Close bounds the handshake with the close timeout; so does this.
func (ws *WebSocket) awaitClose() {
	ws.mu.Lock()
	closing := ws.closed != nil
	ws.mu.Unlock()
	if !closing {
		return
	}
	t := time.NewTimer(ws.app.opts.CloseTimeout)
	defer t.Stop()
	select {
	case <-ws.conn.Done():
	case <-t.C:
	}
}

// isDisconnect reports whether err says the connection is over: the
// peer's close, or a connection the protocol layer ended.
func isDisconnect(err error) bool {
	var (
		disc *Disconnect
		ce   *wsproto.CloseError
	)
	return errors.As(err, &disc) || errors.As(err, &ce)
}

// abort cuts the connection without an answer: before accept, the
// handshake gets no response (net/http's goroutine panics with
// http.ErrAbortHandler once the handler's goroutine is done, see
// App.serve); after, TCP is closed with no close frame.
func (ws *WebSocket) abort() {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.conn == nil {
		if !ws.answered {
			ws.aborted = true
			ws.answered = true
			ws.state.Store(int32(Disconnected))
			ws.cancel()
		}
		return
	}
	ws.conn.CloseNow()
}

// callHandler runs an exception handler, turning its panic into an error.
func (ws *WebSocket) callHandler(h handlerFunc, link error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = panicError(v)
		}
	}()
	return h(ws, link)
}

// endQuietly ends a connection whose handler returned nil. Row 7: after
// accept, close 1000. Row 8: without an answer to the handshake, 500 and a
// logged failure.
func (ws *WebSocket) endQuietly() error {
	switch ws.State() {
	case Connected:
		ws.Close(wsproto.StatusNormalClosure, "")
	case Connecting:
		ws.mu.Lock()
		answered := ws.answered
		ws.refuseLocked(http.StatusInternalServerError, "Internal Server Error", nil)
		ws.mu.Unlock()
		if !answered {
			return errors.New("handler returned without completing the handshake")
		}
	}
	return nil
}

// applyDefaults is the built-in handling of an error no exception handler
// took. It returns the error if it is a failure to log.
func (ws *WebSocket) applyDefaults(err error) error {
	var (
		disc *Disconnect
		ce   *wsproto.CloseError
		wse  *WebSocketException
		he   *HTTPException
		je   *JSONError
	)
	// The outermost link of a known type decides; a link with an As
	// method is asked for each known type, as errors.As would.
	walkChain(err, func(e error) bool {
		if as, ok := e.(interface{ As(any) bool }); ok {
			for _, t := range builtinTypes {
				if v, ok := asType(as, t); ok {
					e = v
					break
				}
			}
		}
		switch e := e.(type) {
		case *Disconnect:
			disc = e
		case *wsproto.CloseError:
			ce = e
		case *WebSocketException:
			wse = e
		case *HTTPException:
			he = e
		case *JSONError:
			je = e
		default:
			return false
		}
		return true
	})
	switch {
	case disc != nil || ce != nil:
		// Rows 13 and 18: the connection is already over; send nothing.
		if ws.State() == Connecting {
			return ws.endQuietly()
		}
		return nil
	case wse != nil:
		// Rows 1, 2, 11, 12.
		ws.Close(wse.Code, wse.Reason)
		return nil
	case he != nil:
		// Rows 9 and 10.
		if ws.State() == Connecting {
			ws.mu.Lock()
			detail := he.Detail
			if detail == "" {
				detail = http.StatusText(he.Status)
			}
			status := he.Status
			var bad error
			if status < 300 || status > 599 {
				// A 1xx or 2xx status cannot refuse a handshake. RFC 6455
				// section 4.1: a status other than 101 is handled "per
				// HTTP procedures", so a 2xx reads as a success, and a
				// 101 sent here would claim an upgrade that never
				// happened (section 4.2.2). A bug of the application.
				bad = fmt.Errorf("HTTPException with status %d cannot refuse a handshake; sent 500", status)
				status = http.StatusInternalServerError
			}
			ws.refuseLocked(status, detail, he.Header)
			ws.mu.Unlock()
			return bad
		}
		code := wsproto.StatusInternalError
		if he.Status >= 400 && he.Status <= 599 {
			code = wsproto.StatusCode(4000 + he.Status)
		}
		ws.Close(code, he.Detail)
		return nil
	case je != nil:
		// Row 14.
		ws.Close(wsproto.StatusInvalidPayload, "invalid JSON")
		return nil
	}
	// Rows 5 and 6: unhandled.
	if ws.State() == Connecting && errors.Is(err, context.Canceled) && context.Cause(ws.ctx) == ErrShuttingDown {
		// The handler gave up on its context because Shutdown cancelled
		// it: refused like any handshake during shutdown, not a failure.
		ws.mu.Lock()
		ws.refuseShuttingDownLocked()
		ws.mu.Unlock()
		return nil
	}
	if ws.State() == Connecting {
		ws.mu.Lock()
		ws.refuseLocked(http.StatusInternalServerError, "Internal Server Error", nil)
		ws.mu.Unlock()
		return err
	}
	reason := "Internal Error"
	if ws.app.opts.Debug {
		reason = err.Error()
	}
	ws.Close(wsproto.StatusInternalError, reason)
	return err
}

// builtinTypes are the error types the built-in rules know, in the order
// a link's As method is asked for them.
var builtinTypes = []reflect.Type{
	reflect.TypeFor[*Disconnect](),
	reflect.TypeFor[*wsproto.CloseError](),
	reflect.TypeFor[*WebSocketException](),
	reflect.TypeFor[*HTTPException](),
	reflect.TypeFor[*JSONError](),
}

// sanitizeReason makes any string a valid close reason (row 12): invalid
// UTF-8 replaced by U+FFFD, then cut at a character boundary to at most
// 123 bytes.
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

// endInfo describes how a connection ended, for the log.
type endInfo struct {
	status   int // HTTP status, when the handshake was refused
	closedBy string
	code     wsproto.StatusCode
	reason   string
	err      error
}

func (ws *WebSocket) endInfo(failure error) endInfo {
	info := endInfo{err: failure}
	if ws.conn == nil {
		info.status = ws.status
		if ws.aborted {
			info.reason = "aborted with http.ErrAbortHandler: no response"
		}
		return info
	}
	info.status = http.StatusSwitchingProtocols
	end := ws.conn.Err()
	switch {
	case end == nil:
	case end.Code == wsproto.StatusAbnormalClosure:
		info.closedBy = "none"
		info.code = end.Code
	case end.Received:
		info.closedBy = "client"
		info.code, info.reason = end.Code, end.Reason
	default:
		info.closedBy = "server"
		info.code, info.reason = end.Code, end.Reason
	}
	return info
}

// logEnd writes the one record of a connection's end.
func (a *App) logEnd(route *Route, r *http.Request, start time.Time, info endInfo) {
	attrs := []slog.Attr{
		slog.String("route", route.pattern),
		slog.String("remote", r.RemoteAddr),
	}
	if info.status != http.StatusSwitchingProtocols {
		attrs = append(attrs, slog.Int("status", info.status))
		if info.reason != "" {
			attrs = append(attrs, slog.String("reason", info.reason))
		}
	} else {
		attrs = append(attrs,
			slog.String("closed_by", info.closedBy),
			slog.Int("code", int(info.code)),
			slog.String("reason", info.reason))
	}
	attrs = append(attrs, slog.Duration("duration", time.Since(start)))
	level := slog.LevelInfo
	if info.err != nil {
		level = slog.LevelError
		attrs = append(attrs, slog.String("error", info.err.Error()))
		var pe *PanicError
		if errors.As(info.err, &pe) {
			attrs = append(attrs, slog.String("stack", string(pe.Stack)))
		}
	}
	a.logger.LogAttrs(context.Background(), level, "websocket connection ended", attrs...)
}

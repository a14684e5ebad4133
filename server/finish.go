package server

import (
	"errors"
	"net/http"
	"runtime"
	"runtime/debug"
	"time"

	"wsraise/wsproto"
)

// run calls the guards and the handler, recovering a panic: see
// panicError.
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

// panicError is what a panic raises. A panic with an error of the
// application's raises that error. A runtime error (a nil dereference, an
// index out of range) or a value that is not an error is a bug: it becomes
// a *PanicError with the stack, which no exception handler sees.
func panicError(v any) error {
	if re, ok := v.(runtime.Error); ok {
		return &PanicError{Value: re, Stack: debug.Stack()}
	}
	if err, ok := v.(error); ok {
		return err
	}
	return &PanicError{Value: v, Stack: debug.Stack()}
}

// errGoexit stands for a handler, guard or exception handler that called
// runtime.Goexit (t.FailNow in a test, say) instead of returning.
var errGoexit = errors.New("handler called runtime.Goexit instead of returning")

// finish applies the rules of docs/SEMANTICS.md to what the handler
// returned, makes sure the connection is over, and logs its end. With
// handlers false, exception handlers are not consulted (a handler or an
// exception handler called runtime.Goexit).
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
	case handlers:
		failure = ws.dispatch(err)
	default:
		failure = ws.builtin(err)
	}
	ws.stopKeepalive()
	if c := ws.conn.Load(); c != nil {
		ws.awaitClose(c)
		c.CloseNow() // a no-op after a completed close
		ws.ended()
		ws.stopReading() // nothing outlives the handler
		ws.app.untrack(ws)
	}
	ws.cancelCause(nil)
	ws.mu.Lock()
	if ws.codeErr != nil && !errors.Is(failure, ws.codeErr) {
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
func (ws *WebSocket) awaitClose(c *wsproto.Conn) {
	if !ws.closing.Load() {
		return
	}
	t := time.NewTimer(ws.app.opts.CloseTimeout)
	defer t.Stop()
	select {
	case <-c.Done():
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
	c := ws.conn.Load()
	if c == nil {
		if !ws.answered {
			ws.aborted = true
			ws.answered = true
			ws.ended()
		}
		return
	}
	c.CloseNow()
}

// endQuietly ends a connection whose handler returned nil: after accept,
// close 1000; without an answer to the handshake, 500 and a logged
// failure.
func (ws *WebSocket) endQuietly() error {
	switch ws.State() {
	case Connected:
		ws.Close(wsproto.StatusNormalClosure, "") // RFC 6455 section 7.4.1
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

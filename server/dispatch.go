package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"

	"wsraise/wsproto"
)

// Exception dispatch: what a raised error becomes. The whole of it is in
// this file: registration (HandleException), the lookup along the error
// chain (find), and the built-in rules, which are ordinary exception
// handlers of the lowest priority (builtins).

// Registry is where exception handlers are registered: an *App, or a
// *Route, whose handlers take precedence over the app's.
type Registry interface {
	handlerSet() *handlerSet
}

// handlerFunc is an exception handler with its error type erased. A
// built-in one returns the failure to log, or nil.
type handlerFunc func(ws *WebSocket, err error) error

// exceptionHandler is one registered handler for the error type E.
type exceptionHandler struct {
	typ   reflect.Type // E, to replace a handler registered for it again
	iface bool         // E is an interface type
	is    func(link error) bool
	as    func(link interface{ As(any) bool }) (error, bool)
	call  handlerFunc
}

// handlerSet holds the exception handlers of an app, a route, or the
// built-in rules, in registration order.
type handlerSet struct {
	handlers []exceptionHandler
	catchAll handlerFunc // registered for error itself
}

// HandleException registers fn for errors of type E, on an app or a route:
// FastAPI's app.exception_handler. E may be a concrete type (often a
// pointer, *MyError), an interface type, or error itself for a catch-all.
//
// When a handler fails, the error chain is walked outermost first, as
// errors.As does (through Unwrap() error and Unwrap() []error). At each
// link, a handler for exactly that link's concrete type runs if there is
// one; otherwise the first handler, in registration order, whose interface
// type the link implements; otherwise, if the link has an As(any) bool
// method, the first registered type it converts to. A route's handler
// comes before the app's at every step. If no link matches, the catch-all
// runs, if any; then the built-in rules apply (see the package
// documentation). A catch-all therefore sees every raised error no typed
// handler took, *WebSocketException, *HTTPException, *JSONError and
// *Disconnect included: return those unchanged to leave them to the
// built-in rules. A panic with a runtime error (a nil dereference, an index
// out of range) is a bug, not a raised error: no exception handler sees
// it.
//
// fn gets the matching link of the chain. It typically closes the
// connection, with ws.Close; whatever it returns is processed by the
// built-in rules, never by exception handlers again. Register handlers
// before the app serves; a nil fn panics.
func HandleException[E error](r Registry, fn func(ws *WebSocket, err E) error) {
	if fn == nil {
		misuse("nil exception handler for %v", reflect.TypeFor[E]())
	}
	if a, ok := r.(*App); ok && a.mux == nil {
		misuse("HandleException on an App not made by server.New")
	}
	t := reflect.TypeFor[E]()
	if t.Kind() == reflect.Pointer && t.Elem().Implements(reflect.TypeFor[error]()) {
		warnValueReceiver(r, t)
	}
	register[E](r.handlerSet(), func(ws *WebSocket, err error) error { return fn(ws, err.(E)) })
}

// register adds a handler for E to set; call gets an error of type E.
func register[E error](set *handlerSet, call handlerFunc) {
	t := reflect.TypeFor[E]()
	if t == reflect.TypeFor[error]() {
		set.catchAll = call
		return
	}
	h := exceptionHandler{
		typ:   t,
		iface: t.Kind() == reflect.Interface,
		is:    func(link error) bool { _, ok := link.(E); return ok },
		as: func(link interface{ As(any) bool }) (error, bool) {
			var e E
			if !link.As(&e) {
				return nil, false
			}
			err := error(e)
			return err, err != nil
		},
		call: call,
	}
	for i := range set.handlers {
		if set.handlers[i].typ == t {
			set.handlers[i] = h
			return
		}
	}
	set.handlers = append(set.handlers, h)
}

// find returns the handler for err among sets, in their order of
// precedence, and the link of the chain it matched; the catch-all of the
// first set that has one if no link matches; or nil.
func find(err error, sets ...*handlerSet) (handlerFunc, error) {
	var found handlerFunc
	var link error
	walkChain(err, func(e error) bool {
		// Exact types first, then interfaces: a concrete E matches only
		// a link of exactly that type.
		for _, iface := range []bool{false, true} {
			for _, s := range sets {
				for _, h := range s.handlers {
					if h.iface == iface && h.is(e) {
						found, link = h.call, e
						return true
					}
				}
			}
		}
		// A link with an As method may stand for other types, as it does
		// for errors.As: each registered type is offered to it, in
		// registration order, the route's first.
		if as, ok := e.(interface{ As(any) bool }); ok {
			for _, s := range sets {
				for _, h := range s.handlers {
					if v, ok := h.as(as); ok {
						found, link = h.call, v
						return true
					}
				}
			}
		}
		return false
	})
	if found != nil {
		return found, link
	}
	for _, s := range sets {
		if s.catchAll != nil {
			return s.catchAll, err
		}
	}
	return nil, nil
}

// walkChain visits err and the errors it wraps, depth first, outermost
// first, until visit returns true. It reports whether one did.
func walkChain(err error, visit func(error) bool) bool {
	for err != nil {
		if visit(err) {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if walkChain(e, visit) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}

// dispatch applies the exception handlers, then the built-in rules, to
// err, a raised error (not nil), and returns the failure to log, if any.
func (ws *WebSocket) dispatch(err error) error {
	var pe *PanicError
	if errors.As(err, &pe) {
		return ws.builtin(err) // a bug: no exception handler sees it
	}
	h, link := find(err, &ws.route.handlers, &ws.app.handlers)
	if h == nil {
		return ws.builtin(err)
	}
	herr := ws.callHandler(h, link)
	switch {
	case herr == nil:
		return ws.endQuietly()
	case errors.Is(herr, http.ErrAbortHandler):
		ws.abort()
		return nil
	case isDisconnect(herr):
		// The peer is gone (the handler passed the disconnect on, or
		// its send failed): not a failure.
		return ws.builtin(herr)
	}
	// The handler's own error goes to the built-in rules, never to
	// handlers again, and is logged.
	ws.builtin(herr)
	return fmt.Errorf("exception handler failed on %w: %w", err, herr)
}

// builtin applies the built-in rules to err.
func (ws *WebSocket) builtin(err error) error {
	h, link := find(err, builtins)
	return h(ws, link)
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

// builtins are the rules of docs/SEMANTICS.md for errors no exception
// handler took. Each returns the failure to log, or nil.
var builtins = func() *handlerSet {
	s := new(handlerSet)
	register[*Disconnect](s, endDisconnected)
	register[*wsproto.CloseError](s, endDisconnected)
	register[*WebSocketException](s, closeWithException)
	register[*HTTPException](s, answerHTTPException)
	register[*JSONError](s, closeInvalidJSON)
	s.catchAll = unhandled
	return s
}()

// endDisconnected: the connection is already over; send nothing.
func endDisconnected(ws *WebSocket, _ error) error {
	if ws.State() == Connecting {
		return ws.endQuietly()
	}
	return nil
}

// closeWithException closes with the exception's code and reason (before
// accept: 403, or CloseAfterAccept).
func closeWithException(ws *WebSocket, err error) error {
	e := err.(*WebSocketException)
	ws.Close(e.Code, e.Reason) // an invalid code is logged by Close
	return nil
}

// answerHTTPException refuses the handshake with the exception's status,
// or, after accept, closes with 4000+status.
func answerHTTPException(ws *WebSocket, err error) error {
	e := err.(*HTTPException)
	if ws.State() != Connecting {
		// 4000-4999 are for applications (RFC 6455 section 7.4.2).
		code := wsproto.StatusInternalError
		if e.Status >= 400 && e.Status <= 599 {
			code = wsproto.StatusCode(4000 + e.Status)
		}
		ws.Close(code, e.Detail)
		return nil
	}
	detail := e.Detail
	if detail == "" {
		detail = http.StatusText(e.Status)
	}
	if e.Status < 300 || e.Status > 599 {
		// A 1xx or 2xx status cannot refuse a handshake. RFC 6455
		// section 4.1: a status other than 101 is handled "per HTTP
		// procedures", so a 2xx reads as a success, and a 101 sent here
		// would claim an upgrade that never happened (section 4.2.2).
		ws.refuse(http.StatusInternalServerError, detail, e.Header)
		return fmt.Errorf("HTTPException with status %d cannot refuse a handshake; sent 500", e.Status)
	}
	ws.refuse(e.Status, detail, e.Header)
	return nil
}

// closeInvalidJSON closes with 1007: the message was not what the
// handler could decode (RFC 6455 section 7.4.1, "data within a message
// that was not consistent with the type of the message").
func closeInvalidJSON(ws *WebSocket, _ error) error {
	ws.Close(wsproto.StatusInvalidPayload, "invalid JSON")
	return nil
}

// unhandled: 1011 after accept, 500 before, and the error is logged.
func unhandled(ws *WebSocket, err error) error {
	if ws.State() == Connecting {
		if errors.Is(err, context.Canceled) && context.Cause(ws.ctx) == ErrShuttingDown {
			// The handler gave up on its context because Shutdown
			// cancelled it: refused like any handshake during shutdown,
			// not a failure.
			ws.mu.Lock()
			ws.refuseShuttingDownLocked()
			ws.mu.Unlock()
			return nil
		}
		ws.refuse(http.StatusInternalServerError, "Internal Server Error", nil)
		return err
	}
	reason := "Internal Error"
	if ws.app.opts.Debug {
		reason = err.Error()
	}
	// 1011: "an unexpected condition that prevented it from fulfilling
	// the request" (RFC 6455 section 7.4.1).
	ws.Close(wsproto.StatusInternalError, reason)
	return err
}

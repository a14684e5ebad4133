package server

import "reflect"

// Registry is where exception handlers are registered: an *App, or a
// *Route, whose handlers take precedence over the app's.
type Registry interface {
	handlerSet() *handlerSet
}

// handlerFunc is an exception handler with its error type erased.
type handlerFunc func(ws *WebSocket, err error) error

type interfaceHandler struct {
	typ     reflect.Type
	matches func(error) bool
	call    handlerFunc
}

// handlerSet holds the exception handlers of an app or a route.
type handlerSet struct {
	exact      map[reflect.Type]handlerFunc // by concrete type
	exactOrder []reflect.Type               // the same, in registration order
	interfaces []interfaceHandler           // in registration order
	catchAll   handlerFunc                  // registered for error itself
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
// method, the first registered type it converts to. A route's handler comes before the app's at
// every step. If no link matches, the catch-all runs, if any; then the
// built-in rules apply (see the package documentation).
//
// fn gets the matching link of the chain. It typically closes the
// connection, with ws.Close; whatever it returns is processed by the
// built-in rules, never by exception handlers again. Register handlers
// before the app serves.
func HandleException[E error](r Registry, fn func(ws *WebSocket, err E) error) {
	t := reflect.TypeFor[E]()
	call := func(ws *WebSocket, err error) error { return fn(ws, err.(E)) }
	set := r.handlerSet()
	switch {
	case t == reflect.TypeFor[error]():
		set.catchAll = call
	case t.Kind() == reflect.Interface:
		h := interfaceHandler{typ: t, call: call, matches: func(err error) bool {
			_, ok := err.(E)
			return ok
		}}
		for i := range set.interfaces {
			if set.interfaces[i].typ == t {
				set.interfaces[i] = h
				return
			}
		}
		set.interfaces = append(set.interfaces, h)
	default:
		if set.exact == nil {
			set.exact = make(map[reflect.Type]handlerFunc)
		}
		if _, ok := set.exact[t]; !ok {
			set.exactOrder = append(set.exactOrder, t)
		}
		set.exact[t] = call
	}
}

// findHandler returns the handler for err and the link of the chain it
// matched, or nil.
func findHandler(sets []*handlerSet, err error) (handlerFunc, error) {
	var found handlerFunc
	var link error
	walkChain(err, func(e error) bool {
		t := reflect.TypeOf(e)
		for _, s := range sets {
			if h, ok := s.exact[t]; ok {
				found, link = h, e
				return true
			}
		}
		for _, s := range sets {
			for _, ih := range s.interfaces {
				if ih.matches(e) {
					found, link = ih.call, e
					return true
				}
			}
		}
		// A link with an As method may stand for other types, as it does
		// for errors.As: each registered type is offered to it, in
		// registration order, the route's first.
		if as, ok := e.(interface{ As(any) bool }); ok {
			for _, s := range sets {
				for _, t := range s.exactOrder {
					if v, ok := asType(as, t); ok {
						found, link = s.exact[t], v
						return true
					}
				}
				for _, ih := range s.interfaces {
					if v, ok := asType(as, ih.typ); ok {
						found, link = ih.call, v
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

// asType asks e's As method for a value of type t, as errors.As does.
func asType(e interface{ As(any) bool }, t reflect.Type) (error, bool) {
	target := reflect.New(t)
	if !e.As(target.Interface()) {
		return nil, false
	}
	v, ok := target.Elem().Interface().(error)
	return v, ok && v != nil
}

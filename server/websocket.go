package server

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"

	"wsraise/wsproto"
)

// This file holds the WebSocket's fields and what reads them. The rest of
// its life is split by concern: accept.go (the handshake), receive.go and
// buffers.go (reading), send.go, close.go (closing and the errors a closed
// connection gives), keepalive.go, finish.go (the end of the handler) with
// dispatch.go (exception handlers), and log.go.

// State is where a WebSocket is in its life.
type State int32

const (
	Connecting   State = iota // handshake received, not answered
	Connected                 // accepted
	Disconnected              // closed, refused, or gone
)

func (s State) String() string {
	switch s {
	case Connecting:
		return "connecting"
	case Connected:
		return "connected"
	}
	return "disconnected"
}

// WebSocket is the connection a handler gets. Its methods may be called
// from several goroutines: sends from many at once; receives are handed
// out one message each, in order.
type WebSocket struct {
	app   *App
	route *Route
	req   *http.Request // as net/http gave it; its context ends with ServeHTTP

	ctx         context.Context
	cancelCause context.CancelCauseFunc // Shutdown gives ErrShuttingDown as the cause
	hijacked    chan struct{}           // closed once Accept has taken the connection from net/http

	state atomic.Int32
	// conn is set, under mu, once the 101 has been written. A goroutine
	// that finds it nil takes mu to be sure (Accept holds it while it
	// writes the 101), so the connection is usable from every goroutine
	// once the client can have its 101.
	conn atomic.Pointer[wsproto.Conn]

	mu       sync.Mutex // serialises Accept, Close and answering the handshake
	w        http.ResponseWriter
	answered bool          // an HTTP response was written (refusal)
	status   int           // its status
	refusal  string        // its body: the reason the handshake was refused with
	closed   *closeRecord  // the close this side sent, for the log
	codeErr  error         // an invalid close code was raised, for the log
	note     string        // why the server closed, for the log, when the code does not say
	aborted  bool          // http.ErrAbortHandler before accept: no answer at all
	values   map[any]any   // from guards to the handler (Key)
	reqCtx   *http.Request // req with ctx, made by the first Request()

	closing  atomic.Bool // this side has begun closing: messages are dropped
	rd       reading     // who reads (receive.go)
	lastPong atomic.Int64
	ka       keepalive // (keepalive.go)
}

type closeRecord struct {
	code   wsproto.StatusCode
	reason string
}

func newWebSocket(a *App, route *Route, w http.ResponseWriter, r *http.Request) *WebSocket {
	// ServeHTTP returns once the connection is hijacked (see App.serve),
	// and net/http then cancels the request's context. The connection's
	// own context keeps the request's values and follows its
	// cancellation only until the handshake is accepted (a client that
	// leaves during a guard, say); Request() carries it, so that the
	// request stays usable for the connection's whole life.
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(r.Context()))
	ws := &WebSocket{app: a, route: route, w: w, ctx: ctx, cancelCause: cancel, hijacked: make(chan struct{})}
	ws.req = r
	context.AfterFunc(r.Context(), func() {
		if ws.State() == Connecting {
			cancel(nil)
		}
	})
	return ws
}

// ended records that the connection is over: State says so and the
// context is cancelled. Whoever finds the end first calls it.
func (ws *WebSocket) ended() {
	ws.state.Store(int32(Disconnected))
	ws.cancelCause(nil)
}

// Request returns the handshake request: headers, cookies, URL and query.
// It stays valid for the connection's whole life; its context is the
// connection's (see Context).
func (ws *WebSocket) Request() *http.Request {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.reqCtx == nil {
		// Made when first asked for: a connection whose handler never
		// asks does not hold a second copy.
		ws.reqCtx = ws.req.WithContext(ws.ctx)
	}
	return ws.reqCtx
}

// PathValue returns the value of a wildcard of the route's pattern.
func (ws *WebSocket) PathValue(name string) string { return ws.req.PathValue(name) }

// Context is cancelled when the connection ends (as soon as this side
// learns of it: see Receiving in the package documentation), when the
// handler returns, and, before accept, when the client leaves or the app
// shuts down (with ErrShuttingDown as its cause).
func (ws *WebSocket) Context() context.Context { return ws.ctx }

// State reports where the connection is.
func (ws *WebSocket) State() State { return State(ws.state.Load()) }

// Subprotocol returns the accepted subprotocol, or "".
func (ws *WebSocket) Subprotocol() string {
	if c := ws.conn.Load(); c != nil {
		return c.Subprotocol()
	}
	return ""
}

// accepted returns the connection once the handshake is accepted, or
// ErrNotAccepted.
func (ws *WebSocket) accepted() (*wsproto.Conn, error) {
	if c := ws.conn.Load(); c != nil {
		return c, nil
	}
	ws.mu.Lock() // held by an Accept that is writing the 101
	c := ws.conn.Load()
	ws.mu.Unlock()
	if c == nil {
		return nil, ErrNotAccepted
	}
	return c, nil
}

// A Key carries one value of type T from a guard to the handler, typed:
//
//	var userKey = server.NewKey[*User]("user")
//	// in a guard:       userKey.Set(ws, user)
//	// in the handler:   user := userKey.Value(ws)
//
// Values live as long as the WebSocket.
type Key[T any] struct{ name string }

// NewKey returns a new key; name is for debugging only.
func NewKey[T any](name string) *Key[T] { return &Key[T]{name: name} }

func (k *Key[T]) String() string { return "server.Key(" + k.name + ")" }

// Set stores v on ws under k.
func (k *Key[T]) Set(ws *WebSocket, v T) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.values == nil {
		ws.values = make(map[any]any)
	}
	ws.values[k] = v
}

// Get returns the value stored on ws under k, and whether there is one.
func (k *Key[T]) Get(ws *WebSocket) (T, bool) {
	ws.mu.Lock()
	v, ok := ws.values[k]
	ws.mu.Unlock()
	t, _ := v.(T)
	return t, ok
}

// Value returns the value stored on ws under k, or T's zero value.
func (k *Key[T]) Value(ws *WebSocket) T {
	v, _ := k.Get(ws)
	return v
}

// ioContext is the context to give the protocol layer for ctx. The
// connection's own context ends only once the connection is over, when
// every read and write fails anyway: it is passed on as
// context.Background, which costs the protocol layer nothing per call.
func (ws *WebSocket) ioContext(ctx context.Context) context.Context {
	if ctx == ws.ctx {
		return context.Background()
	}
	return ctx
}

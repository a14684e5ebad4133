package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"wsraise/wsproto"
)

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
	w     http.ResponseWriter
	req   *http.Request

	ctx         context.Context
	cancelCause context.CancelCauseFunc // Shutdown gives ErrShuttingDown as the cause
	hijacked    chan struct{}           // closed once Accept has taken the connection from net/http

	mu       sync.Mutex // serialises Accept, Close and answering the handshake
	state    atomic.Int32
	answered bool // an HTTP response was written (refusal)
	status   int  // its status
	conn     *wsproto.Conn
	closed   *closeRecord // the close this side sent, for the log
	codeErr  error        // an invalid close code was raised (row 11), for the log
	aborted  bool         // http.ErrAbortHandler before accept: no answer at all

	msgs      chan message  // from the reading goroutine
	discard   chan struct{} // closed when this side closes: stop handing messages over
	rcv       reception     // who reads, and what ended reading (receive.go)
	lastPong  atomic.Int64  // unix nanoseconds
	pinger    *time.Timer
	pongCheck *time.Timer // the last ping's pong deadline
}

type closeRecord struct {
	code   wsproto.StatusCode
	reason string
}

func newWebSocket(a *App, route *Route, w http.ResponseWriter, r *http.Request) *WebSocket {
	// The handler outlives ServeHTTP (see App.serve), which cancels the
	// request's context when it returns: the connection's context keeps
	// the request's values, and follows its cancellation only until the
	// handshake is accepted (a client that leaves during a guard, say).
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(r.Context()))
	ws := &WebSocket{app: a, route: route, w: w, req: r, ctx: ctx, cancelCause: cancel, hijacked: make(chan struct{})}
	context.AfterFunc(r.Context(), func() {
		if ws.State() == Connecting {
			cancel(nil)
		}
	})
	return ws
}

// cancel ends the connection's context.
func (ws *WebSocket) cancel() { ws.cancelCause(nil) }

// Request returns the handshake request: headers, cookies, URL and query.
func (ws *WebSocket) Request() *http.Request { return ws.req }

// PathValue returns the value of a wildcard of the route's pattern.
func (ws *WebSocket) PathValue(name string) string { return ws.req.PathValue(name) }

// Context is cancelled when the connection ends.
func (ws *WebSocket) Context() context.Context { return ws.ctx }

// State reports where the connection is.
func (ws *WebSocket) State() State { return State(ws.state.Load()) }

// Subprotocol returns the accepted subprotocol, or "".
func (ws *WebSocket) Subprotocol() string {
	if c := ws.conn; c != nil && ws.State() != Connecting {
		return c.Subprotocol()
	}
	return ""
}

// AcceptOption configures Accept.
type AcceptOption func(*acceptConfig)

type acceptConfig struct {
	subprotocol string
	header      http.Header
}

// WithSubprotocol accepts with one of the subprotocols the client offered.
func WithSubprotocol(p string) AcceptOption {
	return func(c *acceptConfig) { c.subprotocol = p }
}

// WithHeader adds headers to the 101 response.
func WithHeader(h http.Header) AcceptOption {
	return func(c *acceptConfig) { c.header = h }
}

// Accept completes the handshake. It fails with ErrAlreadyAccepted if
// called twice, with ErrSubprotocol if the client did not offer the
// subprotocol, with ErrShuttingDown during shutdown.
func (ws *WebSocket) Accept(opts ...AcceptOption) error {
	var cfg acceptConfig
	for _, o := range opts {
		o(&cfg)
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	switch {
	case ws.conn != nil: // accepted, perhaps over since
		return ErrAlreadyAccepted
	case ws.answered || ws.State() == Disconnected:
		return ErrHandshakeAnswered
	}
	if cfg.subprotocol != "" && !slices.Contains(wsproto.ClientSubprotocols(ws.req), cfg.subprotocol) {
		return ErrSubprotocol
	}
	o := ws.app.opts
	uo := &wsproto.UpgradeOptions{
		Header:           cfg.header,
		HandshakeTimeout: o.HandshakeTimeout,
		ReadLimit:        o.ReadLimit,
		CloseTimeout:     o.CloseTimeout,
		WriteTimeout:     o.WriteTimeout,
		OnPong:           func([]byte) { ws.lastPong.Store(time.Now().UnixNano()) },
		Compression:      ws.route.compressionOptions(),
	}
	if cfg.subprotocol != "" {
		uo.Subprotocols = []string{cfg.subprotocol}
	}
	if !ws.app.track(ws) {
		ws.refuseShuttingDownLocked()
		return ErrShuttingDown
	}
	c, err := wsproto.Upgrade(ws.w, ws.req, uo)
	if err != nil {
		ws.app.untrack(ws)
		ws.answered = true
		ws.status = http.StatusInternalServerError
		var he *wsproto.HandshakeError
		if errors.As(err, &he) {
			ws.status = he.Status
		}
		ws.state.Store(int32(Disconnected))
		return err
	}
	ws.conn = c
	ws.w = nil // it holds net/http's buffers for the connection, now ours
	ws.msgs = make(chan message)
	ws.discard = make(chan struct{})
	ws.state.Store(int32(Connected))
	close(ws.hijacked)
	ws.startReading()
	ws.startKeepalive()
	return nil
}

// SendText sends a text message.
func (ws *WebSocket) SendText(s string) error {
	// The bytes of s go out as they are, without a copy: Conn.Write only
	// reads its argument (a client masks into a buffer of its own).
	return ws.send(wsproto.MessageText, unsafe.Slice(unsafe.StringData(s), len(s)))
}

// SendBytes sends a binary message.
func (ws *WebSocket) SendBytes(b []byte) error {
	return ws.send(wsproto.MessageBinary, b)
}

// SendJSON sends v encoded as JSON, in a text message.
func (ws *WebSocket) SendJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return ws.send(wsproto.MessageText, b)
}

func (ws *WebSocket) send(typ wsproto.MessageType, p []byte) error {
	switch ws.State() {
	case Connecting:
		return ErrNotAccepted
	}
	if ws.conn == nil {
		return ErrNotAccepted
	}
	if err := ws.conn.Write(context.Background(), typ, p); err != nil {
		var ce *wsproto.CloseError
		// A write that fails on the network ends the connection (the peer
		// vanished, or stopped reading past the write timeout): row 13,
		// that is a disconnect, not a failure of the handler.
		if errors.As(err, &ce) || errors.Is(err, wsproto.ErrClosed) || ws.conn.Err() != nil {
			return ws.disconnectFrom(err)
		}
		return err
	}
	return nil
}

// disconnect is the error for a connection whose reading has ended.
func (ws *WebSocket) disconnect() error {
	ws.rcv.mu.Lock()
	err := ws.rcv.err
	ws.rcv.mu.Unlock()
	return ws.disconnectFrom(err)
}

func (ws *WebSocket) disconnectFrom(err error) error {
	var ce *wsproto.CloseError
	if !errors.As(err, &ce) {
		if end := ws.conn.Err(); end != nil {
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

// Close closes the connection with code and reason. Before accept, it
// refuses the handshake with 403 and the reason as body (or, with
// CloseAfterAccept, accepts and then closes). A code that may not be sent
// becomes 1011 and is logged; a reason is cut to 123 bytes at a character
// boundary, with invalid UTF-8 replaced. After the connection has ended,
// Close does nothing and returns nil. If the peer leaves without answering
// the close frame, or does not answer within the close timeout, Close
// returns a *Disconnect (1006), which a handler may return as it is.
func (ws *WebSocket) Close(code wsproto.StatusCode, reason string) error {
	ws.mu.Lock()
	state := ws.State()
	if state == Connecting && !ws.answered {
		if !ws.closeAfterAccept() {
			if !code.Valid() {
				// Row 11: no close frame is sent here, but the bug is
				// logged all the same.
				ws.codeErr = fmt.Errorf("invalid close code %d raised (reason %q); the handshake was refused with 403", int(code), reason)
			}
			ws.refuseLocked(http.StatusForbidden, reason, nil)
			ws.mu.Unlock()
			return nil
		}
		ws.mu.Unlock()
		if err := ws.Accept(); err != nil {
			return err
		}
		ws.mu.Lock()
		state = Connected
	}
	if state != Connected || ws.closed != nil {
		ws.mu.Unlock()
		return nil
	}
	if !code.Valid() {
		// Row 11: a bug of the application, logged with the connection's
		// end record (at error level), not in a record of its own.
		ws.codeErr = fmt.Errorf("invalid close code %d raised (reason %q); sent 1011 instead", int(code), reason)
		code, reason = wsproto.StatusInternalError, "Internal Error"
	}
	reason = sanitizeReason(reason)
	ws.closed = &closeRecord{code, reason}
	close(ws.discard)
	ws.mu.Unlock()
	ws.stopKeepalive()
	err := ws.conn.Close(code, reason)
	ws.state.Store(int32(Disconnected))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, wsproto.ErrClosed):
		return nil // the peer was first: nothing to do
	}
	// The peer did not answer the close frame (it left, or timed out):
	// the close handshake did not complete, which RFC 6455 section 7.1.5
	// and 7.4.1 report as 1006. A disconnect, which a handler may return
	// without it being logged as a failure (row 13).
	return ws.disconnectFrom(&wsproto.CloseError{Code: wsproto.StatusAbnormalClosure, Err: err})
}

func (ws *WebSocket) closeAfterAccept() bool {
	if ws.route.closeAfterAcceptSet {
		return ws.route.closeAfterAccept
	}
	return ws.app.opts.CloseAfterAccept
}

// refuseShuttingDownLocked refuses the handshake as the app does during
// shutdown: 503, with Retry-After. ws.mu is held.
func (ws *WebSocket) refuseShuttingDownLocked() {
	ws.refuseLocked(http.StatusServiceUnavailable, "server shutting down", http.Header{"Retry-After": {"1"}})
}

// refuseLocked answers the handshake with an HTTP error. ws.mu is held.
func (ws *WebSocket) refuseLocked(status int, body string, header http.Header) {
	if ws.answered || ws.State() != Connecting {
		return
	}
	h := ws.w.Header()
	for k, v := range header {
		h[k] = slices.Clone(v)
	}
	if body != "" {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("X-Content-Type-Options", "nosniff")
	}
	ws.w.WriteHeader(status)
	ws.status = status
	if body != "" {
		ws.w.Write([]byte(body))
	}
	ws.answered = true
	ws.state.Store(int32(Disconnected))
	ws.cancel()
}

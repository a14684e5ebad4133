package server

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"wsraise/wsproto"
)

// AcceptOption configures Accept.
type AcceptOption func(*acceptConfig)

type acceptConfig struct {
	subprotocol string
	header      http.Header
	sendOnly    bool
}

// WithSubprotocol accepts with one of the subprotocols the client offered.
func WithSubprotocol(p string) AcceptOption {
	return func(c *acceptConfig) { c.subprotocol = p }
}

// WithHeader adds headers to the 101 response.
func WithHeader(h http.Header) AcceptOption {
	return func(c *acceptConfig) { c.header = h }
}

// SendOnly says that the handler will never receive: a goroutine of the
// connection reads from the accept on, answers pings, records pongs and
// sees the peer's close, which ends the Context at once. A data message
// from the peer closes the connection with 1008 Policy Violation. The
// receive methods return ErrSendOnly.
func SendOnly() AcceptOption {
	return func(c *acceptConfig) { c.sendOnly = true }
}

// Accept completes the handshake. It fails with ErrAlreadyAccepted if
// called twice, with ErrSubprotocol if the client did not offer the
// subprotocol, with ErrShuttingDown during shutdown. Once it has written
// the 101, every method works from every goroutine.
func (ws *WebSocket) Accept(opts ...AcceptOption) error {
	var cfg acceptConfig
	for _, o := range opts {
		o(&cfg)
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	switch {
	case ws.conn.Load() != nil: // accepted, perhaps over since
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
		ws.ended()
		return err
	}
	ws.rd.sendOnly = cfg.sendOnly
	ws.conn.Store(c)
	ws.w = nil // it holds net/http's buffers for the connection, now ours
	ws.state.Store(int32(Connected))
	// Over HTTP/2 (RFC 8441) nothing is hijacked: the stream is the
	// handler's until it returns, so App.serve waits for the end.
	if ws.req.ProtoMajor < 2 {
		close(ws.hijacked)
	}
	if cfg.sendOnly {
		ws.readAhead()
	}
	ws.startKeepalive()
	return nil
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

// refuse answers the handshake with an HTTP error, unless it was answered.
func (ws *WebSocket) refuse(status int, body string, header http.Header) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.refuseLocked(status, body, header)
}

// refuseLocked is refuse with ws.mu held.
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
	ws.status, ws.refusal = status, body
	if body != "" {
		ws.w.Write([]byte(body))
	}
	ws.answered = true
	ws.ended()
}

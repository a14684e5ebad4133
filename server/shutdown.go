package server

import (
	"context"
	"net/http"
	"sync"
)

// Shutdown closes every open connection with Options.ShutdownCode (1001
// Going Away by default), refuses new handshakes with 503, cancels the
// context of handlers that have not accepted yet (their handshake is
// refused with 503), and waits for the handlers to return, up to ctx. Handlers see the close as a
// *Disconnect from their next receive or send; messages they sent before
// it reach the peer before the close frame. When ctx ends first, the
// connections left are closed at once and ctx's error is returned.
//
// http.Server.Shutdown does not track hijacked connections: call both, or
// ShutdownServer, which does.
func (a *App) Shutdown(ctx context.Context) error {
	a.mu.Lock()
	a.shutdown = true
	conns := make([]*WebSocket, 0, len(a.conns))
	for ws := range a.conns {
		conns = append(conns, ws)
	}
	for ws := range a.pending {
		// Not accepted yet (a guard at work, say): its context ends, so
		// that what waits on it returns; the handshake is then refused
		// with 503, as Accept would be.
		if ws.State() == Connecting {
			ws.cancelCause(ErrShuttingDown)
		}
	}
	a.mu.Unlock()

	var closing sync.WaitGroup
	for _, ws := range conns {
		closing.Go(func() { ws.Close(a.opts.ShutdownCode, "server shutting down") })
	}
	done := make(chan struct{})
	go func() {
		closing.Wait()
		a.active.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		a.mu.Lock()
		left := make([]*WebSocket, 0, len(a.conns))
		for ws := range a.conns {
			left = append(left, ws)
		}
		a.mu.Unlock()
		for _, ws := range left {
			// A connection is tracked before its handshake completes:
			// ws.conn is set only once Upgrade returns.
			if c := ws.conn.Load(); c != nil {
				c.CloseNow()
			}
		}
		return ctx.Err()
	}
}

// ShutdownServer shuts srv and the app down together, which is what a
// program serving the app with srv wants before it exits. srv.Shutdown
// closes the listeners and idle connections and waits for plain HTTP
// requests; it does not see WebSocket connections, which net/http stops
// tracking once they are hijacked (and it runs functions given to
// srv.RegisterOnShutdown without waiting for them). Meanwhile the app's
// Shutdown closes those. Both are bounded by ctx; ShutdownServer returns
// when both are done, with srv's error if it has one, else the app's.
func (a *App) ShutdownServer(ctx context.Context, srv *http.Server) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Shutdown(ctx) }()
	aerr := a.Shutdown(ctx)
	if err := <-errc; err != nil {
		return err
	}
	return aerr
}

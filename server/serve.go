package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"wsraise/wsproto"
)

// The http.Server settings a WebSocket service should run on. An
// http.Server's zero value has no timeouts at all: a client that sends
// half its headers, or declares a body and never sends it, holds a
// connection and a goroutine forever, and each unfinished header may
// hold up to http.DefaultMaxHeaderBytes (1 MiB).
const (
	// ReadHeaderTimeout bounds the handshake's headers.
	ReadHeaderTimeout = 5 * time.Second
	// ReadTimeout bounds a whole request, body included. A handshake
	// must be answered within it: wsproto.Upgrade clears the deadline
	// once it owns the connection.
	ReadTimeout = 10 * time.Second
	// WriteTimeout bounds writing a plain HTTP response; Upgrade sets
	// its own for the 101 (Options.HandshakeTimeout) and then clears it.
	// Sends on a WebSocket are bounded by Options.WriteTimeout.
	WriteTimeout = 10 * time.Second
	// IdleTimeout bounds a keep-alive HTTP connection between requests.
	IdleTimeout = 60 * time.Second
	// MaxHeaderBytes is ample for a handshake (browsers send well under
	// 2 KiB). net/http reads 4 KiB past it before it refuses a header
	// with 431.
	MaxHeaderBytes = 16 << 10
)

// Server returns an http.Server that serves h (the app itself if h is
// nil, or a mux that mounts it) with ReadHeaderTimeout, ReadTimeout,
// WriteTimeout, IdleTimeout and MaxHeaderBytes as this package's
// constants say, its errors going
// to the app's logger, and its Shutdown wired to the app's: srv.Shutdown
// also starts closing every WebSocket with Options.ShutdownCode. Prefer
// ShutdownServer, which waits for both. Set Addr, or call Serve with a
// listener.
func (a *App) Server(h http.Handler) *http.Server {
	if h == nil {
		h = a
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(a.logger.Handler(), slog.LevelWarn),
	}
	// Once, at start: whether browsers may open this app's WebSockets on
	// an HTTP/2 connection (RFC 8441), which takes an environment
	// variable net/http reads when it starts.
	if wsproto.ExtendedConnect() {
		a.logger.Info("websockets over HTTP/2 (RFC 8441): on")
	} else {
		a.logger.Info("websockets over HTTP/2 (RFC 8441): off; HTTP/2 clients use HTTP/1.1 for them. Start with GODEBUG=http2xconnect=1 to turn it on")
	}
	srv.RegisterOnShutdown(func() {
		// http.Server runs this without waiting for it: close the
		// connections, bounded by the close timeout, in the background.
		ctx, cancel := context.WithTimeout(context.Background(), a.opts.CloseTimeout)
		go func() {
			defer cancel()
			a.Shutdown(ctx)
		}()
	})
	return srv
}

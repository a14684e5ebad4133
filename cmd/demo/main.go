// Command demo serves the FastAPI article's experiment with wsraise:
//
//	/ws              accepts, then raises WebSocketException 1008 "Closing the connection..."
//	/custom          accepts, then returns a CustomException; its handler closes 1008 "Custom exception"
//	/echo            echoes every text and binary message until the client closes
//	/reject          raises before accept: the handshake is refused with 403 and the reason
//	/reject-visible  the same handler with CloseAfterAccept: accepts, then closes 1008 "Rejected before accept"
//	/                a page that says what each route does, opens it and shows the browser's CloseEvent
//	/favicon.ico     the page's icon, an SVG
//
// It logs to standard error, one line per connection that ends. SIGINT
// (Ctrl-C) or SIGTERM shuts it down gracefully: every open WebSocket
// closes with 1001 Going Away.
//
// Usage: go run ./cmd/demo [-addr 127.0.0.1:8000]
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"wsraise/internal/demo"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "address to listen on")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		logger.Error("listen", "error", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, ln, logger); err != nil {
		logger.Error("serve", "error", err)
		os.Exit(1)
	}
}

// run serves until ctx ends (SIGINT or SIGTERM), then shuts down
// gracefully: the HTTP server stops accepting, then every WebSocket gets
// 1001 Going Away, and its handler up to 10 s to finish.
func run(ctx context.Context, ln net.Listener, logger *slog.Logger) error {
	app, handler := demo.New(logger)
	srv := app.Server(handler) // timeouts and header limit for a WebSocket service

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("demo listening", "url", "http://"+ln.Addr().String()+"/")

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The HTTP server and the app's WebSocket connections (1001), together.
	err := app.ShutdownServer(sctx, srv)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}

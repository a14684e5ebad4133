// Package demo is the demo app of cmd/demo: the FastAPI article's two
// programs, an echo route, a route that refuses before accept, the same
// route with CloseAfterAccept, and a page that shows what a browser sees.
// The end-to-end tests serve it too.
package demo

import (
	_ "embed"
	"log/slog"
	"net/http"

	"wsraise/server"
	"wsraise/wsproto"
)

//go:embed index.html
var indexHTML []byte

// faviconSVG is the page's icon, served at /favicon.ico so that a browser
// asking there by habit gets it too, not a 404.
//
//go:embed favicon.svg
var faviconSVG []byte

// CustomException is the article's custom exception.
type CustomException struct{}

func (*CustomException) Error() string { return "custom exception" }

// New builds the demo app, and the handler that serves it with its page.
func New(logger *slog.Logger) (*server.App, http.Handler) {
	return NewWithOptions(server.Options{Logger: logger})
}

// NewWithOptions is New with the app's options: the soak test shortens the
// keepalive interval, or shuts down with 1012.
func NewWithOptions(opts server.Options) (*server.App, http.Handler) {
	app := server.New(opts)

	server.HandleException(app, func(ws *server.WebSocket, err *CustomException) error {
		return ws.Close(wsproto.StatusPolicyViolation, "Custom exception")
	})

	app.Handle("/ws", func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		return server.Raise(wsproto.StatusPolicyViolation, "Closing the connection...")
	})

	app.Handle("/custom", func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		return &CustomException{}
	})

	app.Handle("/echo", func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		for {
			typ, msg, err := ws.Receive(ws.Context())
			if err != nil {
				return err
			}
			if typ == wsproto.MessageText {
				err = ws.SendText(ws.Context(), string(msg))
			} else {
				err = ws.SendBytes(ws.Context(), msg)
			}
			if err != nil {
				return err
			}
		}
	})

	reject := func(ws *server.WebSocket) error {
		return server.Raise(wsproto.StatusPolicyViolation, "Rejected before accept")
	}
	// A refusal is an HTTP status, which the browser's WebSocket API hides:
	// a page sees only 1006. The second route accepts, then closes with the
	// raised code and reason, which a page does see.
	app.Handle("/reject", reject)
	app.Handle("/reject-visible", reject).CloseAfterAccept(true)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(indexHTML)
	})
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Header().Set("Cache-Control", "max-age=86400")
		w.Write(faviconSVG)
	})
	mux.Handle("/", app)
	return app, mux
}

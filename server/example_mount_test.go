package server_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"wsraise/server"
	"wsraise/wsproto"
)

// statusRecorder is a middleware's ResponseWriter wrapper. Its Unwrap
// method lets http.ResponseController, and so Accept, reach the
// connection underneath to hijack it; without Unwrap (or a Hijack method
// of its own), Accept fails and the handshake gets 500.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests is a middleware that records each response's status.
func logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusSwitchingProtocols // hijacked: the 101 went around the wrapper
		}
		log.Printf("%s %s: %d", r.Method, r.URL.Path, rec.status)
	})
}

// An app mounted under an outer http.ServeMux, behind a middleware, next
// to plain HTTP routes. The app's own patterns are full paths, so it is
// mounted at its prefix without http.StripPrefix.
func ExampleApp_mount() {
	app := server.New(server.Options{})
	app.Handle("/ws/echo", func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		return ws.Close(wsproto.StatusNormalClosure, "mounted")
	})
	mux := http.NewServeMux()
	mux.Handle("/ws/", app) // every WebSocket route
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })

	srv := httptest.NewServer(logRequests(mux))
	defer srv.Close()
	fmt.Println(dialAndReadClose(srv.URL + "/ws/echo"))
	// Output: 1000 (normal closure) "mounted"
}

// A single route on its own: an App with one route is an http.Handler
// like any other, for a program that has one WebSocket endpoint.
func ExampleApp_Handle() {
	app := server.New(server.Options{})
	app.Handle("/feed", func(ws *server.WebSocket) error {
		if err := ws.Accept(server.SendOnly()); err != nil {
			return err
		}
		if err := ws.SendText(ws.Context(), "tick"); err != nil {
			return err
		}
		return ws.Close(wsproto.StatusNormalClosure, "done")
	})
	srv := httptest.NewServer(app)
	defer srv.Close()
	fmt.Println(dialAndReadClose(srv.URL + "/feed"))
	// Output: 1000 (normal closure) "done"
}

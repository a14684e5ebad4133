// Package server is a WebSocket framework on net/http in which a handler
// raises an error and the client sees the right close code and reason:
// the WebSocketException and exception_handler model of Starlette and
// FastAPI, in Go.
//
// # Routes and handlers
//
// An App is an http.Handler. Routes use net/http ServeMux patterns, and a
// handler is a func(*WebSocket) error:
//
//	app := server.New(server.Options{})
//	app.Handle("/rooms/{room}", func(ws *server.WebSocket) error {
//		if err := ws.Accept(); err != nil {
//			return err
//		}
//		ctx := ws.Context()
//		for {
//			msg, err := ws.ReceiveText(ctx)
//			if err != nil {
//				return err // a *server.Disconnect when the client leaves
//			}
//			if err := ws.SendText(ctx, ws.PathValue("room")+": "+msg); err != nil {
//				return err
//			}
//		}
//	})
//	srv := app.Server(nil) // an http.Server with the timeouts a WebSocket service needs
//	srv.Addr = "127.0.0.1:8000"
//	srv.ListenAndServe()
//
// ServeHTTP returns once Accept has taken the connection from net/http;
// the handler goes on in a goroutine of its own, and ws.Request() stays
// valid for the connection's whole life.
//
// # Raising
//
// Returning an error raises it, and so does panicking with one, from any
// depth of the handler's call stack. A panic with a runtime error (a nil
// dereference, an index out of range) or with a value that is not an
// error is a bug, not a raise: the client
// sees 1011 (500 before accept), the log has the stack, and no exception
// handler sees it. What the client sees of a raised error:
//
//	return server.Raise(1008, "Closing the connection...")
//
// closes with 1008 and that reason after the close handshake. Raised
// before Accept, it refuses the handshake with 403 and the reason as the
// body, unless the route or app has CloseAfterAccept, which accepts and then
// closes so that a browser's CloseEvent shows the code and reason. An
// *HTTPException refuses the handshake with its status, headers and detail;
// after accept it closes with 4000+status. A message that ReceiveJSON cannot
// decode closes with 1007. Any other error closes with 1011 "Internal
// Error" (or, before accept, answers 500) and is logged with its text,
// which never reaches the client unless Options.Debug is set. A handler
// that returns nil after accepting closes with 1000; one that returns nil
// without accepting or refusing answers 500, logged.
//
// A code that may not be sent (1004-1006, 1015, outside 1000-4999...) is
// never sent: 1011 goes instead and the mistake is logged. Reasons are cut
// to the protocol's 123 bytes at a character boundary.
//
// # Exception handlers
//
// FastAPI's @app.exception_handler(CustomException) is HandleException,
// typed by the error it handles:
//
//	server.HandleException(app, func(ws *server.WebSocket, err *CustomException) error {
//		return ws.Close(1008, "Custom exception")
//	})
//
// Handlers may be registered on the app or on a route, which takes
// precedence. The error chain is searched outermost first; at each link a
// handler for its exact type wins over handlers for interfaces it
// implements; a handler for error itself is the catch-all. An exception
// handler's own error goes to the built-in rules above, never to handlers
// again.
//
// # Disconnects
//
// When the client closes, the receive and send methods return a
// *Disconnect with its code and reason (1005 if it sent none, 1006 if it
// vanished). Returning it ends the handler quietly: no second close frame,
// no error in the log. The protocol layer answers broken input by itself,
// with 1002, 1007 or 1009, and the handler sees a *Disconnect with that
// code. The connection's Context is cancelled when this side learns that
// it ended, so a handler that only sends, accepted with SendOnly, can
// watch it for the client leaving.
//
// # Receiving
//
// A receive method reads the next message on the caller's goroutine, and
// messages reach the receive methods once each, in order. Between
// receives nothing reads, except that the keepalive's ping (and a
// receive that returns before the ping's pong came) starts a reader that
// answers pings and sees the peer's close, and keeps the next message for
// the next receive; one that waits longer than PongTimeout
// closes the connection with 1011. With the keepalive off (PingInterval
// negative), nothing reads between receives at all. A handler that never
// receives accepts with SendOnly: its connection is read all the time, the peer's close
// ends the Context at once, and a data message closes with 1008.
//
// Every receive and send takes a context. Passing ws.Context() costs
// nothing. A receive whose context ends returns its error and leaves the
// connection as it was, except that a message it had begun to read is
// lost. A send whose context ends before any byte went out changes
// nothing; one cut short midway ends the connection (the peer sees 1006).
// For example, "the first message within 5 s, or close 1008":
//
//	ctx, cancel := context.WithTimeout(ws.Context(), 5*time.Second)
//	defer cancel()
//	hello, err := ws.ReceiveText(ctx)
//	if errors.Is(err, context.DeadlineExceeded) {
//		return server.Raise(1008, "say hello first")
//	}
//
// Receive and ReceiveBytes return a slice that is the caller's to keep.
// ReceiveAppend(ctx, dst) appends the message to dst instead, and
// ReceiveText and ReceiveJSON copy or decode it; with them the message's
// buffer goes back to a pool, so a handler that reuses dst allocates
// nothing per message. A connection waiting for its next message holds
// no message buffer.
//
// # Around the handler
//
// Guards run before the handler and raise like it; a guard hands what it
// learned to the handler with a Key (see the Key example). The Origin of a
// browser's handshake must match the Host, or one of
// Options.OriginPatterns, or the request is refused with 403 before any
// handler runs. The server pings idle connections and closes with 1011 a
// peer that stops answering. Shutdown closes every connection with 1001
// (or 1012) after the messages already sent, and waits for the handlers;
// ShutdownServer does that and http.Server's Shutdown together, which
// alone does not see hijacked connections. A handler that panics with
// http.ErrAbortHandler cuts its connection with no answer and no close
// frame, as net/http does with a response.
// Each connection's end is one log/slog record: route, remote address, who
// closed, code, reason, duration, and the error for failures.
//
// # Serving safely
//
// Serve the app with app.Server(h), an http.Server with the timeouts and
// header limit a WebSocket service needs (ReadHeaderTimeout,
// ReadTimeout, WriteTimeout, IdleTimeout, MaxHeaderBytes: the constants
// of this package give their values, for a server of your own). An
// http.Server's zero value has none: a client that sends half its
// headers, or declares a body and never sends it, holds a connection
// forever.
//
// The app answers only to the hosts in Options.AllowedHosts (by default
// localhost and IP addresses); other requests get 421. This defeats DNS
// rebinding: a hostile page whose name its owner points at 127.0.0.1
// sends its own name as Host and Origin, so only the Host check can tell
// it from a real client. Options.MaxConnections (503 past it) and
// Options.MaxBufferedBytes (1013 for a message that would go past it) cap
// what all clients together can make the server hold.
//
// # HTTP/2
//
// Every route also answers WebSockets over HTTP/2 (RFC 8441), with the
// same handlers and the same semantics: an exception before accept is an
// HTTP status on the stream, after accept a close frame. net/http accepts
// them only when the program starts with GODEBUG=http2xconnect=1 in its
// environment; app.Server logs at start whether it did. Without it,
// browsers use HTTP/1.1 for WebSockets.
//
// # Testing
//
// Package wstest dials an app over loopback and asserts what a real client
// sees: the close code and reason after accept, the HTTP status and body
// before.
package server

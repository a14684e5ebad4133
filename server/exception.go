package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"wsraise/wsproto"
)

// WebSocketException is the error a handler returns, or panics with, to
// close the connection with a code and reason: FastAPI's
// WebSocketException. Before the handshake is accepted it refuses it with
// 403 and the reason as the body, unless the route closes after accepting
// (see CloseAfterAccept).
type WebSocketException struct {
	Code   wsproto.StatusCode
	Reason string
}

// Raise returns a *WebSocketException: return server.Raise(1008, "...").
func Raise(code wsproto.StatusCode, reason string) *WebSocketException {
	return &WebSocketException{Code: code, Reason: reason}
}

func (e *WebSocketException) Error() string {
	if e.Reason == "" {
		return "websocket exception " + e.Code.String()
	}
	return "websocket exception " + e.Code.String() + ": " + strconv.Quote(e.Reason)
}

// HTTPException refuses the handshake with an HTTP response: Status, the
// Detail as a plain-text body, and Header. Raised after the handshake was
// accepted, it closes with 4000+Status (4401, 4403, 4404..., the private-use
// convention of graphql-ws) and Detail as the reason; a Status outside
// 400-599 then closes with 1011. Before accept, an empty Detail becomes
// the status text, and a Status below 300 or above 599, which cannot
// refuse a handshake, answers 500 and is logged.
type HTTPException struct {
	Status int
	Detail string
	Header http.Header
}

func (e *HTTPException) Error() string {
	d := e.Detail
	if d == "" {
		d = http.StatusText(e.Status)
	}
	return fmt.Sprintf("http exception %d: %s", e.Status, d)
}

// Disconnect is what the receive and send methods return once the
// connection is over: the peer closed it (Code and Reason are the peer's,
// 1005 if its close frame had no code, 1006 if it vanished without one), or
// this side did, by Close, a protocol failure (1002, 1007, 1009) or a
// shutdown (1001). Returning it from a handler sends nothing more and is
// not logged as a failure.
type Disconnect struct {
	Code   wsproto.StatusCode
	Reason string
	// ByPeer is true when the peer sent the close frame, or vanished.
	ByPeer bool
	// Err is the protocol layer's error, a *wsproto.CloseError.
	Err error
}

func (e *Disconnect) Error() string {
	who := "server"
	if e.ByPeer {
		who = "client"
	}
	s := "websocket disconnect by " + who + ": " + e.Code.String()
	if e.Reason != "" {
		s += " " + strconv.Quote(e.Reason)
	}
	return s
}

func (e *Disconnect) Unwrap() error { return e.Err }

// JSONError is returned by ReceiveJSON when a message does not decode. It
// wraps the encoding/json error. Unhandled, it closes with 1007
// "invalid JSON".
type JSONError struct {
	Err error
}

func (e *JSONError) Error() string { return "invalid JSON message: " + e.Err.Error() }
func (e *JSONError) Unwrap() error { return e.Err }

// PanicError is a handler's panic with a runtime error (a nil
// dereference, an index out of range) or with a value that is not an
// error: a bug. It closes with 1011 (500 before accept), is logged with
// its stack, and exception handlers never see it.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Errors of misuse.
var (
	ErrNotAccepted       = errors.New("websocket: the handshake has not been accepted")
	ErrAlreadyAccepted   = errors.New("websocket: the handshake was already accepted")
	ErrSubprotocol       = errors.New("websocket: the client did not offer this subprotocol")
	ErrShuttingDown      = errors.New("websocket: the server is shutting down")
	ErrHandshakeAnswered = errors.New("websocket: the handshake was already answered")
	ErrSendOnly          = errors.New("websocket: accepted with SendOnly: the handler does not receive")
)

// CloseStatus returns the close code err stands for: a WebSocketException's
// or a Disconnect's code, a protocol close, or 0.
func CloseStatus(err error) wsproto.StatusCode {
	var wse *WebSocketException
	var d *Disconnect
	switch {
	case errors.As(err, &d):
		return d.Code
	case errors.As(err, &wse):
		return wse.Code
	}
	return wsproto.CloseStatus(err)
}

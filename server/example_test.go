package server_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"wsraise/server"
	"wsraise/wsproto"
)

// The first program of the FastAPI article: a route that accepts, then
// raises WebSocketException(code=1008, reason="Closing the connection...").
//
//	@app.websocket("/ws")
//	async def websocket_endpoint(websocket: WebSocket):
//	    await websocket.accept()
//	    raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION,
//	                             reason="Closing the connection...")
func Example() {
	app := server.New(server.Options{})
	app.Handle("/ws", func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		return server.Raise(wsproto.StatusPolicyViolation, "Closing the connection...")
	})

	srv := httptest.NewServer(app)
	defer srv.Close()
	fmt.Println(dialAndReadClose(srv.URL + "/ws"))
	// Output: 1008 (policy violation) "Closing the connection..."
}

// CustomException is the article's custom exception type.
type CustomException struct{}

func (*CustomException) Error() string { return "custom exception" }

// The second program: a custom exception whose registered handler closes
// with 1008 "Custom exception".
//
//	@app.exception_handler(CustomException)
//	async def custom_exception_handler(websocket: WebSocket, exc: CustomException):
//	    await websocket.close(code=1008, reason="Custom exception")
func ExampleHandleException() {
	app := server.New(server.Options{})
	server.HandleException(app, func(ws *server.WebSocket, err *CustomException) error {
		return ws.Close(wsproto.StatusPolicyViolation, "Custom exception")
	})
	app.Handle("/custom", func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		return &CustomException{}
	})

	srv := httptest.NewServer(app)
	defer srv.Close()
	fmt.Println(dialAndReadClose(srv.URL + "/custom"))
	// Output: 1008 (policy violation) "Custom exception"
}

// A program serves the app with the http.Server that app.Server returns
// (timeouts, a header limit), and shuts both down together: the
// WebSocket clients get 1001 Going Away, and ShutdownServer returns once
// every handler has (http.Server's Shutdown alone would not wait: it does
// not see hijacked connections).
func ExampleApp_ShutdownServer() {
	app := server.New(server.Options{})
	accepted := make(chan struct{})
	app.Handle("/feed", func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		close(accepted)
		for {
			if _, _, err := ws.Receive(ws.Context()); err != nil {
				return err // the shutdown's close, as a *server.Disconnect
			}
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := app.Server(nil)
	go srv.Serve(ln)

	closed := make(chan string)
	go func() { closed <- dialAndReadClose("http://" + ln.Addr().String() + "/feed") }()
	<-accepted

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fmt.Println("shutdown:", app.ShutdownServer(ctx, srv))
	fmt.Println(<-closed)
	// Output:
	// shutdown: <nil>
	// 1001 (going away) "server shutting down"
}

// dialAndReadClose connects as a client would and reports the close frame
// it receives.
func dialAndReadClose(url string) string {
	ctx := context.Background()
	c, _, err := wsproto.Dial(ctx, "ws"+strings.TrimPrefix(url, "http"), nil)
	if err != nil {
		return err.Error()
	}
	defer c.CloseNow()
	for {
		if _, _, err := c.Read(ctx); err != nil {
			code := wsproto.CloseStatus(err)
			var ce *wsproto.CloseError
			if e, ok := err.(*wsproto.CloseError); ok {
				ce = e
			}
			if ce == nil {
				return err.Error()
			}
			return fmt.Sprintf("%v %q", code, ce.Reason)
		}
	}
}

// User is what the token guard below learns about a client.
type User struct{ Name string }

// userKey carries the guard's User to the handler, typed.
var userKey = server.NewKey[*User]("user")

// A guard that authenticates the handshake hands the handler its user
// with a Key: no second lookup, no type assertion. A request without a
// valid token is refused with 401 before the handler runs.
func ExampleKey() {
	tokens := map[string]*User{"s3cret": {Name: "ada"}}
	app := server.New(server.Options{})
	app.Handle("/chat", func(ws *server.WebSocket) error {
		user := userKey.Value(ws)
		if err := ws.Accept(); err != nil {
			return err
		}
		return ws.Close(wsproto.StatusNormalClosure, "hello, "+user.Name)
	}).Guard(func(ws *server.WebSocket) error {
		user, ok := tokens[ws.Request().URL.Query().Get("token")]
		if !ok {
			return &server.HTTPException{Status: http.StatusUnauthorized, Detail: "no token"}
		}
		userKey.Set(ws, user)
		return nil
	})

	srv := httptest.NewServer(app)
	defer srv.Close()
	fmt.Println(dialAndReadClose(srv.URL + "/chat?token=s3cret"))
	fmt.Println(dialAndReadClose(srv.URL + "/chat"))
	// Output:
	// 1000 (normal closure) "hello, ada"
	// websocket: handshake refused: 401 Unauthorized: no token
}

// An echo passes each message on as it came, text or binary, with Send.
// Every receive and send takes a context; the connection's own costs
// nothing.
func ExampleWebSocket_Send() {
	app := server.New(server.Options{})
	app.Handle("/echo", func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		ctx := ws.Context()
		for {
			typ, msg, err := ws.Receive(ctx)
			if err != nil {
				return err // a *server.Disconnect once the client leaves
			}
			if err := ws.Send(ctx, typ, msg); err != nil {
				return err
			}
		}
	})

	srv := httptest.NewServer(app)
	defer srv.Close()
	ctx := context.Background()
	c, _, err := wsproto.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/echo", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.CloseNow()
	c.Write(ctx, wsproto.MessageBinary, []byte{1, 2, 3})
	typ, msg, _ := c.Read(ctx)
	fmt.Println(typ, msg)
	c.Close(wsproto.StatusNormalClosure, "")
	// Output: binary [1 2 3]
}

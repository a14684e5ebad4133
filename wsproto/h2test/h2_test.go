// Package h2test tests WebSockets over HTTP/2 (RFC 8441) end to end, in a
// package of its own: net/http accepts extended CONNECT only when
// GODEBUG=http2xconnect=1 is in the environment before it starts, so
// TestMain runs the tests again in a process that has it. It is a module
// of its own too: x/net's HTTP/2 client, the only Go client that sends
// :protocol, needs golang.org/x/text, which the main module does not
// require.
package h2test

//lint:file-ignore SA1019 x/net/http2.Transport is deprecated for http.Transport, but only it can send the :protocol pseudo-header of an extended CONNECT (RFC 8441 section 4).

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"wsraise/internal/rawpeer"
	"wsraise/internal/xconnect"
	"wsraise/server"
	"wsraise/wsproto"
)

func TestMain(m *testing.M) { xconnect.Main(m) }

// echo upgrades and echoes every message until the connection ends. Over
// HTTP/2 the handler keeps the stream: it returns only once the
// connection is over.
func echo(t *testing.T, opts *wsproto.UpgradeOptions, seen chan<- *http.Request) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen != nil {
			seen <- r
		}
		c, err := wsproto.Upgrade(w, r, opts)
		if err != nil {
			return
		}
		ctx := context.Background()
		var buf []byte
		for {
			typ, p, err := c.ReadAppend(ctx, buf[:0])
			if err != nil {
				break
			}
			buf = p
			if c.Write(ctx, typ, p) != nil {
				break
			}
		}
		<-c.Done()
	})
}

// servers starts h over HTTP/2 with TLS and over cleartext HTTP/2 (h2c),
// and returns the base URL and a client transport for each.
func servers(t *testing.T, h http.Handler) map[string]struct {
	url string
	rt  http.RoundTripper
} {
	tlsSrv := httptest.NewUnstartedServer(h)
	tlsSrv.EnableHTTP2 = true
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h2c := &http.Server{Handler: h, Protocols: new(http.Protocols)}
	h2c.Protocols.SetUnencryptedHTTP2(true)
	go h2c.Serve(ln)
	t.Cleanup(func() { h2c.Close() })

	return map[string]struct {
		url string
		rt  http.RoundTripper
	}{
		"tls": {tlsSrv.URL, &http2.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}},
		"h2c": {"http://" + ln.Addr().String(), &http2.Transport{AllowHTTP: true,
			DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
				return new(net.Dialer).DialContext(ctx, network, addr)
			}}},
	}
}

// stream is a client's HTTP/2 stream as a net.Conn, for rawpeer: it
// writes into the request body and reads the response body. Its
// deadlines do nothing; the test's timeout bounds a hang.
type stream struct {
	pw   *io.PipeWriter
	body io.ReadCloser
}

func (s *stream) Read(p []byte) (int, error)       { return s.body.Read(p) }
func (s *stream) Write(p []byte) (int, error)      { return s.pw.Write(p) }
func (s *stream) Close() error                     { s.pw.Close(); return s.body.Close() }
func (s *stream) LocalAddr() net.Addr              { return nil }
func (s *stream) RemoteAddr() net.Addr             { return nil }
func (s *stream) SetDeadline(time.Time) error      { return nil }
func (s *stream) SetReadDeadline(time.Time) error  { return nil }
func (s *stream) SetWriteDeadline(time.Time) error { return nil }

// open sends an extended CONNECT (RFC 8441 section 4) with headers and
// returns the response and, on a 2xx, a raw client peer on the stream.
func open(t *testing.T, rt http.RoundTripper, url string, header http.Header) (*http.Response, *rawpeer.Peer) {
	t.Helper()
	resp, pw := connect(t, rt, url, header, "websocket", "")
	if resp.StatusCode/100 != 2 {
		pw.Close()
		resp.Body.Close()
		return resp, nil
	}
	s := &stream{pw: pw, body: resp.Body}
	t.Cleanup(func() { s.Close() })
	return resp, &rawpeer.Peer{T: t, Conn: s, R: bufio.NewReader(s), Client: true, Response: resp}
}

// connect sends a CONNECT with header and, unless protocol is empty, that
// :protocol, with body (if any) going out in the request body meanwhile,
// and returns the response and the writer of the request body.
func connect(t *testing.T, rt http.RoundTripper, url string, header http.Header, protocol, body string) (*http.Response, *io.PipeWriter) {
	t.Helper()
	pr, pw := io.Pipe()
	if body != "" {
		go pw.Write([]byte(body)) // ends when the stream does: Close makes it fail
	}
	req, err := http.NewRequest(http.MethodConnect, url, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	if protocol != "" {
		req.Header[":protocol"] = []string{protocol}
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("CONNECT %s: %v", url, err)
	}
	return resp, pw
}

func wsHeader() http.Header {
	return http.Header{"Sec-Websocket-Version": {"13"}}
}

// A WebSocket over an HTTP/2 stream, over TLS and h2c: the server answers
// 200 with the subprotocol it chose (RFC 8441 section 5), sees the
// request as HTTP/2, echoes text and binary messages, answers a ping,
// and ends with the close handshake and the stream's end.
func TestEchoOverHTTP2(t *testing.T) {
	seen := make(chan *http.Request, 1)
	for name, s := range servers(t, echo(t, &wsproto.UpgradeOptions{Subprotocols: []string{"chat"}}, seen)) {
		t.Run(name, func(t *testing.T) {
			h := wsHeader()
			h.Set("Sec-WebSocket-Protocol", "superchat, chat")
			resp, p := open(t, s.rt, s.url+"/ws", h)
			if p == nil {
				t.Fatalf("status %d", resp.StatusCode)
			}
			r := <-seen
			if r.ProtoMajor != 2 || r.Method != http.MethodConnect {
				t.Errorf("the server saw %s %s", r.Proto, r.Method)
			}
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Sec-WebSocket-Protocol") != "chat" {
				t.Errorf("response %d, subprotocol %q", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Protocol"))
			}
			for _, k := range []string{"Upgrade", "Connection", "Sec-Websocket-Accept"} {
				if v := resp.Header.Values(k); len(v) > 0 {
					t.Errorf("the response has %s: %q, which HTTP/2 has no use for", k, v)
				}
			}
			p.Send(rawpeer.Text("hello over h2"))
			p.ExpectText("hello over h2")
			big := make([]byte, 300<<10) // past HTTP/2's initial flow-control windows
			for i := range big {
				big[i] = byte(i * 7)
			}
			p.Send(rawpeer.Binary(big))
			p.ExpectMessage(rawpeer.OpBinary, big)
			p.Send(rawpeer.Ping([]byte("ping")))
			p.ExpectPong([]byte("ping"))
			p.CloseNormally()
		})
	}
}

// An extended CONNECT without Sec-WebSocket-Version 13 is refused with
// 400 naming the version, and no Upgrade or Connection header, which
// HTTP/2 forbids. The connection carries on: the next stream works.
func TestRefusalOverHTTP2(t *testing.T) {
	for name, s := range servers(t, echo(t, nil, nil)) {
		t.Run(name, func(t *testing.T) {
			for _, version := range []string{"", "8"} {
				h := http.Header{}
				if version != "" {
					h.Set("Sec-WebSocket-Version", version)
				}
				resp, p := open(t, s.rt, s.url+"/ws", h)
				if p != nil || resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Sec-WebSocket-Version") != "13" {
					t.Errorf("version %q: status %d, Sec-WebSocket-Version %q", version, resp.StatusCode, resp.Header.Get("Sec-WebSocket-Version"))
				}
				if resp.Header.Get("Upgrade") != "" || resp.Header.Get("Connection") != "" {
					t.Errorf("version %q: the refusal has Upgrade or Connection", version)
				}
			}
			_, p := open(t, s.rt, s.url+"/ws", wsHeader())
			if p == nil {
				t.Fatal("a good request after the refusals was refused")
			}
			p.Send(rawpeer.Text("still here"))
			p.ExpectText("still here")
			p.CloseNormally()
		})
	}
}

// A read cut by its context leaves the connection usable, as over TCP:
// the stream's read deadline is emulated, since a real one would end
// the stream. Then the client resets the stream (RST_STREAM) in the
// middle of a message: the server's connection ends, as when a TCP
// connection drops.
func TestReadDeadlineThenResetOverHTTP2(t *testing.T) {
	type result struct {
		first, second, third error
		echoed               string
	}
	results := make(chan result, 1)
	firstDone := make(chan struct{}, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsproto.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		var res result
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		_, _, res.first = c.Read(ctx) // nothing comes: cut by the context
		cancel()
		firstDone <- struct{}{}
		var p []byte
		_, p, res.second = c.Read(context.Background())
		res.echoed = string(p)
		if res.second == nil {
			c.Write(context.Background(), wsproto.MessageText, p)
		}
		_, _, res.third = c.Read(context.Background()) // the client resets mid-message
		<-c.Done()
		results <- res
	})
	for name, s := range servers(t, h) {
		t.Run(name, func(t *testing.T) {
			_, p := open(t, s.rt, s.url+"/ws", wsHeader())
			if p == nil {
				t.Fatal("refused")
			}
			<-firstDone // the server's first read is over
			p.Send(rawpeer.Text("after the deadline"))
			p.ExpectText("after the deadline")
			frame := rawpeer.Text(strings.Repeat("x", 1000)).Mask().Encode()
			p.Write(frame[:500])
			p.Conn.(*stream).body.Close() // RST_STREAM CANCEL
			res := <-results
			if !errors.Is(res.first, context.DeadlineExceeded) {
				t.Errorf("the first read: %v, want the context's deadline", res.first)
			}
			if res.second != nil || res.echoed != "after the deadline" {
				t.Errorf("the read after it: %q, %v", res.echoed, res.second)
			}
			var ce *wsproto.CloseError
			if !errors.As(res.third, &ce) || ce.Code != wsproto.StatusAbnormalClosure {
				t.Errorf("a read when the client resets the stream: %v, want a disconnect (1006)", res.third)
			}
		})
	}
}

// CustomException is an application's own error type, as in the
// framework's examples.
type CustomException struct{}

func (*CustomException) Error() string { return "custom exception" }

// The framework over HTTP/2: the same handlers and the same exception
// semantics as over HTTP/1.1. A raised WebSocketException after accept
// closes with its code and reason; a registered exception handler
// closes with its own; an exception before accept is an HTTP status on
// the stream, 403 with the reason. The handler sees an HTTP/2 request.
func TestFrameworkOverHTTP2(t *testing.T) {
	app := server.New(server.Options{Logger: slog.New(slog.DiscardHandler)})
	protos := make(chan int, 4)
	app.Handle("/ws", func(ws *server.WebSocket) error {
		protos <- ws.Request().ProtoMajor
		if err := ws.Accept(); err != nil {
			return err
		}
		return server.Raise(wsproto.StatusPolicyViolation, "Closing the connection...")
	})
	server.HandleException(app, func(ws *server.WebSocket, err *CustomException) error {
		return ws.Close(wsproto.StatusPolicyViolation, "Custom exception")
	})
	app.Handle("/custom", func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		return &CustomException{}
	})
	app.Handle("/reject", func(ws *server.WebSocket) error {
		return server.Raise(wsproto.StatusPolicyViolation, "not today")
	})
	for name, s := range servers(t, app) {
		t.Run(name, func(t *testing.T) {
			_, p := open(t, s.rt, s.url+"/ws", wsHeader())
			if p == nil {
				t.Fatal("/ws refused")
			}
			if reason := p.ExpectClose(1008); reason != "Closing the connection..." {
				t.Errorf("/ws: close reason %q", reason)
			}
			if proto := <-protos; proto != 2 {
				t.Errorf("the handler saw HTTP/%d", proto)
			}
			_, p = open(t, s.rt, s.url+"/custom", wsHeader())
			if p == nil {
				t.Fatal("/custom refused")
			}
			if reason := p.ExpectClose(1008); reason != "Custom exception" {
				t.Errorf("/custom: close reason %q", reason)
			}
			resp, pw := connect(t, s.rt, s.url+"/reject", wsHeader(), "websocket", "")
			defer pw.Close()
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "not today") {
				t.Errorf("/reject: status %d, body %q", resp.StatusCode, body)
			}
		})
	}
}

// With GODEBUG=http2xconnect=1, as TestMain runs these tests,
// ExtendedConnect says so, and App.Server says at start that WebSockets
// over HTTP/2 are on.
func TestExtendedConnectReported(t *testing.T) {
	if !wsproto.ExtendedConnect() {
		t.Error("ExtendedConnect() is false with GODEBUG=http2xconnect=1")
	}
	var logged strings.Builder
	app := server.New(server.Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	app.Server(nil)
	if !strings.Contains(logged.String(), "websockets over HTTP/2 (RFC 8441): on") {
		t.Errorf("App.Server logged %q", logged.String())
	}
}

// wsraise's own client over HTTP/2 (DialOptions.HTTP2) against its own
// server, over TLS and h2c: ten WebSockets on one HTTP/2 connection,
// each with permessage-deflate and a subprotocol agreed as over
// HTTP/1.1, echoing messages past the flow-control windows, then
// closing with its own code.
func TestDialOverHTTP2(t *testing.T) {
	remotes := make(chan string, 20)
	codes := make(chan wsproto.StatusCode, 20)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		remotes <- r.RemoteAddr
		c, err := wsproto.Upgrade(w, r, &wsproto.UpgradeOptions{Subprotocols: []string{"chat"}, Compression: &wsproto.CompressionOptions{}})
		if err != nil {
			return
		}
		ctx := context.Background()
		for {
			typ, p, err := c.Read(ctx)
			if err != nil {
				var ce *wsproto.CloseError
				if errors.As(err, &ce) {
					codes <- ce.Code
				} else {
					codes <- 0
				}
				break
			}
			if c.Write(ctx, typ, p) != nil {
				break
			}
		}
		<-c.Done()
	})
	for name, s := range servers(t, h) {
		t.Run(name, func(t *testing.T) {
			url := "wss" + strings.TrimPrefix(s.url, "https") + "/ws"
			if name == "h2c" {
				url = "ws" + strings.TrimPrefix(s.url, "http") + "/ws"
			}
			opts := &wsproto.DialOptions{HTTP2: s.rt, Subprotocols: []string{"chat"}, Compression: &wsproto.CompressionOptions{}}
			ctx := context.Background()
			var conns []*wsproto.Conn
			for i := range 10 {
				c, resp, err := wsproto.Dial(ctx, url, opts)
				if err != nil {
					t.Fatalf("WebSocket %d: %v", i, err)
				}
				if resp.ProtoMajor != 2 || c.Subprotocol() != "chat" || c.Extensions() != "permessage-deflate" {
					t.Errorf("WebSocket %d: HTTP/%d, subprotocol %q, extensions %q", i, resp.ProtoMajor, c.Subprotocol(), c.Extensions())
				}
				conns = append(conns, c)
			}
			first := <-remotes
			for range 9 {
				if r := <-remotes; r != first {
					t.Errorf("WebSockets from %s and %s: not one HTTP/2 connection", first, r)
				}
			}
			big := []byte(strings.Repeat("all on one connection; ", 20000))
			for i, c := range conns {
				for _, msg := range [][]byte{[]byte("hello"), big} {
					if err := c.Write(ctx, wsproto.MessageText, msg); err != nil {
						t.Fatalf("WebSocket %d: %v", i, err)
					}
					_, got, err := c.Read(ctx)
					if err != nil || string(got) != string(msg) {
						t.Fatalf("WebSocket %d: echo of %d bytes, %v", i, len(got), err)
					}
				}
			}
			for i, c := range conns {
				if err := c.Close(wsproto.StatusCode(4000+i), "bye"); err != nil {
					t.Errorf("WebSocket %d: Close: %v", i, err)
				}
			}
			got := map[wsproto.StatusCode]bool{}
			for range conns {
				got[<-codes] = true
			}
			for i := range conns {
				if !got[wsproto.StatusCode(4000+i)] {
					t.Errorf("the server did not see close code %d: %v", 4000+i, got)
				}
			}
		})
	}
}

// Bad extended CONNECTs get a 4xx on their stream, and the HTTP/2
// connection carries on: a CONNECT without :protocol is not a WebSocket
// handshake (405, as any method but GET); one for another protocol is
// refused with 400 (RFC 8441 section 4 defines only websocket here); a
// refused stream that brought a body is refused all the same. After
// them, a good WebSocket opens on the same connection.
func TestBadExtendedConnectsOverHTTP2(t *testing.T) {
	for name, s := range servers(t, echo(t, nil, nil)) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				name     string
				protocol string // "" for none
				body     string
				status   int
			}{
				{"CONNECT without :protocol", "", "", http.StatusMethodNotAllowed},
				{":protocol other than websocket", "chat", "", http.StatusBadRequest},
				{"a refused stream with a body", "chat", "data the server never reads", http.StatusBadRequest},
			} {
				resp, pw := connect(t, s.rt, s.url+"/ws", wsHeader(), tc.protocol, tc.body)
				resp.Body.Close()
				pw.Close()
				if resp.StatusCode != tc.status || resp.Header.Get("Upgrade") != "" || resp.Header.Get("Connection") != "" {
					t.Errorf("%s: status %d (want %d), Upgrade %q, Connection %q", tc.name, resp.StatusCode, tc.status, resp.Header.Get("Upgrade"), resp.Header.Get("Connection"))
				}
			}
			_, p := open(t, s.rt, s.url+"/ws", wsHeader())
			if p == nil {
				t.Fatal("a good WebSocket after the bad ones was refused")
			}
			p.Send(rawpeer.Text("the connection carried on"))
			p.ExpectText("the connection carried on")
			p.CloseNormally()
		})
	}
}

// The app's Shutdown closes WebSockets over HTTP/2 as it closes the
// others: a close frame with 1001, the handler sees a disconnect, and
// Shutdown returns once the handler has, so http.Server.Shutdown, which
// waits for HTTP/2 streams, is not left waiting.
func TestShutdownOverHTTP2(t *testing.T) {
	for _, name := range []string{"tls", "h2c"} {
		t.Run(name, func(t *testing.T) {
			app := server.New(server.Options{Logger: slog.New(slog.DiscardHandler)})
			accepted := make(chan struct{}, 1)
			app.Handle("/ws", func(ws *server.WebSocket) error {
				if err := ws.Accept(); err != nil {
					return err
				}
				accepted <- struct{}{}
				for {
					if _, _, err := ws.Receive(ws.Context()); err != nil {
						return err
					}
				}
			})
			s := servers(t, app)[name]
			_, p := open(t, s.rt, s.url+"/ws", wsHeader())
			if p == nil {
				t.Fatal("refused")
			}
			<-accepted
			ctx, cancel := context.WithTimeout(context.Background(), rawpeer.Wait)
			defer cancel()
			errc := make(chan error, 1)
			go func() { errc <- app.Shutdown(ctx) }()
			p.ExpectClose(1001)
			if err := <-errc; err != nil {
				t.Errorf("Shutdown: %v", err)
			}
		})
	}
}

// Dial over HTTP/2 fails cleanly where the handshake does: a refusal is
// a *HandshakeError with the status and body; a subprotocol the client
// did not offer fails it (RFC 6455 section 4.1 item 6); a header Dial
// sets itself is refused before anything is sent; and a server that
// never answers is cut by the context.
func TestDialOverHTTP2Failures(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/refuse":
			http.Error(w, "go away", http.StatusForbidden)
		case "/bogus":
			w.Header().Set("Sec-WebSocket-Protocol", "bogus")
			w.WriteHeader(http.StatusOK)
			http.NewResponseController(w).Flush()
			<-release
		case "/silent":
			<-release
		}
	})
	for name, s := range servers(t, h) {
		t.Run(name, func(t *testing.T) {
			base := "wss" + strings.TrimPrefix(s.url, "https")
			if name == "h2c" {
				base = "ws" + strings.TrimPrefix(s.url, "http")
			}
			opts := &wsproto.DialOptions{HTTP2: s.rt, Subprotocols: []string{"chat"}}
			ctx := context.Background()
			_, _, err := wsproto.Dial(ctx, base+"/refuse", opts)
			var he *wsproto.HandshakeError
			if !errors.As(err, &he) || he.Status != http.StatusForbidden || !strings.Contains(he.Body, "go away") {
				t.Errorf("a refusal: %v, want a HandshakeError with 403 and its body", err)
			}
			if _, _, err := wsproto.Dial(ctx, base+"/bogus", opts); err == nil || !strings.Contains(err.Error(), "not offered") {
				t.Errorf("a subprotocol not offered: %v", err)
			}
			bad := *opts
			bad.Header = http.Header{"Sec-Websocket-Key": {"x"}}
			if _, _, err := wsproto.Dial(ctx, base+"/refuse", &bad); err == nil || !strings.Contains(err.Error(), "set by Dial") {
				t.Errorf("a header Dial sets: %v", err)
			}
			short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			if _, _, err := wsproto.Dial(short, base+"/silent", opts); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("a server that never answers: %v, want the context's deadline", err)
			}
		})
	}
}

package wsproto

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"wsraise/internal/rawpeer"
)

func dtDial(t *testing.T, url string, opts *DialOptions) (*Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := Dial(ctx, url, opts)
	if c != nil {
		t.Cleanup(func() { c.CloseNow() })
	}
	return c, resp, err
}

// TestDialBadResponses: a 101 response that breaks a rule of RFC 6455
// section 4.1 fails Dial with an error that names the problem.
func TestDialBadResponses(t *testing.T) {
	cases := []struct {
		name    string
		answer  func(nc net.Conn, r *http.Request)
		wantErr string
	}{
		{"wrong accept", func(nc net.Conn, r *http.Request) {
			nc.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
				"Sec-WebSocket-Accept: " + rawpeer.AcceptKey("AAAAAAAAAAAAAAAAAAAAAA==") + "\r\n\r\n"))
		}, "Sec-WebSocket-Accept"},
		{"no accept", func(nc net.Conn, r *http.Request) {
			nc.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"))
		}, "Sec-WebSocket-Accept"},
		{"no Upgrade", func(nc net.Conn, r *http.Request) {
			nc.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n" +
				"Sec-WebSocket-Accept: " + rawpeer.AcceptKey(r.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n"))
		}, "Upgrade: websocket"},
		{"no Connection", func(nc net.Conn, r *http.Request) {
			nc.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
				"Sec-WebSocket-Accept: " + rawpeer.AcceptKey(r.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n"))
		}, "Connection: Upgrade"},
		{"subprotocol not offered", func(nc net.Conn, r *http.Request) {
			io.WriteString(nc, rawpeer.Response(r, "Sec-WebSocket-Protocol: mqtt\r\n"))
		}, "subprotocol"},
		{"two subprotocols", func(nc net.Conn, r *http.Request) {
			io.WriteString(nc, rawpeer.Response(r, "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n"))
		}, "subprotocol"},
		{"extension not offered", func(nc net.Conn, r *http.Request) {
			io.WriteString(nc, rawpeer.Response(r, "Sec-WebSocket-Extensions: permessage-deflate\r\n"))
		}, "extension"},
		{"not HTTP", func(nc net.Conn, r *http.Request) {
			nc.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n\r\n"))
		}, "handshake response"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := rawpeer.Serve(t, func(nc net.Conn, _ *bufio.Reader, r *http.Request, _ <-chan struct{}) { tc.answer(nc, r) })
			c, _, err := dtDial(t, s.URL("/ws"), &DialOptions{Subprotocols: []string{"chat", "superchat"}})
			if c != nil || err == nil {
				t.Fatalf("Dial succeeded: %v", err)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %q, want it to mention %q", err, tc.wantErr)
			}
			var he *HandshakeError
			if errors.As(err, &he) {
				t.Fatalf("a bad 101 is not a refusal, got %v", he)
			}
		})
	}
}

func TestDialRefused(t *testing.T) {
	cases := []struct {
		name   string
		resp   string
		status int
		body   string
	}{
		{"403", "HTTP/1.1 403 Forbidden\r\nX-Reason: origin\r\nContent-Length: 7\r\n\r\ngo away", 403, "go away"},
		{"200", "HTTP/1.1 200 OK\r\nX-Reason: plain http\r\nContent-Length: 5\r\n\r\nhello", 200, "hello"},
		{"long body", "HTTP/1.1 400 Bad Request\r\nX-Reason: big\r\nContent-Length: 5000\r\n\r\n" + strings.Repeat("z", 5000),
			400, strings.Repeat("z", maxErrorBody)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := rawpeer.Serve(t, func(nc net.Conn, _ *bufio.Reader, r *http.Request, _ <-chan struct{}) {
				nc.Write([]byte(tc.resp))
			})
			c, resp, err := dtDial(t, s.URL("/ws"), nil)
			if c != nil {
				t.Fatal("Dial returned a connection")
			}
			var he *HandshakeError
			if !errors.As(err, &he) {
				t.Fatalf("err = %v (%T), want *HandshakeError", err, err)
			}
			if he.Status != tc.status || he.Body != tc.body {
				t.Fatalf("HandshakeError{Status: %d, Body: %.40q (%d bytes)}, want %d %.40q", he.Status, he.Body, len(he.Body), tc.status, tc.body)
			}
			if he.Header.Get("X-Reason") == "" {
				t.Fatalf("HandshakeError.Header lacks X-Reason: %v", he.Header)
			}
			if resp == nil || resp.StatusCode != tc.status || resp.Header.Get("X-Reason") != he.Header.Get("X-Reason") {
				t.Fatalf("response %+v", resp)
			}
			if !strings.Contains(err.Error(), "handshake refused: "+strconv.Itoa(tc.status)) {
				t.Fatalf("Error() = %q", err)
			}
		})
	}
}

// TestDialServerSilent: a server that reads the request and never answers
// makes Dial fail with the context's deadline once HandshakeTimeout passes.
func TestDialServerSilent(t *testing.T) {
	got := make(chan struct{}, 1)
	s := rawpeer.Serve(t, func(nc net.Conn, _ *bufio.Reader, _ *http.Request, done <-chan struct{}) {
		got <- struct{}{}
		<-done
	})
	const timeout = 300 * time.Millisecond
	start := time.Now()
	c, resp, err := dtDial(t, s.URL("/ws"), &DialOptions{HandshakeTimeout: timeout})
	elapsed := time.Since(start)
	if c != nil || resp != nil {
		t.Fatal("Dial returned a connection or a response")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	select {
	case <-got:
	default:
		t.Fatal("the server did not receive the request")
	}
	if elapsed < timeout || elapsed > timeout+5*time.Second {
		t.Fatalf("Dial took %v with HandshakeTimeout %v", elapsed, timeout)
	}

	// The caller's context is honoured too.
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-got; cancel() }()
	_, _, err = Dial(ctx, s.URL("/ws"), nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Dial: err = %v, want context.Canceled", err)
	}
}

// TestDialKey: each Dial sends a fresh Sec-WebSocket-Key of 16 random bytes,
// and the request carries what section 4.1 requires.
func TestDialKey(t *testing.T) {
	reqs := make(chan *http.Request, 2)
	s := rawpeer.Serve(t, func(nc net.Conn, _ *bufio.Reader, r *http.Request, done <-chan struct{}) {
		reqs <- r
		io.WriteString(nc, rawpeer.Response(r, ""))
		<-done
	})
	var keys []string
	for i := 0; i < 2; i++ {
		c, resp, err := dtDial(t, s.URL("/ws")+"?q=1", &DialOptions{Header: http.Header{"Origin": {"http://example.com"}}})
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 101 || c.Subprotocol() != "" {
			t.Fatalf("status %d subprotocol %q", resp.StatusCode, c.Subprotocol())
		}
		r := <-reqs
		if status, err := checkRequest(r); status != 0 {
			t.Fatalf("the server would refuse Dial's request: %d %v", status, err)
		}
		if r.URL.RequestURI() != "/ws?q=1" || r.Host != s.Addr() || r.Header.Get("Origin") != "http://example.com" {
			t.Fatalf("request URI %q host %q origin %q", r.URL.RequestURI(), r.Host, r.Header.Get("Origin"))
		}
		key := r.Header.Get("Sec-WebSocket-Key")
		raw, err := base64.StdEncoding.DecodeString(key)
		if err != nil || len(raw) != 16 {
			t.Fatalf("key %q decodes to %d bytes, %v", key, len(raw), err)
		}
		keys = append(keys, key)
	}
	if keys[0] == keys[1] {
		t.Fatalf("two dials sent the same key %q", keys[0])
	}
}

func TestDialBadArguments(t *testing.T) {
	for _, tc := range []struct {
		url  string
		opts *DialOptions
		want string
	}{
		{"ftp://127.0.0.1/", nil, "scheme"},
		{"ws://127.0.0.1/#frag", nil, "fragment"},
		{"ws://127.0.0.1:1/", &DialOptions{Header: http.Header{"Sec-WebSocket-Key": {"x"}},
			NetDial: dtPipeDial}, "set by Dial"},
		{"ws://127.0.0.1:1/", &DialOptions{Header: http.Header{"X-Bad": {"a\nb"}}, NetDial: dtPipeDial}, "invalid value"},
	} {
		_, _, err := Dial(context.Background(), tc.url, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Dial(%q): err = %v, want it to mention %q", tc.url, err, tc.want)
		}
	}
}

// dtPipeDial dials nothing: the header checks fail before any I/O.
func dtPipeDial(ctx context.Context, network, addr string) (net.Conn, error) {
	a, b := net.Pipe()
	go func() { // drain whatever is written, until closed
		buf := make([]byte, 512)
		for {
			if _, err := b.Read(buf); err != nil {
				return
			}
		}
	}()
	return a, nil
}

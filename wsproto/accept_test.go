package wsproto

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"wsraise/internal/rawpeer"
)

// hsValidKey is a well-formed Sec-WebSocket-Key: the RFC 6455 section 1.3
// example.
const hsValidKey = "dGhlIHNhbXBsZSBub25jZQ=="

// hsRequest returns a valid opening handshake request, which mod may spoil.
func hsRequest(mod func(r *http.Request)) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://example.com/chat", nil)
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Sec-WebSocket-Key", hsValidKey)
	r.Header.Set("Sec-WebSocket-Version", "13")
	if mod != nil {
		mod(r)
	}
	return r
}

func hsKeyOfLen(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 1)
	}
	return base64.StdEncoding.EncodeToString(b)
}

var hsCheckCases = []struct {
	name   string
	mod    func(r *http.Request)
	status int
	// Headers the refusal written by Upgrade must carry.
	header map[string]string
}{
	{"valid", nil, 0, nil},
	{"connection token list", func(r *http.Request) { r.Header.Set("Connection", "keep-alive, Upgrade") }, 0, nil},
	{"connection lower case", func(r *http.Request) { r.Header.Set("Connection", "upgrade") }, 0, nil},
	{"connection over two lines", func(r *http.Request) {
		r.Header["Connection"] = []string{"keep-alive", "UPGRADE"}
	}, 0, nil},
	{"upgrade mixed case", func(r *http.Request) { r.Header.Set("Upgrade", "WebSocket") }, 0, nil},
	{"upgrade token list", func(r *http.Request) { r.Header.Set("Upgrade", "foo/2, websocket") }, 0, nil},
	{"version with spaces", func(r *http.Request) { r.Header["Sec-Websocket-Version"] = []string{" 13 "} }, 0, nil},

	{"POST", func(r *http.Request) { r.Method = http.MethodPost }, 405, map[string]string{"Allow": "GET"}},
	{"HEAD", func(r *http.Request) { r.Method = http.MethodHead }, 405, map[string]string{"Allow": "GET"}},
	{"HTTP/1.0", func(r *http.Request) { r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.0", 1, 0 }, 426,
		map[string]string{"Upgrade": "websocket"}},
	{"no Upgrade", func(r *http.Request) { r.Header.Del("Upgrade") }, 426, map[string]string{"Upgrade": "websocket"}},
	{"Upgrade h2c", func(r *http.Request) { r.Header.Set("Upgrade", "h2c") }, 426, map[string]string{"Upgrade": "websocket"}},
	{"Upgrade websocketx", func(r *http.Request) { r.Header.Set("Upgrade", "websocketx") }, 426, map[string]string{"Upgrade": "websocket"}},
	{"no Connection", func(r *http.Request) { r.Header.Del("Connection") }, 426, map[string]string{"Upgrade": "websocket"}},
	{"Connection keep-alive", func(r *http.Request) { r.Header.Set("Connection", "keep-alive") }, 426, map[string]string{"Upgrade": "websocket"}},
	{"Connection upgrade-ish", func(r *http.Request) { r.Header.Set("Connection", "upgrades") }, 426, map[string]string{"Upgrade": "websocket"}},
	{"version 8", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Version", "8") }, 426,
		map[string]string{"Sec-WebSocket-Version": "13"}},
	{"version 14", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Version", "14") }, 426,
		map[string]string{"Sec-WebSocket-Version": "13"}},
	{"no version", func(r *http.Request) { r.Header.Del("Sec-WebSocket-Version") }, 426,
		map[string]string{"Sec-WebSocket-Version": "13"}},
	{"two version lines", func(r *http.Request) { r.Header["Sec-Websocket-Version"] = []string{"13", "13"} }, 426,
		map[string]string{"Sec-WebSocket-Version": "13"}},
	{"no key", func(r *http.Request) { r.Header.Del("Sec-WebSocket-Key") }, 400, nil},
	{"empty key", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", "") }, 400, nil},
	{"two key lines", func(r *http.Request) {
		r.Header["Sec-Websocket-Key"] = []string{hsValidKey, hsValidKey}
	}, 400, nil},
	{"key not base64", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", "!!!!!!!!!!!!!!!!!!!!!!==") }, 400, nil},
	{"key of 15 bytes", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", hsKeyOfLen(15)) }, 400, nil},
	{"key of 17 bytes", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", hsKeyOfLen(17)) }, 400, nil},
	{"key of 18 bytes", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", hsKeyOfLen(18)) }, 400, nil},
	{"key unpadded", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", strings.TrimRight(hsValidKey, "=")) }, 400, nil},
}

func TestCheckRequest(t *testing.T) {
	// The wrong-length keys must have the length they claim.
	if n := len(hsKeyOfLen(17)); n != 24 {
		t.Fatalf("a 17-byte key encodes to %d characters, want 24 (so only the decoded length can reject it)", n)
	}
	for _, tc := range hsCheckCases {
		t.Run(tc.name, func(t *testing.T) {
			for _, check := range []func(*http.Request) (int, error){CheckRequest, checkRequest} {
				status, err := check(hsRequest(tc.mod))
				if status != tc.status {
					t.Errorf("status = %d, want %d (err %v)", status, tc.status, err)
				}
				if (err == nil) != (tc.status == 0) {
					t.Errorf("err = %v with status %d", err, status)
				}
			}
		})
	}
}

// TestUpgradeRefusal checks the HTTP answer Upgrade writes for an invalid
// handshake, and that a valid one on a ResponseWriter that cannot be
// hijacked (httptest.ResponseRecorder) is refused with 501.
func TestUpgradeRefusal(t *testing.T) {
	for _, tc := range hsCheckCases {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.status
			if want == 0 {
				want = http.StatusNotImplemented
			}
			rec := httptest.NewRecorder()
			c, err := Upgrade(rec, hsRequest(tc.mod), nil)
			if c != nil {
				t.Fatal("Upgrade returned a connection")
			}
			var he *HandshakeError
			if !errors.As(err, &he) {
				t.Fatalf("err = %v (%T), want *HandshakeError", err, err)
			}
			if he.Status != want || rec.Code != want {
				t.Fatalf("HandshakeError.Status = %d, recorded %d, want %d", he.Status, rec.Code, want)
			}
			for k, v := range tc.header {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("response header %s = %q, want %q", k, got, v)
				}
				if got := he.Header.Get(k); got != v {
					t.Errorf("HandshakeError.Header %s = %q, want %q", k, got, v)
				}
			}
			if rec.Body.Len() == 0 || he.Body == "" || !strings.Contains(rec.Body.String(), he.Body) {
				t.Errorf("body %q, HandshakeError.Body %q", rec.Body.String(), he.Body)
			}
			if !strings.Contains(he.Error(), http.StatusText(want)) {
				t.Errorf("Error() = %q lacks the status text", he.Error())
			}
		})
	}
}

func TestUpgradeInvalidExtraHeader(t *testing.T) {
	for _, h := range []http.Header{
		{"Bad Name": {"x"}},
		{"X-Ok": {"line\r\nbreak"}},
		// The handshake's own headers: a second line would make the
		// client fail the connection (RFC 6455 section 4.1).
		{"Sec-WebSocket-Extensions": {"permessage-deflate"}},
		{"sec-websocket-protocol": {"chat"}},
		{"Upgrade": {"websocket"}},
		{"Connection": {"Upgrade"}},
		{"Sec-WebSocket-Accept": {"x"}},
	} {
		rec := httptest.NewRecorder()
		_, err := Upgrade(rec, hsRequest(nil), &UpgradeOptions{Header: h})
		var he *HandshakeError
		if !errors.As(err, &he) || he.Status != http.StatusInternalServerError || rec.Code != 500 {
			t.Errorf("header %q: err %v, recorded %d; want 500", h, err, rec.Code)
		}
	}
}

func TestAcceptKeyRFCExample(t *testing.T) {
	// RFC 6455 section 1.3 (checked independently: openssl sha1 | base64).
	if got, want := acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="; got != want {
		t.Fatalf("acceptKey = %q, want %q", got, want)
	}
}

func TestClientSubprotocols(t *testing.T) {
	r := hsRequest(func(r *http.Request) {
		r.Header["Sec-Websocket-Protocol"] = []string{"chat, superchat", " ,v2 ,", "x"}
	})
	want := []string{"chat", "superchat", "v2", "x"}
	if got := ClientSubprotocols(r); !reflect.DeepEqual(got, want) {
		t.Fatalf("ClientSubprotocols = %q, want %q", got, want)
	}
	if got := ClientSubprotocols(hsRequest(nil)); len(got) != 0 {
		t.Fatalf("ClientSubprotocols without the header = %q", got)
	}
}

// hsURL turns an httptest server's URL into a ws:// one.
func hsURL(srv *httptest.Server) string { return "ws" + strings.TrimPrefix(srv.URL, "http") }

// hsServer starts an HTTP server whose handler upgrades with opts and sends
// the connection (or the error) on the returned channels.
func hsServer(t *testing.T, opts *UpgradeOptions) (*httptest.Server, <-chan *Conn, <-chan error) {
	t.Helper()
	conns := make(chan *Conn, 16)
	errs := make(chan error, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Upgrade(w, r, opts)
		if err != nil {
			errs <- err
			return
		}
		conns <- c
	}))
	t.Cleanup(srv.Close)
	return srv, conns, errs
}

func hsRecvConn(t *testing.T, conns <-chan *Conn, errs <-chan error) *Conn {
	t.Helper()
	select {
	case c := <-conns:
		t.Cleanup(func() { c.CloseNow() })
		return c
	case err := <-errs:
		t.Fatalf("Upgrade: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no connection upgraded")
	}
	return nil
}

// TestSubprotocolSelection: the server's order of preference decides, as
// UpgradeOptions.Subprotocols documents, and the client learns the choice.
func TestSubprotocolSelection(t *testing.T) {
	cases := []struct {
		server, client []string
		want           string
	}{
		{[]string{"b", "a"}, []string{"a", "b"}, "b"},
		{[]string{"a", "b"}, []string{"b", "a"}, "a"},
		{[]string{"c", "b"}, []string{"a", "b"}, "b"},
		{[]string{"x"}, []string{"a", "b"}, ""},
		{nil, []string{"a"}, ""},
		{[]string{"a"}, nil, ""},
	}
	for _, tc := range cases {
		srv, conns, errs := hsServer(t, &UpgradeOptions{Subprotocols: tc.server})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, resp, err := Dial(ctx, hsURL(srv), &DialOptions{Subprotocols: tc.client})
		cancel()
		if err != nil {
			t.Fatalf("server %q client %q: Dial: %v", tc.server, tc.client, err)
		}
		sc := hsRecvConn(t, conns, errs)
		if got := c.Subprotocol(); got != tc.want {
			t.Errorf("server %q client %q: client Subprotocol = %q, want %q", tc.server, tc.client, got, tc.want)
		}
		if got := sc.Subprotocol(); got != tc.want {
			t.Errorf("server %q client %q: server Subprotocol = %q, want %q", tc.server, tc.client, got, tc.want)
		}
		if got := resp.Header.Values("Sec-WebSocket-Protocol"); tc.want == "" && len(got) != 0 || tc.want != "" && (len(got) != 1 || got[0] != tc.want) {
			t.Errorf("server %q client %q: response Sec-WebSocket-Protocol %q", tc.server, tc.client, got)
		}
		c.CloseNow()
	}
}

func TestUpgradeExtraHeaders(t *testing.T) {
	srv, conns, errs := hsServer(t, &UpgradeOptions{Header: http.Header{
		"X-Session":  {"abc"},
		"Set-Cookie": {"a=1", "b=2"},
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := Dial(ctx, hsURL(srv), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	hsRecvConn(t, conns, errs)
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Errorf("status %d", resp.StatusCode)
	}
	if got := resp.Header.Get("X-Session"); got != "abc" {
		t.Errorf("X-Session = %q", got)
	}
	if got := resp.Header.Values("Set-Cookie"); !reflect.DeepEqual(got, []string{"a=1", "b=2"}) {
		t.Errorf("Set-Cookie = %q", got)
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got == "" {
		t.Error("no Sec-WebSocket-Accept")
	}
}

// TestUpgradeKeepsBufferedFrames: a client that sends its handshake request
// and its first frame in one write gets the frame echoed: the bytes net/http
// read past the request are not lost.
func TestUpgradeKeepsBufferedFrames(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, p, err := c.Read(context.Background())
			if err != nil {
				return
			}
			if c.Write(context.Background(), typ, p) != nil {
				return
			}
		}
	}))
	defer srv.Close()

	addr := srv.Listener.Addr().String()
	msg := []byte("first frame, sent with the request")
	msg2 := []byte("second")
	early := append(rawpeer.Text(string(msg)).Mask().Encode(), rawpeer.Binary(msg2).Mask().Encode()...)
	p := rawpeer.Handshake(t, rawpeer.DialTCP(t, addr), rawpeer.Request(addr, "/echo", hsValidKey, ""), early)
	resp := p.Response
	if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("response %d, accept %q", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Accept"))
	}
	for _, want := range []struct {
		op byte
		p  []byte
	}{{rawpeer.OpText, msg}, {rawpeer.OpBinary, msg2}} {
		f := p.Next()
		if !f.Fin || f.Op != want.op || f.Masked || string(f.Payload) != string(want.p) {
			t.Fatalf("echo: fin %v op %v masked %v payload %q; want op %v payload %q", f.Fin, f.Op, f.Masked, f.Payload, want.op, want.p)
		}
	}
}

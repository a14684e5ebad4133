package rawpeer

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// SampleKey is the Sec-WebSocket-Key of the RFC's own example (section
// 1.3), whose Sec-WebSocket-Accept is "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".
const SampleKey = "dGhlIHNhbXBsZSBub25jZQ=="

// NewKey returns a fresh Sec-WebSocket-Key: 16 random bytes in base64
// (section 4.1).
func NewKey() string {
	var k [16]byte
	rand.Read(k[:])
	return base64.StdEncoding.EncodeToString(k[:])
}

// AcceptKey is the Sec-WebSocket-Accept that answers key: the base64 of
// the SHA-1 of key and a fixed GUID (section 4.2.2, item 5.4).
func AcceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// Request is a client's opening handshake (section 4.1) for path on host,
// with key, then the header lines in extra ("Name: value\r\n" each).
func Request(host, path, key, extra string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n" + extra + "\r\n"
}

// Response is a server's acceptance of r (section 4.2.2), with the header
// lines in extra.
func Response(r *http.Request, extra string) string {
	return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + AcceptKey(r.Header.Get("Sec-WebSocket-Key")) + "\r\n" + extra + "\r\n"
}

// DialTCP opens a TCP connection to addr, closed when the test ends.
func DialTCP(t testing.TB, addr string) *net.TCPConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, Wait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc.(*net.TCPConn)
}

// Handshake writes req, and early in the same write, on nc and reads the
// response, whatever its status, into the Response of the client Peer it
// returns.
func Handshake(t testing.TB, nc net.Conn, req string, early []byte) *Peer {
	t.Helper()
	p := &Peer{T: t, Conn: nc, R: bufio.NewReader(nc), Client: true}
	p.Write(append([]byte(req), early...))
	nc.SetReadDeadline(time.Now().Add(Wait))
	resp, err := http.ReadResponse(p.R, nil)
	if err != nil {
		t.Fatalf("rawpeer: handshake response: %v", err)
	}
	nc.SetReadDeadline(time.Time{})
	p.Response = resp
	return p
}

// Dial connects to addr and performs the client's side of the opening
// handshake for path (section 4.1), with the header lines in extra and,
// in the same write as the request, the frames early. The server must
// accept (section 4.2.2).
func Dial(t testing.TB, addr, path, extra string, early ...Frame) *Peer {
	t.Helper()
	key := NewKey()
	var b []byte
	for _, f := range early {
		b = append(b, f.Mask().Encode()...)
	}
	p := Handshake(t, DialTCP(t, addr), Request(addr, path, key, extra), b)
	resp := p.Response
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("rawpeer: handshake status %s", resp.Status)
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != AcceptKey(key) {
		t.Fatalf("rawpeer: Sec-WebSocket-Accept %q, want %q", got, AcceptKey(key))
	}
	if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") || !strings.EqualFold(resp.Header.Get("Connection"), "upgrade") {
		t.Fatalf("rawpeer: handshake headers %v", resp.Header)
	}
	return p
}

package wsraise

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"wsraise/internal/rawpeer"
)

// TestConformanceHandshake checks the opening handshake over raw TCP
// (section 4.2.1): refused requests get their HTTP status, and frames sent
// in the same write as the request are not lost.
func TestConformanceHandshake(t *testing.T) {
	srv := echoServer(t)
	addr := strings.TrimPrefix(srv.URL, "http://")
	t.Run("4.2.1 first frame in the request's write is kept", func(t *testing.T) {
		p := rawpeer.Dial(t, addr, "/echo", "", rawpeer.Text("early"))
		p.ExpectText("early")
		p.CloseNormally()
	})
	base := "Host: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	for _, c := range []struct {
		name, req string
		status    int
		header    string // "Name: value" the response must carry
	}{
		{"4.2.1 POST is refused 405", "POST /echo HTTP/1.1\r\n" + base + "Sec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n", 405, ""},
		{"4.2.1 HTTP/1.0 is refused 426", "GET /echo HTTP/1.0\r\n" + base + "Sec-WebSocket-Version: 13\r\n\r\n", 426, "Upgrade: websocket"},
		{"4.2.1 no Upgrade token is refused 426", "GET /echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 426, "Upgrade: websocket"},
		{"4.4 version 8 is refused 426 naming 13", "GET /echo HTTP/1.1\r\n" + base + "Sec-WebSocket-Version: 8\r\n\r\n", 426, "Sec-WebSocket-Version: 13"},
		{"4.2.1 a key of 15 bytes is refused 400", "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA\r\nSec-WebSocket-Version: 13\r\n\r\n", 400, ""},
		{"4.2.1 two keys are refused 400", "GET /echo HTTP/1.1\r\n" + base + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 400, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(rawpeer.Wait))
			nc.Write([]byte(c.req))
			resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
			}
			if c.header != "" {
				name, value, _ := strings.Cut(c.header, ": ")
				if !strings.EqualFold(resp.Header.Get(name), value) {
					t.Fatalf("%s: %q, want %q", name, resp.Header.Get(name), value)
				}
			}
		})
	}
}

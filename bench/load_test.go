package main

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// TestOutgoingVary checks the frame the load client keeps between round
// trips: after every change of content and key it must carry the message,
// masked with the key it names.
func TestOutgoingVary(t *testing.T) {
	for _, size := range []int{1, 125, 126, 65535, 65536, 70000} {
		payload := make([]byte, size)
		for i := range payload {
			payload[i] = byte(i * 7)
		}
		cc := &clientConn{}
		o := newOutgoing(cc, payload)
		for n := range uint32(5) {
			var key [4]byte
			binary.LittleEndian.PutUint32(key[:], n*2654435761+1)
			o.vary(int(n)%size, key)
			if !bytes.Equal(o.frame[o.start-4:o.start], key[:]) {
				t.Fatalf("size %d message %d: key on the wire % x, want % x", size, n, o.frame[o.start-4:o.start], key)
			}
			got := bytes.Clone(o.frame[o.start:])
			mask(got, key)
			if !bytes.Equal(got, payload) {
				t.Fatalf("size %d message %d: the frame does not unmask to the message", size, n)
			}
			if want := byte(0x82); o.frame[0] != want || o.frame[1]&0x80 == 0 {
				t.Fatalf("size %d: header % x, want a masked binary frame", size, o.frame[:2])
			}
		}
	}
	for _, lib := range []string{"raw-tcp", "raw-msg"} {
		payload := []byte("abcdef")
		o := newOutgoing(&clientConn{raw: true, rawMsg: lib == "raw-msg"}, payload)
		o.vary(2, [4]byte{1, 2, 3, 4})
		if !bytes.Equal(o.frame[o.start:], payload) || payload[2] != 'c'^0x5a {
			t.Fatalf("%s: frame % x for message % x", lib, o.frame, payload)
		}
	}
}

// TestLoadEcho runs each load client briefly against every echo server: no
// errors and no mismatches, with messages that fit one read (and the
// bufio64 client's buffer) and messages that do not. Against a server
// that changes one byte, each must count mismatches, or it could not
// catch a broken echo.
func TestLoadEcho(t *testing.T) {
	for _, client := range []string{clientDirect, clientBufio64} {
		t.Run(client, func(t *testing.T) {
			for _, lib := range libraries {
				addr := startTestServer(t, servers[lib])
				for _, size := range []int{16, 70000} {
					r := runLoad(lib, addr, client, size, 2, 200*time.Millisecond)
					if r.RoundTrips == 0 || r.Errors > 0 || r.Mismatches > 0 {
						t.Errorf("%s, %d bytes: %d round trips, %d mismatches, %d errors (%s)",
							lib, size, r.RoundTrips, r.Mismatches, r.Errors, r.FirstError)
					}
				}
			}
			addr := startTestServer(t, serveCorrupting)
			r := runLoad("raw-tcp", addr, client, 512, 1, 200*time.Millisecond)
			if r.RoundTrips == 0 || r.Mismatches != r.RoundTrips {
				t.Errorf("corrupting echo: %d round trips, %d mismatches, want all mismatched", r.RoundTrips, r.Mismatches)
			}
		})
	}
	if r := runLoad("raw-tcp", "127.0.0.1:1", "bufio4", 16, 1, time.Millisecond); r.Errors == 0 {
		t.Errorf("an unknown client ran: %+v", r)
	}
}

func startTestServer(t *testing.T, serve func(net.Listener) error) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go serve(ln)
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// serveCorrupting echoes raw TCP with the first byte of every 512 changed.
func serveCorrupting(ln net.Listener) error {
	return serveConns(ln, func(c net.Conn) {
		buf := make([]byte, 512)
		for {
			if _, err := io.ReadFull(c, buf); err != nil {
				return
			}
			buf[0] ^= 1
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	})
}

package wsraise

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"wsraise/internal/rawpeer"
	"wsraise/wsproto"
)

// TestConformanceClient drives the wsraise client, running an echo loop,
// from a raw server.
func TestConformanceClient(t *testing.T) {
	type clientCase struct {
		id, section, name string
		run               func(p *rawpeer.Peer, c *wsproto.Conn, end <-chan error)
	}
	ctx := context.Background()
	unmaskedEcho := func(p *rawpeer.Peer, fs ...rawpeer.Frame) { p.Send(fs...) }
	cases := []clientCase{
		{"C.1", "5.3", "every frame the client sends is masked, with a fresh key each", func(p *rawpeer.Peer, c *wsproto.Conn, end <-chan error) {
			for i := range 20 {
				unmaskedEcho(p, rawpeer.Text(fmt.Sprint("message ", i)))
				p.ExpectText(fmt.Sprint("message ", i))
			}
			if len(p.Keys) < 19 { // 20 random keys; a repeat is a 2^-32 event
				t.Fatalf("%d distinct masking keys for 20 frames", len(p.Keys))
			}
			p.Send(rawpeer.Close(1000, ""))
			p.ReadClose()
		}},
		{"C.2", "5.2", "lengths 0, 125, 126, 65535, 65536 both ways", func(p *rawpeer.Peer, c *wsproto.Conn, end <-chan error) {
			for _, n := range []int{0, 125, 126, 65535, 65536} {
				p.Send(rawpeer.Binary(bin(n)))
				p.ExpectMessage(rawpeer.OpBinary, bin(n))
			}
			p.Send(rawpeer.Close(1000, ""))
			p.ReadClose()
		}},
		{"C.3", "5.5.2", "ping answered with a masked pong", func(p *rawpeer.Peer, c *wsproto.Conn, end <-chan error) {
			p.Send(rawpeer.Ping([]byte("hi")))
			p.ExpectPong([]byte("hi"))
			p.Send(rawpeer.Close(1000, ""))
			p.ReadClose()
		}},
		{"C.4", "5.1", "a masked frame from the server fails 1002", func(p *rawpeer.Peer, c *wsproto.Conn, end <-chan error) {
			p.Write(rawpeer.Frame{Fin: true, Op: rawpeer.OpText, Masked: true, Key: [4]byte{1, 2, 3, 4}, Payload: []byte("masked")}.Encode())
			p.ExpectClose(1002)
		}},
		{"C.5", "5.2", "RSV1 fails 1002", func(p *rawpeer.Peer, c *wsproto.Conn, end <-chan error) {
			p.Send(rawpeer.Frame{Fin: true, RSV: rawpeer.RSV1, Op: rawpeer.OpText, Payload: []byte("x")})
			p.ExpectClose(1002)
		}},
		{"C.6", "5.2", "reserved opcode fails 1002", func(p *rawpeer.Peer, c *wsproto.Conn, end <-chan error) {
			p.Send(rawpeer.Frame{Fin: true, Op: 0xB})
			p.ExpectClose(1002)
		}},
		{"C.7", "5.5", "fragmented ping fails 1002", func(p *rawpeer.Peer, c *wsproto.Conn, end <-chan error) {
			p.Send(rawpeer.Frame{Op: rawpeer.OpPing}, rawpeer.Fragment(rawpeer.OpCont, true, ""))
			p.ExpectClose(1002)
		}},
		{"C.8", "5.4", "fragments with a ping between: pong, then the echo", func(p *rawpeer.Peer, c *wsproto.Conn, end <-chan error) {
			p.Send(rawpeer.Fragment(rawpeer.OpText, false, "frag1"), rawpeer.Ping([]byte("p")), rawpeer.Fragment(rawpeer.OpCont, true, "frag2"))
			p.ExpectPong([]byte("p"))
			p.ExpectText("frag1frag2")
			p.Send(rawpeer.Close(1000, ""))
			p.ReadClose()
		}},
		{"C.9", "8.1", "invalid UTF-8 fails 1007 before the frame is complete", func(p *rawpeer.Peer, c *wsproto.Conn, end <-chan error) {
			f := rawpeer.Text("ok \xf4\x90\x80\x80")
			f.Length = 500
			p.Send(f)
			p.ExpectClose(1007)
		}},
		{"C.10", "7.4", "invalid close code from the server fails 1002", func(p *rawpeer.Peer, c *wsproto.Conn, end <-chan error) {
			p.Send(rawpeer.Close(1005, ""))
			p.ExpectClose(1002)
		}},
		{"C.11", "7.1.2", "server close 1001 with reason: the client echoes 1001 and reports it received", func(p *rawpeer.Peer, c *wsproto.Conn, end <-chan error) {
			p.Send(rawpeer.Close(1001, "going"))
			if code, _ := p.ReadClose(); code != 1001 {
				t.Fatalf("echo %d", code)
			}
			p.Conn.Close()
			err := <-end
			var ce *wsproto.CloseError
			if !errors.As(err, &ce) || ce.Code != 1001 || ce.Reason != "going" || !ce.Received {
				t.Fatalf("client's read error %v, want received 1001 \"going\"", err)
			}
		}},
		{"C.12", "7.1.2", "client Close(1000, reason): masked close, then it waits for the server", func(p *rawpeer.Peer, c *wsproto.Conn, end <-chan error) {
			done := make(chan error, 1)
			go func() { done <- c.Close(1000, "client done") }()
			code, reason := p.ReadClose()
			if code != 1000 || reason != "client done" {
				t.Fatalf("close %d %q", code, reason)
			}
			p.Send(rawpeer.Close(1000, ""))
			p.Conn.Close()
			if err := <-done; err != nil {
				t.Fatalf("Close: %v", err)
			}
		}},
		{"C.13", "10.4", "a message over the client's read limit fails 1009", func(p *rawpeer.Peer, c *wsproto.Conn, end <-chan error) {
			p.Send(rawpeer.Frame{Fin: true, Op: rawpeer.OpBinary, Payload: bin(10), Length: 2048})
			p.ExpectClose(1009)
		}},
		{"C.14", "5.4", "continuation with nothing to continue fails 1002", func(p *rawpeer.Peer, c *wsproto.Conn, end <-chan error) {
			p.Send(rawpeer.Fragment(rawpeer.OpCont, true, "x"))
			p.ExpectClose(1002)
		}},
	}
	for _, cc := range cases {
		t.Run(cc.id+" "+cc.name+" (RFC 6455 "+cc.section+")", func(t *testing.T) {
			s := rawpeer.Listen(t, nil)
			c, _, err := wsproto.Dial(ctx, s.URL("/"), &wsproto.DialOptions{ReadLimit: 1024 * 1024, CloseTimeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			if cc.id == "C.13" {
				c.SetReadLimit(1024)
			}
			p := s.Accept()
			end := make(chan error, 1)
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					typ, b, err := c.Read(ctx)
					if err == nil {
						err = c.Write(ctx, typ, b)
					}
					if err != nil {
						end <- err
						return
					}
				}
			}()
			cc.run(p, c, end)
			p.Conn.Close()
			select {
			case <-c.Done():
			case <-time.After(rawpeer.Wait):
				t.Fatal("client connection did not end")
			}
			wg.Wait()
		})
	}
}

package wsraise

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"wsraise/wsproto"
)

// TestConformanceClient drives the wsraise client, running an echo loop,
// from a raw server.
func TestConformanceClient(t *testing.T) {
	type clientCase struct {
		id, section, name string
		run               func(p *peer, c *wsproto.Conn, end <-chan error)
	}
	ctx := context.Background()
	unmaskedEcho := func(p *peer, fs ...frame) { p.send(fs...) }
	cases := []clientCase{
		{"C.1", "5.3", "every frame the client sends is masked, with a fresh key each", func(p *peer, c *wsproto.Conn, end <-chan error) {
			for i := range 20 {
				unmaskedEcho(p, text(fmt.Sprint("message ", i)))
				p.expectText(fmt.Sprint("message ", i))
			}
			if len(p.keys) < 19 { // 20 random keys; a repeat is a 2^-32 event
				t.Fatalf("%d distinct masking keys for 20 frames", len(p.keys))
			}
			p.send(closeFrame(1000, ""))
			p.readClose()
		}},
		{"C.2", "5.2", "lengths 0, 125, 126, 65535, 65536 both ways", func(p *peer, c *wsproto.Conn, end <-chan error) {
			for _, n := range []int{0, 125, 126, 65535, 65536} {
				p.send(binaryFrame(bin(n)))
				p.expectMessage(opBinary, bin(n))
			}
			p.send(closeFrame(1000, ""))
			p.readClose()
		}},
		{"C.3", "5.5.2", "ping answered with a masked pong", func(p *peer, c *wsproto.Conn, end <-chan error) {
			p.send(ping([]byte("hi")))
			p.expectPong([]byte("hi"))
			p.send(closeFrame(1000, ""))
			p.readClose()
		}},
		{"C.4", "5.1", "a masked frame from the server fails 1002", func(p *peer, c *wsproto.Conn, end <-chan error) {
			p.write(text("masked").with(func(f *frame) { f.masked = true; f.key = [4]byte{1, 2, 3, 4} }).encode())
			p.expectClose(1002)
		}},
		{"C.5", "5.2", "RSV1 fails 1002", func(p *peer, c *wsproto.Conn, end <-chan error) {
			p.send(text("x").with(func(f *frame) { f.rsv = 1 }))
			p.expectClose(1002)
		}},
		{"C.6", "5.2", "reserved opcode fails 1002", func(p *peer, c *wsproto.Conn, end <-chan error) {
			p.send(frame{fin: true, op: 0xB, length: -1})
			p.expectClose(1002)
		}},
		{"C.7", "5.5", "fragmented ping fails 1002", func(p *peer, c *wsproto.Conn, end <-chan error) {
			p.send(frame{op: opPing, length: -1}, fragment(opCont, true, ""))
			p.expectClose(1002)
		}},
		{"C.8", "5.4", "fragments with a ping between: pong, then the echo", func(p *peer, c *wsproto.Conn, end <-chan error) {
			p.send(fragment(opText, false, "frag1"), ping([]byte("p")), fragment(opCont, true, "frag2"))
			p.expectPong([]byte("p"))
			p.expectText("frag1frag2")
			p.send(closeFrame(1000, ""))
			p.readClose()
		}},
		{"C.9", "8.1", "invalid UTF-8 fails 1007 before the frame is complete", func(p *peer, c *wsproto.Conn, end <-chan error) {
			f := text("ok \xf4\x90\x80\x80")
			f.length = 500
			p.send(f)
			p.expectClose(1007)
		}},
		{"C.10", "7.4", "invalid close code from the server fails 1002", func(p *peer, c *wsproto.Conn, end <-chan error) {
			p.send(closeFrame(1005, ""))
			p.expectClose(1002)
		}},
		{"C.11", "7.1.2", "server close 1001 with reason: the client echoes 1001 and reports it received", func(p *peer, c *wsproto.Conn, end <-chan error) {
			p.send(closeFrame(1001, "going"))
			if code, _ := p.readClose(); code != 1001 {
				t.Fatalf("echo %d", code)
			}
			p.nc.Close()
			err := <-end
			var ce *wsproto.CloseError
			if !errors.As(err, &ce) || ce.Code != 1001 || ce.Reason != "going" || !ce.Received {
				t.Fatalf("client's read error %v, want received 1001 \"going\"", err)
			}
		}},
		{"C.12", "7.1.2", "client Close(1000, reason): masked close, then it waits for the server", func(p *peer, c *wsproto.Conn, end <-chan error) {
			done := make(chan error, 1)
			go func() { done <- c.Close(1000, "client done") }()
			code, reason := p.readClose()
			if code != 1000 || reason != "client done" {
				t.Fatalf("close %d %q", code, reason)
			}
			p.send(closeFrame(1000, ""))
			p.nc.Close()
			if err := <-done; err != nil {
				t.Fatalf("Close: %v", err)
			}
		}},
		{"C.13", "10.4", "a message over the client's read limit fails 1009", func(p *peer, c *wsproto.Conn, end <-chan error) {
			p.send(frame{fin: true, op: opBinary, payload: bin(10), length: 2048})
			p.expectClose(1009)
		}},
		{"C.14", "5.4", "continuation with nothing to continue fails 1002", func(p *peer, c *wsproto.Conn, end <-chan error) {
			p.send(fragment(opCont, true, "x"))
			p.expectClose(1002)
		}},
	}
	for _, cc := range cases {
		t.Run(cc.id+" "+cc.name+" (RFC 6455 "+cc.section+")", func(t *testing.T) {
			s := newRawServer(t, nil)
			c, _, err := wsproto.Dial(ctx, s.url(), &wsproto.DialOptions{ReadLimit: 1024 * 1024, CloseTimeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			if cc.id == "C.13" {
				c.SetReadLimit(1024)
			}
			p := s.accept()
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
			p.nc.Close()
			select {
			case <-c.Done():
			case <-time.After(wait):
				t.Fatal("client connection did not end")
			}
			wg.Wait()
		})
	}
}

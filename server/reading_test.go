package server_test

// Who reads (receive.go): a receive method reads on its own goroutine
// while it waits; the connection's reading goroutine reads when none has
// waited for a while (10 ms), or once this side is closing. These tests
// drive both, and the hand-overs between them.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"wsraise/server"
	"wsraise/server/wstest"
	"wsraise/wsproto"
)

// TestReadingAfterReceivesStop: a handler that receives once and then only
// sends still has the client's pings answered and sees its close: its
// context ends and the send fails with the client's code.
func TestReadingAfterReceivesStop(t *testing.T) {
	ended := make(chan error, 1)
	_, srv, _ := serve(t, server.Options{PingInterval: -1}, func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		if _, err := ws.ReceiveText(); err != nil {
			return err
		}
		for {
			select {
			case <-ws.Context().Done():
				err := ws.SendText("after the end")
				ended <- err
				return err
			case <-time.After(time.Millisecond):
				if err := ws.SendText("tick"); err != nil {
					ended <- err
					return err
				}
			}
		}
	})
	c := rawDial(t, srv, "/ws", nil)
	c.write(opText, []byte("start"))
	// Pings after the handler stopped receiving: each answered.
	for i := range 3 {
		time.Sleep(15 * time.Millisecond)
		payload := []byte(fmt.Sprint("ping ", i))
		c.write(opPing, payload)
		// The reading goroutine takes over 10 ms after the last receive:
		// a second is ample, even under -race. (The handler's ticks keep
		// coming meanwhile.)
		deadline := time.Now().Add(time.Second)
		for {
			if time.Now().After(deadline) {
				t.Fatalf("ping %d: no pong within a second", i)
			}
			op, p, err := c.readFrame(time.Second)
			if err != nil {
				t.Fatalf("ping %d: %v", i, err)
			}
			if op == opPong {
				if string(p) != string(payload) {
					t.Fatalf("pong %q, want %q", p, payload)
				}
				break
			}
		}
	}
	c.writeClose(4321, "bye")
	var err error
	select {
	case err = <-ended:
	case <-time.After(time.Second):
		t.Fatal("the handler did not see the close within a second")
	}
	var d *server.Disconnect
	if !errors.As(err, &d) || d.Code != 4321 || d.Reason != "bye" {
		t.Fatalf("handler's send after the close: %v, want a disconnect 4321 \"bye\"", err)
	}
}

// TestReadingOrder sends numbered messages while the handler receives
// with pauses now and then longer than the reading goroutine waits, so
// that some messages are read by it and handed over, and others by the
// receive method itself: all must arrive once, in order.
func TestReadingOrder(t *testing.T) {
	const n = 300
	_, srv, _ := serve(t, server.Options{}, func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		var buf []byte
		for i := range n {
			if i%50 == 25 {
				time.Sleep(30 * time.Millisecond)
			}
			var (
				got []byte
				err error
			)
			if i%3 == 0 {
				_, got, err = ws.Receive()
			} else {
				_, got, err = ws.ReceiveAppend(buf[:0])
				buf = got
			}
			if err != nil {
				return err
			}
			if want := fmt.Sprint(i); string(got) != want {
				return server.Raise(4000, fmt.Sprintf("message %q, want %q", got, want))
			}
		}
		return ws.Close(wsproto.StatusNormalClosure, "in order")
	})
	c := srv.Connect(t, "/ws")
	for i := range n {
		c.SendText(fmt.Sprint(i))
		if i%40 == 0 {
			time.Sleep(12 * time.Millisecond)
		}
	}
	c.ExpectClose(wsproto.StatusNormalClosure, "in order")
}

// TestReadingConcurrentReceivers: three goroutines receive from one
// connection at once; each message goes to exactly one of them. The client
// closes after the last message, which ends every receiver.
func TestReadingConcurrentReceivers(t *testing.T) {
	const n = 600
	verdict := make(chan error, 1)
	_, srv, _ := serve(t, server.Options{}, func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		var (
			mu   sync.Mutex
			seen = make(map[string]int)
			wg   sync.WaitGroup
		)
		for range 3 {
			wg.Go(func() {
				for {
					s, err := ws.ReceiveText()
					if err != nil {
						return
					}
					mu.Lock()
					seen[s]++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		var err error
		for s, k := range seen {
			if k != 1 {
				err = errors.Join(err, fmt.Errorf("message %s received %d times", s, k))
			}
		}
		if len(seen) != n {
			err = errors.Join(err, fmt.Errorf("%d different messages received, want %d", len(seen), n))
		}
		verdict <- err
		return nil
	})
	c := srv.Connect(t, "/ws")
	for i := range n {
		c.SendText(fmt.Sprint(i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), wstest.Timeout)
	defer cancel()
	if err := c.Conn.Close(wsproto.StatusNormalClosure, "done"); err != nil {
		t.Fatalf("close: %v", err)
	}
	select {
	case err := <-verdict:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("the receivers did not end after the close")
	}
}

// TestReadingCloseDuringReceive: while the handler waits in a receive
// method (reading for itself), another goroutine closes. Messages the
// client sends meanwhile are not handed over, the close handshake
// completes, and the receive returns a disconnect.
func TestReadingCloseDuringReceive(t *testing.T) {
	got := make(chan error, 1)
	_, srv, _ := serve(t, server.Options{}, func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		closed := make(chan error, 1)
		time.AfterFunc(20*time.Millisecond, func() {
			closed <- ws.Close(wsproto.StatusGoingAway, "closing")
		})
		msg, err := ws.ReceiveText()
		if err == nil {
			err = fmt.Errorf("received %q after the close", msg)
		}
		got <- err
		if cerr := <-closed; cerr != nil {
			return cerr
		}
		return nil
	})
	c := rawDial(t, srv, "/ws", nil)
	if want, p := closePayload(1001, "closing"), c.expectCloseFrame(); string(p) != string(want) {
		t.Fatalf("close frame %q, want %q", p, want)
	}
	c.write(opText, []byte("too late"))
	c.writeClose(1001, "")
	c.expectEOF()
	var err error
	select {
	case err = <-got:
	case <-time.After(wstest.Timeout):
		t.Fatal("the receive did not return")
	}
	var d *server.Disconnect
	if !errors.As(err, &d) {
		t.Fatalf("receive: %v, want a disconnect", err)
	}
}

// TestReadingProtocolErrorDuringReceive: a protocol error ends the
// connection with 1002, and when the waiting receive returns, the state and
// the context already say so, whether the receive method read the frame
// itself or the reading goroutine did (the handler away past 10 ms first).
func TestReadingProtocolErrorDuringReceive(t *testing.T) {
	for _, c := range []struct {
		name         string
		away, client time.Duration // the handler's pause before receiving; the client's before sending
	}{
		{"receive method reads", 0, 5 * time.Millisecond},
		{"reading goroutine reads", 30 * time.Millisecond, 45 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			type result struct {
				err   error
				state server.State
				ctx   error
			}
			got := make(chan result, 1)
			_, srv, _ := serve(t, server.Options{}, func(ws *server.WebSocket) error {
				if err := ws.Accept(); err != nil {
					return err
				}
				time.Sleep(c.away)
				_, err := ws.ReceiveText()
				got <- result{err, ws.State(), ws.Context().Err()}
				return err
			})
			rc := rawDial(t, srv, "/ws", nil)
			time.Sleep(c.client)
			rc.writeFrame(opText, []byte("unmasked"), false)
			if want, p := closePayload(1002, ""), rc.expectCloseFrame(); len(p) < 2 || string(p[:2]) != string(want[:2]) {
				t.Fatalf("close frame %q, want code 1002", p)
			}
			rc.expectEOF()
			rc.nc.Close()
			r := <-got
			var d *server.Disconnect
			if !errors.As(r.err, &d) || d.Code != wsproto.StatusProtocolError {
				t.Fatalf("receive: %v, want a disconnect 1002", r.err)
			}
			if r.state != server.Disconnected || !errors.Is(r.ctx, context.Canceled) {
				t.Fatalf("after the receive returned: state %v, context %v; want disconnected and cancelled", r.state, r.ctx)
			}
		})
	}
}

// TestReadingKeepaliveWhileMessageWaits: a handler that only sends, and a
// client that sent it one message it never receives. Nothing reads while
// that message waits, so the keepalive cannot see the client's pongs; it
// must not close the live connection with 1011 for that.
func TestReadingKeepaliveWhileMessageWaits(t *testing.T) {
	_, srv, _ := serve(t, server.Options{PingInterval: 100 * time.Millisecond, PongTimeout: 100 * time.Millisecond},
		func(ws *server.WebSocket) error {
			if err := ws.Accept(); err != nil {
				return err
			}
			for {
				if err := ws.SendText("tick"); err != nil {
					return err
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	c := rawDial(t, srv, "/ws", nil)
	c.write(opText, []byte("never received"))
	pings := 0
	for end := time.Now().Add(800 * time.Millisecond); time.Now().Before(end); {
		op, p, err := c.readFrame(time.Second)
		if err != nil {
			t.Fatalf("after %d pings: %v", pings, err)
		}
		switch op {
		case opClose:
			t.Fatalf("closed after %d pings: %q; want the connection kept open", pings, p)
		case opPing:
			pings++
			c.write(opPong, p)
		}
	}
	if pings < 3 {
		t.Fatalf("%d pings in 800 ms at a 100 ms interval, want at least 3", pings)
	}
}

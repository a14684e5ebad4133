package server_test

// Who reads (receive.go): a receive method reads on its own goroutine;
// when none does, the keepalive's ping starts a reader of the
// connection's own (readAhead), which stops at the next data message and
// leaves it for the next receive method; SendOnly reads all the time.
// These tests drive each reader, and the hand-overs between them.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"wsraise/internal/rawpeer"
	"wsraise/server"
	"wsraise/server/wstest"
	"wsraise/wsproto"
)

// awaitPong sends a ping and waits for its pong, skipping other frames
// and answering the server's pings.
func awaitPong(t *testing.T, c *rawpeer.Peer, payload string, within time.Duration) {
	t.Helper()
	c.Send(rawpeer.Ping([]byte(payload)))
	deadline := time.Now().Add(within)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("ping %q: no pong within %v", payload, within)
		}
		f, err := c.ReadFrame(left)
		if err != nil {
			t.Fatalf("ping %q: %v", payload, err)
		}
		switch f.Op {
		case rawpeer.OpPing:
			c.Send(rawpeer.Pong(f.Payload))
		case rawpeer.OpPong:
			if string(f.Payload) != payload {
				t.Fatalf("pong %q, want %q", f.Payload, payload)
			}
			return
		case rawpeer.OpClose:
			t.Fatalf("ping %q: closed with %q", payload, f.Payload)
		}
	}
}

// TestReadingKeepaliveReadsForABusyHandler: a handler that receives once
// and then only sends, without saying so (no SendOnly). Nothing reads
// while it sends, until the keepalive pings: from then on the client's
// pings are answered, and its close is seen, ending the handler's send
// with the client's code. The bound is the ping interval, not a guess.
func TestReadingKeepaliveReadsForABusyHandler(t *testing.T) {
	const interval = 50 * time.Millisecond
	ended := make(chan error, 1)
	_, srv, _ := serve(t, server.Options{PingInterval: interval, PongTimeout: wstest.Timeout}, func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		if _, err := ws.ReceiveText(ws.Context()); err != nil {
			return err
		}
		for {
			if err := ws.SendText(ws.Context(), "tick"); err != nil {
				ended <- err
				return err
			}
			time.Sleep(time.Millisecond)
		}
	})
	c := rawpeer.Dial(t, hostport(srv), "/ws", "")
	c.Send(rawpeer.Text("start"))
	for i := range 3 {
		awaitPong(t, c, fmt.Sprint("ping ", i), interval+time.Second)
	}
	c.Send(rawpeer.Close(4321, "bye"))
	err := within(t, ended, "the handler's send after the close")
	var d *server.Disconnect
	if !errors.As(err, &d) || d.Code != 4321 || d.Reason != "bye" {
		t.Fatalf("handler's send after the close: %v, want a disconnect 4321 \"bye\"", err)
	}
}

// TestSendOnly: a handler that accepts with SendOnly has the client's
// pings answered and sees its close at once (the context ends, a send
// returns the client's code); its receive methods return ErrSendOnly;
// a data message from the client closes with 1008.
func TestSendOnly(t *testing.T) {
	t.Run("pings and close", func(t *testing.T) {
		type result struct{ recv, send error }
		got := make(chan result, 1)
		_, srv, _ := serve(t, server.Options{PingInterval: -1}, func(ws *server.WebSocket) error {
			if err := ws.Accept(server.SendOnly()); err != nil {
				return err
			}
			var r result
			_, r.recv = ws.ReceiveText(ws.Context())
			<-ws.Context().Done()
			r.send = ws.SendText(ws.Context(), "after the end")
			got <- r
			return r.send
		})
		c := rawpeer.Dial(t, hostport(srv), "/ws", "")
		awaitPong(t, c, "hello", wstest.Timeout)
		c.Send(rawpeer.Close(4321, "bye"))
		r := within(t, got, "the handler")
		if !errors.Is(r.recv, server.ErrSendOnly) {
			t.Errorf("receive on a SendOnly connection: %v, want ErrSendOnly", r.recv)
		}
		var d *server.Disconnect
		if !errors.As(r.send, &d) || d.Code != 4321 || d.Reason != "bye" {
			t.Errorf("send after the close: %v, want a disconnect 4321 \"bye\"", r.send)
		}
	})
	t.Run("data message", func(t *testing.T) {
		_, srv, rec := serve(t, server.Options{PingInterval: -1}, func(ws *server.WebSocket) error {
			if err := ws.Accept(server.SendOnly()); err != nil {
				return err
			}
			<-ws.Context().Done()
			return nil
		})
		c := srv.Connect(t, "/ws")
		c.SendText("hello?")
		c.ExpectClose(wsproto.StatusPolicyViolation, "this endpoint does not receive messages")
		e := rec.end(t)
		if e.str("closed_by") != "server" || e.int("code") != 1008 {
			t.Errorf("log %v, want closed by the server with 1008", e.attrs)
		}
	})
}

// TestReadingOrder sends numbered messages while the handler receives
// with pauses now and then longer than the keepalive's interval, so that
// some messages are read ahead and handed over, and others read by the
// receive method itself: all must arrive once, in order.
func TestReadingOrder(t *testing.T) {
	const n = 300
	_, srv, _ := serve(t, server.Options{PingInterval: 10 * time.Millisecond, PongTimeout: wstest.Timeout}, func(ws *server.WebSocket) error {
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
				_, got, err = ws.Receive(ws.Context())
			} else {
				_, got, err = ws.ReceiveAppend(ws.Context(), buf[:0])
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
					s, err := ws.ReceiveText(ws.Context())
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
		msg, err := ws.ReceiveText(ws.Context())
		if err == nil {
			err = fmt.Errorf("received %q after the close", msg)
		}
		got <- err
		if cerr := <-closed; cerr != nil {
			return cerr
		}
		return nil
	})
	c := rawpeer.Dial(t, hostport(srv), "/ws", "")
	if want, p := rawpeer.ClosePayload(1001, "closing"), c.SkipToClose(); string(p) != string(want) {
		t.Fatalf("close frame %q, want %q", p, want)
	}
	c.Send(rawpeer.Text("too late"))
	c.Send(rawpeer.Close(1001, ""))
	c.ExpectEOF()
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
// itself or the keepalive's reader did (the handler away past a ping).
func TestReadingProtocolErrorDuringReceive(t *testing.T) {
	for _, c := range []struct {
		name         string
		away, client time.Duration // the handler's pause before receiving; the client's before sending
	}{
		{"receive method reads", 0, 5 * time.Millisecond},
		{"keepalive's reader reads", 30 * time.Millisecond, 45 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			type result struct {
				err   error
				state server.State
				ctx   error
			}
			got := make(chan result, 1)
			_, srv, _ := serve(t, server.Options{PingInterval: 10 * time.Millisecond, PongTimeout: wstest.Timeout}, func(ws *server.WebSocket) error {
				if err := ws.Accept(); err != nil {
					return err
				}
				time.Sleep(c.away)
				_, err := ws.ReceiveText(ws.Context())
				got <- result{err, ws.State(), ws.Context().Err()}
				return err
			})
			rc := rawpeer.Dial(t, hostport(srv), "/ws", "")
			time.Sleep(c.client)
			rc.Write(rawpeer.Text("unmasked").Encode())
			if want, p := rawpeer.ClosePayload(1002, ""), rc.SkipToClose(); len(p) < 2 || string(p[:2]) != string(want[:2]) {
				t.Fatalf("close frame %q, want code 1002", p)
			}
			rc.ExpectEOF()
			rc.Conn.Close()
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

// TestReadingMessageNotReceived: a handler that only sends, without
// saying so, and a client that sent it one message. The keepalive reads
// it ahead; nothing reads while it waits, so no pong can be seen; after
// PongTimeout the connection closes with 1011, and the log says that the
// handler did not receive. A handler that takes the message within
// PongTimeout keeps its connection.
func TestReadingMessageNotReceived(t *testing.T) {
	const interval, timeout = 50 * time.Millisecond, 300 * time.Millisecond
	t.Run("never received", func(t *testing.T) {
		_, srv, rec := serve(t, server.Options{PingInterval: interval, PongTimeout: timeout},
			func(ws *server.WebSocket) error {
				if err := ws.Accept(); err != nil {
					return err
				}
				for {
					if err := ws.SendText(ws.Context(), "tick"); err != nil {
						return err
					}
					time.Sleep(5 * time.Millisecond)
				}
			})
		c := srv.Connect(t, "/ws")
		c.SendText("never received")
		start := time.Now()
		c.ExpectClose(wsproto.StatusInternalError, "message not received")
		if d := time.Since(start); d < timeout {
			t.Errorf("closed after %v, before the message could have waited PongTimeout (%v)", d, timeout)
		}
		e := rec.end(t)
		if e.level != slog.LevelWarn || !strings.Contains(e.str("note"), "did not receive") {
			t.Errorf("log %v %v, want a warning that the handler did not receive", e.level, e.attrs)
		}
	})
	t.Run("received in time", func(t *testing.T) {
		_, srv, _ := serve(t, server.Options{PingInterval: interval, PongTimeout: timeout},
			func(ws *server.WebSocket) error {
				if err := ws.Accept(); err != nil {
					return err
				}
				time.Sleep(2 * interval) // the keepalive reads ahead meanwhile
				msg, err := ws.ReceiveText(ws.Context())
				if err != nil {
					return err
				}
				if err := ws.SendText(ws.Context(), "got "+msg); err != nil {
					return err
				}
				_, err = ws.ReceiveText(ws.Context()) // until the client closes
				return err
			})
		c := srv.Connect(t, "/ws")
		c.SendText("hello")
		if got := c.ReceiveText(); got != "got hello" {
			t.Fatalf("%q, want \"got hello\"", got)
		}
		// Several keepalive rounds, answered: the connection stays.
		ctx, cancel := context.WithTimeout(context.Background(), 3*timeout)
		defer cancel()
		if _, _, err := c.Conn.Read(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("read: %v, want the connection still open", err)
		}
		c.Conn.Close(wsproto.StatusNormalClosure, "")
	})
}

// A ping's readAhead stops at the data message the peer sent before its
// pong. Once a receive takes that message, nothing reads the pong: a
// handler that then works for longer than PongTimeout before its next
// receive is closed with 1011 "keepalive ping timeout", though the peer
// answered the ping at once.
func TestReadingPongBehindATakenMessage(t *testing.T) {
	proceed := make(chan struct{})
	taken := make(chan struct{})
	worked := make(chan struct{})
	_, srv, _ := serve(t, server.Options{PingInterval: 50 * time.Millisecond, PongTimeout: 300 * time.Millisecond},
		func(ws *server.WebSocket) error {
			if err := ws.Accept(); err != nil {
				return err
			}
			<-proceed
			a, err := ws.ReceiveText(ws.Context()) // parked by readAhead
			if err != nil {
				return err
			}
			close(taken)
			time.Sleep(600 * time.Millisecond) // work, not receiving
			close(worked)
			b, err := ws.ReceiveText(ws.Context())
			if err != nil {
				return err
			}
			return ws.Close(wsproto.StatusNormalClosure, "got "+a+b)
		})
	c := rawpeer.Dial(t, hostport(srv), "/ws", "")
	f, err := c.ReadFrame(wstest.Timeout)
	if err != nil || f.Op != rawpeer.OpPing {
		t.Fatalf("first frame %v %v, want a ping", f.Op, err)
	}
	// A message, then the pong: readAhead parks the message and stops.
	c.Send(rawpeer.Text("a"), rawpeer.Pong(f.Payload))
	time.Sleep(50 * time.Millisecond)
	close(proceed)
	within(t, taken, "the handler to take the parked message")
	// From here the client answers every ping at once, and sends "b"
	// once the handler has done its work (a message waiting longer than
	// PongTimeout would close the connection, by design).
	type read struct {
		f   rawpeer.Frame
		err error
	}
	frames := make(chan read, 16)
	go func() {
		for {
			f, err := c.ReadFrame(wstest.Timeout)
			frames <- read{f, err}
			if err != nil || f.Op == rawpeer.OpClose {
				return
			}
		}
	}()
	for {
		var r read
		select {
		case <-worked:
			c.Send(rawpeer.Text("b"))
			worked = nil
			continue
		case r = <-frames:
		}
		if r.err != nil {
			t.Fatalf("waiting for the close: %v", r.err)
		}
		switch r.f.Op {
		case rawpeer.OpPing:
			c.Send(rawpeer.Pong(r.f.Payload))
		case rawpeer.OpClose:
			if want := rawpeer.ClosePayload(1000, "got ab"); string(r.f.Payload) != string(want) {
				t.Errorf("close frame %q, want %q: the pong was answered at once", r.f.Payload, want)
			}
			code := uint16(1000)
			if len(r.f.Payload) >= 2 {
				code = uint16(r.f.Payload[0])<<8 | uint16(r.f.Payload[1])
			}
			c.Send(rawpeer.Close(code, ""))
			c.ExpectEOF()
			return
		default:
			t.Fatalf("frame %#x", r.f.Op)
		}
	}
}

// Close, while a receive reads, leaves the peer's close frame to that
// receive (wsproto's Conn.Close waits for the reader to reach it). If the
// receive's ctx then ends, the receive returns and nothing reads any more:
// Close waits the whole CloseTimeout and returns a 1006 disconnect, though
// the peer answered the close frame at once.
func TestReadingCloseAfterAnInterruptedReceive(t *testing.T) {
	type result struct {
		recvErr, closeErr error
		took              time.Duration
	}
	closeSent := make(chan struct{})
	results := make(chan result, 1)
	_, srv, _ := serve(t, server.Options{PingInterval: -1, CloseTimeout: 2 * time.Second},
		func(ws *server.WebSocket) error {
			if err := ws.Accept(); err != nil {
				return err
			}
			ctx, cancel := context.WithCancel(context.Background())
			recvDone := make(chan error, 1)
			go func() {
				_, _, err := ws.Receive(ctx)
				recvDone <- err
			}()
			time.Sleep(100 * time.Millisecond) // the receive waits on the socket
			closeDone := make(chan error, 1)
			start := time.Now()
			go func() { closeDone <- ws.Close(wsproto.StatusNormalClosure, "bye") }()
			<-closeSent
			cancel()
			var r result
			r.recvErr = <-recvDone
			r.closeErr = <-closeDone
			r.took = time.Since(start)
			results <- r
			return nil
		})
	c := rawpeer.Dial(t, hostport(srv), "/ws", "")
	if code, reason := c.ReadClose(); code != 1000 || reason != "bye" {
		t.Fatalf("close %d %q, want 1000 \"bye\"", code, reason)
	}
	close(closeSent)
	time.Sleep(100 * time.Millisecond) // the receive returns ctx's error
	c.Send(rawpeer.Close(1000, ""))
	c.ExpectEOF()
	r := within(t, results, "the handler")
	t.Logf("receive %v; close %v after %v", r.recvErr, r.closeErr, r.took)
	if !errors.Is(r.recvErr, context.Canceled) {
		t.Errorf("receive: %v, want context.Canceled", r.recvErr)
	}
	if r.closeErr != nil || r.took > time.Second {
		t.Errorf("Close returned %v after %v; the peer answered within 100ms", r.closeErr, r.took)
	}
}

// CloseContext whose ctx ends while the close frame waits behind a send
// blocked on a peer that does not read: the AfterFunc cuts the
// connection, sendClose then finds it ended and returns ErrClosed, which
// close() takes for "the peer was first" and returns nil. The doc says
// ctx's error is returned; the handler believes the close went out.
func TestCloseContextCutReturnsItsError(t *testing.T) {
	errs := make(chan error, 1)
	_, srv, _ := serve(t, server.Options{PingInterval: -1, CloseTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second},
		func(ws *server.WebSocket) error {
			if err := ws.Accept(); err != nil {
				return err
			}
			go ws.SendBytes(context.Background(), make([]byte, 32<<20)) // the peer never reads
			time.Sleep(300 * time.Millisecond)
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			errs <- ws.CloseContext(ctx, wsproto.StatusNormalClosure, "bye")
			return nil
		})
	c := rawpeer.Dial(t, hostport(srv), "/ws", "")
	defer c.Conn.Close()
	err := within(t, errs, "CloseContext")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("CloseContext: %v, want context.DeadlineExceeded (the connection was cut)", err)
	}
}

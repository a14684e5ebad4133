package server_test

// Tests written in review: each demonstrates a finding about reading,
// keepalive and closing under concurrency.

import (
	"context"
	"errors"
	"testing"
	"time"

	"wsraise/internal/rawpeer"
	"wsraise/server"
	"wsraise/server/wstest"
	"wsraise/wsproto"
)

// A ping's readAhead stops at the data message the peer sent before its
// pong. Once a receive takes that message, nothing reads the pong: a
// handler that then works for longer than PongTimeout before its next
// receive is closed with 1011 "keepalive ping timeout", though the peer
// answered the ping at once.
func TestReviewPongBehindTakenParkedMessage(t *testing.T) {
	proceed := make(chan struct{})
	taken := make(chan struct{})
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
	c.Send(rawpeer.Text("b"))
	for {
		f, err := c.ReadFrame(wstest.Timeout)
		if err != nil {
			t.Fatalf("waiting for the close: %v", err)
		}
		switch f.Op {
		case rawpeer.OpPing:
			c.Send(rawpeer.Pong(f.Payload))
			continue
		case rawpeer.OpClose:
			if want := rawpeer.ClosePayload(1000, "got ab"); string(f.Payload) != string(want) {
				t.Errorf("close frame %q, want %q: the pong was answered at once", f.Payload, want)
			}
			code, _ := uint16(0), ""
			if len(f.Payload) >= 2 {
				code = uint16(f.Payload[0])<<8 | uint16(f.Payload[1])
			}
			c.Send(rawpeer.Close(code, ""))
			c.ExpectEOF()
			return
		default:
			t.Fatalf("frame %#x", f.Op)
		}
	}
}

// Close, while a receive reads, leaves the peer's close frame to that
// receive (wsproto's Conn.Close waits for the reader to reach it). If the
// receive's ctx then ends, the receive returns and nothing reads any more:
// Close waits the whole CloseTimeout and returns a 1006 disconnect, though
// the peer answered the close frame at once.
func TestReviewCloseAfterInterruptedReceive(t *testing.T) {
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
func TestReviewCloseContextCutReturnsCtxError(t *testing.T) {
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

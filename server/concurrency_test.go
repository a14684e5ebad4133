package server_test

// Concurrency: many senders on one WebSocket, shutdown while handlers are
// busy, and an exception raised while a send is blocked on a slow peer.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"wsraise/internal/rawpeer"
	"wsraise/server"
	"wsraise/server/wstest"
	"wsraise/wsproto"
)

// sequences checks "g:i" messages: each goroutine g's messages must
// arrive in order, without gaps. It counts them per g.
type sequences map[int]int

func (s sequences) add(msg string) error {
	gs, is, ok := strings.Cut(msg, ":")
	g, err1 := strconv.Atoi(gs)
	i, err2 := strconv.Atoi(is)
	if !ok || err1 != nil || err2 != nil {
		return fmt.Errorf("message %q", msg)
	}
	if i != s[g] {
		return fmt.Errorf("goroutine %d: message %d after %d", g, i, s[g])
	}
	s[g]++
	return nil
}

func TestConcurrentSendersAndReceiver(t *testing.T) {
	const senders, perSender, fromClient = 16, 200, 500
	received := make(chan int, 1)
	_, srv, rec := serve(t, server.Options{}, func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		var wg sync.WaitGroup
		errs := make(chan error, senders)
		for g := range senders {
			wg.Go(func() {
				for i := range perSender {
					var err error
					if i%2 == 0 {
						err = ws.SendText(ws.Context(), fmt.Sprintf("%d:%d", g, i))
					} else {
						err = ws.SendBytes(ws.Context(), fmt.Appendf(nil, "%d:%d", g, i))
					}
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		// Meanwhile, receive what the client sends, in order.
		n := 0
		var recvErr error
		for ; n < fromClient; n++ {
			msg, err := ws.ReceiveText(ws.Context())
			if err != nil {
				recvErr = err
				break
			}
			if msg != strconv.Itoa(n) {
				recvErr = fmt.Errorf("message %d is %q", n, msg)
				break
			}
		}
		wg.Wait()
		close(errs)
		received <- n
		if err := errors.Join(recvErr, <-errs); err != nil {
			return err
		}
		return ws.Close(wsproto.StatusNormalClosure, "done")
	})
	c := srv.Connect(t, "/ws")
	writeErr := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), wstest.Timeout)
		defer cancel()
		for i := range fromClient {
			if err := c.Conn.Write(ctx, wsproto.MessageText, []byte(strconv.Itoa(i))); err != nil {
				writeErr <- err
				return
			}
		}
		writeErr <- nil
	}()
	seq := sequences{}
	total := 0
	for {
		_, p, err := c.Receive()
		if err != nil {
			var ce *wsproto.CloseError
			if !errors.As(err, &ce) || !ce.Received || ce.Code != 1000 || ce.Reason != "done" {
				t.Fatalf("after %d messages: %v, want close 1000 \"done\"", total, err)
			}
			break
		}
		if err := seq.add(string(p)); err != nil {
			t.Fatal(err)
		}
		total++
	}
	if err := within(t, writeErr, "the client's writes"); err != nil {
		t.Errorf("client write: %v", err)
	}
	if total != senders*perSender || len(seq) != senders {
		t.Errorf("received %d messages from %d goroutines, want %d from %d", total, len(seq), senders*perSender, senders)
	}
	if n := within(t, received, "the handler"); n != fromClient {
		t.Errorf("handler received %d messages, want %d", n, fromClient)
	}
	checkLog(t, rec.end(t), slog.LevelInfo, "server", 1000, "done")
}

func TestShutdownWhileSending(t *testing.T) {
	const clients, senders = 6, 4
	type report struct {
		sent int
		errs []error
	}
	reports := make(chan report, clients)
	app, srv, rec := serve(t, server.Options{}, func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var r report
		for g := range senders {
			wg.Go(func() {
				for i := 0; ; i++ {
					if err := ws.SendText(ws.Context(), fmt.Sprintf("%d:%d", g, i)); err != nil {
						mu.Lock()
						r.sent += i
						r.errs = append(r.errs, err)
						mu.Unlock()
						return
					}
				}
			})
		}
		wg.Wait()
		reports <- r
		return r.errs[0]
	})

	var wg sync.WaitGroup
	started := make(chan struct{}, clients)
	results := make(chan int, clients)
	for range clients {
		c := srv.Connect(t, "/ws")
		wg.Go(func() {
			seq := sequences{}
			total := 0
			for {
				_, p, err := c.Receive()
				if err != nil {
					var ce *wsproto.CloseError
					if !errors.As(err, &ce) || !ce.Received || ce.Code != 1001 || ce.Reason != "server shutting down" {
						t.Errorf("after %d messages: %v, want close 1001", total, err)
					}
					results <- total
					return
				}
				if err := seq.add(string(p)); err != nil {
					t.Error(err)
					c.Conn.CloseNow()
				}
				if total++; total == 50 {
					started <- struct{}{}
				}
			}
		})
	}
	for range clients {
		within(t, started, "the clients' first messages")
	}
	done := shutdownAsync(app, wstest.Timeout)
	wg.Wait()
	if err := within(t, done, "Shutdown"); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	var sent, got int
	for range clients {
		r := within(t, reports, "the handlers")
		sent += r.sent
		for _, err := range r.errs {
			var d *server.Disconnect
			if !errors.As(err, &d) || d.Code != 1001 || d.ByPeer {
				t.Errorf("a sender got %v, want a disconnect 1001 by the server", err)
			}
		}
		got += <-results
	}
	// Every send that returned nil arrived before the close frame.
	if sent != got {
		t.Errorf("handlers sent %d messages, clients received %d", sent, got)
	}
	for range clients {
		checkLog(t, rec.next(t), slog.LevelInfo, "server", 1001, "server shutting down")
	}
}

// An exception raised while another goroutine's send is blocked on a peer
// that stopped reading must still end the connection, within the write
// timeout rather than the close timeout.
func TestRaiseWhileSendBlocked(t *testing.T) {
	const writeTimeout = 300 * time.Millisecond
	raise := make(chan struct{})
	sendErr := make(chan error, 1)
	_, srv, rec := serve(t, server.Options{
		WriteTimeout: writeTimeout,
		CloseTimeout: time.Minute,
		PingInterval: -1,
	}, func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		// Larger than any socket buffer: it cannot complete unless the
		// peer reads.
		go func() { sendErr <- ws.SendBytes(ws.Context(), make([]byte, 64<<20)) }()
		select {
		case <-raise:
		case <-time.After(wstest.Timeout):
			return errors.New("never told to raise")
		}
		return server.Raise(wsproto.StatusPolicyViolation, "stop")
	})
	c := rawpeer.Dial(t, hostport(srv), "/ws", "")
	// The first bytes of the big frame: the send is under way, and holds
	// the connection's writer. Then read no more.
	var h [2]byte
	c.Conn.SetReadDeadline(time.Now().Add(wstest.Timeout))
	if _, err := c.R.Read(h[:1]); err != nil || h[0] != 0x82 {
		t.Fatalf("first byte %#x, %v; want the header of a binary frame", h[0], err)
	}
	start := time.Now()
	close(raise)
	e := rec.end(t)
	if elapsed := time.Since(start); elapsed > 10*writeTimeout+2*time.Second {
		t.Errorf("the connection ended %v after the raise; write timeout %v", elapsed, writeTimeout)
	}
	// Nothing could follow the cut-off frame: the client sees no close.
	checkLog(t, e, slog.LevelInfo, "none", 1006, "")
	var d *server.Disconnect
	if err := within(t, sendErr, "the blocked send"); !errors.As(err, &d) || d.Code != wsproto.StatusAbnormalClosure {
		t.Errorf("blocked send returned %v, want a disconnect 1006", err)
	}
}

// An exception raised while another goroutine of the handler waits in
// Receive: the client gets the close, and the receiver a disconnect.
func TestRaiseWhileReceiving(t *testing.T) {
	recvErr := make(chan error, 1)
	receiving := make(chan struct{})
	_, srv, rec := serve(t, server.Options{}, func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		go func() {
			msg, err := ws.ReceiveText(ws.Context())
			if err == nil && msg == "hello" {
				close(receiving)
				_, err = ws.ReceiveText(ws.Context())
			}
			recvErr <- err
		}()
		select {
		case <-receiving:
		case <-time.After(wstest.Timeout):
			return errors.New("no first message")
		}
		return server.Raise(4000, "raised")
	})
	c := srv.Connect(t, "/ws")
	c.SendText("hello")
	c.ExpectClose(4000, "raised")
	var d *server.Disconnect
	if err := within(t, recvErr, "the receiver"); !errors.As(err, &d) || d.Code != 4000 || d.ByPeer {
		t.Errorf("receiver got %v, want a disconnect 4000 by the server", err)
	}
	checkLog(t, rec.end(t), slog.LevelInfo, "server", 4000, "raised")
}

// Shutdown racing with handshakes: every client is either refused with 503
// or accepted and then closed with 1001; nothing hangs or panics.
func TestShutdownDuringHandshakes(t *testing.T) {
	const clients = 30
	app, srv, _ := serve(t, server.Options{}, func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		_, _, err := ws.Receive(ws.Context())
		return err
	})
	var wg sync.WaitGroup
	go1 := make(chan struct{})
	for range clients {
		wg.Go(func() {
			<-go1
			c, err := srv.Dial(t, "/ws", nil)
			if err != nil {
				var he *wsproto.HandshakeError
				if !errors.As(err, &he) || he.Status != 503 {
					t.Errorf("dial: %v, want success or 503", err)
				}
				return
			}
			code, reason := c.Closed()
			if code != 1001 || reason != "server shutting down" {
				t.Errorf("closed with %v %q, want 1001", code, reason)
			}
		})
	}
	close(go1)
	done := shutdownAsync(app, wstest.Timeout)
	if err := within(t, done, "Shutdown"); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	wg.Wait()
}

// Shutdown whose context has already ended, racing with handshakes: it
// closes at once what is open, including connections whose handshake is
// half done, without a data race or a nil dereference.
func TestShutdownCancelledDuringHandshakes(t *testing.T) {
	for range 40 {
		app, srv, _ := serve(t, server.Options{}, func(ws *server.WebSocket) error {
			if err := ws.Accept(); err != nil {
				return err
			}
			_, _, err := ws.Receive(ws.Context())
			return err
		})
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				c, err := srv.Dial(t, "/ws", nil)
				if err != nil {
					var he *wsproto.HandshakeError
					if !errors.As(err, &he) || he.Status != 503 {
						t.Errorf("dial: %v, want success or 503", err)
					}
					return
				}
				// The server ends the connection: by a close frame, or at
				// once when Shutdown's context has ended.
				c.Closed()
			})
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := app.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Shutdown: %v", err)
		}
		wg.Wait()
	}
}

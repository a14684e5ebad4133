package wsproto

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"wsraise/internal/rawpeer"
)

// TestCloseAfterStaleWriteDeadline: a write deadline left on the socket by
// an earlier write (a pong bounded by boundReplyLocked, a Write whose
// context had a deadline) must not make a later close frame fail: the
// peer is owed the close code, not a 1006.
func TestCloseAfterStaleWriteDeadline(t *testing.T) {
	const short = 100 * time.Millisecond
	for _, tc := range []struct {
		name  string
		stale func(t *testing.T, server, client *Conn)
	}{
		{"after a pong", func(t *testing.T, server, client *Conn) {
			ctx := ctCtx(t)
			pong := make(chan struct{}, 1)
			client.onPong = func([]byte) { pong <- struct{}{} }
			sr := ctReadAsync(ctx, server)
			cr := ctReadAsync(ctx, client)
			if err := client.Ping(ctx, []byte("p")); err != nil {
				t.Fatal(err)
			}
			select {
			case <-pong:
			case <-time.After(ctTimeout):
				t.Fatal("no pong")
			}
			// The readers stay blocked; the close frames end them.
			t.Cleanup(func() { ctWait(t, sr); ctWait(t, cr) })
		}},
		{"after a Write under the write timeout", func(t *testing.T, server, client *Conn) {
			server.wdl.timeout = short // UpgradeOptions.WriteTimeout, as the server package sets it
			if err := server.Write(context.Background(), MessageText, []byte("hi")); err != nil {
				t.Fatal(err)
			}
			if _, p, err := client.Read(ctCtx(t)); err != nil || string(p) != "hi" {
				t.Fatalf("client read %q, %v", p, err)
			}
		}},
		{"after a Write with a deadline", func(t *testing.T, server, client *Conn) {
			ctx, cancel := context.WithTimeout(context.Background(), short)
			defer cancel()
			if err := server.Write(ctx, MessageText, []byte("hi")); err != nil {
				t.Fatal(err)
			}
			if _, p, err := client.Read(ctCtx(t)); err != nil || string(p) != "hi" {
				t.Fatalf("client read %q, %v", p, err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			server, client := ctPair(t, &UpgradeOptions{CloseTimeout: short}, nil)
			tc.stale(t, server, client)
			time.Sleep(3 * short) // the deadline left behind passes
			cr := ctReadAsync(ctCtx(t), client)
			if err := server.Close(StatusNormalClosure, "bye"); err != nil && err != ErrClosed {
				t.Logf("server Close: %v", err)
			}
			r := ctWait(t, cr)
			ctCloseErr(t, "client", r.err, StatusNormalClosure, "bye", true)
		})
	}
}

// TestCloseBehindBlockedWrite: a data write with no deadline, blocked on
// a peer that does not read, holds the write lock; when the peer then
// sends a close frame, the echo cannot go out, and the connection is
// closed after the close timeout instead of holding the reader and the
// writer forever.
func TestCloseBehindBlockedWrite(t *testing.T) {
	server, rp := ctRawClient(t, &UpgradeOptions{CloseTimeout: 300 * time.Millisecond})
	var written atomic.Int64
	writeErr := make(chan error, 1)
	go func() {
		msg := make([]byte, 1<<20)
		for {
			if err := server.Write(context.Background(), MessageBinary, msg); err != nil {
				writeErr <- err
				return
			}
			written.Add(1)
		}
	}()
	// Wait for the write to block: the client never reads.
	for last := int64(-1); ; {
		time.Sleep(200 * time.Millisecond)
		n := written.Load()
		if n == last {
			break
		}
		last = n
	}
	readErr := make(chan error, 1)
	go func() {
		_, _, err := server.Read(context.Background())
		readErr <- err
	}()
	rp.Conn.Write(rawpeer.Frame{Fin: true, Op: rawpeer.OpClose, Payload: []byte{0x03, 0xe8}}.Mask().Encode())
	for name, ch := range map[string]chan error{"Read": readErr, "Write": writeErr} {
		select {
		case err := <-ch:
			if err == nil {
				t.Errorf("%s returned nil", name)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s still blocked 5s after the peer's close (close timeout 300ms)", name)
		}
	}
}

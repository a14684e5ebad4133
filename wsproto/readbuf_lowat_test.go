//go:build linux && !purego

package wsproto

import (
	"bytes"
	"context"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"wsraise/internal/rawpeer"
)

// TestLowatLargeFrame: the reader's raised SO_RCVLOWAT (readbuf_lowat_linux.go)
// never holds back what it must not. A 512 KiB frame sent in pieces with
// pauses arrives whole; a small message right after it arrives at once
// (the threshold is back to 1 for the next wait, checked on the socket);
// a frame cut by the peer's FIN ends with 1006 at once; a frame the peer
// stops sending ends at the read deadline, and the connection goes on.
func TestLowatLargeFrame(t *testing.T) {
	big := ctPattern(7, 512<<10)
	frame := rawpeer.Binary(big).Mask().Encode()
	sockLowat := func(c *Conn) int {
		sc, err := c.nc.(*net.TCPConn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var v int
		var gerr error
		sc.Control(func(fd uintptr) { v, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT) })
		if gerr != nil {
			t.Fatal(gerr)
		}
		return v
	}

	t.Run("pieces, then a small message", func(t *testing.T) {
		server, rp := ctRawClient(t, nil)
		go func() {
			for p := frame; len(p) > 0; {
				k := min(len(p), 40<<10)
				rp.Conn.Write(p[:k])
				p = p[k:]
				time.Sleep(15 * time.Millisecond)
			}
			time.Sleep(50 * time.Millisecond)
			rp.Conn.Write(rawpeer.Text("small").Mask().Encode())
		}()
		ctx := ctCtx(t)
		if _, p, err := server.Read(ctx); err != nil || !bytes.Equal(p, big) {
			t.Fatalf("read %d bytes, %v; want the 512 KiB message", len(p), err)
		}
		small, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if _, p, err := server.Read(small); err != nil || string(p) != "small" {
			t.Fatalf("the small message after it: %q, %v", p, err)
		}
		// A read waiting for the next message waits for any byte.
		done := make(chan struct{})
		go func() {
			server.Read(ctx)
			close(done)
		}()
		time.Sleep(50 * time.Millisecond)
		if v := sockLowat(server); v > 1 {
			t.Errorf("SO_RCVLOWAT %d while waiting for a header, want 1 (or 0, the default on some kernels)", v)
		}
		rp.Conn.Close()
		<-done
	})

	// A receive buffer the application fixed (SO_RCVBUF locks it) far
	// below the threshold: Linux then reports the socket readable when
	// its window is nearly closed, so the reader still wakes.
	t.Run("small fixed receive buffer", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		accepted := make(chan net.Conn, 1)
		go func() {
			nc, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			nc.(*net.TCPConn).SetReadBuffer(32 << 10)
			accepted <- nc
		}()
		client, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		nc := <-accepted
		if nc == nil {
			t.Fatal("accept failed")
		}
		server := newConn(nc, nil, true, config{})
		defer server.CloseNow()
		go client.Write(frame)
		if _, p, err := server.Read(ctCtx(t)); err != nil || !bytes.Equal(p, big) {
			t.Fatalf("read %d bytes, %v; want the 512 KiB message", len(p), err)
		}
	})

	t.Run("FIN inside the frame", func(t *testing.T) {
		server, rp := ctRawClient(t, nil)
		rp.Conn.Write(frame[:100<<10])
		go func() {
			time.Sleep(100 * time.Millisecond)
			rp.Conn.(*net.TCPConn).CloseWrite()
		}()
		start := time.Now()
		_, _, err := server.Read(ctCtx(t))
		var ce *CloseError
		if !errors.As(err, &ce) || ce.Code != StatusAbnormalClosure {
			t.Fatalf("read %v, want 1006", err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("1006 after %v", took)
		}
	})

	t.Run("peer stops inside the frame", func(t *testing.T) {
		server, rp := ctRawClient(t, nil)
		rp.Conn.Write(frame[:100<<10])
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, _, err := server.Read(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("read %v, want the deadline", err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("deadline after %v", took)
		}
		// The rest of the message is skipped; the next one is read.
		rp.Conn.Write(frame[100<<10:])
		rp.Conn.Write(rawpeer.Text("next").Mask().Encode())
		if _, p, err := server.Read(ctCtx(t)); err != nil || string(p) != "next" {
			t.Fatalf("after the interrupted message: %q, %v", p, err)
		}
	})
}

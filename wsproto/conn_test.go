package wsproto

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"wsraise/internal/race"
	"wsraise/internal/rawpeer"
)

// ctTimeout bounds every wait in these tests; it is never how they
// synchronise.
const ctTimeout = 20 * time.Second

func ctCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), ctTimeout)
	t.Cleanup(cancel)
	return ctx
}

// ctPair connects a client and a server Conn over loopback TCP through
// httptest, Upgrade and Dial.
func ctPair(t *testing.T, uopts *UpgradeOptions, dopts *DialOptions) (server, client *Conn) {
	t.Helper()
	srv, conns, errs := hsServer(t, uopts)
	ctx, cancel := context.WithTimeout(context.Background(), ctTimeout)
	defer cancel()
	client, _, err := Dial(ctx, hsURL(srv), dopts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.CloseNow() })
	return hsRecvConn(t, conns, errs), client
}

// ctRawClient connects a raw client (internal/rawpeer), offering the
// given extensions, to a server Conn upgraded with uopts: the test speaks
// the protocol itself through p.
func ctRawClient(t *testing.T, uopts *UpgradeOptions, ext ...string) (server *Conn, p *rawpeer.Peer) {
	t.Helper()
	srv, conns, errs := hsServer(t, uopts)
	var extra string
	for _, e := range ext {
		extra += "Sec-WebSocket-Extensions: " + e + "\r\n"
	}
	p = rawpeer.Dial(t, srv.Listener.Addr().String(), "/", extra)
	p.Conn.SetDeadline(time.Now().Add(ctTimeout)) // a bound on failures only
	return hsRecvConn(t, conns, errs), p
}

// ctRead reads a message in another goroutine, so that the test can act
// while it waits.
type ctResult struct {
	typ MessageType
	p   []byte
	err error
}

func ctReadAsync(ctx context.Context, c *Conn) <-chan ctResult {
	ch := make(chan ctResult, 1)
	go func() {
		typ, p, err := c.Read(ctx)
		ch <- ctResult{typ, p, err}
	}()
	return ch
}

func ctWait(t *testing.T, ch <-chan ctResult) ctResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(ctTimeout):
		t.Fatal("read did not return")
	}
	return ctResult{}
}

func ctCloseErr(t *testing.T, what string, err error, code StatusCode, reason string, received bool) {
	t.Helper()
	var ce *CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("%s: err = %v (%T), want *CloseError", what, err, err)
	}
	if ce.Code != code || ce.Reason != reason || ce.Received != received {
		t.Fatalf("%s: CloseError{Code: %v, Reason: %q, Received: %v}, want {%v, %q, %v}",
			what, ce.Code, ce.Reason, ce.Received, code, reason, received)
	}
}

func ctDone(t *testing.T, c *Conn) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(ctTimeout):
		t.Fatal("connection not closed")
	}
}

// TestReadLimit: a message over the read limit fails the connection with
// 1009 on the side that reads it; the peer sees the 1009 close frame.
func TestReadLimit(t *testing.T) {
	t.Run("server, one frame", func(t *testing.T) {
		server, client := ctPair(t, nil, nil)
		server.SetReadLimit(100)
		ctx := ctCtx(t)
		if err := client.Write(ctx, MessageBinary, make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
		if _, p, err := server.Read(ctx); err != nil || len(p) != 100 {
			t.Fatalf("message at the limit: %d bytes, %v", len(p), err)
		}
		cr := ctReadAsync(ctx, client)
		if err := client.Write(ctx, MessageBinary, make([]byte, 101)); err != nil {
			t.Fatal(err)
		}
		_, _, err := server.Read(ctx)
		ctCloseErr(t, "server", err, StatusMessageTooBig, "message too big", false)
		ctCloseErr(t, "client", ctWait(t, cr).err, StatusMessageTooBig, "message too big", true)
		ctDone(t, server)
		ctDone(t, client)
		if e := server.Err(); e == nil || e.Code != StatusMessageTooBig {
			t.Fatalf("server Err() = %v", e)
		}
	})
	t.Run("server, fragments add up", func(t *testing.T) {
		server, client := ctPair(t, &UpgradeOptions{ReadLimit: 6000}, nil)
		ctx := ctCtx(t)
		cr := ctReadAsync(ctx, client)
		w, err := client.Writer(ctx, MessageBinary)
		if err != nil {
			t.Fatal(err)
		}
		// Each Write over the buffer size goes out as its own fragment.
		w.Write(make([]byte, 5000))
		w.Write(make([]byte, 5000))
		w.Close()
		_, _, err = server.Read(ctx)
		ctCloseErr(t, "server", err, StatusMessageTooBig, "message too big", false)
		ctCloseErr(t, "client", ctWait(t, cr).err, StatusMessageTooBig, "message too big", true)
	})
	t.Run("client", func(t *testing.T) {
		server, client := ctPair(t, nil, &DialOptions{ReadLimit: 10})
		ctx := ctCtx(t)
		sr := ctReadAsync(ctx, server)
		if err := server.Write(ctx, MessageText, []byte("0123456789a")); err != nil {
			t.Fatal(err)
		}
		_, _, err := client.Read(ctx)
		ctCloseErr(t, "client", err, StatusMessageTooBig, "message too big", false)
		ctCloseErr(t, "server", ctWait(t, sr).err, StatusMessageTooBig, "message too big", true)
	})
}

func ctPattern(seed, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(seed*31 + i*7 + i>>8)
	}
	return b
}

func ctText(g, m int) string {
	return fmt.Sprintf("g%02d m%03d ", g, m) + strings.Repeat(string(rune('a'+g)), (g*97+m*31)%3000)
}

// TestConcurrentWrites: 16 goroutines write while a streamed message is
// open; it goes out first and whole, and every other message arrives
// intact, each goroutine's in its order. Run it with -race.
func TestConcurrentWrites(t *testing.T) {
	const goroutines, perG = 16, 40
	server, client := ctPair(t, nil, nil)
	ctx := ctCtx(t)

	type msg struct {
		typ MessageType
		p   []byte
	}
	got := make(chan []msg, 1)
	go func() {
		var ms []msg
		for len(ms) < goroutines*perG+1 {
			typ, p, err := server.Read(ctx)
			if err != nil {
				t.Errorf("server read %d: %v", len(ms), err)
				break
			}
			ms = append(ms, msg{typ, p})
		}
		got <- ms
	}()

	w, err := client.Writer(ctx, MessageBinary)
	if err != nil {
		t.Fatal(err)
	}
	streamed := ctPattern(1, 3*6000+123)
	if _, err := w.Write(streamed[:6000]); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := 0; m < perG; m++ {
				if err := client.Write(ctx, MessageText, []byte(ctText(g, m))); err != nil {
					t.Errorf("goroutine %d message %d: %v", g, m, err)
					return
				}
				if m%10 == 0 {
					if err := client.Ping(ctx, []byte{byte(g), byte(m)}); err != nil {
						t.Errorf("ping: %v", err)
					}
				}
			}
		}()
	}
	for _, part := range [][]byte{streamed[6000:12000], streamed[12000:18000], streamed[18000:]} {
		if _, err := w.Write(part); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	var ms []msg
	select {
	case ms = <-got:
	case <-time.After(ctTimeout):
		t.Fatal("server did not receive every message")
	}
	if len(ms) != goroutines*perG+1 {
		t.Fatalf("received %d messages", len(ms))
	}
	if ms[0].typ != MessageBinary || !bytes.Equal(ms[0].p, streamed) {
		t.Fatalf("first message: %v, %d bytes; want the streamed one, %d bytes", ms[0].typ, len(ms[0].p), len(streamed))
	}
	next := make([]int, goroutines)
	for i, m := range ms[1:] {
		var g, n int
		if _, err := fmt.Sscanf(string(m.p), "g%02d m%03d ", &g, &n); err != nil || g < 0 || g >= goroutines {
			t.Fatalf("message %d: %.20q: %v", i+1, m.p, err)
		}
		if m.typ != MessageText || n != next[g] || string(m.p) != ctText(g, n) {
			t.Fatalf("message %d: type %v, goroutine %d number %d (want %d), intact %v",
				i+1, m.typ, g, n, next[g], string(m.p) == ctText(g, n))
		}
		next[g]++
	}
}

// TestPingBetweenFragments: a ping sent while a streamed message is open
// goes out between its fragments, as the raw server sees them.
func TestPingBetweenFragments(t *testing.T) {
	frames := make(chan rawpeer.Frame, 16)
	s := rawpeer.Serve(t, func(nc net.Conn, br *bufio.Reader, r *http.Request, done <-chan struct{}) {
		io.WriteString(nc, rawpeer.Response(r, ""))
		for {
			f, err := rawpeer.ReadFrame(br)
			if err != nil {
				close(frames)
				return
			}
			frames <- f
		}
	})
	c, _, err := dtDial(t, s.URL("/ws"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctCtx(t)
	w, err := c.Writer(ctx, MessageBinary)
	if err != nil {
		t.Fatal(err)
	}
	// Over the buffer: sent at once as a fragment, but for its last
	// writerTail bytes, which wait for the final one.
	first := ctPattern(2, 5000)
	if _, err := w.Write(first); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx, []byte("between")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("the end")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	cut := len(first) - writerTail
	want := []struct {
		fin bool
		op  byte
		p   []byte
	}{
		{false, rawpeer.OpBinary, first[:cut]},
		{true, rawpeer.OpPing, []byte("between")},
		{true, rawpeer.OpCont, append(slices.Clone(first[cut:]), "the end"...)},
	}
	for i, wf := range want {
		var f rawpeer.Frame
		select {
		case f = <-frames:
		case <-time.After(ctTimeout):
			t.Fatalf("frame %d did not arrive", i)
		}
		if !f.Masked || f.Fin != wf.fin || f.Op != wf.op || !bytes.Equal(f.Payload, wf.p) {
			t.Fatalf("frame %d: masked %v fin %v op %v %d bytes; want fin %v op %v %d bytes",
				i, f.Masked, f.Fin, f.Op, len(f.Payload), wf.fin, wf.op, len(wf.p))
		}
	}
}

// TestPingInsideMessage: a server reading a fragmented message answers a
// ping that arrives between fragments, and the message stays whole; the
// client sees the pong through OnPong before the echo.
func TestPingInsideMessage(t *testing.T) {
	var pongs []string // appended to by the goroutine reading the client
	server, client := ctPair(t, nil, &DialOptions{OnPong: func(p []byte) { pongs = append(pongs, string(p)) }})
	ctx := ctCtx(t)
	w, _ := client.Writer(ctx, MessageText)
	w.Write([]byte(strings.Repeat("α", 3000))) // 6000 bytes: one fragment
	client.Ping(ctx, []byte("are you there"))
	w.Write([]byte("ω"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	typ, p, err := server.Read(ctx)
	if err != nil || typ != MessageText || string(p) != strings.Repeat("α", 3000)+"ω" {
		t.Fatalf("server read %v %d bytes %v", typ, len(p), err)
	}
	if err := server.Write(ctx, typ, p); err != nil {
		t.Fatal(err)
	}
	typ, q, err := client.Read(ctx)
	if err != nil || !bytes.Equal(p, q) {
		t.Fatalf("echo %v %d bytes %v", typ, len(q), err)
	}
	if len(pongs) != 1 || pongs[0] != "are you there" {
		t.Fatalf("pongs %q", pongs)
	}
}

// TestReadCancelWaiting: a read interrupted while waiting for a message
// returns the context's error and leaves the connection as it was.
func TestReadCancelWaiting(t *testing.T) {
	server, client := ctPair(t, nil, nil)
	bg := ctCtx(t)

	ctx, cancel := context.WithCancel(bg)
	ch := ctReadAsync(ctx, server)
	cancel()
	if r := ctWait(t, ch); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("cancelled Read: %v", r.err)
	}

	ctx, cancel = context.WithTimeout(bg, 50*time.Millisecond)
	defer cancel()
	if _, _, err := server.Read(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read past its deadline: %v", err)
	}
	ctx, cancel = context.WithTimeout(bg, 50*time.Millisecond)
	defer cancel()
	if _, _, err := server.Reader(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Reader past its deadline: %v", err)
	}
	select {
	case <-server.Done():
		t.Fatal("an interrupted read closed the connection")
	default:
	}

	// The old deadline must not linger: Background reads wait as long as
	// needed, here until the client writes.
	ch = ctReadAsync(context.Background(), server)
	if err := client.Write(bg, MessageText, []byte("still here")); err != nil {
		t.Fatal(err)
	}
	if r := ctWait(t, ch); r.err != nil || r.typ != MessageText || string(r.p) != "still here" {
		t.Fatalf("read after cancellations: %v %q %v", r.typ, r.p, r.err)
	}
	if err := server.Write(bg, MessageText, []byte("and writing")); err != nil {
		t.Fatal(err)
	}
	if _, p, err := client.Read(bg); err != nil || string(p) != "and writing" {
		t.Fatalf("client read: %q %v", p, err)
	}
}

// TestReadInterruptedInMessage: a read interrupted in the middle of a
// message returns the error; the next Read skips the rest of that message.
// A read interrupted in a frame header, or in a control frame, consumes
// nothing.
func TestReadInterruptedInMessage(t *testing.T) {
	server, rp := ctRawClient(t, nil)
	bg := ctCtx(t)
	short := func() (context.Context, context.CancelFunc) { return context.WithTimeout(bg, 50*time.Millisecond) }
	send := func(b []byte) {
		t.Helper()
		if _, err := rp.Conn.Write(b); err != nil {
			t.Fatal(err)
		}
	}

	// In the payload.
	f := rawpeer.Binary([]byte("0123456789")).Mask().Encode()
	send(f[:len(f)-6])
	ctx, cancel := short()
	if _, _, err := server.Read(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read in a payload: %v", err)
	}
	cancel()
	send(f[len(f)-6:])
	send(rawpeer.Text("next").Mask().Encode())
	if typ, p, err := server.Read(bg); err != nil || typ != MessageText || string(p) != "next" {
		t.Fatalf("Read after the interrupted one: %v %q %v", typ, p, err)
	}

	// In a fragmented message, between fragments, through Reader.
	send(rawpeer.Fragment(rawpeer.OpText, false, "part one ").Mask().Encode())
	ctx, cancel = short()
	typ, r, err := server.Reader(ctx)
	if err != nil || typ != MessageText {
		t.Fatal(typ, err)
	}
	buf := make([]byte, 100)
	n, err := io.ReadAtLeast(r, buf, 9)
	if err != nil || string(buf[:n]) != "part one " {
		t.Fatalf("first fragment: %q %v", buf[:n], err)
	}
	if _, err := r.Read(buf); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read between fragments: %v", err)
	}
	cancel()
	send(rawpeer.Fragment(rawpeer.OpCont, true, "part two").Mask().Encode())
	send(rawpeer.Binary([]byte{1, 2, 3}).Mask().Encode())
	if typ, p, err := server.Read(bg); err != nil || typ != MessageBinary || !bytes.Equal(p, []byte{1, 2, 3}) {
		t.Fatalf("Read after the interrupted fragmented message: %v %q %v", typ, p, err)
	}

	// In a frame header with an extended length.
	big := ctPattern(3, 300)
	f = rawpeer.Binary(big).Mask().Encode()
	send(f[:3])
	ctx, cancel = short()
	if _, _, err := server.Read(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read in a header: %v", err)
	}
	cancel()
	send(f[3:])
	if _, p, err := server.Read(bg); err != nil || !bytes.Equal(p, big) {
		t.Fatalf("message whose header was interrupted: %d bytes %v", len(p), err)
	}

	// In a ping: it is answered once, whole.
	f = rawpeer.Ping([]byte("ping payload")).Mask().Encode()
	send(f[:len(f)-3])
	ctx, cancel = short()
	if _, _, err := server.Read(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read in a ping: %v", err)
	}
	cancel()
	send(f[len(f)-3:])
	send(rawpeer.Text("after ping").Mask().Encode())
	if _, p, err := server.Read(bg); err != nil || string(p) != "after ping" {
		t.Fatalf("message after the interrupted ping: %q %v", p, err)
	}
	pong := rp.Next()
	if pong.Op != rawpeer.OpPong || pong.Masked || !pong.Fin || string(pong.Payload) != "ping payload" {
		t.Fatalf("pong: op %v masked %v payload %q", pong.Op, pong.Masked, pong.Payload)
	}
}

// TestCloseFromClient: Close performs the closing handshake; the side that
// receives the close frame first sees Received set, the side that sent it
// does not.
func TestCloseFromClient(t *testing.T) {
	for _, clientReading := range []bool{false, true} {
		t.Run(fmt.Sprintf("client reading %v", clientReading), func(t *testing.T) {
			server, client := ctPair(t, nil, nil)
			ctx := ctCtx(t)
			sr := ctReadAsync(ctx, server)
			var cr <-chan ctResult
			if clientReading {
				cr = ctReadAsync(ctx, client)
			}
			if err := client.Close(StatusNormalClosure, "bye"); err != nil {
				t.Fatalf("Close: %v", err)
			}
			ctCloseErr(t, "server read", ctWait(t, sr).err, StatusNormalClosure, "bye", true)
			if clientReading {
				ctCloseErr(t, "client read", ctWait(t, cr).err, StatusNormalClosure, "bye", false)
			}
			ctDone(t, client)
			ctDone(t, server)
			ctCloseErr(t, "client Err", client.Err(), StatusNormalClosure, "bye", false)
			ctCloseErr(t, "server Err", server.Err(), StatusNormalClosure, "bye", true)
			if CloseStatus(client.Err()) != StatusNormalClosure {
				t.Fatal("CloseStatus")
			}

			// Everything after is refused.
			if err := client.Close(StatusNormalClosure, "again"); err != ErrClosed {
				t.Fatalf("second Close: %v", err)
			}
			if err := client.Write(ctx, MessageText, []byte("late")); err == nil {
				t.Fatal("Write after Close succeeded")
			}
			if err := server.Write(ctx, MessageText, []byte("late")); err == nil {
				t.Fatal("server Write after the close handshake succeeded")
			}
			if _, _, err := client.Read(ctx); err == nil {
				t.Fatal("Read after Close succeeded")
			}
			if err := client.CloseNow(); err != ErrClosed {
				t.Fatalf("CloseNow after Close: %v", err)
			}
		})
	}
}

func TestCloseFromServer(t *testing.T) {
	server, client := ctPair(t, nil, nil)
	ctx := ctCtx(t)
	cr := ctReadAsync(ctx, client)
	if err := server.Close(StatusServiceRestart, "restarting"); err != nil {
		t.Fatal(err)
	}
	ctCloseErr(t, "client read", ctWait(t, cr).err, StatusServiceRestart, "restarting", true)
	ctDone(t, client)
	ctCloseErr(t, "server Err", server.Err(), StatusServiceRestart, "restarting", false)
}

func TestCloseInvalidArguments(t *testing.T) {
	server, client := ctPair(t, nil, nil)
	for _, tc := range []struct {
		code   StatusCode
		reason string
	}{
		{StatusAbnormalClosure, ""},
		{StatusNoStatusRcvd, ""},
		{999, ""},
		{StatusNormalClosure, strings.Repeat("x", 124)},
		{StatusNormalClosure, "\xff"},
	} {
		if err := client.Close(tc.code, tc.reason); err == nil || err == ErrClosed {
			t.Fatalf("Close(%d, %.10q) = %v", tc.code, tc.reason, err)
		}
	}
	// Nothing was sent: the connection still works.
	ctx := ctCtx(t)
	if err := client.Write(ctx, MessageText, []byte("ok")); err != nil {
		t.Fatal(err)
	}
	if _, p, err := server.Read(ctx); err != nil || string(p) != "ok" {
		t.Fatal(p, err)
	}
}

func TestCloseNow(t *testing.T) {
	server, client := ctPair(t, nil, nil)
	ctx := ctCtx(t)
	sr := ctReadAsync(ctx, server)
	cr := ctReadAsync(ctx, client)
	if err := client.CloseNow(); err != nil {
		t.Fatal(err)
	}
	if err := client.CloseNow(); err != ErrClosed {
		t.Fatalf("second CloseNow: %v", err)
	}
	ctDone(t, client)
	if e := client.Err(); e == nil || e.Code != StatusAbnormalClosure || e.Received {
		t.Fatalf("client Err() = %v", e)
	}
	if r := ctWait(t, cr); CloseStatus(r.err) != StatusAbnormalClosure {
		t.Fatalf("pending client read: %v", r.err)
	}
	if r := ctWait(t, sr); CloseStatus(r.err) != StatusAbnormalClosure {
		t.Fatalf("server read: %v", r.err)
	}
	ctDone(t, server)
	if err := client.Write(ctx, MessageBinary, []byte("x")); err == nil {
		t.Fatal("Write after CloseNow succeeded")
	}
	if err := client.Close(StatusNormalClosure, ""); err == nil {
		t.Fatal("Close after CloseNow succeeded")
	}
}

// TestWriteAfterCloseSent: once the close frame is out, writes fail and
// nothing more is sent, as a raw peer sees.
func TestWriteAfterCloseSent(t *testing.T) {
	server, rp := ctRawClient(t, nil)
	ctx := ctCtx(t)
	closed := make(chan error, 1)
	go func() { closed <- server.Close(StatusGoingAway, "shutdown") }()

	f := rp.Next()
	p := f.Payload
	if f.Op != rawpeer.OpClose || f.Masked || len(p) < 2 || binary.BigEndian.Uint16(p) != 1001 || string(p[2:]) != "shutdown" {
		t.Fatalf("close frame: op %v payload %q", f.Op, p)
	}
	// Close is waiting for our close frame: the connection is open, but
	// no data frame may follow the close frame.
	err := server.Write(ctx, MessageText, []byte("too late"))
	ctCloseErr(t, "Write", err, StatusGoingAway, "shutdown", false)
	if err := server.Ping(ctx, nil); err == nil {
		t.Fatal("Ping after the close frame succeeded")
	}
	w, err := server.Writer(ctx, MessageBinary)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(make([]byte, 10000))
	if err := w.Close(); err == nil {
		t.Fatal("streamed message after the close frame succeeded")
	}

	if _, err := rp.Conn.Write(rawpeer.Frame{Fin: true, Op: rawpeer.OpClose, Payload: p[:2]}.Mask().Encode()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(ctTimeout):
		t.Fatal("Close did not return")
	}
	rest, err := io.ReadAll(rp.R)
	if err != nil || len(rest) != 0 {
		t.Fatalf("after the close frame the server sent %q, then %v", rest, err)
	}
	if err := server.Write(ctx, MessageText, []byte("later")); err == nil {
		t.Fatal("Write after Close succeeded")
	}
}

// TestClientWriteAfterCloseSent: the same on the client side, against a
// raw server.
func TestClientWriteAfterCloseSent(t *testing.T) {
	type result struct {
		closeFrame []byte
		rest       []byte
		err        error
	}
	res := make(chan result, 1)
	gotClose := make(chan struct{})
	reply := make(chan struct{})
	s := rawpeer.Serve(t, func(nc net.Conn, br *bufio.Reader, r *http.Request, done <-chan struct{}) {
		io.WriteString(nc, rawpeer.Response(r, ""))
		f, err := rawpeer.ReadFrame(br)
		if err != nil || f.Op != rawpeer.OpClose || !f.Masked {
			res <- result{err: fmt.Errorf("first frame op %v masked %v: %v", f.Op, f.Masked, err)}
			close(gotClose)
			return
		}
		close(gotClose)
		<-reply
		nc.Write(rawpeer.Frame{Fin: true, Op: rawpeer.OpClose, Payload: f.Payload[:2]}.Encode())
		nc.(*net.TCPConn).CloseWrite()
		rest, err := io.ReadAll(br)
		res <- result{closeFrame: f.Payload, rest: rest, err: err}
	})
	c, _, err := dtDial(t, s.URL("/ws"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctCtx(t)
	closed := make(chan error, 1)
	go func() { closed <- c.Close(StatusPolicyViolation, "no") }()
	<-gotClose
	ctCloseErr(t, "Write", c.Write(ctx, MessageBinary, []byte("x")), StatusPolicyViolation, "no", false)
	close(reply)
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	r := <-res
	if r.err != nil || string(r.closeFrame) != "\x03\xf0no" || len(r.rest) != 0 {
		t.Fatalf("server saw close %q, then %q, %v", r.closeFrame, r.rest, r.err)
	}
}

// TestReaderFragmented: Reader streams a fragmented message across its
// fragments; a reader left unfinished is skipped by the next Read.
func TestReaderFragmented(t *testing.T) {
	server, client := ctPair(t, nil, nil)
	ctx := ctCtx(t)
	msg := ctPattern(4, 5000+5000+100)
	w, err := client.Writer(ctx, MessageBinary)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(msg[:5000])
	w.Write(msg[5000:10000])
	w.Write(msg[10000:])
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	typ, r, err := server.Reader(ctx)
	if err != nil || typ != MessageBinary {
		t.Fatal(typ, err)
	}
	var got []byte
	buf := make([]byte, 7)
	for {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("streamed %d bytes, want %d", len(got), len(msg))
	}
	if n, err := r.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("Read after the end: %d %v", n, err)
	}

	// Read part of a message, then Read the next.
	w, _ = client.Writer(ctx, MessageText)
	w.Write([]byte(strings.Repeat("x", 9000)))
	w.Write([]byte(strings.Repeat("y", 9000)))
	w.Close()
	client.Write(ctx, MessageText, []byte("next"))
	typ, r, err = server.Reader(ctx)
	if err != nil || typ != MessageText {
		t.Fatal(typ, err)
	}
	if _, err := io.ReadFull(r, buf); err != nil || string(buf) != "xxxxxxx" {
		t.Fatalf("%q %v", buf, err)
	}
	if typ, p, err := server.Read(ctx); err != nil || typ != MessageText || string(p) != "next" {
		t.Fatalf("Read after a partly read message: %v %q %v", typ, p, err)
	}
}

// TestReadUTF8AcrossFragments: a character split across fragments is
// valid; invalid UTF-8 fails the connection with 1007.
func TestReadUTF8AcrossFragments(t *testing.T) {
	server, rp := ctRawClient(t, nil)
	ctx := ctCtx(t)
	for _, f := range []rawpeer.Frame{
		rawpeer.Fragment(rawpeer.OpText, false, "h\xc3"),
		rawpeer.Fragment(rawpeer.OpCont, false, "\xa9"),
		rawpeer.Fragment(rawpeer.OpCont, true, "llo"),
		rawpeer.Text("bad \xc3\x28"),
	} {
		rp.Conn.Write(f.Mask().Encode())
	}
	if typ, p, err := server.Read(ctx); err != nil || typ != MessageText || string(p) != "héllo" {
		t.Fatalf("%v %q %v", typ, p, err)
	}
	// The server fails the connection: it sends 1007 and waits for us to
	// close the TCP connection (up to the close timeout) before Read
	// returns.
	sr := ctReadAsync(ctx, server)
	f := rp.Next()
	if f.Op != rawpeer.OpClose || len(f.Payload) < 2 || binary.BigEndian.Uint16(f.Payload) != 1007 {
		t.Fatalf("close frame: %v %q", f.Op, f.Payload)
	}
	if rest, err := io.ReadAll(rp.R); err != nil || len(rest) != 0 {
		t.Fatalf("after the close frame: %q %v", rest, err)
	}
	rp.Conn.Close()
	ctCloseErr(t, "invalid UTF-8", ctWait(t, sr).err, StatusInvalidPayload, "invalid UTF-8 in text message", false)
}

// TestReadAppend: messages, fragmented or not and larger than the trusted
// size, are appended whole; with a reused buffer no read allocates.
func TestReadAppend(t *testing.T) {
	var wire []byte
	sizes := []int{0, 5, 125, 70000, trustedSize*2 + 3}
	for _, n := range sizes {
		p := ctPattern(n%251, n)
		if n == 70000 { // fragmented: three frames
			wire = append(wire, rawpeer.Frame{Op: rawpeer.OpBinary, Payload: p[:1000]}.Mask().Encode()...)
			wire = append(wire, rawpeer.Frame{Op: rawpeer.OpCont, Payload: p[1000:5000]}.Mask().Encode()...)
			wire = append(wire, rawpeer.Frame{Fin: true, Op: rawpeer.OpCont, Payload: p[5000:]}.Mask().Encode()...)
			continue
		}
		wire = append(wire, rawpeer.Binary(p).Mask().Encode()...)
	}
	c := newConn(&bnReplay{frame: wire}, nil, true, config{})
	ctx := context.Background()
	buf := []byte("prefix")
	for _, n := range sizes {
		typ, got, err := c.ReadAppend(ctx, buf)
		if err != nil || typ != MessageBinary {
			t.Fatalf("size %d: %v %v", n, typ, err)
		}
		if string(got[:6]) != "prefix" || !bytes.Equal(got[6:], ctPattern(n%251, n)) {
			t.Fatalf("size %d: appended message differs", n)
		}
		buf = got[:6]
	}
	allocs := testing.AllocsPerRun(20, func() {
		for range sizes {
			var err error
			if _, buf, err = c.ReadAppend(ctx, buf[:0]); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per round of reads with a reused buffer", allocs)
	}
}

// TestReadLimitNoWrap: fragment lengths are each below 2^63, but their sum
// can wrap; it must still be answered with 1009, with or without a limit.
func TestReadLimitNoWrap(t *testing.T) {
	for _, limit := range []int64{0, -1, 1 << 20} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			server, rp := ctRawClient(t, &UpgradeOptions{ReadLimit: limit, CloseTimeout: 100 * time.Millisecond})
			if limit == 0 {
				server.SetReadLimit(-1) // no limit at all
			}
			// Binary, not FIN, 10 bytes; then a final continuation of
			// 2^63-1 bytes, its header only. The zero key masks nothing.
			b := rawpeer.Frame{Op: rawpeer.OpBinary, Masked: true, Payload: make([]byte, 10)}.Encode()
			b = append(b, rawpeer.Frame{Fin: true, Op: rawpeer.OpCont, Masked: true, Length: 1<<63 - 1}.Encode()...)
			if _, err := rp.Conn.Write(b); err != nil {
				t.Fatal(err)
			}
			_, _, err := server.Read(ctCtx(t))
			ctCloseErr(t, "server", err, StatusMessageTooBig, "message too big", false)
			// The client reads the close frame: 1009.
			h := make([]byte, 4)
			if _, err := io.ReadFull(rp.R, h); err != nil {
				t.Fatal(err)
			}
			if h[0] != 0x88 || binary.BigEndian.Uint16(h[2:]) != uint16(StatusMessageTooBig) {
				t.Fatalf("close frame % x, want 88 .. 03 f1", h)
			}
		})
	}
}

// countingConn counts the writes made on a net.Conn.
type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes int
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes++
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// TestClientLargeWriteOneSyscall: a client masks a copy of the payload, in
// pieces of up to 64 KiB, so a 64 KiB message is one write.
func TestClientLargeWriteOneSyscall(t *testing.T) {
	var cc *countingConn
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		cc = &countingConn{Conn: nc}
		return cc, nil
	}
	server, client := ctPair(t, nil, &DialOptions{NetDial: dial})
	ctx := ctCtx(t)
	for _, tc := range []struct{ size, writes int }{{100, 1}, {64 << 10, 1}, {64<<10 + 1, 2}, {200 << 10, 4}} {
		msg := ctPattern(tc.size, tc.size)
		cc.mu.Lock()
		before := cc.writes
		cc.mu.Unlock()
		if err := client.Write(ctx, MessageBinary, msg); err != nil {
			t.Fatal(err)
		}
		cc.mu.Lock()
		writes := cc.writes - before
		cc.mu.Unlock()
		if writes != tc.writes {
			t.Errorf("%d bytes: %d writes, want %d", tc.size, writes, tc.writes)
		}
		if _, p, err := server.Read(ctx); err != nil || !bytes.Equal(p, msg) {
			t.Fatalf("%d bytes: server read %d bytes, %v; want the message", tc.size, len(p), err)
		}
	}
}

// TestReadAllocsOverTCP: reading a message from a real TCP socket, where
// the read buffer goes through syscall.RawConn (readbuf_unix.go),
// allocates nothing in steady state: the functions given to the poller
// are made once per connection, not once per read.
func TestReadAllocsOverTCP(t *testing.T) {
	if !rawReads {
		t.Skip("no raw reads on this system")
	}
	if race.Enabled {
		t.Skip("allocations are counted without -race (.ci/run does)")
	}
	server, rp := ctRawClient(t, nil)
	nc := rp.Conn
	for _, size := range []int{16, 1 << 10, 64 << 10} {
		frame := rawpeer.Binary(ctPattern(size, size)).Mask().Encode()
		buf := make([]byte, 0, size)
		ctx := context.Background()
		var err error
		allocs := testing.AllocsPerRun(50, func() {
			if _, werr := nc.Write(frame); werr != nil {
				err = werr
				return
			}
			var p []byte
			if _, p, err = server.ReadAppend(ctx, buf[:0]); err == nil && len(p) != size {
				err = fmt.Errorf("read %d bytes, want %d", len(p), size)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if allocs != 0 {
			t.Errorf("%d-byte messages: %.1f allocations per read, want 0", size, allocs)
		}
	}
}

// TestWriteAllocsOverTCP: a server's and a client's Write, and a message
// streamed through Writer in 4 KiB writes, over real TCP allocate nothing
// in steady state, nor does the reader on the other side.
func TestWriteAllocsOverTCP(t *testing.T) {
	if race.Enabled {
		t.Skip("allocations are counted without -race (.ci/run does)")
	}
	server, client := ctPair(t, nil, nil)
	ctx := context.Background()
	for _, size := range []int{16, 1 << 10, 64 << 10, 200 << 10} {
		msg := ctPattern(size, size)
		buf := make([]byte, 0, size)
		for _, dir := range []struct {
			name     string
			from, to *Conn
		}{{"server to client", server, client}, {"client to server", client, server}} {
			var err error
			// A message over the socket buffers' room needs a reader
			// while it is written: a goroutine of its own (made outside
			// the measured function), fed and drained by channels.
			next, done := make(chan struct{}), make(chan error)
			go func() {
				for range next {
					_, p, rerr := dir.to.ReadAppend(ctx, buf[:0])
					if rerr == nil && len(p) != size {
						rerr = fmt.Errorf("read %d bytes, want %d", len(p), size)
					}
					done <- rerr
				}
			}()
			for _, streamed := range []bool{false, true} {
				allocs := testing.AllocsPerRun(20, func() {
					next <- struct{}{}
					if werr := ctWriteMessage(ctx, dir.from, msg, streamed); werr != nil && err == nil {
						err = werr
					}
					if rerr := <-done; rerr != nil && err == nil {
						err = rerr
					}
				})
				if err != nil {
					t.Fatal(err)
				}
				if allocs != 0 {
					t.Errorf("%s, %d bytes, streamed %v: %.1f allocations per message, want 0", dir.name, size, streamed, allocs)
				}
			}
			close(next)
		}
	}
}

// ctWriteMessage sends msg with Write, or streamed through Writer in
// writes of 4 KiB.
func ctWriteMessage(ctx context.Context, c *Conn, msg []byte, streamed bool) error {
	if !streamed {
		return c.Write(ctx, MessageBinary, msg)
	}
	w, err := c.Writer(ctx, MessageBinary)
	if err != nil {
		return err
	}
	for p := msg; len(p) > 0; {
		k := min(len(p), 4<<10)
		if _, err := w.Write(p[:k]); err != nil {
			w.Close()
			return err
		}
		p = p[k:]
	}
	return w.Close()
}

//go:build !purego

package wsproto

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"testing"
	"time"

	"wsraise/internal/rawpeer"
)

// The purego build tag swaps each fast path for a portable one:
// mask_amd64.go and mask_amd64.s for mask_other.go, readbuf_unix.go and
// the SO_RCVLOWAT files for readbuf_other.go. A purego build runs every
// other test on the portable paths. This test runs where the fast paths
// are built, and holds them to the portable paths' exact results.

// TestFastPathsMatchPurego: masking gives the same bytes with the fast
// kernel as with the portable loop, and a connection reading through
// syscall.RawConn returns the same messages, and ends the same way, as
// one reading through plain Read calls, from the same byte stream.
func TestFastPathsMatchPurego(t *testing.T) {
	t.Run("mask", func(t *testing.T) {
		// maskLong is the assembly on amd64 (AVX2 or SSE2, as the CPU
		// allows), maskWords elsewhere. It takes 32 bytes or more.
		checkMaskEqual(t, 32, maskWith(maskLong), maskWith(maskWords))
	})
	t.Run("read", func(t *testing.T) {
		if !rawReads {
			t.Skip("no raw reads on this system: there is only the portable path")
		}
		for seed := range uint64(3) {
			rng := rand.New(rand.NewPCG(seed, 15))
			segs, want := eqStream(t, rng)
			fast, fastErr := eqReadOverTCP(t, segs)
			port, portErr := eqReadPortable(t, segs)
			if !eqSameMessages(t, "raw reads", fast, want) || !eqSameMessages(t, "portable reads", port, want) {
				t.Fatalf("seed %d: the messages differ", seed)
			}
			// Both end at the client's close frame, with the same error.
			for _, err := range []error{fastErr, portErr} {
				var ce *CloseError
				if !errors.As(err, &ce) || ce.Code != StatusNormalClosure || ce.Reason != "end" || !ce.Received {
					t.Fatalf("seed %d: raw reads ended with %v, portable reads with %v; want the peer's 1000 end", seed, fastErr, portErr)
				}
			}
		}
	})
}

// eqMessage is a data message, as sent or as read.
type eqMessage struct {
	typ MessageType
	p   []byte
}

// eqSegment is a piece of the stream, written at once.
type eqSegment struct {
	b     []byte
	pause bool // the writer waits after it, so that the reader waits there
}

// eqStream returns the bytes a client sends, cut into random segments,
// and the messages they hold. Sizes fall on both sides of the read
// buffer's size and of the SO_RCVLOWAT steps. Some messages are
// compressed (with context takeover), some fragmented, with pings and
// pongs between the fragments (RFC 6455 section 5.4). A close frame ends
// the stream. Half the frames are cut inside their header, and large
// ones inside their payload, with a pause there.
func eqStream(t *testing.T, rng *rand.Rand) (segs []eqSegment, msgs []eqMessage) {
	sizes := []int{0, 1, 125, 126, 4095, 4096, 4097, 20000, 65535, 65536, 70000, 200 << 10, 300 << 10}
	enc := &cpEncoder{takeover: true}
	var stream []byte
	var cuts []int // where the stream must be cut, with a pause; increasing
	// Frames are masked with a fixed key, so that the stream follows from
	// the seed alone.
	addFrame := func(f rawpeer.Frame) {
		f.Masked, f.Key = true, [4]byte{0x11, 0x8e, 0x5a, 0xc3}
		frame := f.Encode()
		if rng.IntN(2) == 0 {
			cuts = append(cuts, len(stream)+1+rng.IntN(5)) // in the header
		}
		if len(frame) > 64<<10 {
			cuts = append(cuts, len(stream)+maxHeaderSize+rng.IntN(len(frame)-maxHeaderSize))
		}
		stream = append(stream, frame...)
	}
	for range 20 {
		m := eqMessage{typ: MessageBinary}
		n := sizes[rng.IntN(len(sizes))]
		if rng.IntN(2) == 0 {
			m.typ, m.p = MessageText, eqText(rng, n)
		} else {
			m.p = make([]byte, n)
			for i := range m.p {
				m.p[i] = byte(rng.Uint32())
			}
		}
		msgs = append(msgs, m)

		wire, rsv := m.p, byte(0)
		if rng.IntN(4) == 0 {
			wire, rsv = enc.encode(t, m.p), rawpeer.RSV1 // RFC 7692 section 6
		}
		op := byte(m.typ)
		for frames := 1 + rng.IntN(3); frames > 0; frames-- {
			part := wire
			if frames > 1 {
				part = wire[:rng.IntN(len(wire)+1)]
			}
			wire = wire[len(part):]
			addFrame(rawpeer.Frame{Fin: frames == 1, RSV: rsv, Op: op, Payload: part})
			op, rsv = rawpeer.OpCont, 0
			if frames > 1 && rng.IntN(2) == 0 {
				ctrl := []byte{rawpeer.OpPing, rawpeer.OpPong}[rng.IntN(2)]
				addFrame(rawpeer.Frame{Fin: true, Op: ctrl, Payload: eqText(rng, rng.IntN(maxControlPayload+1))})
			}
		}
	}
	addFrame(rawpeer.Close(1000, "end"))

	// Mostly short segments, which cut headers and characters; some up
	// to the buffer's size; a few far larger. A quarter pause, wherever
	// they end.
	for pos := 0; pos < len(stream); {
		var n int
		switch r := rng.IntN(10); {
		case r < 5:
			n = 1 + rng.IntN(64)
		case r < 8:
			n = 1 + rng.IntN(defaultBufferSize)
		default:
			n = 1 + rng.IntN(128<<10)
		}
		end, pause := min(pos+n, len(stream)), rng.IntN(4) == 0
		if len(cuts) > 0 && cuts[0] <= end {
			end, pause, cuts = cuts[0], true, cuts[1:]
		}
		segs = append(segs, eqSegment{stream[pos:end], pause})
		pos = end
	}
	return segs, msgs
}

// eqText returns n bytes of valid UTF-8, with characters of one to four
// bytes, so that segments and fragments cut some of them.
func eqText(rng *rand.Rand, n int) []byte {
	chars := []string{"a", "z", " ", "é", "€", "𝄞"}
	var p []byte
	for {
		c := chars[rng.IntN(len(chars))]
		if len(p)+len(c) > n {
			break
		}
		p = append(p, c...)
	}
	for len(p) < n {
		p = append(p, 'a')
	}
	return p
}

// eqReadOverTCP writes segs to a loopback TCP connection and reads them
// with a server Conn, which reads through syscall.RawConn
// (readbuf_unix.go).
func eqReadOverTCP(t *testing.T, segs []eqSegment) ([]eqMessage, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c := newConn(nc, nil, true, config{compression: cbConfig(false)})
	defer c.CloseNow()
	if c.br.raw == nil {
		t.Fatal("the connection does not read through syscall.RawConn")
	}
	wrote := make(chan struct{})
	defer func() {
		client.Close() // unblocks the writer if the reader stopped early
		<-wrote
	}()
	go func() {
		defer close(wrote)
		for _, s := range segs {
			if _, err := client.Write(s.b); err != nil {
				return
			}
			if s.pause {
				time.Sleep(500 * time.Microsecond)
			}
		}
	}()
	return eqReadAll(ctCtx(t), c)
}

// eqReadPortable reads segs with a server Conn on eqSegConn, which has no
// file descriptor: the Conn reads through its Read method, as every Conn
// does in a purego build (readbuf_other.go).
func eqReadPortable(t *testing.T, segs []eqSegment) ([]eqMessage, error) {
	c := newConn(&eqSegConn{fzConn: &fzConn{}, segs: slices.Clone(segs)}, nil, true, config{compression: cbConfig(false)})
	defer c.CloseNow()
	if c.br.raw != nil {
		t.Fatal("the connection reads through syscall.RawConn")
	}
	return eqReadAll(ctCtx(t), c)
}

// eqSegConn is a net.Conn whose reads end where segments end, as a
// socket's do when each segment arrives on its own.
type eqSegConn struct {
	*fzConn // writes, deadlines and addresses
	segs    []eqSegment
}

func (c *eqSegConn) Read(p []byte) (int, error) {
	if len(c.segs) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.segs[0].b)
	if c.segs[0].b = c.segs[0].b[n:]; len(c.segs[0].b) == 0 {
		c.segs = c.segs[1:]
	}
	return n, nil
}

// eqReadAll reads messages until c fails, each in one of three ways, by
// turns: Read; ReadAppend into a reused slice; Reader, in reads of 100
// bytes to 1 MiB. (Shorter reads come from the segments.)
func eqReadAll(ctx context.Context, c *Conn) ([]eqMessage, error) {
	var msgs []eqMessage
	var buf []byte
	for i := 0; ; i++ {
		var m eqMessage
		var err error
		switch i % 3 {
		case 0:
			m.typ, m.p, err = c.Read(ctx)
		case 1:
			m.typ, buf, err = c.ReadAppend(ctx, buf[:0])
			m.p = bytes.Clone(buf)
		case 2:
			var r io.Reader
			if m.typ, r, err = c.Reader(ctx); err == nil {
				sizes := []int{100, defaultBufferSize, 70000, 1 << 20}
				m.p, err = eqReadChunks(r, make([]byte, sizes[i/3%len(sizes)]))
			}
		}
		if err != nil {
			return msgs, err
		}
		msgs = append(msgs, m)
	}
}

// eqReadChunks reads r to its end, len(chunk) bytes at most at a time.
func eqReadChunks(r io.Reader, chunk []byte) ([]byte, error) {
	var p []byte
	for {
		n, err := r.Read(chunk)
		p = append(p, chunk[:n]...)
		if err == io.EOF {
			return p, nil
		}
		if err != nil {
			return p, err
		}
	}
}

// eqSameMessages reports whether got is want, logging the first
// difference.
func eqSameMessages(t *testing.T, what string, got, want []eqMessage) bool {
	t.Helper()
	for i := range min(len(got), len(want)) {
		if got[i].typ != want[i].typ || !bytes.Equal(got[i].p, want[i].p) {
			t.Errorf("%s: message %d is %v, %d bytes; want %v, %d bytes", what, i, got[i].typ, len(got[i].p), want[i].typ, len(want[i].p))
			return false
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d messages, want %d", what, len(got), len(want))
		return false
	}
	return true
}

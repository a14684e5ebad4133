package wsproto

import (
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"wsraise/internal/rawpeer"
)

// Reading and writing compressed messages on a Conn (RFC 7692 sections 6
// and 7.2), against raw peers that use compress/flate directly.

var cpOn = &UpgradeOptions{Compression: &CompressionOptions{}}

// TestCompressedRSV1Rules: with the extension agreed, RSV1 may mark the
// first frame of a data message only (RFC 7692 section 6.1); anywhere
// else, or without the extension, it fails the connection with 1002.
func TestCompressedRSV1Rules(t *testing.T) {
	var enc cpEncoder
	hello := enc.encode(t, []byte("Hello"))
	cases := []struct {
		name   string
		opts   *UpgradeOptions
		frames []rawpeer.Frame
		reason string
	}{
		{"6.1 RSV1 on a continuation frame", cpOn, []rawpeer.Frame{
			{RSV: rawpeer.RSV1, Op: rawpeer.OpText, Payload: hello[:2]}, {Fin: true, RSV: rawpeer.RSV1, Op: rawpeer.OpCont, Payload: hello[2:]}}, "RSV1 set on a continuation frame"},
		{"6.1 RSV1 on an uncompressed message's continuation", cpOn, []rawpeer.Frame{
			{Op: rawpeer.OpText, Payload: []byte("He")}, {Fin: true, RSV: rawpeer.RSV1, Op: rawpeer.OpCont, Payload: []byte("llo")}}, "RSV1 set on a continuation frame"},
		{"6.1 RSV1 on a ping", cpOn, []rawpeer.Frame{{Fin: true, RSV: rawpeer.RSV1, Op: rawpeer.OpPing}}, "reserved bits set on a control frame"},
		{"6.1 RSV1 on a close", cpOn, []rawpeer.Frame{{Fin: true, RSV: rawpeer.RSV1, Op: rawpeer.OpClose, Payload: []byte{3, 0xe8}}}, "reserved bits set on a control frame"},
		{"6.1 RSV1 on a pong between compressed fragments", cpOn, []rawpeer.Frame{
			{RSV: rawpeer.RSV1, Op: rawpeer.OpText, Payload: hello[:2]}, {Fin: true, RSV: rawpeer.RSV1, Op: rawpeer.OpPong}}, "reserved bits set on a control frame"},
		{"6.1 RSV2 with permessage-deflate", cpOn, []rawpeer.Frame{{Fin: true, RSV: rawpeer.RSV2, Op: rawpeer.OpText, Payload: []byte("x")}}, "reserved bits set without an extension"},
		{"6.1 RSV3 with permessage-deflate", cpOn, []rawpeer.Frame{{Fin: true, RSV: rawpeer.RSV1 | rawpeer.RSV3, Op: rawpeer.OpBinary, Payload: hello}}, "reserved bits set without an extension"},
		{"RFC 6455 5.2 RSV1 without the extension", nil, []rawpeer.Frame{{Fin: true, RSV: rawpeer.RSV1, Op: rawpeer.OpText, Payload: hello}}, "reserved bits set without an extension"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			server, rp := ctRawClient(t, tc.opts, "permessage-deflate")
			rc := ctReadAsync(ctCtx(t), server)
			rp.Conn.Write(rp.Encode(tc.frames...))
			cpExpectClose(t, rp, StatusProtocolError)
			rp.Conn.Close()
			ctCloseErr(t, "server", ctWait(t, rc).err, StatusProtocolError, tc.reason, false)
		})
	}
}

// TestCompressedFragmentsIn: a compressed message split into fragments at
// every kind of boundary, with control frames between them, is read whole
// by Read, ReadAppend and Reader; the pings are answered in order.
func TestCompressedFragmentsIn(t *testing.T) {
	msg := jsonDocument(20000)
	for _, takeover := range []bool{false, true} {
		server, rp := ctRawClient(t, cpOn, map[bool]string{true: "permessage-deflate", false: "permessage-deflate; client_no_context_takeover"}[takeover])
		enc := cpEncoder{takeover: takeover}
		ctx := ctCtx(t)
		for round, split := range []int{1, 2, 3, 7, 100} {
			c := enc.encode(t, msg)
			var wire []byte
			for i := 0; i < split; i++ {
				part := c[i*len(c)/split : (i+1)*len(c)/split]
				var rsv byte
				op := rawpeer.OpCont
				if i == 0 {
					rsv, op = rawpeer.RSV1, rawpeer.OpText
				}
				wire = append(wire, rawpeer.Frame{Fin: i == split-1, RSV: rsv, Op: op, Payload: part}.Mask().Encode()...)
				if i%3 == 1 && i < split-1 {
					wire = append(wire, rawpeer.Ping([]byte{byte(i)}).Mask().Encode()...)
				}
			}
			rp.Conn.Write(wire)
			var got []byte
			var err error
			switch round % 3 {
			case 0:
				_, got, err = server.Read(ctx)
			case 1:
				_, got, err = server.ReadAppend(ctx, []byte("prefix:"))
				got = bytes.TrimPrefix(got, []byte("prefix:"))
			case 2:
				var r io.Reader
				if _, r, err = server.Reader(ctx); err == nil {
					got, err = io.ReadAll(iotestOneByte(r))
				}
			}
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("takeover %v, %d fragments: %d bytes, %v", takeover, split, len(got), err)
			}
			for i := 0; i < split-1; i++ {
				if i%3 == 1 {
					if f := cpNext(t, rp); f.Op != rawpeer.OpPong || !bytes.Equal(f.Payload, []byte{byte(i)}) || f.RSV != 0 {
						t.Fatalf("want pong %d, got %#x %q rsv %03b", i, f.Op, f.Payload, f.RSV)
					}
				}
			}
		}
	}
}

// iotestOneByte reads at most 1 byte at a time, then 7, then 300.
func iotestOneByte(r io.Reader) io.Reader { return &varReader{r: r} }

type varReader struct {
	r io.Reader
	i int
}

func (v *varReader) Read(p []byte) (int, error) {
	v.i++
	n := []int{1, 7, 300}[v.i%3]
	return v.r.Read(p[:min(len(p), n)])
}

// TestCompressedFragmentsOut: Writer compresses on the fly and sends
// fragments of at most the write buffer, RSV1 on the first only; pings
// sent meanwhile go out between them, uncompressed.
func TestCompressedFragmentsOut(t *testing.T) {
	opts := &UpgradeOptions{WriteBufferSize: 512, Compression: &CompressionOptions{}}
	server, rp := ctRawClient(t, opts, "permessage-deflate")
	ctx := ctCtx(t)
	dec := cpDecoder{takeover: true}
	for i, msg := range [][]byte{content("random", 100000, 1), jsonDocument(200000), content("text", 3000, 2)} {
		w, err := server.Writer(ctx, MessageBinary)
		if err != nil {
			t.Fatal(err)
		}
		for p := msg; len(p) > 0; {
			k := min(len(p), 10000)
			if _, err := w.Write(p[:k]); err != nil {
				t.Fatal(err)
			}
			p = p[k:]
			if err := server.Ping(ctx, []byte("between")); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		// cpReadMessage skips the pings and checks the RSV bits.
		op, compressed, payload, frames := cpReadMessage(t, rp)
		if op != rawpeer.OpBinary || !compressed {
			t.Fatalf("message %d: op %v compressed %v", i, op, compressed)
		}
		if got := dec.decode(t, payload); !bytes.Equal(got, msg) {
			t.Fatalf("message %d: decompressed %d bytes, want %d", i, len(got), len(msg))
		}
		if min := len(payload) / 512; frames < min {
			t.Fatalf("message %d: %d compressed bytes in %d fragments", i, len(payload), frames)
		}
		t.Logf("message %d: %d bytes, %d compressed, %d fragments", i, len(msg), len(payload), frames)
	}
}

// TestCompressionThreshold: Write and Writer send a message under the
// threshold uncompressed and one at it compressed; a negative threshold
// compresses even the empty message, as the single byte 0x00 (RFC 7692
// section 7.2.3.6).
func TestCompressionThreshold(t *testing.T) {
	for _, tc := range []struct {
		threshold int
		size      int
		want      bool
	}{
		{0, DefaultCompressionThreshold - 1, false},
		{0, DefaultCompressionThreshold, true},
		{0, 0, false},
		{1000, 999, false},
		{1000, 1000, true},
		{10000, 5000, true}, // Writer: larger than its 4 KiB buffer, so compressed
		{-1, 0, true},
		{-1, 1, true},
	} {
		// Each message on its own, so that each decodes alone.
		opts := &UpgradeOptions{Compression: &CompressionOptions{NoContextTakeover: true, Threshold: tc.threshold}}
		server, rp := ctRawClient(t, opts, "permessage-deflate")
		ctx := ctCtx(t)
		msg := []byte(strings.Repeat("a", tc.size))
		for _, stream := range []bool{false, true} {
			var err error
			if stream {
				err = cpWriteStream(ctx, server, msg, 100)
			} else {
				err = server.Write(ctx, MessageText, msg)
			}
			if err != nil {
				t.Fatal(err)
			}
			_, compressed, payload, _ := cpReadMessage(t, rp)
			wantCompressed := tc.want
			if !stream && tc.threshold == 10000 {
				wantCompressed = false // Write knows the size
			}
			if compressed != wantCompressed {
				t.Fatalf("threshold %d, %d bytes, stream %v: compressed %v", tc.threshold, tc.size, stream, compressed)
			}
			if compressed {
				payload = (&cpDecoder{}).decode(t, payload)
			}
			if !bytes.Equal(payload, msg) {
				t.Fatalf("threshold %d: got %d bytes", tc.threshold, len(payload))
			}
		}
	}
	// The empty message, compressed, is the single byte 0x00.
	opts := &UpgradeOptions{Compression: &CompressionOptions{Threshold: -1}}
	server, rp := ctRawClient(t, opts, "permessage-deflate")
	for range 3 {
		if err := server.Write(ctCtx(t), MessageBinary, nil); err != nil {
			t.Fatal(err)
		}
		if _, compressed, payload, _ := cpReadMessage(t, rp); !compressed || !bytes.Equal(payload, []byte{0}) {
			t.Fatalf("empty message: compressed %v, payload % x", compressed, payload)
		}
	}
}

// TestCompressedEmptyIn: the empty message arrives in each form the RFC
// allows: 0x00 (section 7.2.3.6), an empty fixed-Huffman block, one with
// BFINAL set (section 7.2.3.4). (An empty payload is not one of them: the
// 00 00 ff ff appended to it does not inflate; TestCompressedBadInput.)
func TestCompressedEmptyIn(t *testing.T) {
	server, rp := ctRawClient(t, cpOn, "permessage-deflate")
	ctx := ctCtx(t)
	for _, payload := range [][]byte{{0x00}, {0x02, 0x00}, {0x03, 0x00}, {0x00}} {
		rp.Conn.Write(rawpeer.Frame{Fin: true, RSV: rawpeer.RSV1, Op: rawpeer.OpText, Payload: payload}.Mask().Encode())
		if typ, p, err := server.Read(ctx); err != nil || typ != MessageText || len(p) != 0 {
			t.Fatalf("payload % x: %v %q %v", payload, typ, p, err)
		}
	}
}

// TestCompressedBadInput: data that does not inflate fails with 1007, text
// that is not UTF-8 once inflated with 1007 as soon as it comes out, and a
// message that inflates past the read limit with 1009.
func TestCompressedBadInput(t *testing.T) {
	var enc cpEncoder
	bad := append(enc.encode(t, []byte(strings.Repeat("valid start ", 100))), 0xff, 0xff, 0xff)
	// Invalid UTF-8 in the first bytes of a message whose rest never
	// comes: the server must not wait for it. (compress/flate gives out
	// what it inflates at the end of a block or when its 32 KiB window
	// fills; the check is as early as that.)
	badUTF8 := (&cpEncoder{}).encode(t, append([]byte("\xc0\xaf"), content("text", 200000, 3)...))
	cases := []struct {
		name   string
		frames []rawpeer.Frame
		code   StatusCode
		reason string
	}{
		{"7.2.2 corrupt data", []rawpeer.Frame{{Fin: true, RSV: rawpeer.RSV1, Op: rawpeer.OpBinary, Payload: bad}}, StatusInvalidPayload, "invalid compressed data"},
		{"7.2.2 reserved block type", []rawpeer.Frame{{Fin: true, RSV: rawpeer.RSV1, Op: rawpeer.OpBinary, Payload: []byte{0x07, 0x00}}}, StatusInvalidPayload, "invalid compressed data"},
		{"7.2.3.6 empty payload with RSV1", []rawpeer.Frame{{Fin: true, RSV: rawpeer.RSV1, Op: rawpeer.OpText}}, StatusInvalidPayload, "invalid compressed data"},
		{"7.2.2 truncated stream", []rawpeer.Frame{{Fin: true, RSV: rawpeer.RSV1, Op: rawpeer.OpBinary, Payload: []byte{0xf2, 0x48}}}, StatusInvalidPayload, "invalid compressed data"},
		{"8.1 invalid UTF-8 after inflating, early", []rawpeer.Frame{{RSV: rawpeer.RSV1, Op: rawpeer.OpText, Payload: badUTF8[:len(badUTF8)/2]}}, StatusInvalidPayload, "invalid UTF-8 in text message"},
		{"8.1 text ending inside a character", []rawpeer.Frame{{Fin: true, RSV: rawpeer.RSV1, Op: rawpeer.OpText, Payload: (&cpEncoder{}).encode(t, []byte("ab\xe2\x82"))}}, StatusInvalidPayload, "invalid UTF-8 in text message"},
		{"7.2.3.4 text ending inside a character at BFINAL, the rest never comes", []rawpeer.Frame{{RSV: rawpeer.RSV1, Op: rawpeer.OpText, Payload: cpFinalBlock(t, []byte("ab\xe2\x82"))}}, StatusInvalidPayload, "invalid UTF-8 in text message"},
		{"10.4 inflates past the limit", []rawpeer.Frame{{Fin: true, RSV: rawpeer.RSV1, Op: rawpeer.OpBinary, Payload: (&cpEncoder{}).encode(t, make([]byte, 5000))}}, StatusMessageTooBig, "decompressed message too big"},
		{"10.4 wire bytes past the limit", []rawpeer.Frame{{Fin: true, RSV: rawpeer.RSV1, Op: rawpeer.OpBinary, Payload: content("random", 4097, 1)}}, StatusMessageTooBig, "message too big"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := &UpgradeOptions{ReadLimit: 4096, Compression: &CompressionOptions{}}
			if strings.HasSuffix(tc.name, "early") {
				opts.ReadLimit = 1 << 20
			}
			server, rp := ctRawClient(t, opts, "permessage-deflate")
			rc := ctReadAsync(ctCtx(t), server)
			rp.Conn.Write(rp.Encode(tc.frames...))
			cpExpectClose(t, rp, tc.code)
			rp.Conn.Close()
			ctCloseErr(t, "server", ctWait(t, rc).err, tc.code, tc.reason, false)
		})
	}
}

// TestCompressionBomb: 10 MiB of zeros compressed to about 10 KiB, read
// under a 1 MiB limit, fails with 1009 on the wire. Read through Reader,
// the server allocates nowhere near the bomb (it never holds more than a
// buffer of output); through ReadAppend, no more than about twice the
// limit, as the slice doubles up to it.
func TestCompressionBomb(t *testing.T) {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	w.Write(make([]byte, 10<<20))
	w.Flush()
	bomb := bytes.TrimSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff})
	t.Logf("bomb: 10 MiB in %d bytes", len(bomb))
	for _, tc := range []struct {
		name     string
		maxAlloc uint64
		read     func(ctx context.Context, c *Conn) error
	}{
		{"Reader", 256 << 10, func(ctx context.Context, c *Conn) error {
			_, r, err := c.Reader(ctx)
			if err != nil {
				return err
			}
			var b [4096]byte
			for {
				if _, err := r.Read(b[:]); err != nil {
					return err
				}
			}
		}},
		// About 2.4 MB measured, 3.2 MB with -race, whose pools drop items.
		{"ReadAppend", 4 << 20, func(ctx context.Context, c *Conn) error {
			_, _, err := c.ReadAppend(ctx, nil)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := &UpgradeOptions{ReadLimit: 1 << 20, Compression: &CompressionOptions{}}
			server, rp := ctRawClient(t, opts, "permessage-deflate")
			ctx := ctCtx(t)
			// Warm the pools with a small compressed message.
			rp.Conn.Write(rawpeer.Frame{Fin: true, RSV: rawpeer.RSV1, Op: rawpeer.OpBinary, Payload: (&cpEncoder{}).encode(t, []byte("warm up the pools"))}.Mask().Encode())
			if _, _, err := server.Read(ctx); err != nil {
				t.Fatal(err)
			}
			// The whole bomb is in the server's socket before it reads.
			rp.Conn.Write(rawpeer.Frame{Fin: true, RSV: rawpeer.RSV1, Op: rawpeer.OpBinary, Payload: bomb}.Mask().Encode())
			time.Sleep(50 * time.Millisecond) // not a synchronisation: only makes the measure cover the inflating
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			done := make(chan error, 1)
			go func() {
				err := tc.read(ctx, server)
				// After the failure, the server waits for our end of the
				// closing handshake: measure before it.
				runtime.ReadMemStats(&after)
				done <- err
			}()
			cpExpectClose(t, rp, StatusMessageTooBig)
			rp.Conn.Close()
			err := <-done
			var ce *CloseError
			if !errors.As(err, &ce) || ce.Code != StatusMessageTooBig {
				t.Fatalf("read: %v, want 1009", err)
			}
			a := after.TotalAlloc - before.TotalAlloc
			t.Logf("%s: %d bytes allocated while reading the bomb", tc.name, a)
			if a > tc.maxAlloc {
				t.Errorf("%s allocated %d bytes for a %d-byte bomb, want at most %d", tc.name, a, len(bomb), tc.maxAlloc)
			}
		})
	}
}

// TestCompressedContextTakeover: 200 similar messages each way over one
// connection with context takeover: each arrives whole, and the later
// ones, compressed against the earlier, come out far smaller than the
// first. Without takeover they stay the size of the first.
func TestCompressedContextTakeover(t *testing.T) {
	for _, takeover := range []bool{true, false} {
		offer := "permessage-deflate"
		if !takeover {
			offer += "; server_no_context_takeover; client_no_context_takeover"
		}
		server, rp := ctRawClient(t, cpOn, offer)
		ctx := ctCtx(t)
		enc := cpEncoder{takeover: takeover}
		dec := cpDecoder{takeover: takeover}
		var first, last int
		for i := range 200 {
			msg := chatMessage(i)
			// Client to server, compressed by compress/flate.
			rp.Conn.Write(rawpeer.Frame{Fin: true, RSV: rawpeer.RSV1, Op: rawpeer.OpText, Payload: enc.encode(t, msg)}.Mask().Encode())
			typ, got, err := server.Read(ctx)
			if err != nil || typ != MessageText || !bytes.Equal(got, msg) {
				t.Fatalf("takeover %v, message %d: %q %v", takeover, i, got, err)
			}
			// Server to client, inflated by compress/flate.
			if err := server.Write(ctx, MessageText, msg); err != nil {
				t.Fatal(err)
			}
			_, compressed, payload, _ := cpReadMessage(t, rp)
			if !compressed {
				t.Fatalf("message %d of %d bytes sent uncompressed", i, len(msg))
			}
			if out := dec.decode(t, payload); !bytes.Equal(out, msg) {
				t.Fatalf("takeover %v, message %d: client decoded %q", takeover, i, out)
			}
			if i == 0 {
				first = len(payload)
			}
			last = len(payload)
		}
		t.Logf("takeover %v: first message %d bytes, last %d", takeover, first, last)
		if takeover && last > first/2 || !takeover && last < first*2/3 {
			t.Errorf("takeover %v: first message %d bytes, last %d", takeover, first, last)
		}
	}
}

// TestCompressedDiscard: a compressed message left unread, or read in
// part, is still inflated when the next one is asked for, so that with
// context takeover the next message, which refers to it, inflates right;
// and it is still checked: corrupt data there fails with 1007.
func TestCompressedDiscard(t *testing.T) {
	server, rp := ctRawClient(t, cpOn, "permessage-deflate")
	ctx := ctCtx(t)
	enc := cpEncoder{takeover: true}
	doc := jsonDocument(50000)
	for i := range 6 {
		rp.Conn.Write(rawpeer.Frame{Fin: true, RSV: rawpeer.RSV1, Op: rawpeer.OpText, Payload: enc.encode(t, doc)}.Mask().Encode())
		_, r, err := server.Reader(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Read none, some, or all of it, then go on to the next.
		if _, err := io.ReadFull(r, make([]byte, []int{0, 1, 4096, 30000, 49999, 50000}[i]%len(doc))); err != nil {
			t.Fatal(err)
		}
	}
	rp.Conn.Write(rawpeer.Frame{Fin: true, RSV: rawpeer.RSV1, Op: rawpeer.OpText, Payload: enc.encode(t, doc)}.Mask().Encode())
	if _, got, err := server.Read(ctx); err != nil || !bytes.Equal(got, doc) {
		t.Fatalf("message after the discarded ones: %d bytes, %v", len(got), err)
	}
	// A corrupt message, unread, fails the connection when skipped.
	rp.Conn.Write(rawpeer.Frame{Fin: true, RSV: rawpeer.RSV1, Op: rawpeer.OpBinary, Payload: []byte{0x07, 0x00, 0x01}}.Mask().Encode())
	rp.Conn.Write(rawpeer.Text("next").Mask().Encode())
	if _, _, err := server.Reader(ctx); err != nil {
		t.Fatal(err)
	}
	rc := ctReadAsync(ctx, server)
	cpExpectClose(t, rp, StatusInvalidPayload)
	rp.Conn.Close()
	ctCloseErr(t, "server", ctWait(t, rc).err, StatusInvalidPayload, "invalid compressed data", false)
}

// TestCompressedReadInterrupted: a read deadline in the middle of a
// compressed message. Without context takeover the next message reads
// fine; with it, the context is lost and the next compressed message fails
// the connection with 1011.
func TestCompressedReadInterrupted(t *testing.T) {
	for _, takeover := range []bool{false, true} {
		offer := "permessage-deflate"
		if !takeover {
			offer += "; client_no_context_takeover"
		}
		server, rp := ctRawClient(t, cpOn, offer)
		enc := cpEncoder{takeover: takeover}
		msg := content("text", 30000, 5)
		c := enc.encode(t, msg)
		rp.Conn.Write(rawpeer.Frame{RSV: rawpeer.RSV1, Op: rawpeer.OpText, Payload: c[:len(c)/2]}.Mask().Encode())
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		_, _, err := server.Read(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("read: %v, want the deadline", err)
		}
		rp.Conn.Write(rawpeer.Frame{Fin: true, Op: rawpeer.OpCont, Payload: c[len(c)/2:]}.Mask().Encode())
		rp.Conn.Write(rawpeer.Frame{Fin: true, RSV: rawpeer.RSV1, Op: rawpeer.OpText, Payload: enc.encode(t, msg)}.Mask().Encode())
		rc := ctReadAsync(ctCtx(t), server)
		if !takeover {
			if r := ctWait(t, rc); r.err != nil || !bytes.Equal(r.p, msg) {
				t.Fatalf("without takeover: %d bytes, %v", len(r.p), r.err)
			}
			continue
		}
		cpExpectClose(t, rp, StatusInternalError)
		rp.Conn.Close()
		ctCloseErr(t, "server", ctWait(t, rc).err, StatusInternalError, "compression context lost", false)
	}
}

// TestWriterAbandonedCompressed: a streamed text message that fails its
// UTF-8 check before anything went out leaves the connection usable, and
// the deflater's next message, a new stream, inflates under context
// takeover.
func TestWriterAbandonedCompressed(t *testing.T) {
	server, rp := ctRawClient(t, cpOn, "permessage-deflate")
	ctx := ctCtx(t)
	dec := cpDecoder{takeover: true}
	msg := jsonDocument(3000)
	if err := server.Write(ctx, MessageText, msg); err != nil {
		t.Fatal(err)
	}
	if _, _, p, _ := cpReadMessage(t, rp); !bytes.Equal(dec.decode(t, p), msg) {
		t.Fatal("first message")
	}
	w, _ := server.Writer(ctx, MessageText)
	w.Write(msg[:1000])
	if _, err := w.Write([]byte("\xff")); err != errWriteUTF8 {
		t.Fatalf("invalid UTF-8: %v", err)
	}
	if err := w.Close(); err != errWriteUTF8 {
		t.Fatalf("Close: %v", err)
	}
	for range 3 {
		if err := server.Write(ctx, MessageText, msg); err != nil {
			t.Fatal(err)
		}
		if _, _, p, _ := cpReadMessage(t, rp); !bytes.Equal(dec.decode(t, p), msg) {
			t.Fatal("message after the abandoned one")
		}
	}
}

// cpFinalBlock compresses p into a DEFLATE stream that ends with a block
// with BFINAL set (RFC 7692 section 7.2.3.4).
func cpFinalBlock(t *testing.T, p []byte) []byte {
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(p)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

package wsproto

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

// chatMessage is about 300 bytes of the JSON a chat sends.
func chatMessage(i int) []byte {
	return fmt.Appendf(nil, `{"type":"message","room":"general","id":%d,"user":{"id":1042,"name":"alice","avatar":"https://cdn.example.com/a/1042.png"},"text":"Hello everyone! Message number %d: has anyone tried the new build yet?","ts":"2024-05-17T09:%02d:%02dZ","reactions":[{"emoji":"+1","count":%d}]}`, 100000+i, i, i%60, (i*7)%60, i%5)
}

// jsonDocument is about n bytes of JSON: an array of chat messages.
func jsonDocument(n int) []byte {
	b := []byte("[")
	for i := 0; len(b) < n-400; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, chatMessage(i)...)
	}
	return append(b, ']')
}

// content returns n bytes of one kind.
func content(kind string, n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, 7))
	switch kind {
	case "zeros":
	case "random":
		for i := range b {
			b[i] = byte(r.Uint32())
		}
	case "text":
		words := strings.Fields("the quick brown fox jumps over a lazy dog while websocket frames carry compressed messages")
		b = b[:0]
		for len(b) < n {
			b = append(b, words[r.IntN(len(words))]...)
			b = append(b, ' ')
		}
		b = b[:n]
	case "json":
		d := jsonDocument(n + 1000)
		copy(b, d[int(seed)%500:])
	case "mixed": // compressible and random runs
		for i := range b {
			if (i/1000)%2 == 0 {
				b[i] = byte(r.Uint32())
			} else {
				b[i] = byte(i % 17)
			}
		}
	}
	return b
}

var roundTripSizes = []int{0, 1, 100, 64 << 10, 1 << 20}

// Messages of every size and kind survive compression and decompression,
// 20 in a row on one deflater and one inflater, with and without context
// takeover, through appendCompress/appendInflate and through the streaming
// calls with a source that is not an io.ByteReader.
func TestDeflateRoundTrip(t *testing.T) {
	for _, kind := range []string{"zeros", "random", "text", "json", "mixed"} {
		for _, noTakeover := range []bool{false, true} {
			for _, level := range []int{flate.BestSpeed, flate.DefaultCompression} {
				name := fmt.Sprintf("%s/noContextTakeover=%v/level=%d", kind, noTakeover, level)
				t.Run(name, func(t *testing.T) {
					d, err := newDeflater(level, noTakeover, 15)
					if err != nil {
						t.Fatal(err)
					}
					f := newInflater(noTakeover, 15)
					var compressed, out []byte
					for i := range 20 {
						size := roundTripSizes[i%len(roundTripSizes)]
						if testing.Short() && size > 64<<10 {
							size = 64 << 10
						}
						msg := content(kind, size, uint64(i))
						streamed := i%2 == 1
						if streamed {
							var buf bytes.Buffer
							d.begin(&buf)
							for p := msg; len(p) > 0; {
								n := min(len(p), 1000+i*37)
								if _, err := d.Write(p[:n]); err != nil {
									t.Fatal(err)
								}
								p = p[n:]
							}
							if err := d.finish(); err != nil {
								t.Fatal(err)
							}
							compressed = buf.Bytes()
						} else {
							compressed, err = d.appendCompress(compressed[:0], msg)
							if err != nil {
								t.Fatal(err)
							}
						}
						if bytes.HasSuffix(compressed, []byte{0, 0, 0xff, 0xff}) && len(compressed) < 5 {
							t.Fatalf("message %d: tail not removed: % x", i, compressed)
						}
						if streamed {
							var w bytes.Buffer
							n, err := f.inflateTo(&w, iotest.HalfReader(bytes.NewReader(compressed)), int64(len(msg)))
							if err != nil || n != int64(len(msg)) {
								t.Fatalf("message %d (%d bytes): inflated %d, %v", i, len(msg), n, err)
							}
							out = w.Bytes()
						} else {
							out, err = f.appendInflate(out[:0], compressed, int64(len(msg)))
							if err != nil {
								t.Fatalf("message %d (%d bytes): %v", i, len(msg), err)
							}
						}
						if !bytes.Equal(out, msg) {
							t.Fatalf("message %d (%d bytes): got %d different bytes", i, len(msg), len(out))
						}
					}
					if fresh, _ := newDeflater(level, noTakeover, 15); noTakeover && (d.kept() != fresh.kept() || f.fr != nil) {
						t.Fatal("an idle connection without context takeover holds a flate reader or writer")
					}
					if f.fr != nil {
						t.Fatal("an idle inflater holds a flate reader")
					}
				})
			}
		}
	}
}

// Context takeover shares the window: a message repeated compresses to
// almost nothing the second time (a twentieth: the encoder's small hash
// table misses a few matches); without it, to the same size.
func TestDeflateContextTakeover(t *testing.T) {
	msg := content("random", 10000, 1)
	for _, noTakeover := range []bool{false, true} {
		d, _ := newDeflater(flate.DefaultCompression, noTakeover, 15)
		f := newInflater(noTakeover, 15)
		first, _ := d.appendCompress(nil, msg)
		second, _ := d.appendCompress(nil, msg)
		if noTakeover && len(second) != len(first) {
			t.Errorf("no context takeover: %d bytes, then %d", len(first), len(second))
		}
		if !noTakeover && len(second) > len(msg)/20 {
			t.Errorf("context takeover: %d bytes, then %d", len(first), len(second))
		}
		for i, c := range [][]byte{first, second} {
			out, err := f.appendInflate(nil, c, -1)
			if err != nil || !bytes.Equal(out, msg) {
				t.Fatalf("noContextTakeover=%v message %d: %d bytes, %v", noTakeover, i, len(out), err)
			}
		}
	}
	// The window spans messages: 40 KiB across many small messages, then
	// one that refers back to all of it.
	d, _ := newDeflater(flate.BestCompression, false, 15)
	f := newInflater(false, 15)
	for i := range 50 {
		msg := content("mixed", 800+i, uint64(i))
		c, _ := d.appendCompress(nil, msg)
		out, err := f.appendInflate(nil, c, -1)
		if err != nil || !bytes.Equal(out, msg) {
			t.Fatalf("message %d: %v", i, err)
		}
	}
}

// What a deflater sends, with 00 00 ff ff put back, a fresh compress/flate
// reader reads; with context takeover, the messages together are one
// stream that one reader reads through.
func TestDeflateInterop(t *testing.T) {
	for _, noTakeover := range []bool{false, true} {
		d, _ := newDeflater(0, noTakeover, 15)
		var stream bytes.Buffer
		var msgs [][]byte
		for i := range 20 {
			msg := content([]string{"json", "text", "random", "zeros"}[i%4], []int{0, 1, 300, 5000, 70000}[i%5], uint64(i))
			msgs = append(msgs, msg)
			c, err := d.appendCompress(nil, msg)
			if err != nil {
				t.Fatal(err)
			}
			c = append(c, 0x00, 0x00, 0xff, 0xff)
			stream.Write(c)
			if noTakeover || i == 0 {
				got := make([]byte, len(msg))
				if _, err := io.ReadFull(flate.NewReader(bytes.NewReader(c)), got); err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("noContextTakeover=%v message %d: a fresh flate reader fails: %v", noTakeover, i, err)
				}
			}
		}
		if !noTakeover {
			r := flate.NewReader(&stream)
			for i, msg := range msgs {
				got := make([]byte, len(msg))
				if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("message %d of the stream: %v", i, err)
				}
			}
		}
	}

	// The other way: what compress/flate sends at any level, cut as
	// section 7.2.1 says, an inflater reads, one stream over 20 messages.
	for level := flate.HuffmanOnly; level <= flate.BestCompression; level++ {
		var buf bytes.Buffer
		w, _ := flate.NewWriter(&buf, level)
		f := newInflater(false, 15)
		for i := range 20 {
			msg := content("json", 100*i, uint64(i))
			buf.Reset()
			w.Write(msg)
			w.Flush()
			c := bytes.TrimSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff})
			out, err := f.appendInflate(nil, c, -1)
			if err != nil || !bytes.Equal(out, msg) {
				t.Fatalf("level %d message %d: %v", level, i, err)
			}
		}
	}
}

// The examples of RFC 7692 section 7.2.3, and an empty message.
func TestInflateRFCExamples(t *testing.T) {
	hello := []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}
	tests := []struct {
		name     string
		msgs     [][]byte
		want     []string
		takeover bool
	}{
		{name: "7.2.3.1 a message compressed", msgs: [][]byte{hello}, want: []string{"Hello"}},
		{name: "7.2.3.1 twice without takeover", msgs: [][]byte{hello, hello}, want: []string{"Hello", "Hello"}},
		{name: "7.2.3.2 sharing the window", msgs: [][]byte{hello, {0xf2, 0x00, 0x11, 0x00, 0x00}}, want: []string{"Hello", "Hello"}, takeover: true},
		{name: "7.2.3.3 stored block", msgs: [][]byte{{0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}}, want: []string{"Hello"}},
		{name: "7.2.3.4 BFINAL set", msgs: [][]byte{{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}}, want: []string{"Hello"}},
		{name: "7.2.3.4 BFINAL, then the window goes on", msgs: [][]byte{{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}, {0xf2, 0x00, 0x11, 0x00, 0x00}}, want: []string{"Hello", "Hello"}, takeover: true},
		{name: "7.2.3.5 two blocks", msgs: [][]byte{{0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00}}, want: []string{"Hello"}},
		{name: "7.2.3.6 empty message", msgs: [][]byte{{0x00}}, want: []string{""}},
	}
	for _, tt := range tests {
		for _, streamed := range []bool{false, true} {
			f := newInflater(!tt.takeover, 15)
			for i, m := range tt.msgs {
				var out []byte
				var err error
				if streamed {
					var w bytes.Buffer
					_, err = f.inflateTo(&w, iotest.OneByteReader(bytes.NewReader(m)), 100)
					out = w.Bytes()
				} else {
					out, err = f.appendInflate(nil, m, 100)
				}
				if err != nil || string(out) != tt.want[i] {
					t.Errorf("%s (streamed %v) message %d: %q, %v; want %q", tt.name, streamed, i, out, err, tt.want[i])
				}
			}
		}
	}
	// An empty payload is not valid compressed data: 00 00 ff ff alone is
	// no block.
	if _, err := newInflater(true, 15).appendInflate(nil, nil, 100); !errors.Is(err, errBadDeflate) {
		t.Errorf("empty payload: %v, want errBadDeflate", err)
	}
	// Section 7.2.3.6: an empty message is sent as the single byte 0x00.
	for _, noTakeover := range []bool{false, true} {
		d, _ := newDeflater(0, noTakeover, 15)
		for range 2 {
			if c, err := d.appendCompress(nil, nil); err != nil || !bytes.Equal(c, []byte{0}) {
				t.Errorf("empty message compressed to % x, %v", c, err)
			}
		}
	}
}

// The limit holds to the byte: a message of exactly the limit inflates; one
// byte more fails with errInflateLimit, after no more than the limit.
func TestInflateLimit(t *testing.T) {
	msg := content("text", 5000, 1)
	d, _ := newDeflater(0, true, 15)
	c, _ := d.appendCompress(nil, msg)
	f := newInflater(true, 15)
	for _, limit := range []int64{5000, 5001, -1} {
		if out, err := f.appendInflate(nil, c, limit); err != nil || !bytes.Equal(out, msg) {
			t.Fatalf("limit %d: %v", limit, err)
		}
	}
	for _, limit := range []int64{0, 1, 4096, 4999} {
		out, err := f.appendInflate(nil, c, limit)
		if err != errInflateLimit {
			t.Fatalf("limit %d: %v, want errInflateLimit", limit, err)
		}
		if int64(len(out)) > limit || !bytes.Equal(out, msg[:len(out)]) {
			t.Fatalf("limit %d: returned %d bytes", limit, len(out))
		}
		n, err := f.inflateTo(io.Discard, bytes.NewReader(c), limit)
		if err != errInflateLimit || n > limit {
			t.Fatalf("limit %d: inflateTo wrote %d, %v", limit, n, err)
		}
	}
	// With context takeover, a message cut short by the limit loses the
	// context: the next one fails rather than inflating wrong.
	ft := newInflater(false, 15)
	if _, err := ft.appendInflate(nil, c, 10); err != errInflateLimit {
		t.Fatal(err)
	}
	if _, err := ft.appendInflate(nil, c, -1); err != errDeflateContext {
		t.Fatalf("after a failed message: %v, want errDeflateContext", err)
	}
}

// A decompression bomb: 10 MiB of zeros in about 10 KiB, inflated under a
// 1 MiB limit, fails with errInflateLimit having allocated nowhere near
// 10 MiB.
func TestInflateBomb(t *testing.T) {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	w.Write(make([]byte, 10<<20))
	w.Flush()
	bomb := bytes.TrimSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff})
	if len(bomb) > 20<<10 {
		t.Fatalf("bomb is %d bytes", len(bomb))
	}
	const limit = 1 << 20
	for _, noTakeover := range []bool{false, true} {
		f := newInflater(noTakeover, 15)
		f.appendInflate(nil, []byte{0}, limit) // warm the pool
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		out, err := f.appendInflate(nil, bomb, limit)
		runtime.ReadMemStats(&after)
		if err != errInflateLimit || len(out) != limit {
			t.Fatalf("got %d bytes, %v; want %d and errInflateLimit", len(out), err, limit)
		}
		// appendInflate grows its slice up to the limit: about 2 MiB in
		// all, as it doubles it (more with -race, whose pools drop items).
		if a := after.TotalAlloc - before.TotalAlloc; a > 4<<20 {
			t.Errorf("appendInflate allocated %d bytes for a %d-byte bomb", a, len(bomb))
		} else {
			t.Logf("appendInflate: %d-byte bomb, %d bytes allocated", len(bomb), a)
		}

		f = newInflater(noTakeover, 15) // with takeover, f's context is lost
		runtime.ReadMemStats(&before)
		n, err := f.inflateTo(io.Discard, bytes.NewReader(bomb), limit)
		runtime.ReadMemStats(&after)
		if err != errInflateLimit || n != limit {
			t.Fatalf("inflateTo: %d bytes, %v", n, err)
		}
		if a := after.TotalAlloc - before.TotalAlloc; a > 256<<10 {
			t.Errorf("inflateTo allocated %d bytes for a %d-byte bomb", a, len(bomb))
		} else {
			t.Logf("inflateTo: %d bytes allocated", a)
		}
	}
}

func TestInflateErrors(t *testing.T) {
	f := newInflater(true, 15)
	// BTYPE 11 is reserved (RFC 1951 section 3.2.3).
	for _, bad := range [][]byte{{0xff}, {0x07}, {0x00, 0x05, 0x00, 0x00, 0x00}, {0xf2, 0x48, 0xcd}} {
		out, err := f.appendInflate(nil, bad, 1000)
		if !errors.Is(err, errBadDeflate) {
			t.Errorf("% x: %q, %v; want errBadDeflate", bad, out, err)
		}
	}
	// A reference back past the start of the window (distance 1, no
	// output yet) is corrupt.
	var buf bytes.Buffer
	w, _ := flate.NewWriterDict(&buf, flate.BestCompression, []byte("Hello, Hello, Hello"))
	w.Write([]byte("Hello, Hello, Hello"))
	w.Flush()
	if _, err := f.appendInflate(nil, buf.Bytes(), 1000); !errors.Is(err, errBadDeflate) {
		t.Errorf("reference before the window: %v", err)
	}
	// The source's own error comes through as it is.
	boom := errors.New("boom")
	src := io.MultiReader(bytes.NewReader([]byte{0xf2, 0x48}), iotest.ErrReader(boom))
	if _, err := f.inflateTo(io.Discard, src, 1000); err != boom {
		t.Errorf("source error: %v, want boom", err)
	}
	// A writer's error too.
	d, _ := newDeflater(0, true, 15)
	c, _ := d.appendCompress(nil, content("random", 10000, 3))
	if _, err := f.inflateTo(errWriter{boom}, bytes.NewReader(c), -1); err != boom {
		t.Errorf("writer error: %v, want boom", err)
	}
	if _, err := f.Read(make([]byte, 10)); err == nil {
		t.Error("Read after the message failed")
	}
	if _, err := newInflater(true, 15).Read(make([]byte, 10)); err == nil {
		t.Error("Read with no message")
	}
}

type errWriter struct{ err error }

func (w errWriter) Write([]byte) (int, error) { return 0, w.err }

// A message abandoned before its end breaks context takeover, and only
// context takeover.
func TestInflateAbandoned(t *testing.T) {
	msg := content("text", 3000, 9)
	for _, noTakeover := range []bool{false, true} {
		d, _ := newDeflater(0, noTakeover, 15)
		c1, _ := d.appendCompress(nil, msg)
		c2, _ := d.appendCompress(nil, msg)
		f := newInflater(noTakeover, 15)
		f.beginBytes(c1, -1)
		if _, err := f.Read(make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
		f.end()
		out, err := f.appendInflate(nil, c2, -1)
		if noTakeover && (err != nil || !bytes.Equal(out, msg)) {
			t.Errorf("without context takeover: %v", err)
		}
		if !noTakeover && err != errDeflateContext {
			t.Errorf("with context takeover: %v, want errDeflateContext", err)
		}
	}
}

// After an error midway, a deflater starts the next message as a new
// stream, with or without context takeover; a peer inflater whose window
// holds earlier messages inflates it all the same.
func TestDeflaterErrors(t *testing.T) {
	for _, level := range []int{-3, 10} {
		if _, err := newDeflater(level, true, 15); err == nil {
			t.Errorf("level %d accepted", level)
		}
	}
	boom := errors.New("boom")
	for _, noTakeover := range []bool{false, true} {
		d, _ := newDeflater(0, noTakeover, 15)
		f := newInflater(noTakeover, 15)
		first := content("text", 5000, 3)
		c0, err := d.appendCompress(nil, first)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := f.appendInflate(nil, c0, -1); err != nil || !bytes.Equal(out, first) {
			t.Fatalf("first message: %v", err)
		}
		d.begin(errWriter{boom})
		_, err = d.Write(content("random", 100000, 1))
		if err == nil {
			err = d.finish()
		}
		if !errors.Is(err, boom) {
			t.Fatalf("%v, want boom", err)
		}
		if _, err := d.Write([]byte("x")); err != errDeflaterIdle {
			t.Fatalf("Write after the error: %v, want errDeflaterIdle", err)
		}
		for i, msg := range [][]byte{[]byte("hello"), first, first} {
			c, err := d.appendCompress(nil, msg)
			out, ierr := f.appendInflate(nil, c, -1)
			if err != nil || ierr != nil || !bytes.Equal(out, msg) {
				t.Errorf("noContextTakeover=%v, message %d after the error: %v %v", noTakeover, i, err, ierr)
			}
		}
	}
}

// abort drops an unfinished message only.
func TestDeflaterAbort(t *testing.T) {
	d, _ := newDeflater(2, false, 15)
	f := newInflater(false, 15)
	msg := content("json", 3000, 4)
	var sink bytes.Buffer
	d.begin(&sink)
	d.Write(msg[:1000])
	d.abort() // never sent: the peer knows nothing of it
	for i := range 3 {
		c, err := d.appendCompress(nil, msg)
		d.abort() // after finish: no effect
		out, ierr := f.appendInflate(nil, c, -1)
		if err != nil || ierr != nil || !bytes.Equal(out, msg) {
			t.Fatalf("message %d: %v %v", i, err, ierr)
		}
		if i > 0 && len(c) > len(msg)/10 {
			t.Errorf("message %d: %d bytes for a repeat of %d: context not taken over", i, len(c), len(msg))
		}
	}
}

// A window of each size holds exactly the last size bytes written, in
// order, through writes shorter and longer than itself, whether bytes
// unrolls the ring often or rarely.
func TestWindowKeepsLastBytes(t *testing.T) {
	for _, size := range []int{512, 1 << 12, deflateWindow} {
		for _, every := range []int{1, 7} {
			w := window{size: size}
			var all []byte
			r := rand.New(rand.NewPCG(1, uint64(size)))
			for i := range 200 {
				n := r.IntN(min(3000, size+size/2))
				if i%50 == 49 {
					n = size + r.IntN(100)
				}
				p := content("random", n, uint64(i))
				all = append(all, p...)
				w.write(p)
				if i%every == 0 {
					want := all[max(0, len(all)-size):]
					if got := w.bytes(); !bytes.Equal(got, want) {
						t.Fatalf("size %d, write %d: window of %d bytes differs from the last %d", size, i, len(got), len(want))
					}
				}
			}
			if len(w.buf) != size || cap(w.buf) != size {
				t.Errorf("size %d: buffer of len %d, cap %d", size, len(w.buf), cap(w.buf))
			}
		}
	}
}

// With context takeover, an inflater keeps between messages the last
// 2^bits bytes of output for the window the peer agreed to, 512 bytes for
// 8 bits as for 9 (zlib compresses with 9 when asked for 8): a message
// that refers back that far inflates, one that refers further fails.
func TestInflaterKeepsAgreedWindow(t *testing.T) {
	for _, tc := range []struct{ bits, keeps int }{{8, 512}, {9, 512}, {12, 4096}, {14, 16384}, {15, 32768}} {
		f := newInflater(false, tc.bits)
		first := content("random", 40000, uint64(tc.bits))
		if out, err := f.appendInflate(nil, flateCompress(t, nil, first), -1); err != nil || !bytes.Equal(out, first) {
			t.Fatalf("bits %d, first message: %d bytes, %v", tc.bits, len(out), err)
		}
		if len(f.win.buf) != tc.keeps || cap(f.win.buf) != tc.keeps {
			t.Fatalf("bits %d: window of len %d, cap %d; want %d", tc.bits, len(f.win.buf), cap(f.win.buf), tc.keeps)
		}
		tail := first[len(first)-tc.keeps:]
		if !bytes.Equal(f.win.bytes(), tail) {
			t.Fatalf("bits %d: the window is not the last %d bytes of output", tc.bits, tc.keeps)
		}
		// Random bytes compress only by referring to the window: all of
		// it, from its oldest byte on.
		if out, err := f.appendInflate(nil, flateCompress(t, tail, tail), -1); err != nil || !bytes.Equal(out, tail) {
			t.Fatalf("bits %d: a message referring %d bytes back: %d bytes, %v", tc.bits, tc.keeps, len(out), err)
		}
		if tc.keeps == deflateWindow {
			continue // compress/flate refers no further than 32 KiB
		}
		g := newInflater(false, tc.bits)
		g.appendInflate(nil, flateCompress(t, nil, first), -1)
		older := first[len(first)-tc.keeps-300 : len(first)-tc.keeps]
		if out, err := g.appendInflate(nil, flateCompress(t, first, older), -1); !errors.Is(err, errBadDeflate) {
			t.Fatalf("bits %d: a message referring past the window: %d bytes, %v", tc.bits, len(out), err)
		}
	}
}

// flateCompress compresses msg with compress/flate, dict as the earlier
// output, as a peer would (RFC 7692 section 7.2.1).
func flateCompress(t *testing.T, dict, msg []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := flate.NewWriterDict(&buf, flate.BestCompression, dict)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(msg)
	w.Flush()
	c, ok := bytes.CutSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff})
	if !ok {
		t.Fatal("compress/flate's flush did not end with 00 00 ff ff")
	}
	return c
}

// Memory per connection, as documented at the top of deflate.go: logged,
// and checked where it must hold, in that an idle connection without
// context takeover keeps nothing and one with keeps no more than its
// window and writer.
func TestDeflateMemory(t *testing.T) {
	msg := chatMessage(1)
	measure := func(f func()) uint64 {
		var a, b runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&a)
		f()
		runtime.ReadMemStats(&b)
		return b.TotalAlloc - a.TotalAlloc
	}
	for _, level := range []int{flate.HuffmanOnly, flate.BestSpeed, flate.DefaultCompression} {
		var w *flate.Writer
		n := measure(func() { w, _ = flate.NewWriter(io.Discard, level) })
		t.Logf("flate.NewWriter level %d: %d bytes", level, n)
		_ = w
	}
	var r io.ReadCloser
	t.Logf("flate.NewReader: %d bytes", measure(func() { r = flate.NewReader(bytes.NewReader(nil)) }))
	_ = r

	d, _ := newDeflater(0, false, 15)
	f := newInflater(false, 15)
	c, _ := d.appendCompress(nil, msg)
	f.appendInflate(nil, c, -1)
	t.Logf("deflater with context takeover, 15 bits: %d bytes kept", d.kept())
	if f.fr != nil || cap(f.win.buf) != deflateWindow || d.kept() > 48<<10 || d.kept() < deflateWindow {
		t.Fatalf("context takeover: reader %v, window %d, deflater keeps %d bytes", f.fr != nil, cap(f.win.buf), d.kept())
	}
	dn, _ := newDeflater(0, true, 15)
	fresh := dn.kept()
	fn := newInflater(true, 15)
	c, _ = dn.appendCompress(nil, msg)
	fn.appendInflate(nil, c, -1)
	if fn.fr != nil || fn.win.buf != nil || dn.kept() != fresh {
		t.Fatal("no context takeover: an idle connection holds state")
	}
}

// FuzzInflate: arbitrary bytes inflated under a limit never panic, never
// give more than the limit, and fail only with errInflateLimit or
// errBadDeflate, on both kinds of inflater; an inflater with context
// takeover is left either working or failing with errDeflateContext.
func FuzzInflate(f *testing.F) {
	f.Add([]byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, uint16(100))
	f.Add([]byte{0x00}, uint16(0))
	f.Add([]byte{0xff}, uint16(10))
	f.Fuzz(func(t *testing.T, data []byte, limit uint16) {
		for _, noTakeover := range []bool{false, true} {
			in := newInflater(noTakeover, 15)
			for round := range 2 {
				out, err := in.appendInflate(nil, data, int64(limit))
				if len(out) > int(limit) {
					t.Fatalf("%d bytes out, limit %d", len(out), limit)
				}
				switch {
				case err == nil, err == errInflateLimit, errors.Is(err, errBadDeflate):
				case err == errDeflateContext && !noTakeover && round > 0:
				default:
					t.Fatalf("round %d: %v", round, err)
				}
				n, err2 := newInflater(noTakeover, 15).inflateTo(io.Discard, iotest.HalfReader(bytes.NewReader(data)), int64(limit))
				if round == 0 && (n != int64(len(out)) || (err == nil) != (err2 == nil)) {
					t.Fatalf("streamed: %d bytes, %v; whole: %d bytes, %v", n, err2, len(out), err)
				}
			}
		}
	})
}

func BenchmarkDeflate(b *testing.B) {
	for _, tc := range []struct {
		name string
		msg  []byte
	}{
		{"chat300B", chatMessage(42)},
		{"json64KiB", jsonDocument(64 << 10)},
	} {
		for _, noTakeover := range []bool{false, true} {
			for _, level := range []int{flate.BestSpeed, 2, flate.DefaultCompression} {
				b.Run(fmt.Sprintf("%s/noContextTakeover=%v/level=%d", tc.name, noTakeover, level), func(b *testing.B) {
					d, _ := newDeflater(level, noTakeover, 15)
					f := newInflater(noTakeover, 15)
					var c, out []byte
					var total int
					b.SetBytes(int64(len(tc.msg)))
					b.ReportAllocs()
					for i := 0; b.Loop(); i++ {
						msg := tc.msg
						if len(msg) < 1000 {
							msg = chatMessage(i) // chat messages differ
						}
						var err error
						c, err = d.appendCompress(c[:0], msg)
						if err != nil {
							b.Fatal(err)
						}
						total += len(c)
						out, err = f.appendInflate(out[:0], c, -1)
						if err != nil || len(out) != len(msg) {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.N*len(tc.msg))/float64(total), "ratio")
				})
			}
		}
	}
}

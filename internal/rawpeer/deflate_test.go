package rawpeer

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

// The window sizes the tests try: the smallest and largest RFC 7692
// allows (section 7.1.2), and two between.
var windowBits = []int{8, 9, 12, 15}

// randomBytes returns n bytes that are the same on every run.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// lines returns at least n bytes of text that repeats every line but its
// number.
func lines(n int) []byte {
	var b []byte
	for i := 0; len(b) < n; i++ {
		b = fmt.Appendf(b, "line %d: the quick brown fox jumps over the lazy dog\n", i)
	}
	return b
}

// join returns the parts one after the other.
func join(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// flateDecode decodes payload, a message of a stream whose earlier
// messages were history, with compress/flate: the 00 00 ff ff the sender
// removed goes back on (RFC 7692 section 7.2.2), then an empty stored
// block with BFINAL set ends the stream.
func flateDecode(history, payload []byte) ([]byte, error) {
	in := join(payload, []byte{0x00, 0x00, 0xff, 0xff}, []byte{0x01, 0x00, 0x00, 0xff, 0xff})
	return io.ReadAll(flate.NewReaderDict(bytes.NewReader(in), history))
}

// naiveCases are messages for NaiveDeflate, each after its history.
// dist, if not 0, is the largest distance the encoder must use when the
// window holds it.
var naiveCases = []struct {
	name         string
	history, msg []byte
	dist         int
}{
	{"empty", nil, nil, 0},
	{"empty after history", []byte("hello"), nil, 0},
	{"one byte", nil, []byte("a"), 0},
	{"near repeats", nil, []byte("abcabcabcabc hello hello hello, abcabc"), 0},
	{"run of one byte", nil, bytes.Repeat([]byte("x"), 1000), 1},
	{"repeat 600 back", nil, join(randomBytes(100, 1), randomBytes(500, 2), randomBytes(100, 1)), 600},
	{"repeat 600 back in history", join(randomBytes(100, 1), randomBytes(500, 2)), randomBytes(100, 1), 600},
	{"repeat of the whole history", randomBytes(1000, 3), randomBytes(1000, 3), 1000},
	{"random", nil, randomBytes(3000, 4), 0},
	{"100 KiB", nil, lines(100 << 10), 0},
}

// TestNaiveDeflate: compress/flate decodes what NaiveDeflate encodes to
// the message itself, whatever the window.
func TestNaiveDeflate(t *testing.T) {
	for _, c := range naiveCases {
		for _, bits := range windowBits {
			payload := NaiveDeflate(c.history, c.msg, bits)
			got, err := flateDecode(c.history, payload)
			if err != nil || !bytes.Equal(got, c.msg) {
				t.Errorf("%s, %d bits: compress/flate decodes %d bytes %.20q, %v; want %d bytes %.20q",
					c.name, bits, len(got), got, err, len(c.msg), c.msg)
			}
			// RFC 7692 section 7.2.3.6: an empty message is one 0x00.
			if len(c.msg) == 0 && !bytes.Equal(payload, []byte{0}) {
				t.Errorf("%s, %d bits: payload % x, want 00", c.name, bits, payload)
			}
		}
	}
}

// TestInflaterNaive: the Inflater decodes what NaiveDeflate encodes, and
// finds that it stays within the window: never beyond it, and at the
// distance the case gives when the window holds that.
func TestInflaterNaive(t *testing.T) {
	for _, c := range naiveCases {
		for _, bits := range windowBits {
			f := NewInflater(bits, 1<<20)
			// The history is an earlier message of the stream.
			var maxDist int
			for _, m := range []struct{ history, msg []byte }{{nil, c.history}, {c.history, c.msg}} {
				out, d, err := f.Message(NaiveDeflate(m.history, m.msg, bits))
				if err != nil || !bytes.Equal(out, m.msg) {
					t.Errorf("%s, %d bits: decoded %d bytes %.20q, %v; want %d bytes %.20q",
						c.name, bits, len(out), out, err, len(m.msg), m.msg)
				}
				if d > f.Window() {
					t.Errorf("%s, %d bits: a reference %d bytes back", c.name, bits, d)
				}
				maxDist = d
			}
			if c.dist != 0 && c.dist <= f.Window() && maxDist != c.dist {
				t.Errorf("%s, %d bits: the furthest reference is %d bytes back, want %d", c.name, bits, maxDist, c.dist)
			}
		}
	}
}

// flateMessages compresses msgs with compress/flate at level as the
// messages of one stream (context takeover): a sync flush after each,
// whose trailing 00 00 ff ff comes off (RFC 7692 section 7.2.1).
func flateMessages(t testing.TB, level int, msgs [][]byte) [][]byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, level)
	if err != nil {
		t.Fatal(err)
	}
	var payloads [][]byte
	for _, m := range msgs {
		buf.Reset()
		w.Write(m)
		w.Flush()
		p := buf.Bytes()
		if !bytes.HasSuffix(p, []byte{0x00, 0x00, 0xff, 0xff}) {
			t.Fatalf("level %d: flush ends % x", level, p[max(0, len(p)-4):])
		}
		payloads = append(payloads, bytes.Clone(p[:len(p)-4]))
	}
	return payloads
}

// TestInflaterFlate: the Inflater decodes what compress/flate encodes,
// five messages in one stream, and its distances fit the data.
func TestInflaterFlate(t *testing.T) {
	distinct := make([]byte, 256) // no byte twice: nothing to refer to
	for i := range distinct {
		distinct[i] = byte(i * 7)
	}
	twice := join(randomBytes(1024, 5), randomBytes(1024, 5))
	text := lines(10000)
	msgs := [][]byte{distinct, []byte("hello hello hello, said the echo"), twice, text, nil}
	for _, level := range []int{flate.HuffmanOnly, flate.BestSpeed, 2, 6, flate.BestCompression} {
		f := NewInflater(15, 1<<20)
		for i, p := range flateMessages(t, level, msgs) {
			out, maxDist, err := f.Message(p)
			if err != nil || !bytes.Equal(out, msgs[i]) {
				t.Fatalf("level %d, message %d: decoded %d bytes %.20q, %v; want %d bytes %.20q",
					level, i, len(out), out, err, len(msgs[i]), msgs[i])
			}
			switch {
			case level == flate.HuffmanOnly || i == 0:
				// Huffman codes only, or nothing earlier repeats.
				if maxDist != 0 {
					t.Errorf("level %d, message %d: a reference %d bytes back", level, i, maxDist)
				}
			case bytes.Equal(msgs[i], twice) && level >= 6:
				// The second half repeats the first, and nothing
				// nearer repeats it.
				if maxDist < 1024 {
					t.Errorf("level %d, 1 KiB twice: the furthest reference is %d bytes back", level, maxDist)
				}
			case bytes.Equal(msgs[i], text):
				if maxDist == 0 {
					t.Errorf("level %d, repeated lines: no reference back", level)
				}
			}
		}
	}
}

// TestInflaterRFC7692: the payloads of the examples of RFC 7692 section
// 7.2.3, each "Hello".
func TestInflaterRFC7692(t *testing.T) {
	cases := []struct {
		name     string
		payloads [][]byte
		maxDist  int // of the last payload
	}{
		{"7.2.3.1 one message", [][]byte{{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}}, 0},
		{"7.2.3.2 the second refers to the first", [][]byte{
			{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, {0xf2, 0x00, 0x11, 0x00, 0x00}}, 5},
		{"7.2.3.3 a stored block", [][]byte{{0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}}, 0},
		{"7.2.3.4 BFINAL set", [][]byte{{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}}, 0},
		{"7.2.3.5 two blocks", [][]byte{{0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00}}, 0},
	}
	for _, c := range cases {
		f := NewInflater(15, 1<<20)
		var maxDist int
		for _, p := range c.payloads {
			out, d, err := f.Message(p)
			if err != nil || string(out) != "Hello" {
				t.Errorf("%s: % x decodes to %q, %v", c.name, p, out, err)
			}
			maxDist = d
		}
		if maxDist != c.maxDist {
			t.Errorf("%s: the last message refers %d back, want %d", c.name, maxDist, c.maxDist)
		}
	}
}

// TestInflaterReset: after Reset, the earlier messages are gone, and a
// reference to them is one to before the start of the stream.
func TestInflaterReset(t *testing.T) {
	f := NewInflater(15, 1<<20)
	hello := []byte("hello, world")
	f.Message(NaiveDeflate(nil, hello, 15))
	again := NaiveDeflate(hello, hello, 15)
	if out, maxDist, err := f.Message(again); err != nil || !bytes.Equal(out, hello) || maxDist != len(hello) {
		t.Fatalf("with context takeover: %q, %d back, %v", out, maxDist, err)
	}
	f.Reset()
	if out, _, err := f.Message(again); err == nil {
		t.Fatalf("after Reset: decoded %q", out)
	}
	if out, _, err := f.Message(NaiveDeflate(nil, hello, 15)); err != nil || !bytes.Equal(out, hello) {
		t.Fatalf("after Reset and an error: %q, %v", out, err)
	}
}

// build returns the bits write writes.
func build(write func(w *bitWriter)) []byte {
	w := &bitWriter{}
	write(w)
	return w.out
}

// fixedBlock starts a block with the fixed codes, BFINAL 0 (section
// 3.2.3).
func fixedBlock(w *bitWriter) { w.number(0, 1); w.number(1, 2) }

// dynamicBlock starts a block with dynamic codes (section 3.2.7): the
// header for nlit and ndist code lengths, then the code length code in
// which symbol s has cl[s] bits. The code lengths are the caller's to
// write.
func dynamicBlock(w *bitWriter, nlit, ndist int, cl map[int]int) {
	w.number(0, 1)
	w.number(2, 2)
	w.number(nlit-257, 5)
	w.number(ndist-1, 5)
	n := 4 // HCLEN + 4: up to the last length that is not 0
	for i, s := range codeLengthOrder {
		if cl[s] != 0 {
			n = max(n, i+1)
		}
	}
	w.number(n-4, 4)
	for _, s := range codeLengthOrder[:n] {
		w.number(cl[s], 3)
	}
}

// repeat writes the Huffman code c of n bits times times.
func repeat(w *bitWriter, c, n, times int) {
	for range times {
		w.code(c, n)
	}
}

// TestInflaterMalformed: input that RFC 1951 forbids, or that ends too
// soon or decompresses to too much, fails with the error for it.
func TestInflaterMalformed(t *testing.T) {
	all1 := map[int]int{}
	for s := range 19 {
		all1[s] = 1
	}
	cases := []struct {
		name    string
		payload []byte // before 00 00 ff ff goes back on
		limit   int    // 0 for 1 MiB
		want    string // in the error
	}{
		{"block type 3", build(func(w *bitWriter) { w.number(0, 1); w.number(3, 2) }), 0, "block type 3"},
		{"NLEN not the complement of LEN", []byte{0x00, 0x05, 0x00, 0x00, 0x00}, 0, "NLEN"},
		{"stored block cut short", []byte{0x00, 0x0a, 0x00, 0xf5, 0xff, 'a'}, 0, "ends inside a block"},
		{"empty payload", nil, 0, "ends inside a block"},
		{"compressed message cut short", NaiveDeflate(nil, lines(200), 15)[:10], 0, ""},
		{"past the limit", join([]byte{0x00, 0x64, 0x00, 0x9b, 0xff}, make([]byte, 100)), 50, "more than 50 bytes"},
		{"literal/length symbol 286", build(func(w *bitWriter) { fixedBlock(w); w.fixed(286) }), 0, "symbol 286"},
		{"literal/length symbol 287", build(func(w *bitWriter) { fixedBlock(w); w.fixed(287) }), 0, "symbol 287"},
		{"distance code 30", build(func(w *bitWriter) { fixedBlock(w); w.fixed('a'); w.fixed(257); w.code(30, 5) }), 0, "distance code 30"},
		{"distance code 31", build(func(w *bitWriter) { fixedBlock(w); w.fixed('a'); w.fixed(257); w.code(31, 5) }), 0, "distance code 31"},
		{"reference before the stream", build(func(w *bitWriter) { fixedBlock(w); w.fixed(257); w.code(0, 5) }), 0, "before the start"},
		{"HLIT 287", build(func(w *bitWriter) { dynamicBlock(w, 287, 1, map[int]int{0: 1, 8: 1}) }), 0, "HLIT"},
		{"over-subscribed code length code", build(func(w *bitWriter) { dynamicBlock(w, 257, 1, all1) }), 0, "code length code is over-subscribed"},
		// Three codes of 2 bits leave one free.
		{"incomplete code length code", build(func(w *bitWriter) { dynamicBlock(w, 257, 1, map[int]int{16: 2, 17: 2, 18: 2}) }), 0, "code length code is incomplete"},
		// Code length symbols 0 and 8 have codes 0 and 1: 257 lengths
		// of 8 bits are more codes than 8 bits hold.
		{"over-subscribed literal/length code", build(func(w *bitWriter) {
			dynamicBlock(w, 257, 1, map[int]int{0: 1, 8: 1})
			repeat(w, 1, 1, 257)
			w.code(0, 1)
		}), 0, "literal/length code is over-subscribed"},
		// Symbols 0 and 9: 257 codes of 9 bits leave 255 free.
		{"incomplete literal/length code", build(func(w *bitWriter) {
			dynamicBlock(w, 257, 1, map[int]int{0: 1, 9: 1})
			repeat(w, 1, 1, 257)
			w.code(0, 1)
		}), 0, "literal/length code is incomplete"},
		// Symbols 8, 2 and 9 have codes 0, 10 and 11: 255 literals of 8
		// bits and 2 of 9 make a complete code, 2 distances of 2 bits do
		// not.
		{"incomplete distance code", build(func(w *bitWriter) {
			dynamicBlock(w, 257, 2, map[int]int{8: 1, 2: 2, 9: 2})
			repeat(w, 0b0, 1, 255)
			repeat(w, 0b11, 2, 2)
			repeat(w, 0b10, 2, 2)
		}), 0, "distance code is incomplete"},
		// Symbols 0 and 16 have codes 0 and 1.
		{"16 with no previous length", build(func(w *bitWriter) {
			dynamicBlock(w, 257, 1, map[int]int{0: 1, 16: 1})
			w.code(1, 1)
			w.number(0, 2)
		}), 0, "no previous length"},
		// Symbols 0 and 18: 138 zeros twice are more than 258.
		{"too many code lengths", build(func(w *bitWriter) {
			dynamicBlock(w, 257, 1, map[int]int{0: 1, 18: 1})
			w.code(1, 1)
			w.number(127, 7)
			w.code(1, 1)
			w.number(127, 7)
		}), 0, "more than HLIT + HDIST"},
		// Symbols 0 and 1: the one literal/length code is 256's, 0; 1 is
		// no code.
		{"no such code", build(func(w *bitWriter) {
			dynamicBlock(w, 257, 1, map[int]int{0: 1, 1: 1})
			repeat(w, 0, 1, 256)
			w.code(1, 1)
			w.code(0, 1)
			w.code(1, 1)
		}), 0, "no code"},
	}
	for _, c := range cases {
		limit := c.limit
		if limit == 0 {
			limit = 1 << 20
		}
		out, _, err := NewInflater(15, limit).Message(c.payload)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: % x decodes to %d bytes %.20q, error %v; want one with %q", c.name, c.payload, len(out), out, err, c.want)
		}
	}
}

// TestInflaterOddCodes: the incomplete codes section 3.2.7 allows, no
// code and one code of one bit, decode.
func TestInflaterOddCodes(t *testing.T) {
	cases := []struct {
		name    string
		payload []byte
		want    string
		maxDist int
	}{
		// Code length symbols 0 and 1 have codes 0 and 1: the one
		// literal/length code is 256's, 0, and there is no distance
		// code.
		{"one literal/length code, of one bit", build(func(w *bitWriter) {
			dynamicBlock(w, 257, 1, map[int]int{0: 1, 1: 1})
			repeat(w, 0, 1, 256)
			w.code(1, 1)
			w.code(0, 1)
			w.code(0, 1)   // end of block
			w.number(0, 3) // the sync flush's stored block
		}), "", 0},
		// Code length symbols 8, 1 and 9 have codes 0, 10 and 11:
		// symbols 0-253 get 8 bits, codes 0-253, and 254-257 9 bits,
		// codes 508-511 (section 3.2.2). The one distance code, code
		// 0 (distance 1), is 0.
		{"one distance code, of one bit", build(func(w *bitWriter) {
			dynamicBlock(w, 258, 1, map[int]int{8: 1, 1: 2, 9: 2})
			repeat(w, 0b0, 1, 254)
			repeat(w, 0b11, 2, 4)
			w.code(0b10, 2)
			w.code('a', 8)
			w.code(511, 9) // length 3
			w.code(0, 1)   // distance 1
			w.code(510, 9) // end of block
			w.number(0, 3)
		}), "aaaa", 1},
	}
	for _, c := range cases {
		out, maxDist, err := NewInflater(15, 1<<20).Message(c.payload)
		if err != nil || string(out) != c.want || maxDist != c.maxDist {
			t.Errorf("%s: % x decodes to %q, %d back, %v; want %q, %d back", c.name, c.payload, out, maxDist, err, c.want, c.maxDist)
		}
		if got, err := flateDecode(nil, c.payload); err != nil || string(got) != c.want {
			t.Errorf("%s: compress/flate decodes %q, %v", c.name, got, err)
		}
	}
}

// flateAccepts decodes payload with compress/flate, after dict, ended in
// two ways: by an empty stored block with BFINAL set, and by an empty
// fixed block with BFINAL set (03 00). Only a payload that ends between
// two blocks, or with BFINAL, decodes alike both ways: one whose last
// block runs on into what follows it is not a message, but one of the
// two ends might complete it. It reports whether both ways decode, to
// the same at most limit bytes.
func flateAccepts(dict, payload []byte, limit int) ([]byte, bool) {
	var outs [2][]byte
	for i, end := range [][]byte{{0x01, 0x00, 0x00, 0xff, 0xff}, {0x03, 0x00}} {
		in := join(payload, []byte{0x00, 0x00, 0xff, 0xff}, end)
		r := io.LimitReader(flate.NewReaderDict(bytes.NewReader(in), dict), int64(limit)+1)
		out, err := io.ReadAll(r)
		if err != nil || len(out) > limit {
			return nil, false
		}
		outs[i] = out
	}
	return outs[0], bytes.Equal(outs[0], outs[1])
}

// FuzzInflater feeds the Inflater any payload, as the first message of a
// stream or after one: it must not panic, nor pass its limit, nor refer
// to before the stream, and when compress/flate accepts the payload the
// Inflater must decode it to the same bytes.
func FuzzInflater(f *testing.F) {
	history := []byte("hello, world: an earlier message of the stream")
	f.Add(NaiveDeflate(nil, []byte("hello hello hello"), 15), false)
	f.Add(NaiveDeflate(nil, lines(300), 8), false)
	f.Add(NaiveDeflate(history, []byte("hello, world"), 15), true)
	f.Add([]byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, false)
	f.Add([]byte{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, false)
	f.Add([]byte{0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}, false)
	for _, level := range []int{flate.HuffmanOnly, flate.BestSpeed, flate.BestCompression} {
		for _, p := range flateMessages(f, level, [][]byte{lines(500), []byte("the lazy dog")}) {
			f.Add(p, false)
		}
	}
	f.Fuzz(func(t *testing.T, payload []byte, withHistory bool) {
		const limit = 64 << 10
		inf := NewInflater(15, limit)
		var dict []byte
		if withHistory {
			if _, _, err := inf.Message(NaiveDeflate(nil, history, 15)); err != nil {
				t.Fatal(err)
			}
			dict = history
		}
		out, maxDist, err := inf.Message(payload)
		if len(out) > limit {
			t.Fatalf("%d bytes out, past the limit of %d", len(out), limit)
		}
		if err == nil && maxDist > len(dict)+len(out) {
			t.Fatalf("a reference %d bytes back, in a stream of %d bytes", maxDist, len(dict)+len(out))
		}
		want, ok := flateAccepts(dict, payload, limit)
		if ok && (err != nil || !bytes.Equal(out, want)) {
			t.Fatalf("compress/flate decodes %d bytes %.40q; the Inflater %d bytes %.40q, %v", len(want), want, len(out), out, err)
		}
	})
}

package deflate

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"

	"wsraise/internal/race"
	"wsraise/internal/rawpeer"
)

// inflateStream decodes messages that one encoder compressed, as one
// stream, with compress/flate: each gets back the 00 00 ff ff its sync
// flush lost (RFC 7692 section 7.2.2).
func inflateStream(t testing.TB, msgs [][]byte) []byte {
	t.Helper()
	var stream []byte
	for _, m := range msgs {
		stream = append(stream, m...)
		stream = append(stream, 0x00, 0x00, 0xff, 0xff)
	}
	stream = append(stream, 0x01, 0x00, 0x00, 0xff, 0xff) // a final empty block
	out, err := io.ReadAll(flate.NewReader(bytes.NewReader(stream)))
	if err != nil {
		t.Fatalf("compress/flate: %v", err)
	}
	return out
}

func TestRoundTripQuick(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	chat := func(i int) []byte {
		return fmt.Appendf(nil, `{"type":"message","room":"general","user":"user%d","text":"hello number %d, how are you doing today?","ts":%d}`, i%7, i, 1700000000+i*13)
	}
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return b
	}
	for _, wb := range []int{8, 9, 12, 15} {
		for _, level := range []int{HuffmanOnly, 1, 2, 9} {
			for _, takeover := range []bool{true, false} {
				e := New(wb, level, takeover)
				var in, out [][]byte
				var all []byte
				for i := range 50 {
					var m []byte
					switch i % 5 {
					case 0:
						m = random(rng.IntN(2000))
					case 1:
						m = bytes.Repeat(chat(i), 1+rng.IntN(800))
					case 4:
						if i%10 == 4 {
							m = random(70000 + rng.IntN(70000)) // blocks end at maxTokens
						} else {
							m = chat(i)
						}
					default:
						m = chat(i)
					}
					in = append(in, m)
					all = append(all, m...)
					c := e.Write(nil, m)
					c = e.Flush(c)
					out = append(out, c)
				}
				if takeover {
					if got := inflateStream(t, out); !bytes.Equal(got, all) {
						t.Fatalf("bits %d level %d: stream differs", wb, level)
					}
				} else {
					for i, c := range out {
						if got := inflateStream(t, [][]byte{c}); !bytes.Equal(got, in[i]) {
							t.Fatalf("bits %d level %d msg %d: differs", wb, level, i)
						}
					}
				}
			}
		}
	}
}

// What an encoder keeps between messages, measured on the heap over many
// encoders after one message each: the window plus a small table, at most
// 48 KiB for a 32 KiB window and 8 KiB for a 512-byte one; and nothing
// past its struct without context takeover.
func TestMemoryKept(t *testing.T) {
	if race.Enabled {
		// sync.Pool drops what is put back at random under -race, so the
		// pooled scratch is allocated again and counts on the heap. CI
		// runs this test without -race too.
		t.Skip("heap figures are not an encoder's under -race")
	}
	const n = 200
	msg := []byte(`{"type":"message","room":"general","text":"memory kept between messages"}`)
	cases := []struct {
		bits     int
		takeover bool
		max      int
	}{
		{15, true, 48 << 10},
		{12, true, 4<<10 + 8<<10 + 1<<10},
		{9, true, 8 << 10},
		{8, true, 8 << 10},
		{15, false, 256},
		{9, false, 256},
	}
	for _, c := range cases {
		// Fill the pools first: their scratch is not kept by an encoder.
		warm := New(c.bits, 0, false)
		warm.Flush(warm.Write(nil, msg))
		encs := make([]*Encoder, n)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range encs {
			encs[i] = New(c.bits, 0, c.takeover)
			encs[i].Flush(encs[i].Write(nil, msg))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		per := int(after.HeapAlloc-before.HeapAlloc) / n
		t.Logf("window %d bits, takeover %v: %d bytes per encoder (Kept says %d)", c.bits, c.takeover, per, encs[0].Kept())
		if per > c.max {
			t.Errorf("window %d bits, takeover %v: %d bytes per encoder, over %d", c.bits, c.takeover, per, c.max)
		}
		runtime.KeepAlive(encs)
	}
}

// Each block takes the smallest type: random bytes go out stored, at
// most a few bytes over their size; an empty message is one zero byte
// (RFC 7692 section 7.2.3.6), with or without data before it.
func TestBlockChoice(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	random := make([]byte, 200000)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	e := New(15, 0, true)
	if out := e.Flush(nil); !bytes.Equal(out, []byte{0}) {
		t.Errorf("empty message: % x, want 00", out)
	}
	out := e.Flush(e.Write(nil, random))
	// A stored block for every maxTokens bytes (each literal is a token),
	// 5 bytes of header each, and the sync flush's byte.
	if len(out) > len(random)+(len(random)/maxTokens+1)*5+1 {
		t.Errorf("random bytes: %d compressed bytes for %d", len(out), len(random))
	}
	if out := e.Flush(nil); !bytes.Equal(out, []byte{0}) {
		t.Errorf("empty message after another: % x, want 00", out)
	}
	zeros := make([]byte, 100000)
	if out := e.Flush(e.Write(nil, zeros)); len(out) > 300 {
		t.Errorf("zeros: %d compressed bytes for %d", len(out), len(zeros))
	}
	e = New(15, 0, true)
	if got := inflateStream(t, [][]byte{e.Flush(nil), e.Flush(e.Write(nil, random[:100]))}); !bytes.Equal(got, random[:100]) {
		t.Error("a message after an empty one does not inflate")
	}
}

// Edge sizes (around a byte, the hash's 8-byte read, the windows and a
// block), written whole or in pieces of 1 to 9 bytes, at every window:
// rawpeer's inflater gets each message back and finds no distance past
// the window, and compress/flate inflates the whole stream.
func TestEdgeSizes(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	makeMsg := func(n, kind int) []byte {
		b := make([]byte, n)
		for i := range b {
			switch kind {
			case 0:
				b[i] = byte(rng.IntN(256))
			case 1:
				b[i] = "abcab"[rng.IntN(5)]
			case 2:
				b[i] = byte(i % 251)
			default:
				b[i] = byte(i / 300 % 7)
			}
		}
		return b
	}
	sizes := []int{0, 1, 2, 7, 8, 9, 255, 256, 257, 511, 512, 513, maxBlock - 1, maxBlock, maxBlock + 1}
	for _, wb := range []int{8, 9, 12, 15} {
		for _, level := range []int{HuffmanOnly, 1, 2, 9} {
			for _, takeover := range []bool{true, false} {
				e := New(wb, level, takeover)
				ref := rawpeer.NewInflater(wb, 1<<20)
				var msgs, outs [][]byte
				for _, n := range sizes {
					for kind := range 4 {
						m := makeMsg(n, kind)
						var out []byte
						if kind%2 == 0 {
							out = e.Flush(e.Write(nil, m))
						} else {
							for i := 0; i < len(m); {
								k := min(len(m)-i, 1+rng.IntN(9))
								out = e.Write(out, m[i:i+k])
								i += k
							}
							out = e.Flush(out)
						}
						if !takeover {
							ref.Reset()
						}
						got, maxDist, err := ref.Message(out)
						if err != nil || !bytes.Equal(got, m) {
							t.Fatalf("window %d level %d takeover %v, %d bytes of kind %d: %v", wb, level, takeover, n, kind, err)
						}
						if maxDist > 1<<wb {
							t.Fatalf("window %d level %d: a distance of %d", wb, level, maxDist)
						}
						msgs, outs = append(msgs, m), append(outs, out)
					}
				}
				if takeover {
					if got := inflateStream(t, outs); !bytes.Equal(got, bytes.Join(msgs, nil)) {
						t.Fatalf("window %d level %d: the stream does not inflate to the input", wb, level)
					}
				}
			}
		}
	}
}

// Reset in the middle of a message gives it up; the next message starts
// a new stream, which a peer inflates whatever its window holds.
func TestResetMidMessage(t *testing.T) {
	e := New(15, 0, true)
	a := bytes.Repeat([]byte("hello world "), 100)
	first := e.Flush(e.Write(nil, a))
	e.Write(nil, bytes.Repeat([]byte("zzzz"), 30000))
	e.Reset()
	next := e.Flush(e.Write(nil, a))
	if got := inflateStream(t, [][]byte{first, next}); !bytes.Equal(got, append(bytes.Clone(a), a...)) {
		t.Fatal("the message after Reset does not inflate")
	}
}

// HuffmanOnly never refers back, so even with context takeover agreed it
// keeps no history between messages.
func TestHuffmanOnlyKeepsNothing(t *testing.T) {
	e := New(15, HuffmanOnly, true)
	fresh := e.Kept()
	msg := []byte("some message some message some message")
	out := e.Flush(e.Write(nil, msg))
	if e.Kept() != fresh {
		t.Errorf("HuffmanOnly keeps %d bytes after a message, %d before", e.Kept(), fresh)
	}
	if got := inflateStream(t, [][]byte{out}); !bytes.Equal(got, msg) {
		t.Error("HuffmanOnly's message does not inflate")
	}
}

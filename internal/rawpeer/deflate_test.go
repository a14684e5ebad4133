package rawpeer

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"math/rand/v2"
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
var naiveCases = []struct {
	name         string
	history, msg []byte
}{
	{"empty", nil, nil},
	{"empty after history", []byte("hello"), nil},
	{"one byte", nil, []byte("a")},
	{"near repeats", nil, []byte("abcabcabcabc hello hello hello, abcabc")},
	{"run of one byte", nil, bytes.Repeat([]byte("x"), 1000)},
	{"repeat 600 back", nil, join(randomBytes(100, 1), randomBytes(500, 2), randomBytes(100, 1))},
	{"repeat 600 back in history", join(randomBytes(100, 1), randomBytes(500, 2)), randomBytes(100, 1)},
	{"repeat of the whole history", randomBytes(1000, 3), randomBytes(1000, 3)},
	{"random", nil, randomBytes(3000, 4)},
	{"100 KiB", nil, lines(100 << 10)},
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

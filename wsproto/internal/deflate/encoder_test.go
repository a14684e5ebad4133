package deflate

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
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

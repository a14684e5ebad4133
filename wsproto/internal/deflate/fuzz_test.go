package deflate

import (
	"bytes"
	"testing"

	"wsraise/internal/rawpeer"
)

// FuzzEncoder is the differential test: data, cut into messages by the
// fuzzer's own bytes, compressed by one encoder with context takeover or
// without, at any window and level, must come back from compress/flate
// exactly as it went in; and rawpeer's naive inflater, written for tests,
// must find no distance beyond the window (RFC 7692 section 7.1.2).
func FuzzEncoder(f *testing.F) {
	f.Add([]byte("hello hello hello hello"), uint8(15), int8(2), true, []byte{5, 0, 200})
	f.Add(bytes.Repeat([]byte("abcdefgh"), 200), uint8(8), int8(9), true, []byte{255, 1, 17})
	f.Add(bytes.Repeat([]byte{0}, 5000), uint8(9), int8(1), false, []byte{})
	f.Add([]byte{}, uint8(12), int8(-2), true, []byte{0, 0})
	// A 300-byte text twice: the repeat is past an 8-bit window.
	text := []byte("permessage-deflate lets each side ask for a smaller LZ77 window; ")
	for len(text) < 300 {
		text = append(text, byte('a'+len(text)*7%26))
	}
	f.Add(append(text[:300:300], text[:300]...), uint8(0), int8(9), true, []byte{17, 17})
	f.Fuzz(func(t *testing.T, data []byte, bits uint8, level int8, takeover bool, cuts []byte) {
		wb := MinWindowBits + int(bits)%(MaxWindowBits-MinWindowBits+1)
		lv := int(level) % 10
		if lv < 0 {
			lv = HuffmanOnly
		}
		e := New(wb, lv, takeover)
		var msgs, outs [][]byte
		rest := data
		for i := 0; len(rest) > 0 || i == 0; i++ {
			n := len(rest)
			if i < len(cuts) {
				n = min(n, int(cuts[i])*int(cuts[i]))
			}
			m := rest[:n]
			rest = rest[n:]
			// Write in two pieces, so Write's buffering is tested too.
			half := len(m) / 2
			out := e.Write(nil, m[:half])
			out = e.Flush(e.Write(out, m[half:]))
			msgs = append(msgs, m)
			outs = append(outs, out)
		}
		ref := rawpeer.NewInflater(wb, 1<<20)
		for i, out := range outs {
			if !takeover {
				ref.Reset()
			}
			got, maxDist, err := ref.Message(out)
			if err != nil || !bytes.Equal(got, msgs[i]) {
				t.Fatalf("window %d level %d: message %d: the naive inflater: %v", wb, lv, i, err)
			}
			if maxDist > 1<<wb {
				t.Fatalf("window %d level %d: message %d refers %d bytes back", wb, lv, i, maxDist)
			}
		}
		if takeover {
			if got := inflateStream(t, outs); !bytes.Equal(got, bytes.Join(msgs, nil)) {
				t.Fatalf("window %d level %d: the stream does not inflate to the input", wb, lv)
			}
			return
		}
		for i, out := range outs {
			if got := inflateStream(t, [][]byte{out}); !bytes.Equal(got, msgs[i]) {
				t.Fatalf("window %d level %d: message %d does not inflate to its input", wb, lv, i)
			}
		}
	})
}

package wsproto

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func BenchmarkMask(b *testing.B) {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	for _, n := range []int{16, 1024, 65536} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			buf := make([]byte, n)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			pos := 0
			for b.Loop() {
				pos = maskBytes(key, pos, buf)
			}
		})
	}
}

// benchUTF8Text returns n bytes of valid UTF-8: pure ASCII, or a mix of
// 1-, 2-, 3- and 4-byte characters.
func benchUTF8Text(n int, mixed bool) []byte {
	unit := "The quick brown fox jumps over the lazy dog. "
	if mixed {
		unit = "Grüße, κόσμε! 日本語のテキスト 😀 ok; "
	}
	s := strings.Repeat(unit, n/len(unit)+1)
	// Cut on a character boundary at or below n, then pad with ASCII.
	p := []byte(s[:n])
	for !utf8.Valid(p) {
		p = p[:len(p)-1]
	}
	for len(p) < n {
		p = append(p, 'x')
	}
	return p
}

var benchUTF8Sink bool

func BenchmarkUTF8(b *testing.B) {
	for _, kind := range []struct {
		name  string
		mixed bool
	}{{"ascii", false}, {"mixed", true}} {
		for _, size := range []struct {
			name string
			n    int
		}{{"1KiB", 1 << 10}, {"64KiB", 64 << 10}} {
			p := benchUTF8Text(size.n, kind.mixed)
			if !validUTF8(p) || !utf8.Valid(p) || len(p) != size.n {
				b.Fatalf("bad benchmark input %s/%s", kind.name, size.name)
			}
			b.Run(kind.name+"/"+size.name+"/validUTF8", func(b *testing.B) {
				b.SetBytes(int64(len(p)))
				b.ReportAllocs()
				for b.Loop() {
					benchUTF8Sink = validUTF8(p)
				}
			})
			b.Run(kind.name+"/"+size.name+"/utf8.Valid", func(b *testing.B) {
				b.SetBytes(int64(len(p)))
				b.ReportAllocs()
				for b.Loop() {
					benchUTF8Sink = utf8.Valid(p)
				}
			})
			b.Run(kind.name+"/"+size.name+"/utf8Stream", func(b *testing.B) {
				b.SetBytes(int64(len(p)))
				b.ReportAllocs()
				var s utf8Stream
				for b.Loop() {
					s.reset()
					// Uneven pieces, so characters are split between them.
					ok := true
					for rest := p; len(rest) > 0 && ok; {
						k := min(len(rest), 1021)
						ok = s.write(rest[:k])
						rest = rest[k:]
					}
					benchUTF8Sink = ok && s.done()
				}
			})
		}
	}
}

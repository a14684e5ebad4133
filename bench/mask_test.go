package main

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// The peers' codec building blocks, beside wsproto's own microbenchmarks
// (same sizes and inputs), for issue 5:
//
//	go test -run='^$' -bench='Mask|UTF8' -benchmem ../wsproto
//	go test -run='^$' -bench='Cipher|UTF8' -benchmem .

// BenchmarkGobwasCipher measures gobwas/ws's masking, the one peer that
// exports it (AVX2/SSE2 assembly on amd64), beside wsproto's BenchmarkMask.
func BenchmarkGobwasCipher(b *testing.B) {
	key := [4]byte{1, 2, 3, 4}
	for _, n := range []int{16, 1024, 65536} {
		p := make([]byte, n)
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				ws.Cipher(p, key, 0)
			}
		})
	}
}

// BenchmarkPeerUTF8 measures the UTF-8 validation the peers do on text
// messages, beside wsproto's BenchmarkUTF8:
//   - gobwas/ws: wsutil.UTF8Reader, a byte-at-a-time DFA over the payload
//     reader, when Reader.CheckUTF8 is set;
//   - lxzan/gws: unicode/utf8.Valid on the whole message, when
//     CheckUtf8Enabled is set (off by default);
//   - gorilla/websocket and coder/websocket do not validate text messages
//     (gorilla checks close reasons only, with utf8.ValidString).
func BenchmarkPeerUTF8(b *testing.B) {
	for _, kind := range []struct {
		name  string
		mixed bool
	}{{"ascii", false}, {"mixed", true}} {
		for _, size := range []struct {
			name string
			n    int
		}{{"1KiB", 1 << 10}, {"64KiB", 64 << 10}} {
			p := utf8Text(size.n, kind.mixed)
			buf := make([]byte, 4096)
			b.Run(kind.name+"/"+size.name+"/gobwas-UTF8Reader", func(b *testing.B) {
				b.SetBytes(int64(len(p)))
				b.ReportAllocs()
				var src bytes.Reader
				u := wsutil.NewUTF8Reader(&src)
				for b.Loop() {
					src.Reset(p)
					u.Reset(&src)
					for {
						_, err := u.Read(buf)
						if err == io.EOF {
							break
						}
						if err != nil {
							b.Fatal(err)
						}
					}
					if !u.Valid() {
						b.Fatal("invalid")
					}
				}
			})
			b.Run(kind.name+"/"+size.name+"/gws-utf8.Valid", func(b *testing.B) {
				b.SetBytes(int64(len(p)))
				b.ReportAllocs()
				for b.Loop() {
					if !utf8.Valid(p) {
						b.Fatal("invalid")
					}
				}
			})
		}
	}
}

// utf8Text returns n bytes of valid UTF-8, pure ASCII or a mix of 1- to
// 4-byte characters: the same input as wsproto's benchUTF8Text.
func utf8Text(n int, mixed bool) []byte {
	unit := "The quick brown fox jumps over the lazy dog. "
	if mixed {
		unit = "Grüße, κόσμε! 日本語のテキスト 😀 ok; "
	}
	p := []byte(strings.Repeat(unit, n/len(unit)+1)[:n])
	for !utf8.Valid(p) {
		p = p[:len(p)-1]
	}
	for len(p) < n {
		p = append(p, 'x')
	}
	return p
}

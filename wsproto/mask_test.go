package wsproto

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// maskRef is the byte-by-byte definition of RFC 6455 section 5.3: octet i
// of the data is XORed with octet (pos+i) mod 4 of the key.
func maskRef(key [4]byte, pos int, b []byte) int {
	for i := range b {
		b[i] ^= key[(pos+i)%4]
	}
	return (pos + len(b)) % 4
}

// TestMaskBytesDifferential compares maskBytes with maskRef for every length
// 0..300, key position 0..3 and slice alignment 0..7.
func TestMaskBytesDifferential(t *testing.T) {
	const maxLen = 300
	rng := rand.New(rand.NewPCG(1, 2))
	key := [4]byte{0x12, 0x9a, 0xc3, 0x7e}
	buf := make([]byte, maxLen+8+16)
	ref := make([]byte, len(buf))
	for n := 0; n <= maxLen; n++ {
		for pos := 0; pos < 4; pos++ {
			for off := 0; off < 8; off++ {
				for i := range buf {
					buf[i] = byte(rng.Uint32())
				}
				copy(ref, buf)
				gotPos := maskBytes(key, pos, buf[off:off+n])
				wantPos := maskRef(key, pos, ref[off:off+n])
				if gotPos != wantPos {
					t.Fatalf("len %d pos %d off %d: returned %d, want %d", n, pos, off, gotPos, wantPos)
				}
				// The whole buffer must match: bytes outside the slice
				// must not be touched.
				if !bytes.Equal(buf, ref) {
					t.Fatalf("len %d pos %d off %d: data differs\n got % x\nwant % x", n, pos, off, buf, ref)
				}
			}
		}
	}
}

// TestMaskBytesKnown checks a fixed vector, so that a bug shared by
// maskBytes and maskRef would still show.
func TestMaskBytesKnown(t *testing.T) {
	// RFC 6455 section 5.7: "Hello" masked with 37 fa 21 3d.
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	b := []byte("Hello")
	if pos := maskBytes(key, 0, b); pos != 1 {
		t.Errorf("pos = %d, want 1", pos)
	}
	if want := []byte{0x7f, 0x9f, 0x4d, 0x51, 0x58}; !bytes.Equal(b, want) {
		t.Errorf("masked = % x, want % x", b, want)
	}
	// Unmasking is the same operation.
	maskBytes(key, 0, b)
	if string(b) != "Hello" {
		t.Errorf("unmasked = %q", b)
	}
	// A long run of zeros masks to the key repeated, from the start position.
	z := make([]byte, 70)
	if pos := maskBytes(key, 2, z); pos != 0 {
		t.Errorf("pos = %d, want 0", pos)
	}
	for i, c := range z {
		if c != key[(2+i)%4] {
			t.Fatalf("z[%d] = %#x, want %#x", i, c, key[(2+i)%4])
		}
	}
	// pos is taken mod 4.
	a, r := make([]byte, 40), make([]byte, 40)
	if got, want := maskBytes(key, 7, a), maskRef(key, 3, r); got != want || !bytes.Equal(a, r) {
		t.Errorf("pos 7: %d % x; want %d % x", got, a, want, r)
	}
}

// TestMaskBytesSplit checks that masking in two calls, the second starting
// at the position the first returned, equals masking in one.
func TestMaskBytesSplit(t *testing.T) {
	key := [4]byte{0xde, 0xad, 0xbe, 0xef}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 3, 15, 16, 17, 31, 32, 33, 63, 64, 100, 257} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		for pos := 0; pos < 4; pos++ {
			whole := append([]byte{}, data...)
			wantPos := maskBytes(key, pos, whole)
			if ref := append([]byte{}, data...); maskRef(key, pos, ref) != wantPos || !bytes.Equal(ref, whole) {
				t.Fatalf("len %d pos %d: single call differs from reference", n, pos)
			}
			for split := 0; split <= n; split++ {
				parts := append([]byte{}, data...)
				p := maskBytes(key, pos, parts[:split])
				p = maskBytes(key, p, parts[split:])
				if p != wantPos || !bytes.Equal(parts, whole) {
					t.Fatalf("len %d pos %d split %d: pos %d, want %d; data % x, want % x",
						n, pos, split, p, wantPos, parts, whole)
				}
			}
			// Three chunks as well.
			parts := append([]byte{}, data...)
			p := pos
			for rest := parts; len(rest) > 0; {
				k := min(len(rest), 1+rng.IntN(20))
				p = maskBytes(key, p, rest[:k])
				rest = rest[k:]
			}
			if p != wantPos || !bytes.Equal(parts, whole) {
				t.Fatalf("len %d pos %d random chunks: mismatch", n, pos)
			}
		}
	}
}

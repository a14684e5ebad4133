package wsproto

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// maskRef is the byte-by-byte definition of RFC 6455 section 5.3: octet i
// of the data is XORed with octet (pos+i) mod 4 of the key.
func maskRef(key [4]byte, pos int, b []byte) int {
	for i := range b {
		b[i] ^= key[(pos+i)%4]
	}
	return (pos + len(b)) % 4
}

// maskLengths are the lengths the differential tests try: every length
// 0..300, around the 128-byte switch to vectors and the 128-byte loops,
// and some long ones.
func maskLengths() []int {
	var ns []int
	for n := 0; n <= 300; n++ {
		ns = append(ns, n)
	}
	return append(ns, 383, 384, 385, 511, 1000, 1024, 4093, 4096, 65536+13)
}

// checkMaskDifferential compares mask (which masks b from key position pos
// and returns the next position) with maskRef.
func checkMaskDifferential(t *testing.T, minLen int, mask func(key [4]byte, pos int, b []byte) int) {
	t.Helper()
	checkMaskEqual(t, minLen, mask, maskRef)
}

// checkMaskEqual compares mask with ref for every length from maskLengths
// at least minLen, every key position and slice starts 0..39 bytes past a
// 64-byte boundary, so that the vector kernels meet every alignment of
// head, body and tail. Each case has its own random key and data.
func checkMaskEqual(t *testing.T, minLen int, mask, ref func(key [4]byte, pos int, b []byte) int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	const pad = 64 + 40
	for _, n := range maskLengths() {
		if n < minLen {
			continue
		}
		// One allocation per length, offsets counted from a 64-byte
		// boundary within it.
		raw := make([]byte, n+2*pad)
		want := make([]byte, len(raw))
		base := 64 - int(uintptr(unsafe.Pointer(&raw[0]))%64)
		for pos := 0; pos < 4; pos++ {
			for off := 0; off < 40; off++ {
				if n > 1024 && off%7 != 0 {
					continue // long inputs: fewer offsets, still all mod 4
				}
				key := [4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())}
				for i := range raw {
					raw[i] = byte(rng.Uint32())
				}
				copy(want, raw)
				s := base + off
				gotPos := mask(key, pos, raw[s:s+n])
				wantPos := ref(key, pos, want[s:s+n])
				if gotPos != wantPos {
					t.Fatalf("len %d pos %d off %d: returned %d, want %d", n, pos, off, gotPos, wantPos)
				}
				// Bytes outside the slice must not be touched either.
				if !bytes.Equal(raw, want) {
					i := 0
					for raw[i] == want[i] {
						i++
					}
					t.Fatalf("len %d pos %d off %d key % x: first difference at byte %d of the slice: %#x, want %#x",
						n, pos, off, key, i-s, raw[i], want[i])
				}
			}
		}
	}
}

// TestMaskBytesDifferential checks maskBytes, whichever kernel it picks.
func TestMaskBytesDifferential(t *testing.T) {
	checkMaskDifferential(t, 0, maskBytes)
}

// TestMaskWordsDifferential checks the portable loop at every length, as
// maskBytes hands it long inputs only where there is no assembly.
func TestMaskWordsDifferential(t *testing.T) {
	checkMaskDifferential(t, 0, maskWith(maskWords))
}

// maskWith adapts a kernel taking the rotated key word to maskBytes' form.
func maskWith(kernel func(b []byte, k uint32)) func(key [4]byte, pos int, b []byte) int {
	return func(key [4]byte, pos int, b []byte) int {
		pos &= 3
		k := bits.RotateLeft32(binary.LittleEndian.Uint32(key[:]), -8*pos)
		kernel(b, k)
		return (pos + len(b)) & 3
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

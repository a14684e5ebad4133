package wsproto

import (
	"encoding/binary"
	"math/bits"
)

// Masking (RFC 6455 section 5.3) is an XOR with the 4-byte key repeated.
//
// Inputs under maskLongMin bytes are done 64 bits at a time, inline; longer
// ones by maskLong, which is AVX2 or SSE2 assembly on amd64 (mask_amd64.s)
// and maskWords, 64 bytes per loop in Go, elsewhere or with the purego
// build tag.
//
// Masking touches every byte of every payload, so it is worth assembly.
// The vector kernels are much faster than any Go loop on long inputs, and
// on a par with gobwas/ws's own assembly (docs/PERFORMANCE.md). Pure Go
// was tried first: crypto/subtle.XORBytes against a long key stream makes
// two loads per store, and loses to maskWords, the fastest Go loop found.
//
// The AVX2 kernel uses VEX-encoded instructions only. A legacy SSE
// instruction among them (MOVD, say) makes Intel CPUs switch between SSE
// and AVX state at every call, which made even short inputs slow; AMD
// CPUs do not pay for it. TestAVX2KernelVEXOnly keeps it so.

// maskBytes XORs b in place with the masking key, starting at byte pos of
// the key (RFC 6455 section 5.3: octet i is XORed with key[i mod 4]), and
// returns the key position for the byte that follows b. Masking and
// unmasking are the same operation.
func maskBytes(key [4]byte, pos int, b []byte) int {
	pos &= 3
	end := (pos + len(b)) & 3
	// The key as a little-endian word, rotated so that its low byte is the
	// one for b[0].
	k := bits.RotateLeft32(binary.LittleEndian.Uint32(key[:]), -8*pos)
	if len(b) >= maskLongMin {
		maskLong(b, k)
		return end
	}
	// Short input: 64-bit words, inline, since a call costs as much as
	// the work here; four independent words per loop while they last.
	if len(b) >= 8 {
		k64 := uint64(k) | uint64(k)<<32
		for len(b) >= 32 {
			c := b[:32]
			v0 := binary.LittleEndian.Uint64(c[0:]) ^ k64
			v1 := binary.LittleEndian.Uint64(c[8:]) ^ k64
			v2 := binary.LittleEndian.Uint64(c[16:]) ^ k64
			v3 := binary.LittleEndian.Uint64(c[24:]) ^ k64
			binary.LittleEndian.PutUint64(c[0:], v0)
			binary.LittleEndian.PutUint64(c[8:], v1)
			binary.LittleEndian.PutUint64(c[16:], v2)
			binary.LittleEndian.PutUint64(c[24:], v3)
			b = b[32:]
		}
		for len(b) >= 8 {
			binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k64)
			b = b[8:]
		}
	}
	// Whole words keep the key position; finish byte by byte.
	for i := range b {
		b[i] ^= key[(pos+i)&3]
	}
	return end
}

// maskLongMin is the length from which maskBytes calls maskLong. Below it,
// on amd64, the vector kernels' call and set-up cost more than they save.
const maskLongMin = 128

// maskWords XORs b with k repeated, low byte first:
// b[i] ^= byte(k >> (8*(i%4))). It is maskLong where there is no assembly.
func maskWords(b []byte, k uint32) {
	k64 := uint64(k) | uint64(k)<<32
	// Eight independent words per loop; slicing c to 64 bytes first lets
	// the compiler drop the bounds checks on the constant offsets.
	for len(b) >= 64 {
		c := b[:64]
		v0 := binary.LittleEndian.Uint64(c[0:]) ^ k64
		v1 := binary.LittleEndian.Uint64(c[8:]) ^ k64
		v2 := binary.LittleEndian.Uint64(c[16:]) ^ k64
		v3 := binary.LittleEndian.Uint64(c[24:]) ^ k64
		v4 := binary.LittleEndian.Uint64(c[32:]) ^ k64
		v5 := binary.LittleEndian.Uint64(c[40:]) ^ k64
		v6 := binary.LittleEndian.Uint64(c[48:]) ^ k64
		v7 := binary.LittleEndian.Uint64(c[56:]) ^ k64
		binary.LittleEndian.PutUint64(c[0:], v0)
		binary.LittleEndian.PutUint64(c[8:], v1)
		binary.LittleEndian.PutUint64(c[16:], v2)
		binary.LittleEndian.PutUint64(c[24:], v3)
		binary.LittleEndian.PutUint64(c[32:], v4)
		binary.LittleEndian.PutUint64(c[40:], v5)
		binary.LittleEndian.PutUint64(c[48:], v6)
		binary.LittleEndian.PutUint64(c[56:], v7)
		b = b[64:]
	}
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k64)
		b = b[8:]
	}
	for i := range b {
		b[i] ^= byte(k >> (8 * (i & 3)))
	}
}

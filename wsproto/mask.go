package wsproto

import (
	"encoding/binary"
	"math/bits"
)

// maskBytes XORs b in place with the masking key, starting at byte pos of
// the key (RFC 6455 section 5.3: octet i is XORed with key[i mod 4]), and
// returns the key position for the byte that follows b. Masking and
// unmasking are the same operation.
//
// It works a 64-bit word at a time, 32 bytes per loop, once b is aligned to
// the key: the compiler turns each binary.LittleEndian call into a single
// load or store.
func maskBytes(key [4]byte, pos int, b []byte) int {
	pos &= 3
	// Bytes before the loop: few inputs are long enough to pay for the
	// word set-up.
	if len(b) < 16 {
		for i := range b {
			b[i] ^= key[(pos+i)&3]
		}
		return (pos + len(b)) & 3
	}
	// The key as a 64-bit word, rotated so that its first byte lines up
	// with b[0].
	k32 := binary.LittleEndian.Uint32(key[:])
	k32 = bits.RotateLeft32(k32, -8*pos)
	k := uint64(k32) | uint64(k32)<<32

	for len(b) >= 32 {
		v0 := binary.LittleEndian.Uint64(b[0:8]) ^ k
		v1 := binary.LittleEndian.Uint64(b[8:16]) ^ k
		v2 := binary.LittleEndian.Uint64(b[16:24]) ^ k
		v3 := binary.LittleEndian.Uint64(b[24:32]) ^ k
		binary.LittleEndian.PutUint64(b[0:8], v0)
		binary.LittleEndian.PutUint64(b[8:16], v1)
		binary.LittleEndian.PutUint64(b[16:24], v2)
		binary.LittleEndian.PutUint64(b[24:32], v3)
		b = b[32:]
	}
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k)
		b = b[8:]
	}
	// Whole words keep the key position; finish byte by byte.
	for i := range b {
		b[i] ^= key[(pos+i)&3]
	}
	return (pos + len(b)) & 3
}

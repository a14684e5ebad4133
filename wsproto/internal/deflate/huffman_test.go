package deflate

import (
	"math/rand/v2"
	"testing"
)

// kraft returns the sum of 2^-length over the used symbols, scaled by
// 2^maxBits: exactly 2^maxBits for a complete prefix code.
func kraft(length []uint8, maxBits int) int {
	sum := 0
	for _, l := range length {
		if l > 0 {
			sum += 1 << (maxBits - int(l))
		}
	}
	return sum
}

// The codes are complete, within their length limit, and give shorter
// codes to more frequent symbols, whatever the frequencies: Fibonacci
// ones make the deepest Huffman trees, so they force the flattening.
func TestHuffmanLengths(t *testing.T) {
	fib := func(n int) []uint32 {
		f := make([]uint32, n)
		a, b := uint32(1), uint32(1)
		for i := range f {
			f[i] = a
			a, b = b, a+b
		}
		return f
	}
	rng := rand.New(rand.NewPCG(3, 4))
	randomFreq := func(n, used int) []uint32 {
		f := make([]uint32, n)
		for range used {
			f[rng.IntN(n)] += uint32(1 + rng.IntN(1000))
		}
		return f
	}
	cases := []struct {
		name    string
		freq    []uint32
		maxBits int
	}{
		{"fibonacci 30, limit 15", fib(30), 15},
		{"fibonacci 19, limit 7", fib(19), 7},
		{"fibonacci 286, limit 15", append(fib(34), make([]uint32, 252)...), 15}, // fib(34) < 2^23
		{"one symbol", []uint32{0, 0, 5, 0}, 15},
		{"no symbol", []uint32{0, 0, 0, 0}, 15},
		{"two symbols", []uint32{9, 0, 0, 1}, 15},
		{"all equal", func() []uint32 {
			f := make([]uint32, 286)
			for i := range f {
				f[i] = 7
			}
			return f
		}(), 15},
		{"random, few used", randomFreq(286, 10), 15},
		{"random, many used", randomFreq(286, 2000), 15},
		{"random code lengths", randomFreq(19, 40), 7},
	}
	for _, c := range cases {
		var s huffScratch
		s.init(len(c.freq))
		length := make([]uint8, len(c.freq))
		freq := append([]uint32(nil), c.freq...)
		s.buildLengths(freq, length, c.maxBits)
		for i := range freq {
			if freq[i] != c.freq[i] {
				t.Fatalf("%s: the frequencies were changed", c.name)
			}
		}
		used := 0
		for sym, l := range length {
			if int(l) > c.maxBits {
				t.Errorf("%s: symbol %d has %d bits, over %d", c.name, sym, l, c.maxBits)
			}
			if c.freq[sym] > 0 && l == 0 {
				t.Errorf("%s: symbol %d is used but has no code", c.name, sym)
			}
			if l > 0 {
				used++
			}
		}
		if used < 2 {
			t.Errorf("%s: %d codes; a decoder wants a complete code of two at least", c.name, used)
		}
		if k := kraft(length, c.maxBits); k != 1<<c.maxBits {
			t.Errorf("%s: Kraft sum %d/%d: the code is not complete", c.name, k, 1<<c.maxBits)
		}
		for a := range length {
			for b := range length {
				if c.freq[a] > c.freq[b] && c.freq[b] > 0 && length[a] > length[b] {
					t.Errorf("%s: symbol %d (freq %d) has a longer code than %d (freq %d)", c.name, a, c.freq[a], b, c.freq[b])
				}
			}
		}
	}
}

// Canonical codes (RFC 1951 section 3.2.2): the example of the RFC,
// lengths (3, 3, 3, 3, 3, 2, 4, 4) for A-H, gives codes 010, 011, 100,
// 101, 110, 00, 1110, 1111 (here bit-reversed, as they are sent).
func TestCanonicalCodes(t *testing.T) {
	h := huffCode{length: []uint8{3, 3, 3, 3, 3, 2, 4, 4}, code: make([]uint16, 8)}
	h.assign()
	want := []uint16{0b010, 0b110, 0b001, 0b101, 0b011, 0b00, 0b0111, 0b1111}
	for i := range want {
		if h.code[i] != want[i] {
			t.Errorf("symbol %c: code %b, want %b (reversed)", 'A'+i, h.code[i], want[i])
		}
	}
}

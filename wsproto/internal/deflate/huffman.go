package deflate

import (
	"math/bits"
	"slices"
)

// A Huffman code for one alphabet, as DEFLATE uses it (RFC 1951 section
// 3.2.2): only the code lengths are chosen; the codes follow from them.

// huffCode holds, for each symbol, its code length (0: unused) and its
// code, bit-reversed: DEFLATE packs bits from the least significant end,
// but sends a Huffman code from its most significant bit.
type huffCode struct {
	length []uint8
	code   []uint16
}

// huffScratch is the room buildLengths works in; it lives in the encoder's
// pooled scratch, so building a code allocates nothing.
type huffScratch struct {
	freq   []uint32 // a copy of the frequencies, flattened if need be
	sorted []uint32 // freq<<9 | symbol, for the used symbols
	weight []uint32 // of the tree's nodes: leaves first, then internal ones
	parent []uint16
	depth  []uint8
}

func (s *huffScratch) init(n int) {
	s.freq = make([]uint32, n)
	s.sorted = make([]uint32, 0, n)
	s.weight = make([]uint32, 2*n)
	s.parent = make([]uint16, 2*n)
	s.depth = make([]uint8, 2*n)
}

// buildLengths sets length[i] for every symbol i of freq: the lengths of
// a Huffman code of at most maxBits bits for these frequencies, 0 for the
// symbols that do not occur. At least two symbols get a code, so that the
// code is complete: decoders reject most incomplete codes. A frequency
// must be under 2^23, as it is packed above the symbol's 9 bits in a
// uint32; a block has at most maxTokens+1 symbols of each alphabet.
func (s *huffScratch) buildLengths(freq []uint32, length []uint8, maxBits int) {
	clear(length)
	freq = s.freq[:copy(s.freq, freq)]
	for {
		s.sorted = s.sorted[:0]
		for sym, f := range freq {
			if f > 0 {
				s.sorted = append(s.sorted, f<<9|uint32(sym))
			}
		}
		// Pad to two symbols with the first unused ones, at weight 1.
		for sym := 0; len(s.sorted) < 2; sym++ {
			if freq[sym] == 0 {
				s.sorted = append(s.sorted, 1<<9|uint32(sym))
			}
		}
		slices.Sort(s.sorted)
		if s.tree(maxBits) {
			break
		}
		// Too deep for maxBits: flatten the frequencies and try again.
		// Halving (but keeping every used symbol at least 1) makes the
		// tree more balanced each time; all equal, it is as shallow as
		// a tree can be, which fits any alphabet here (286 symbols need
		// 9 bits). Rarely needed, and simpler than package-merge.
		for i, f := range freq {
			if f > 1 {
				freq[i] = f >> 1
			}
		}
	}
	for i, v := range s.sorted {
		length[v&0x1ff] = s.depth[i]
	}
}

// tree builds the Huffman tree of s.sorted with two queues (the leaves in
// order, and the internal nodes, made in order of weight), and sets
// s.depth for each leaf. It reports false if a leaf is deeper than
// maxBits.
func (s *huffScratch) tree(maxBits int) bool {
	n := len(s.sorted)
	for i, v := range s.sorted {
		s.weight[i] = v >> 9
	}
	leaf, node := 0, n // the next unused leaf and internal node
	next := n          // where the next internal node goes
	pick := func() int {
		if leaf < n && (node == next || s.weight[leaf] <= s.weight[node]) {
			leaf++
			return leaf - 1
		}
		node++
		return node - 1
	}
	for next < 2*n-1 {
		a, b := pick(), pick()
		s.weight[next] = s.weight[a] + s.weight[b]
		s.parent[a], s.parent[b] = uint16(next), uint16(next)
		next++
	}
	// Parents come after their children: walk from the root down.
	root := 2*n - 2
	s.depth[root] = 0
	for i := root - 1; i >= 0; i-- {
		d := s.depth[s.parent[i]] + 1
		if int(d) > maxBits {
			return false
		}
		s.depth[i] = d
	}
	return true
}

// assign gives each symbol with a length its canonical code (section
// 3.2.2): shorter codes first, and within a length, in symbol order.
func (h *huffCode) assign() {
	var count [16]uint16
	for _, l := range h.length {
		count[l]++
	}
	count[0] = 0
	var next [16]uint16
	code := uint16(0)
	for l := 1; l < 16; l++ {
		code = (code + count[l-1]) << 1
		next[l] = code
	}
	for sym, l := range h.length {
		if l == 0 {
			h.code[sym] = 0
			continue
		}
		h.code[sym] = bits.Reverse16(next[l]) >> (16 - l)
		next[l]++
	}
}

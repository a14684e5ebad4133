package rawpeer

// Naive DEFLATE (RFC 1951) for testing permessage-deflate (RFC 7692).
// NaiveDeflate is an encoder that never refers further back than the
// window it is given, which compress/flate cannot promise. Both are
// written to be read, not to be fast: bits go one at a time and matches
// are found by trying every earlier position.
//
// Section numbers are RFC 1951's unless they say otherwise.

// The lengths of a <length, distance> pair: symbol 257+i means
// lengthBase[i] plus a number of lengthExtra[i] bits (section 3.2.5).
var (
	lengthBase  = [29]int{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]int{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
)

// The distances: distance code i means distBase[i] plus a number of
// distExtra[i] bits (section 3.2.5).
var (
	distBase  = [30]int{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra = [30]int{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
)

// NaiveDeflate compresses msg into the payload of one permessage-deflate
// message (RFC 7692 section 7.2.1). history holds the earlier messages of
// the stream, which msg may refer back into (context takeover); no
// reference reaches further back than 1<<windowBits bytes.
//
// It is greedy LZ77 by brute force: at each position it tries every
// earlier one in the window and takes the longest match, coded in one
// block with the fixed Huffman codes (section 3.2.6). Then comes a sync
// flush, an empty stored block, whose last 4 bytes are left off.
func NaiveDeflate(history, msg []byte, windowBits int) []byte {
	window := 1 << windowBits
	if len(history) > window {
		history = history[len(history)-window:]
	}
	data := append(append([]byte(nil), history...), msg...)
	w := &bitWriter{}
	if len(msg) > 0 {
		w.number(0, 1) // BFINAL 0: not the last block (section 3.2.3)
		w.number(1, 2) // BTYPE 01: fixed Huffman codes
		for p := len(history); p < len(data); {
			length, dist := longestMatch(data, p, window)
			if length < 3 { // shorter than any length of section 3.2.5
				w.fixed(int(data[p]))
				p++
				continue
			}
			w.match(length, dist)
			p += length
		}
		w.fixed(256) // end of block
	}
	// The sync flush: BFINAL 0 and BTYPE 00, a stored block (section
	// 3.2.4), padded to the byte. Its LEN and NLEN, 00 00 ff ff, are the
	// bytes RFC 7692 section 7.2.1 removes, so they are never written. An
	// empty msg is then the single byte 0x00 (RFC 7692 section 7.2.3.6).
	w.number(0, 3)
	return w.out
}

// longestMatch returns the length and distance of the longest string at
// data[p:] that also starts 1 to window bytes earlier: at most 258 bytes
// (section 3.2.5), and the nearest of equally long ones. The match may
// run on into the bytes it repeats (section 3.2.3).
func longestMatch(data []byte, p, window int) (length, dist int) {
	for d := 1; d <= window && d <= p && length < 258; d++ {
		n := 0
		for n < 258 && p+n < len(data) && data[p+n-d] == data[p+n] {
			n++
		}
		if n > length {
			length, dist = n, d
		}
	}
	return length, dist
}

// bitWriter packs bits into bytes as section 3.1.1 says: each byte is
// filled from its least significant bit up.
type bitWriter struct {
	out []byte
	n   int // bits written
}

func (w *bitWriter) bit(b int) {
	if w.n%8 == 0 {
		w.out = append(w.out, 0) // the padding is these 0 bits
	}
	w.out[len(w.out)-1] |= byte(b << (w.n % 8))
	w.n++
}

// number writes v in n bits, least significant bit first, as every field
// but the Huffman codes is written (section 3.1.1).
func (w *bitWriter) number(v, n int) {
	for i := 0; i < n; i++ {
		w.bit(v >> i & 1)
	}
}

// code writes a Huffman code of n bits, most significant bit first
// (section 3.1.1).
func (w *bitWriter) code(c, n int) {
	for i := n - 1; i >= 0; i-- {
		w.bit(c >> i & 1)
	}
}

// fixed writes symbol s in the fixed literal/length code (section 3.2.6):
//
//	symbols    bits  codes
//	0-143      8     00110000 up
//	144-255    9     110010000 up
//	256-279    7     0000000 up
//	280-287    8     11000000 up
func (w *bitWriter) fixed(s int) {
	switch {
	case s < 144:
		w.code(0b00110000+s, 8)
	case s < 256:
		w.code(0b110010000+s-144, 9)
	case s < 280:
		w.code(s-256, 7)
	default:
		w.code(0b11000000+s-280, 8)
	}
}

// match writes a <length, distance> pair with the fixed codes: for each,
// the code of the largest base not above it, then the rest in extra bits
// (section 3.2.5). Fixed distance codes are 5-bit numbers (section
// 3.2.6).
func (w *bitWriter) match(length, dist int) {
	i := len(lengthBase) - 1
	for lengthBase[i] > length {
		i--
	}
	w.fixed(257 + i)
	w.number(length-lengthBase[i], lengthExtra[i])
	j := len(distBase) - 1
	for distBase[j] > dist {
		j--
	}
	w.code(j, 5)
	w.number(dist-distBase[j], distExtra[j])
}

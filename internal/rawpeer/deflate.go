package rawpeer

// Naive DEFLATE (RFC 1951) for testing permessage-deflate (RFC 7692).
// An Inflater decodes messages and reports how far back their references
// reached; NaiveDeflate is an encoder that never refers further back than
// the window it is given, which compress/flate cannot promise. Both are
// written to be read, not to be fast: bits go one at a time, Huffman
// codes are walked bit by bit and matches are found by trying every
// earlier position.
//
// Section numbers are RFC 1951's unless they say otherwise.

import (
	"errors"
	"fmt"
)

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
// reference reaches further back than 1<<windowBits bytes. windowBits is
// 8 to 15, as RFC 7692 section 7.1.2 allows: DEFLATE has no distance
// above 1<<15 (section 3.2.5).
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

// maxDistance is the furthest back a reference can reach: distances are
// 1 to 32768 (section 3.2.5).
const maxDistance = 32768

// Inflater decodes the messages of one permessage-deflate stream (RFC
// 7692 section 7.2.2). With context takeover the messages are parts of
// one DEFLATE stream, and a message may refer back into those before it;
// Reset starts over, for no_context_takeover.
type Inflater struct {
	windowBits int
	limit      int    // the most bytes one message may decompress to
	hist       []byte // the last maxDistance bytes of earlier messages
}

// NewInflater returns an Inflater for a stream whose sender agreed to an
// LZ77 window of 1<<windowBits bytes (RFC 7692 section 7.1.2), and whose
// messages may each decompress to limit bytes at most. It does not hold
// the sender to the window: Message reports how far back each message
// reached, for the test to compare with Window.
func NewInflater(windowBits, limit int) *Inflater {
	return &Inflater{windowBits: windowBits, limit: limit}
}

// Window is the agreed window in bytes.
func (f *Inflater) Window() int { return 1 << f.windowBits }

// Reset forgets the messages decoded so far.
func (f *Inflater) Reset() { f.hist = nil }

// Message decodes the payload of one message and returns it, with the
// largest distance any of its back-references used (0 for none); a
// distance above Window is reported, not refused. A reference to before
// the first byte of the stream is an error, as is anything else RFC 1951
// forbids, input that ends inside a block, and output past the limit.
// After an error the Inflater is as it was before the call.
func (f *Inflater) Message(payload []byte) (out []byte, maxDist int, err error) {
	// RFC 7692 section 7.2.2: put back the 00 00 ff ff the sender
	// removed, the LEN and NLEN of the empty stored block that ends the
	// message.
	in := make([]byte, 0, len(payload)+4)
	in = append(append(in, payload...), 0x00, 0x00, 0xff, 0xff)
	d := &decoder{in: in, out: f.hist, start: len(f.hist), limit: f.limit}
	for {
		final, err := d.block()
		if err != nil {
			return nil, 0, err
		}
		// The message ends where its input does, between two blocks,
		// or with a block that has BFINAL set (RFC 7692 section
		// 7.2.3.4); what follows that block is ignored. The history is
		// kept even then: a sender that starts a new stream after it
		// never refers back.
		if final || d.pos == 8*len(d.in) {
			break
		}
	}
	out = append([]byte(nil), d.out[d.start:]...)
	// A copy of the last maxDistance bytes, so that the history never
	// grows past them.
	f.hist = append([]byte(nil), d.out[max(0, len(d.out)-maxDistance):]...)
	return out, d.maxDist, nil
}

// errTruncated is the error for input that ends inside a block.
var errTruncated = errors.New("rawpeer: inflate: the input ends inside a block")

// corrupt is an error for input RFC 1951 does not allow.
func corrupt(format string, args ...any) error {
	return fmt.Errorf("rawpeer: inflate: "+format, args...)
}

// decoder decodes one message.
type decoder struct {
	in      []byte
	pos     int    // how many bits of in have been read
	out     []byte // the history, then this message
	start   int    // where this message begins in out
	limit   int
	maxDist int
}

// bit reads the next bit. Each byte holds 8 bits, the first in its least
// significant bit (section 3.1.1).
func (d *decoder) bit() (int, error) {
	if d.pos >= 8*len(d.in) {
		return 0, errTruncated
	}
	b := int(d.in[d.pos/8]>>(d.pos%8)) & 1
	d.pos++
	return b, nil
}

// number reads a number of n bits, least significant bit first, as every
// field but the Huffman codes is written (section 3.1.1).
func (d *decoder) number(n int) (int, error) {
	v := 0
	for i := 0; i < n; i++ {
		b, err := d.bit()
		if err != nil {
			return 0, err
		}
		v |= b << i
	}
	return v, nil
}

// put appends b to the output, unless the message would pass the limit.
func (d *decoder) put(b byte) error {
	if len(d.out)-d.start >= d.limit {
		return corrupt("the message decompresses to more than %d bytes", d.limit)
	}
	d.out = append(d.out, b)
	return nil
}

// block decodes one block and says whether its BFINAL bit was set: a
// header of BFINAL, 1 bit, and BTYPE, 2 bits, then the data (section
// 3.2.3).
func (d *decoder) block() (final bool, err error) {
	bfinal, err := d.number(1)
	if err != nil {
		return false, err
	}
	btype, err := d.number(2)
	if err != nil {
		return false, err
	}
	switch btype {
	case 0:
		err = d.stored()
	case 1:
		err = d.codes(fixedLit, fixedDist)
	case 2:
		var lit, dist *huffman
		lit, dist, err = d.dynamic()
		if err == nil {
			err = d.codes(lit, dist)
		}
	default:
		err = corrupt("block type 3 is reserved (section 3.2.3)")
	}
	return bfinal == 1, err
}

// stored copies a block stored without compression (section 3.2.4): the
// rest of the current byte is skipped, then come LEN and NLEN, its one's
// complement, 2 bytes each, then LEN bytes of data.
func (d *decoder) stored() error {
	d.pos = (d.pos + 7) / 8 * 8
	n, err := d.number(16)
	if err != nil {
		return err
	}
	nn, err := d.number(16)
	if err != nil {
		return err
	}
	if nn != ^n&0xFFFF {
		return corrupt("stored block with LEN %#04x and NLEN %#04x, not its complement (section 3.2.4)", n, nn)
	}
	for i := 0; i < n; i++ {
		b, err := d.number(8)
		if err != nil {
			return err
		}
		if err := d.put(byte(b)); err != nil {
			return err
		}
	}
	return nil
}

// codes decodes the data of a block with Huffman codes (section 3.2.5):
// literal bytes, and <length, distance> pairs that copy length bytes
// from distance bytes back, until the end-of-block symbol, 256.
func (d *decoder) codes(lit, dist *huffman) error {
	for {
		sym, err := d.decode(lit)
		if err != nil {
			return err
		}
		if sym < 256 {
			if err := d.put(byte(sym)); err != nil {
				return err
			}
			continue
		}
		if sym == 256 {
			return nil
		}
		// Symbols 286 and 287 have fixed codes but no meaning (section
		// 3.2.6).
		if sym > 285 {
			return corrupt("literal/length symbol %d (section 3.2.6)", sym)
		}
		extra, err := d.number(lengthExtra[sym-257])
		if err != nil {
			return err
		}
		length := lengthBase[sym-257] + extra
		// So have distance codes 30 and 31 (section 3.2.6).
		dsym, err := d.decode(dist)
		if err != nil {
			return err
		}
		if dsym > 29 {
			return corrupt("distance code %d (section 3.2.6)", dsym)
		}
		extra, err = d.number(distExtra[dsym])
		if err != nil {
			return err
		}
		distance := distBase[dsym] + extra
		if distance > len(d.out) {
			return corrupt("distance %d reaches before the start of the stream (section 3.2.5)", distance)
		}
		d.maxDist = max(d.maxDist, distance)
		// One byte at a time: the copy may run on into the bytes it
		// writes, so <length 5, distance 2> after X Y adds X Y X Y X
		// (section 3.2.3).
		for i := 0; i < length; i++ {
			if err := d.put(d.out[len(d.out)-distance]); err != nil {
				return err
			}
		}
	}
}

// codeLengthOrder is the order in which a dynamic block's header gives
// the code lengths of the code length alphabet (section 3.2.7).
var codeLengthOrder = [19]int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

// dynamic reads the header of a block with dynamic Huffman codes and
// returns its literal/length and distance codes (section 3.2.7).
func (d *decoder) dynamic() (lit, dist *huffman, err error) {
	hlit, err := d.number(5)
	if err != nil {
		return nil, nil, err
	}
	hdist, err := d.number(5)
	if err != nil {
		return nil, nil, err
	}
	hclen, err := d.number(4)
	if err != nil {
		return nil, nil, err
	}
	nlit, ndist := hlit+257, hdist+1
	if nlit > 286 {
		return nil, nil, corrupt("HLIT gives %d literal/length codes, not 257 to 286 (section 3.2.7)", nlit)
	}
	// HCLEN+4 code lengths of 3 bits, for the symbols of the code length
	// alphabet in codeLengthOrder; those not given are 0.
	var clLengths [19]int
	for i := 0; i < hclen+4; i++ {
		clLengths[codeLengthOrder[i]], err = d.number(3)
		if err != nil {
			return nil, nil, err
		}
	}
	cl, err := newHuffman("code length", clLengths[:])
	if err != nil {
		return nil, nil, err
	}
	// Then, in that code, the code lengths of both codes in one
	// sequence: symbols 0-15 are lengths, 16 repeats the previous length
	// 3-6 times, 17 and 18 repeat 0 3-10 and 11-138 times.
	var lengths []int
	for len(lengths) < nlit+ndist {
		sym, err := d.decode(cl)
		if err != nil {
			return nil, nil, err
		}
		value, repeat := sym, 1
		switch sym {
		case 16:
			if len(lengths) == 0 {
				return nil, nil, corrupt("code length 16 with no previous length to repeat (section 3.2.7)")
			}
			value = lengths[len(lengths)-1]
			repeat, err = d.number(2)
			repeat += 3
		case 17:
			value = 0
			repeat, err = d.number(3)
			repeat += 3
		case 18:
			value = 0
			repeat, err = d.number(7)
			repeat += 11
		}
		if err != nil {
			return nil, nil, err
		}
		if len(lengths)+repeat > nlit+ndist {
			return nil, nil, corrupt("more than HLIT + HDIST = %d code lengths (section 3.2.7)", nlit+ndist)
		}
		for i := 0; i < repeat; i++ {
			lengths = append(lengths, value)
		}
	}
	lit, err = newHuffman("literal/length", lengths[:nlit])
	if err != nil {
		return nil, nil, err
	}
	dist, err = newHuffman("distance", lengths[nlit:])
	if err != nil {
		return nil, nil, err
	}
	return lit, dist, nil
}

// huffman is a canonical Huffman code (section 3.2.2), kept as little as
// the RFC needs to define it: how many codes there are of each length,
// and the symbols in the order of their codes, shorter codes first and,
// among codes of one length, smaller symbols first.
type huffman struct {
	count  [16]int // count[n]: how many codes have n bits; none has more than 15
	symbol []int
}

// newHuffman builds the code in which symbol s has a code of lengths[s]
// bits, or none for 0; name names it in errors.
func newHuffman(name string, lengths []int) (*huffman, error) {
	h := &huffman{}
	for _, n := range lengths {
		h.count[n]++
	}
	h.count[0] = 0
	for n := 1; n <= 15; n++ {
		for s, ln := range lengths {
			if ln == n {
				h.symbol = append(h.symbol, s)
			}
		}
	}
	// Going down the lengths, each free code of n-1 bits makes two of n
	// bits, and the codes of n bits take some of those. Taking more than
	// there are is an over-subscribed code: no prefix code has those
	// lengths (section 3.2.2).
	free := 1
	for n := 1; n <= 15; n++ {
		free = 2*free - h.count[n]
		if free < 0 {
			return nil, corrupt("the %s code is over-subscribed (section 3.2.2)", name)
		}
	}
	// Codes left free make an incomplete code. Section 3.2.7 allows two:
	// no code at all, and a single code of one bit; zlib and
	// compress/flate allow them for every code, and so does this.
	// Decoding a bit string that is no code fails.
	if free > 0 && len(h.symbol) > 0 && !(len(h.symbol) == 1 && h.count[1] == 1) {
		return nil, corrupt("the %s code is incomplete", name)
	}
	return h, nil
}

// decode reads one symbol in code h. A code's bits come most significant
// first (section 3.1.1), so each bit read adds a bit on the right. The
// codes of n bits are consecutive numbers from first, the number that
// follows the last code of n-1 bits, doubled (section 3.2.2, step 2).
func (d *decoder) decode(h *huffman) (int, error) {
	code := 0  // the bits read so far
	first := 0 // the first code of this length
	index := 0 // where the symbols of this length begin in h.symbol
	for n := 1; n <= 15; n++ {
		b, err := d.bit()
		if err != nil {
			return 0, err
		}
		code = code<<1 | b
		if code-first < h.count[n] {
			return h.symbol[index+code-first], nil
		}
		index += h.count[n]
		first = (first + h.count[n]) << 1
	}
	return 0, corrupt("bits that are no code of the block (section 3.2.2)")
}

// The codes of blocks with fixed Huffman codes (section 3.2.6).
var fixedLit, fixedDist = fixedCodes()

// fixedCodes builds the fixed codes from their code lengths: 8, 9, 7
// and 8 bits for literal/length symbols 0-143, 144-255, 256-279 and
// 280-287, and 5 bits for all 32 distance codes.
func fixedCodes() (lit, dist *huffman) {
	var litLengths [288]int
	for s := range litLengths {
		switch {
		case s < 144:
			litLengths[s] = 8
		case s < 256:
			litLengths[s] = 9
		case s < 280:
			litLengths[s] = 7
		default:
			litLengths[s] = 8
		}
	}
	var distLengths [32]int
	for s := range distLengths {
		distLengths[s] = 5
	}
	// Both are complete codes, so newHuffman returns no error.
	lit, _ = newHuffman("fixed literal/length", litLengths[:])
	dist, _ = newHuffman("fixed distance", distLengths[:])
	return lit, dist
}

package deflate

// Writing DEFLATE blocks (RFC 1951 section 3.2.3): each block of tokens
// goes out in whichever of the three block types is smallest for it.

// bitWriter packs bits from the least significant bit of each byte up
// (section 3.1.1) and appends whole bytes to out.
type bitWriter struct {
	out []byte
	acc uint64
	n   uint // bits held in acc
}

// bits writes the n low bits of v; n is at most 16.
func (w *bitWriter) bits(v uint32, n uint) {
	w.acc |= uint64(v) << w.n
	w.n += n
	if w.n >= 48 {
		w.out = append(w.out, byte(w.acc), byte(w.acc>>8), byte(w.acc>>16),
			byte(w.acc>>24), byte(w.acc>>32), byte(w.acc>>40))
		w.acc >>= 48
		w.n -= 48
	}
}

// align pads with zero bits to the next byte boundary, and writes out
// every whole byte held.
func (w *bitWriter) align() {
	w.n = (w.n + 7) &^ 7
	for w.n > 0 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
		w.n -= 8
	}
}

// Block header bits: BFINAL (never set: a permessage-deflate stream goes
// on) and BTYPE, as one 3-bit value.
const (
	headerStored  = 0 << 1
	headerFixed   = 1 << 1
	headerDynamic = 2 << 1
)

// The fixed Huffman codes of section 3.2.6.
var fixedLit, fixedDist huffCode

func init() {
	fixedLit = huffCode{length: make([]uint8, 288), code: make([]uint16, 288)}
	for sym := range fixedLit.length {
		switch {
		case sym < 144:
			fixedLit.length[sym] = 8
		case sym < 256:
			fixedLit.length[sym] = 9
		case sym < 280:
			fixedLit.length[sym] = 7
		default:
			fixedLit.length[sym] = 8
		}
	}
	fixedLit.assign()
	fixedDist = huffCode{length: make([]uint8, 32), code: make([]uint16, 32)}
	for sym := range fixedDist.length {
		fixedDist.length[sym] = 5
	}
	fixedDist.assign()
}

// blockWriter turns tokens into blocks. It is scratch space, held only
// while a message is compressed.
type blockWriter struct {
	bitWriter
	litFreq  [numLitLen]uint32
	distFreq [numDist]uint32
	lit      huffCode
	dist     huffCode
	cl       huffCode
	clFreq   [numCodeLen]uint32
	clItems  []uint16 // the code length sequence: symbol | extra<<5
	lengths  []uint8  // literal/length then distance code lengths, as sent
	// How many code lengths of each alphabet the header gives.
	nlit, ndist, ncl int
	hs               huffScratch
}

func newBlockWriter() *blockWriter {
	b := &blockWriter{
		lit:     huffCode{length: make([]uint8, numLitLen), code: make([]uint16, numLitLen)},
		dist:    huffCode{length: make([]uint8, numDist), code: make([]uint16, numDist)},
		cl:      huffCode{length: make([]uint8, numCodeLen), code: make([]uint16, numCodeLen)},
		clItems: make([]uint16, 0, numLitLen+numDist),
		lengths: make([]uint8, 0, numLitLen+numDist),
	}
	b.hs.init(numLitLen)
	return b
}

// Tokens are what the matcher produces: a literal byte (below 1<<31), or
// a match with matchFlag set, its length-3 in bits 16-23 and its
// distance-1 in bits 0-14.
const matchFlag = 1 << 31

func matchToken(length, dist int) uint32 {
	return matchFlag | uint32(length-minMatch)<<16 | uint32(dist-1)
}

// countLiteral and countMatch keep the frequencies of the block's symbols.
func (b *blockWriter) countLiteral(c byte) { b.litFreq[c]++ }

func (b *blockWriter) countMatch(length, dist int) {
	b.litFreq[257+int(lengthCode[length-minMatch])]++
	b.distFreq[distCode(dist)]++
}

// writeBlock writes the tokens, which encode the bytes of in, as one
// block (or, stored, as several), and resets the frequencies.
func (b *blockWriter) writeBlock(tokens []uint32, in []byte) {
	b.litFreq[endBlock] = 1
	// The extra bits cost the same in a fixed or a dynamic block.
	extra := 0
	for c := range lengthExtra {
		extra += int(b.litFreq[257+c]) * int(lengthExtra[c])
	}
	for c := range distExtra {
		extra += int(b.distFreq[c]) * int(distExtra[c])
	}
	fixed := 3 + extra
	for sym, f := range b.litFreq {
		fixed += int(f) * int(fixedLit.length[sym])
	}
	for _, f := range b.distFreq {
		fixed += int(f) * 5
	}
	dynamic := 3 + extra + b.buildDynamic()
	// Stored: 3 header bits padded to the byte (about 8 bits), LEN and
	// NLEN, the bytes. maxBlock keeps in within one stored block.
	stored := 8 * (len(in) + 5)
	switch {
	case stored < min(fixed, dynamic):
		b.writeStored(in)
	case fixed <= dynamic:
		b.bits(headerFixed, 3)
		b.writeTokens(tokens, &fixedLit, &fixedDist)
	default:
		b.writeDynamicHeader()
		b.writeTokens(tokens, &b.lit, &b.dist)
	}
	clear(b.litFreq[:])
	clear(b.distFreq[:])
}

// buildDynamic makes the block's Huffman codes and the code length
// sequence that describes them (section 3.2.7), and returns the bits all
// of it costs: the header and the coded symbols, less the extra bits.
func (b *blockWriter) buildDynamic() int {
	// Section 3.2.7: code lengths are 0 to 15, and the code length
	// alphabet's own lengths are sent in 3 bits, so 7 at most.
	b.hs.buildLengths(b.litFreq[:], b.lit.length, 15)
	b.hs.buildLengths(b.distFreq[:], b.dist.length, 15)
	// HLIT counts at least 257 codes, HDIST at least 1, HCLEN at least 4.
	nlit, ndist := numLitLen, numDist
	for nlit > 257 && b.lit.length[nlit-1] == 0 {
		nlit--
	}
	for ndist > 1 && b.dist.length[ndist-1] == 0 {
		ndist--
	}
	// One sequence for both alphabets: repeats may run from one into the
	// other.
	b.lengths = append(append(b.lengths[:0], b.lit.length[:nlit]...), b.dist.length[:ndist]...)
	b.clItems = b.clItems[:0]
	clear(b.clFreq[:])
	emit := func(sym, extra int) {
		b.clItems = append(b.clItems, uint16(sym|extra<<5))
		b.clFreq[sym]++
	}
	ls := b.lengths
	for i := 0; i < len(ls); {
		v, run := ls[i], 1
		for i+run < len(ls) && ls[i+run] == v {
			run++
		}
		i += run
		if v == 0 {
			for run >= 11 { // 18: 11 to 138 zeros, 7 extra bits
				r := min(run, 138)
				emit(18, r-11)
				run -= r
			}
			if run >= 3 { // 17: 3 to 10 zeros, 3 extra bits
				emit(17, run-3)
				run = 0
			}
		} else {
			emit(int(v), 0)
			run--
			for run >= 3 { // 16: the previous length 3 to 6 times, 2 extra bits
				r := min(run, 6)
				emit(16, r-3)
				run -= r
			}
		}
		for ; run > 0; run-- {
			emit(int(v), 0)
		}
	}
	b.hs.buildLengths(b.clFreq[:], b.cl.length, 7)
	ncl := numCodeLen
	for ncl > 4 && b.cl.length[codeLenOrder[ncl-1]] == 0 {
		ncl--
	}
	b.nlit, b.ndist, b.ncl = nlit, ndist, ncl
	cost := 5 + 5 + 4 + 3*ncl
	cost += 2*int(b.clFreq[16]) + 3*int(b.clFreq[17]) + 7*int(b.clFreq[18])
	for sym, f := range b.clFreq {
		cost += int(f) * int(b.cl.length[sym])
	}
	for sym, f := range b.litFreq {
		cost += int(f) * int(b.lit.length[sym])
	}
	for sym, f := range b.distFreq {
		cost += int(f) * int(b.dist.length[sym])
	}
	return cost
}

// writeDynamicHeader writes the header of a dynamic block (section
// 3.2.7) for the codes buildDynamic made.
func (b *blockWriter) writeDynamicHeader() {
	b.lit.assign()
	b.dist.assign()
	b.cl.assign()
	nlit, ndist, ncl := b.nlit, b.ndist, b.ncl
	b.bits(headerDynamic, 3)
	b.bits(uint32(nlit-257), 5) // HLIT
	b.bits(uint32(ndist-1), 5)  // HDIST
	b.bits(uint32(ncl-4), 4)    // HCLEN
	for _, sym := range codeLenOrder[:ncl] {
		b.bits(uint32(b.cl.length[sym]), 3)
	}
	for _, it := range b.clItems {
		sym := it & 31
		b.bits(uint32(b.cl.code[sym]), uint(b.cl.length[sym]))
		switch sym {
		case 16:
			b.bits(uint32(it>>5), 2)
		case 17:
			b.bits(uint32(it>>5), 3)
		case 18:
			b.bits(uint32(it>>5), 7)
		}
	}
}

// writeTokens writes the block's tokens and its end with the codes given.
func (b *blockWriter) writeTokens(tokens []uint32, lit, dist *huffCode) {
	for _, t := range tokens {
		if t&matchFlag == 0 {
			b.bits(uint32(lit.code[t]), uint(lit.length[t]))
			continue
		}
		length := int(t>>16&0xff) + minMatch
		d := int(t&0x7fff) + 1
		lc := lengthCode[length-minMatch]
		b.bits(uint32(lit.code[257+int(lc)]), uint(lit.length[257+int(lc)]))
		b.bits(uint32(length-int(lengthBase[lc])), uint(lengthExtra[lc]))
		dc := distCode(d)
		b.bits(uint32(dist.code[dc]), uint(dist.length[dc]))
		b.bits(uint32(d-int(distBase[dc])), uint(distExtra[dc]))
	}
	b.bits(uint32(lit.code[endBlock]), uint(lit.length[endBlock]))
}

// writeStored writes in as a stored block (section 3.2.4): after the
// header, padding to the byte, LEN and its complement NLEN, and the
// bytes. A block covers at most maxBlock bytes, 65535, all LEN can say.
func (b *blockWriter) writeStored(in []byte) {
	n := len(in)
	b.bits(headerStored, 3)
	b.align()
	b.out = append(b.out, byte(n), byte(n>>8), ^byte(n), ^byte(n>>8))
	b.out = append(b.out, in...)
}

// syncFlush ends a message as RFC 7692 section 7.2.1 requires: an empty
// stored block, whose LEN and NLEN (00 00 ff ff) the sender then removes.
// What remains is its 3 header bits and the padding to the byte.
func (b *blockWriter) syncFlush() {
	b.bits(headerStored, 3)
	b.align()
}

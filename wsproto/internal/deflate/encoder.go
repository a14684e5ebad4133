// Package deflate is the DEFLATE compressor (RFC 1951) of permessage-deflate
// (RFC 7692). It differs from compress/flate in what permessage-deflate
// needs:
//
//   - Any LZ77 window from 2^8 to 2^15 bytes (RFC 7692 section 7.1.2): no
//     match ever reaches further back than the window negotiated.
//   - Little memory between messages. With context takeover, the stream
//     goes on from one message to the next, so an encoder keeps the last
//     window of input and a small hash table: 40 KiB for a 32 KiB window,
//     1.5 KiB for a 512-byte one. Everything else (the block being built,
//     its tokens, the hash chains, the Huffman tables) is borrowed from a
//     pool while a message is compressed.
//   - Messages, not a byte stream: Flush ends each with the sync flush of
//     RFC 7692 section 7.2.1, less its final 00 00 ff ff.
//
// The matcher is LZ77 with a hash table of 5-byte prefixes, whose entries
// are the heads of chains through earlier positions of the same message
// (section 4 of RFC 1951 describes the scheme), and greedy: it takes the
// longest match it finds at each position. Each block is written in the
// smallest of the three block types (block.go); its Huffman codes are
// built from the block's own symbol counts (huffman.go).
package deflate

import (
	"encoding/binary"
	"math/bits"
	"sync"
	"unsafe"
)

// Window sizes, in bits, that RFC 7692 section 7.1.2 allows.
const (
	MinWindowBits = 8
	MaxWindowBits = 15
)

// HuffmanOnly is the level that finds no matches: every byte is a literal.
const HuffmanOnly = -2

// maxBlock is the most input one block covers. It is what a stored block
// can hold (RFC 1951 section 3.2.4), so any block can fall back to one.
const maxBlock = 65535

// minTaken is the shortest match the encoder takes. DEFLATE allows 3
// (RFC 1951 section 3.2.5), but a 3-byte match far back costs about as
// many bits as three literals, and the 5-byte hash rarely finds one.
const minTaken = 4

// maxTokens is the most tokens one block holds; a block ends early when
// it has this many, which bounds the tokens slice at 64 KiB.
const maxTokens = 1 << 14

// tableBits is the size of the hash table for a window: one entry per
// position of the window, but never more than 4096 (8 KiB), which is all
// an encoder may keep beside its window.
func tableBits(windowBits int) int { return min(windowBits, 12) }

// levels maps a compression level to how hard the matcher looks: how
// many candidates of a hash chain it tries at each position, the match
// length at which it stops looking, and up to which length it hashes the
// positions inside a match it takes (past it, only the last). Levels 1
// and 2 look as hard as compress/flate's levels 1 and 2.
var levels = [10]struct{ chain, nice, hashInside int }{
	0: {0, 0, 0}, // HuffmanOnly
	1: {1, 16, 4},
	2: {8, 16, 5},
	3: {16, 64, 16},
	4: {32, 128, 32},
	5: {64, 128, 64},
	6: {128, maxMatch, maxMatch},
	7: {256, maxMatch, maxMatch},
	8: {1024, maxMatch, maxMatch},
	9: {4096, maxMatch, maxMatch},
}

// The levels New uses for level 0: with context takeover, 2, which
// follows chains far enough to find much in earlier messages; without,
// 1, as each message is a stream of its own and a short one gains little
// from looking harder. docs/PERFORMANCE.md compares them with
// compress/flate's levels 2 and 1.
const (
	DefaultLevel           = 2
	DefaultLevelNoTakeover = 1
)

// Encoder compresses the messages of one direction of one connection. It
// is not safe for concurrent use.
type Encoder struct {
	windowBits              int
	chain, nice, hashInside int
	takeover                bool

	hist   *history // with takeover kept between messages; otherwise pooled
	pos    uint32   // stream position of the next input byte, modulo 2^32
	filled int      // bytes of history in hist.ring, at most the window
	msgIn  int      // bytes of the current message already compressed

	s *scratch // while a message is compressed
}

// history is what context takeover keeps: the last window of input (a
// ring indexed by stream position) and the hash table, whose entries are
// stream positions modulo 2^16.
type history struct {
	ring []byte
	head []uint16
}

// scratch is what a message needs only while it is being compressed.
type scratch struct {
	*blockWriter
	in     []byte   // input waiting to be compressed, up to maxBlock
	tokens []uint32 // the current block's, up to maxTokens
	prev   []uint16 // hash chains: prev[pos mod window] is the previous position with the same hash
}

var (
	historyPools [MaxWindowBits + 1]sync.Pool
	scratchPool  = sync.Pool{New: func() any {
		return &scratch{
			blockWriter: newBlockWriter(),
			in:          make([]byte, 0, maxBlock),
			tokens:      make([]uint32, 0, maxTokens),
			prev:        make([]uint16, 1<<MaxWindowBits),
		}
	}}
)

// New returns an encoder for a window of 2^windowBits bytes, at a level
// from 1 (fastest) to 9 (smallest output), HuffmanOnly, or 0 for the
// default (DefaultLevel, or DefaultLevelNoTakeover). With takeover, each
// message may refer to the ones before (RFC 7692 section 7.1.1); without,
// each is a stream of its own, and the encoder keeps nothing between
// messages. HuffmanOnly never refers back, so it keeps nothing either. It
// panics on a window or level out of range: the callers check them first.
func New(windowBits, level int, takeover bool) *Encoder {
	if windowBits < MinWindowBits || windowBits > MaxWindowBits {
		panic("deflate: window bits out of range")
	}
	switch {
	case level == 0:
		level = DefaultLevel
		if !takeover {
			level = DefaultLevelNoTakeover
		}
	case level == HuffmanOnly:
		level = 0
		// Section 7.2.1 lets a compressor refer to earlier messages or
		// not; this one never refers to anything, so it needs no history.
		takeover = false
	case level < 1 || level > 9:
		panic("deflate: level out of range")
	}
	return &Encoder{windowBits: windowBits, chain: levels[level].chain, nice: levels[level].nice, hashInside: levels[level].hashInside, takeover: takeover}
}

// Kept returns the bytes the encoder holds between messages, its own
// struct included.
func (e *Encoder) Kept() int {
	n := int(unsafe.Sizeof(*e))
	if e.hist != nil {
		n += int(unsafe.Sizeof(*e.hist)) + len(e.hist.ring) + 2*len(e.hist.head)
	}
	return n
}

// Write compresses p as the next part of the current message and appends
// to dst the compressed bytes ready so far. Input is held until a block's
// worth has come, or until Flush.
func (e *Encoder) Write(dst, p []byte) []byte {
	if len(p) == 0 {
		return dst
	}
	e.begin()
	s := e.s
	s.out = dst
	for len(p) > 0 {
		k := min(len(p), maxBlock-len(s.in))
		s.in = append(s.in, p[:k]...)
		p = p[k:]
		if len(s.in) == maxBlock {
			e.compressBlock()
		}
	}
	dst, s.out = s.out, nil
	return dst
}

// Flush ends the current message: it compresses what input is held,
// ends the last block, adds the sync flush, and appends the result to
// dst. The message's compressed bytes then end on a byte boundary, and
// lack only the 00 00 ff ff that RFC 7692 section 7.2.1 removes. An
// empty message is the single byte 0x00 (section 7.2.3.6).
func (e *Encoder) Flush(dst []byte) []byte {
	if e.s == nil {
		// Nothing written: an empty stored block, its header bits and
		// padding all zero.
		return append(dst, 0x00)
	}
	s := e.s
	s.out = dst
	if len(s.in) > 0 {
		e.compressBlock()
	}
	s.syncFlush()
	dst, s.out = s.out, nil
	e.s = nil
	e.msgIn = 0
	scratchPool.Put(s)
	if !e.takeover {
		e.Reset()
	}
	return dst
}

// Reset forgets every message before: the next message starts a new
// stream, which refers to nothing before it, so a peer inflates it
// whatever its window holds. It also gives up a message begun and not
// flushed.
func (e *Encoder) Reset() {
	if e.s != nil {
		e.s.in = e.s.in[:0]
		e.s.tokens = e.s.tokens[:0]
		e.s.bitWriter = bitWriter{}
		clear(e.s.litFreq[:])
		clear(e.s.distFreq[:])
		scratchPool.Put(e.s)
		e.s = nil
	}
	if e.hist != nil && !e.takeover {
		historyPools[e.windowBits].Put(e.hist)
		e.hist = nil
	}
	e.filled, e.msgIn = 0, 0
}

// begin makes sure the encoder has its history and scratch.
func (e *Encoder) begin() {
	if e.hist == nil {
		if h, ok := historyPools[e.windowBits].Get().(*history); ok {
			// Whatever a pooled history holds is harmless: a candidate
			// is used only within the bytes this stream has put in the
			// ring (avail, in compressBlock), and only once its bytes
			// are compared.
			e.hist = h
		} else {
			e.hist = &history{ring: make([]byte, 1<<e.windowBits), head: make([]uint16, 1<<tableBits(e.windowBits))}
		}
	}
	if e.s == nil {
		e.s = scratchPool.Get().(*scratch)
	}
}

// hash5 hashes the first 5 of the 8 bytes at the start of b into a
// value of 32-shift bits. Five bytes, not four: in JSON, 4-byte strings
// such as `":"u` recur so often that their table entries keep being
// overwritten, and a 5-byte hash keeps a candidate from earlier messages
// that is worth trying. Matches are then in effect 5 bytes or longer; a
// 4-byte one is found only through a colliding hash.
func hash5(b []byte, shift uint) uint32 {
	v := binary.LittleEndian.Uint64(b) << 24 // the first 5 bytes, on top
	return uint32((v * 0x9e3779b97f4a7c15) >> (32 + shift))
}

// compressBlock finds the matches in the held input and writes it as a
// block, then moves it into the history.
func (e *Encoder) compressBlock() {
	s, h := e.s, e.hist
	in := s.in
	n := len(in)
	window := 1 << e.windowBits
	mask := uint32(window - 1)
	shift := uint(32 - tableBits(e.windowBits))
	insert := func(i int) uint16 {
		p := e.pos + uint32(i)
		hv := hash5(in[i:], shift)
		cand := h.head[hv]
		h.head[hv] = uint16(p)
		s.prev[p&mask] = cand
		return cand
	}
	// A block ends early once it holds maxTokens tokens.
	i, blockStart := 0, 0
	splitIfFull := func() {
		if len(s.tokens) >= maxTokens {
			s.writeBlock(s.tokens, in[blockStart:i])
			s.tokens = s.tokens[:0]
			blockStart = i
		}
	}
	// Hashing reads 8 bytes, so the last 7 are never hashed.
	for i+8 <= n && e.chain > 0 {
		splitIfFull()
		cand := insert(i)
		p := uint16(e.pos + uint32(i))
		maxLen := min(maxMatch, n-i)
		// A match may reach back into earlier messages' bytes, which the
		// ring holds, but never past the window (RFC 7692 section
		// 7.1.2) nor before the stream began.
		avail := min(window, e.filled+i)
		bestLen, bestDist, lastDist := 0, 0, 0
		for k := e.chain; k > 0; k-- {
			// The table and chains hold positions modulo 2^16; a stale
			// one only wastes a probe, since the bytes are compared.
			d := int(p - cand)
			if d <= lastDist || d > avail {
				break
			}
			// A candidate can only beat the best match so far if it
			// agrees at the byte where the best one stopped: check that
			// byte first, as zlib does.
			if bestLen == 0 || e.byteBack(i+bestLen, d) == in[i+bestLen] {
				if l := e.matchLen(i, d, maxLen); l > bestLen {
					bestLen, bestDist = l, d
					if l >= e.nice || l == maxLen {
						break
					}
				}
			}
			// prev is pooled scratch: its entries for positions before
			// this message belong to other messages or connections.
			if d > i+e.msgIn {
				break
			}
			cand = s.prev[(e.pos+uint32(i-d))&mask]
			lastDist = d
		}
		if bestLen < minTaken {
			s.countLiteral(in[i])
			s.tokens = append(s.tokens, uint32(in[i]))
			i++
			continue
		}
		s.countMatch(bestLen, bestDist)
		s.tokens = append(s.tokens, matchToken(bestLen, bestDist))
		// Hash the positions inside the match too (those with 8 bytes
		// left to read), so later matches can start at them; inside a long
		// one, only the last, which costs little of the ratio and saves
		// much time on repetitive input.
		start := i + 1
		i += bestLen
		if bestLen > e.hashInside {
			start = i - 1
		}
		for j := start; j < min(i, n-7); j++ {
			insert(j)
		}
	}
	for ; i < n; i++ {
		splitIfFull()
		s.countLiteral(in[i])
		s.tokens = append(s.tokens, uint32(in[i]))
	}
	s.writeBlock(s.tokens, in[blockStart:])
	s.tokens = s.tokens[:0]

	// Keep the last window of input for the matches to come (none come
	// at HuffmanOnly).
	tail := in[max(0, n-window):]
	if e.chain == 0 {
		tail = nil
	}
	for len(tail) > 0 {
		r := int((e.pos + uint32(n-len(tail))) & mask)
		k := copy(h.ring[r:], tail)
		tail = tail[k:]
	}
	e.pos += uint32(n)
	e.filled = min(window, e.filled+n)
	e.msgIn += n
	s.in = s.in[:0]
}

// byteBack returns the byte d bytes before the held input's byte i.
func (e *Encoder) byteBack(i, d int) byte {
	if j := i - d; j >= 0 {
		return e.s.in[j]
	}
	ring := e.hist.ring
	return ring[int(e.pos+uint32(i-d))&(len(ring)-1)]
}

// matchLen returns how many bytes, up to maxLen, the input at i has in
// common with the stream d bytes before it. Those bytes are in the
// held input or, before it, in the history ring.
func (e *Encoder) matchLen(i, d, maxLen int) int {
	in, ring := e.s.in, e.hist.ring
	mask := len(ring) - 1
	n := 0
	j := i - d // where the earlier bytes start, relative to in[0]
	for j < 0 && n < maxLen {
		r := int(e.pos+uint32(j)) & mask
		seg := min(-j, len(ring)-r, maxLen-n)
		k := commonPrefix(ring[r:r+seg], in[i+n:i+n+seg])
		n += k
		if k < seg {
			return n
		}
		j += seg
	}
	if n < maxLen {
		n += commonPrefix(in[j:j+maxLen-n], in[i+n:i+maxLen])
	}
	return n
}

// commonPrefix returns the length of the common prefix of a and b, which
// are the same length, 8 bytes at a time.
func commonPrefix(a, b []byte) int {
	n := 0
	for len(a)-n >= 8 {
		if x := binary.LittleEndian.Uint64(a[n:]) ^ binary.LittleEndian.Uint64(b[n:]); x != 0 {
			return n + bits.TrailingZeros64(x)/8
		}
		n += 8
	}
	for n < len(a) && a[n] == b[n] {
		n++
	}
	return n
}

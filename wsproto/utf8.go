package wsproto

import "encoding/binary"

// Text messages and close reasons must be valid UTF-8 (RFC 6455 sections
// 5.6 and 8.1), and an endpoint fails the connection with 1007 as soon as
// the bytes it has are not a prefix of valid UTF-8 (section 8.1: "When an
// endpoint is to interpret a byte stream as UTF-8 but finds that the byte
// stream is not, in fact, a valid UTF-8 stream, that endpoint MUST _Fail
// the WebSocket Connection_"). Validity is the Unicode definition (RFC 3629
// section 4): no overlong forms, no surrogates, nothing above U+10FFFF.

// leadInfo describes a byte that starts a character: its size and the range
// its second byte must fall in (RFC 3629 section 4). size 0 means the byte
// never starts a character.
type leadInfo struct{ size, lo, hi uint8 }

var leads = func() (t [256]leadInfo) {
	for c := 0; c < 0x80; c++ {
		t[c] = leadInfo{1, 0, 0}
	}
	for c := 0xC2; c <= 0xDF; c++ {
		t[c] = leadInfo{2, 0x80, 0xBF}
	}
	for c := 0xE0; c <= 0xEF; c++ {
		t[c] = leadInfo{3, 0x80, 0xBF}
	}
	t[0xE0].lo = 0xA0 // no overlong 3-byte forms
	t[0xED].hi = 0x9F // no surrogates U+D800-U+DFFF
	for c := 0xF0; c <= 0xF4; c++ {
		t[c] = leadInfo{4, 0x80, 0xBF}
	}
	t[0xF0].lo = 0x90 // no overlong 4-byte forms
	t[0xF4].hi = 0x8F // nothing above U+10FFFF
	return t
}()

const asciiMask = 0x8080808080808080

// scanUTF8 validates p. It returns ok false if p is not a prefix of valid
// UTF-8. Otherwise tail is the number of bytes at the end of p that begin a
// character p does not finish (0 to 3).
func scanUTF8(p []byte) (ok bool, tail int) {
	i, n := 0, len(p)
	for i < n {
		c := p[i]
		if c < 0x80 {
			i++
			// ASCII fast path: skip 16, then 8 bytes at a time.
			for i+16 <= n && (binary.LittleEndian.Uint64(p[i:])|binary.LittleEndian.Uint64(p[i+8:]))&asciiMask == 0 {
				i += 16
			}
			for i+8 <= n && binary.LittleEndian.Uint64(p[i:])&asciiMask == 0 {
				i += 8
			}
			continue
		}
		l := leads[c]
		if l.size == 0 {
			return false, 0
		}
		size := int(l.size)
		if i+size > n {
			// An unfinished character: what there is must be a valid start.
			if i+1 < n && (p[i+1] < l.lo || p[i+1] > l.hi) {
				return false, 0
			}
			if i+2 < n && p[i+2]&0xC0 != 0x80 {
				return false, 0
			}
			return true, n - i
		}
		if p[i+1] < l.lo || p[i+1] > l.hi {
			return false, 0
		}
		switch size {
		case 3:
			if p[i+2]&0xC0 != 0x80 {
				return false, 0
			}
		case 4:
			if p[i+2]&0xC0 != 0x80 || p[i+3]&0xC0 != 0x80 {
				return false, 0
			}
		}
		i += size
	}
	return true, 0
}

// validUTF8 reports whether p is entirely valid UTF-8.
func validUTF8(p []byte) bool {
	ok, tail := scanUTF8(p)
	return ok && tail == 0
}

func validUTF8String(s string) bool {
	// A short reason is cheap to scan as a string; avoid the copy.
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return validUTF8([]byte(s))
		}
	}
	return true
}

// utf8Stream validates a text message that arrives in pieces. Bytes of a
// character split between pieces are kept until the character is whole.
type utf8Stream struct {
	pend [4]byte
	n    int // bytes in pend
}

// write validates the next piece of the stream. It returns false as soon as
// the stream so far is not a prefix of valid UTF-8.
func (s *utf8Stream) write(p []byte) bool {
	if s.n > 0 {
		size := int(leads[s.pend[0]].size)
		k := copy(s.pend[s.n:size], p)
		s.n += k
		p = p[k:]
		ok, tail := scanUTF8(s.pend[:s.n])
		if !ok {
			return false
		}
		if tail != 0 { // still unfinished: p is used up
			return true
		}
		s.n = 0
	}
	ok, tail := scanUTF8(p)
	if !ok {
		return false
	}
	s.n = copy(s.pend[:], p[len(p)-tail:])
	return true
}

// done reports whether the stream ended on a character boundary.
func (s *utf8Stream) done() bool { return s.n == 0 }

func (s *utf8Stream) reset() { s.n = 0 }

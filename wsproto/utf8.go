package wsproto

import "unicode/utf8"

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

// scanUTF8 validates p. It returns ok false if p is not a prefix of valid
// UTF-8. Otherwise tail is the number of bytes at the end of p that begin a
// character p does not finish (0 to 3). The whole characters go to
// unicode/utf8.Valid, the fastest validator at hand; only the unfinished
// one is checked here, so that an impossible start fails at once.
func scanUTF8(p []byte) (ok bool, tail int) {
	tail = unfinished(p)
	whole := len(p) - tail
	if !utf8.Valid(p[:whole]) {
		return false, 0
	}
	if tail > 0 && !validStart(p[whole:]) {
		return false, 0
	}
	return true, tail
}

// unfinished returns the length of the character p's last bytes begin but
// do not finish, judged by its first byte only: 0 to 3.
func unfinished(p []byte) int {
	for k := 1; k <= 3 && k <= len(p); k++ {
		c := p[len(p)-k]
		if c < 0x80 {
			return 0
		}
		if c >= 0xC0 { // a first byte (or an invalid one, size 0)
			if int(leads[c].size) > k {
				return k
			}
			return 0
		}
	}
	return 0
}

// validStart reports whether b, the first bytes of a character, can still
// be finished into a valid one.
func validStart(b []byte) bool {
	l := leads[b[0]]
	if l.size == 0 || len(b) > 1 && (b[1] < l.lo || b[1] > l.hi) {
		return false
	}
	return len(b) < 3 || b[2]&0xC0 == 0x80
}

// validUTF8 reports whether p is entirely valid UTF-8.
func validUTF8(p []byte) bool { return utf8.Valid(p) }

func validUTF8String(s string) bool { return utf8.ValidString(s) }

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

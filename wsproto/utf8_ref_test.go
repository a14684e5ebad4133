package wsproto

import (
	"fmt"
	"testing"
)

// A naive UTF-8 validator written straight from the ABNF of RFC 3629
// section 4, byte by byte, without unicode/utf8: the reference the
// validators of utf8.go are tested against. validUTF8 is unicode/utf8.Valid
// and scanUTF8 uses it for whole characters, so a reference built on
// unicode/utf8 could not catch a mistake there.
//
//	UTF8-octets = *( UTF8-char )
//	UTF8-char   = UTF8-1 / UTF8-2 / UTF8-3 / UTF8-4
//	UTF8-1      = %x00-7F
//	UTF8-2      = %xC2-DF UTF8-tail
//	UTF8-3      = %xE0 %xA0-BF UTF8-tail / %xE1-EC 2( UTF8-tail ) /
//	              %xED %x80-9F UTF8-tail / %xEE-EF 2( UTF8-tail )
//	UTF8-4      = %xF0 %x90-BF 2( UTF8-tail ) / %xF1-F3 3( UTF8-tail ) /
//	              %xF4 %x80-8F 2( UTF8-tail )
//	UTF8-tail   = %x80-BF

// refUTF8 scans p as a sequence of UTF8-char. bad is the index of the first
// byte at which p stops being a prefix of valid UTF-8, or -1 if it never
// does; then tail is the number of bytes at the end of p that begin a
// character p does not finish (0 to 3). The first byte of a character picks
// its alternative in the grammar, so the scan never backtracks.
func refUTF8(p []byte) (bad, tail int) {
	i := 0
	for i < len(p) {
		c := p[i]
		var n int            // bytes in the character
		lo, hi := 0x80, 0xBF // range of its second byte
		switch {
		case c <= 0x7F: // RFC 3629 section 4: UTF8-1 = %x00-7F
			n = 1
		case c >= 0xC2 && c <= 0xDF: // RFC 3629 section 4: UTF8-2 = %xC2-DF UTF8-tail
			n = 2
		case c == 0xE0: // RFC 3629 section 4: %xE0 %xA0-BF UTF8-tail (no overlongs)
			n, lo = 3, 0xA0
		case c >= 0xE1 && c <= 0xEC: // RFC 3629 section 4: %xE1-EC 2( UTF8-tail )
			n = 3
		case c == 0xED: // RFC 3629 section 4: %xED %x80-9F UTF8-tail (no surrogates)
			n, hi = 3, 0x9F
		case c >= 0xEE && c <= 0xEF: // RFC 3629 section 4: %xEE-EF 2( UTF8-tail )
			n = 3
		case c == 0xF0: // RFC 3629 section 4: %xF0 %x90-BF 2( UTF8-tail ) (no overlongs)
			n, lo = 4, 0x90
		case c >= 0xF1 && c <= 0xF3: // RFC 3629 section 4: %xF1-F3 3( UTF8-tail )
			n = 4
		case c == 0xF4: // RFC 3629 section 4: %xF4 %x80-8F 2( UTF8-tail ) (up to U+10FFFF)
			n, hi = 4, 0x8F
		default:
			// 80-BF (a tail byte with no first byte), C0-C1 (overlong
			// 2-byte forms), F5-FF (above U+10FFFF, and the 5- and 6-byte
			// forms of RFC 2279): no rule of RFC 3629 section 4 starts
			// with them.
			return i, 0
		}
		for k := 1; k < n; k++ {
			if i+k == len(p) {
				return -1, k // p ends inside the character
			}
			b := int(p[i+k])
			if b < 0x80 || b > 0xBF { // RFC 3629 section 4: UTF8-tail = %x80-BF
				return i + k, 0
			}
			if k == 1 && (b < lo || b > hi) { // the second byte's range above
				return i + k, 0
			}
		}
		i += n
	}
	return -1, 0
}

// refValidUTF8 reports whether p matches UTF8-octets (RFC 3629 section 4).
func refValidUTF8(p []byte) bool {
	bad, tail := refUTF8(p)
	return bad < 0 && tail == 0
}

// TestRefUTF8Table checks the reference itself on the edge cases of RFC
// 3629 and the Unicode definition of UTF-8.
func TestRefUTF8Table(t *testing.T) {
	tests := []struct {
		name string
		in   string
		bad  int // first bad byte, -1 for none
		tail int // unfinished bytes at the end when bad is -1
	}{
		{"empty", "", -1, 0},
		{"U+0000", "\x00", -1, 0},
		{"U+007F, last UTF8-1", "\x7f", -1, 0},
		{"ASCII text", "hello", -1, 0},
		{"U+0080, first UTF8-2", "\xc2\x80", -1, 0},
		{"U+07FF, last UTF8-2", "\xdf\xbf", -1, 0},
		{"U+0800, first UTF8-3", "\xe0\xa0\x80", -1, 0},
		{"U+0FFF", "\xe0\xbf\xbf", -1, 0},
		{"U+1000", "\xe1\x80\x80", -1, 0},
		{"U+D7FF, before the surrogates", "\xed\x9f\xbf", -1, 0},
		{"U+E000, after the surrogates", "\xee\x80\x80", -1, 0},
		{"U+FFFF, last UTF8-3", "\xef\xbf\xbf", -1, 0},
		{"U+10000, first UTF8-4", "\xf0\x90\x80\x80", -1, 0},
		{"U+3FFFF", "\xf0\xbf\xbf\xbf", -1, 0},
		{"U+40000", "\xf1\x80\x80\x80", -1, 0},
		{"U+FFFFF", "\xf3\xbf\xbf\xbf", -1, 0},
		{"U+100000", "\xf4\x80\x80\x80", -1, 0},
		{"U+10FFFF, the maximum", "\xf4\x8f\xbf\xbf", -1, 0},
		{"noncharacter U+FFFE is valid UTF-8", "\xef\xbf\xbe", -1, 0},
		{"kosme", "κόσμε", -1, 0},
		{"mixed widths", "a\u00e9b\u20acc\U0001f600d\U0010ffff", -1, 0},

		// Overlong forms (RFC 3629 section 3: "Implementations of the
		// decoding algorithm above MUST protect against decoding invalid
		// sequences"; section 10 on overlongs).
		{"overlong C0 80 (U+0000)", "\xc0\x80", 0, 0},
		{"overlong C0 AF ('/')", "\xc0\xaf", 0, 0},
		{"overlong C1 BF (U+007F)", "\xc1\xbf", 0, 0},
		{"overlong E0 80 80", "\xe0\x80\x80", 1, 0},
		{"overlong E0 9F BF (U+07FF)", "\xe0\x9f\xbf", 1, 0},
		{"overlong F0 80 80 80", "\xf0\x80\x80\x80", 1, 0},
		{"overlong F0 8F BF BF (U+FFFF)", "\xf0\x8f\xbf\xbf", 1, 0},
		{"overlong after text", "ab\xc0\x80", 2, 0},

		// UTF-16 surrogates U+D800-U+DFFF (RFC 3629 section 3: "The
		// definition of UTF-8 prohibits encoding character numbers
		// between U+D800 and U+DFFF").
		{"surrogate ED A0 80 (U+D800)", "\xed\xa0\x80", 1, 0},
		{"surrogate ED AF BF (U+DBFF)", "\xed\xaf\xbf", 1, 0},
		{"surrogate ED B0 80 (U+DC00)", "\xed\xb0\x80", 1, 0},
		{"surrogate ED BF BF (U+DFFF)", "\xed\xbf\xbf", 1, 0},
		{"surrogate pair", "\xed\xa0\x80\xed\xb0\x80", 1, 0},

		// Above U+10FFFF (RFC 3629 section 3: UTF-8 encodes "characters
		// from the U+0000..U+10FFFF range").
		{"F4 90 80 80 (U+110000)", "\xf4\x90\x80\x80", 1, 0},
		{"F4 BF BF BF", "\xf4\xbf\xbf\xbf", 1, 0},
		{"F5 80 80 80", "\xf5\x80\x80\x80", 0, 0},
		{"F7 BF BF BF (U+1FFFFF)", "\xf7\xbf\xbf\xbf", 0, 0},

		// The 5- and 6-byte forms of RFC 2279, gone in RFC 3629.
		{"5-byte F8 88 80 80 80", "\xf8\x88\x80\x80\x80", 0, 0},
		{"5-byte FB BF BF BF BF", "\xfb\xbf\xbf\xbf\xbf", 0, 0},
		{"6-byte FC 84 80 80 80 80", "\xfc\x84\x80\x80\x80\x80", 0, 0},
		{"6-byte FD BF BF BF BF BF", "\xfd\xbf\xbf\xbf\xbf\xbf", 0, 0},
		{"FE", "\xfe", 0, 0},
		{"FF", "\xff", 0, 0},

		// Tail bytes with no first byte.
		{"lone 80", "\x80", 0, 0},
		{"lone BF", "\xbf", 0, 0},
		{"extra tail after UTF8-2", "\xc2\x80\x80", 2, 0},
		{"extra tail after UTF8-3", "\xe2\x82\xac\xbf", 3, 0},

		// Truncated: a valid prefix, unfinished at the end.
		{"C2 alone", "\xc2", -1, 1},
		{"E0 alone", "\xe0", -1, 1},
		{"E0 A0", "\xe0\xa0", -1, 2},
		{"ED alone", "\xed", -1, 1},
		{"ED 9F", "\xed\x9f", -1, 2},
		{"E2 82 after text", "ab\xe2\x82", -1, 2},
		{"F0 alone", "\xf0", -1, 1},
		{"F0 9F 98", "\xf0\x9f\x98", -1, 3},
		{"F4 8F BF", "\xf4\x8f\xbf", -1, 3},

		// Truncated, then something that cannot continue it.
		{"C2 then ASCII", "\xc2a", 1, 0},
		{"C2 then C2 80", "\xc2\xc2\x80", 1, 0},
		{"E2 82 then ASCII", "\xe2\x82a", 2, 0},
		{"E2 then ASCII then tail", "\xe2a\xac", 1, 0},
		{"F0 9F 98 then ASCII", "\xf0\x9f\x98a", 3, 0},
		{"F0 9F then E2 82 AC", "\xf0\x9f\xe2\x82\xac", 2, 0},
		{"F4 8F BF then C0", "\xf4\x8f\xbf\xc0", 3, 0},
	}
	for _, tt := range tests {
		bad, tail := refUTF8([]byte(tt.in))
		if bad != tt.bad || tail != tt.tail {
			t.Errorf("%s: refUTF8(% x) = %d, %d; want %d, %d", tt.name, tt.in, bad, tail, tt.bad, tt.tail)
		}
		if got, want := refValidUTF8([]byte(tt.in)), tt.bad < 0 && tt.tail == 0; got != want {
			t.Errorf("%s: refValidUTF8(% x) = %v, want %v", tt.name, tt.in, got, want)
		}
	}
}

// refEncode encodes v in n bytes by the table of RFC 3629 section 3,
// whether or not n is the shortest form: the bits of v go, low bits last,
// into the x positions of 0xxxxxxx, 110xxxxx 10xxxxxx, 1110xxxx 10xxxxxx
// 10xxxxxx or 11110xxx 10xxxxxx 10xxxxxx 10xxxxxx.
func refEncode(v uint32, n int) []byte {
	if n == 1 {
		return []byte{byte(v)}
	}
	b := make([]byte, n)
	for k := n - 1; k > 0; k-- {
		b[k] = 0x80 | byte(v&0x3F)
		v >>= 6
	}
	b[0] = byte(0xFF<<(8-n)) | byte(v)
	return b
}

// TestRefUTF8CodePoints checks the reference, a grammar, against the other
// definition in RFC 3629 section 3: every character number U+0000-U+10FFFF
// but the surrogates, in the shortest of the four forms, is valid; every
// longer form of it (an overlong) is not, nor is any number from U+110000
// to U+1FFFFF, which only the 4-byte form can hold.
func TestRefUTF8CodePoints(t *testing.T) {
	// The largest number each form holds: 7, 11, 16 and 21 bits.
	maxOf := [5]uint32{0, 0x7F, 0x7FF, 0xFFFF, 0x1FFFFF}
	checked := 0
	for v := uint32(0); v <= maxOf[4]; v++ {
		n := 1
		for v > maxOf[n] {
			n++
		}
		for m := n; m <= 4; m++ {
			p := refEncode(v, m)
			want := m == n && v <= 0x10FFFF && (v < 0xD800 || v > 0xDFFF)
			if got := refValidUTF8(p); got != want {
				t.Fatalf("U+%04X in %d bytes (% x): valid %v, want %v", v, m, p, got, want)
			}
			// Every proper prefix of a valid character is a valid prefix.
			for k := 1; want && k < m; k++ {
				if bad, tail := refUTF8(p[:k]); bad != -1 || tail != k {
					t.Fatalf("U+%04X: prefix % x: %d, %d; want -1, %d", v, p[:k], bad, tail, k)
				}
			}
			checked++
		}
	}
	if checked != 0x80*4+(0x800-0x80)*3+(0x10000-0x800)*2+(0x200000-0x10000) {
		t.Fatalf("checked %d encodings", checked)
	}
}

// TestRefUTF8Exhaustive: validUTF8, validUTF8String and scanUTF8 agree
// with the reference on every byte string of up to 2 bytes, and on strings
// of 3 and 4 bytes drawn from the bytes at the edges of the ranges of RFC
// 3629 section 4; utf8Stream too, cut at every position.
func TestRefUTF8Exhaustive(t *testing.T) {
	var inputs [][]byte
	inputs = append(inputs, nil)
	for a := 0; a < 256; a++ {
		inputs = append(inputs, []byte{byte(a)})
		for b := 0; b < 256; b++ {
			inputs = append(inputs, []byte{byte(a), byte(b)})
		}
	}
	edges := []byte{
		0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2,
		0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5,
		0xF7, 0xF8, 0xFB, 0xFC, 0xFD, 0xFE, 0xFF,
	}
	// After the first of 4 bytes, fewer: the edges of the second byte's
	// ranges and of UTF8-tail, and a byte of each kind.
	fewer := []byte{0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xE0, 0xED, 0xF0, 0xF4, 0xFF}
	for _, a := range edges {
		for _, b := range edges {
			for _, c := range edges {
				inputs = append(inputs, []byte{a, b, c})
			}
		}
		for _, b := range fewer {
			for _, c := range fewer {
				for _, d := range fewer {
					inputs = append(inputs, []byte{a, b, c, d})
				}
			}
		}
	}
	valid := 0
	for _, p := range inputs {
		if refValidUTF8(p) {
			valid++
		}
		if msg := checkUTF8AgainstRef(p, true); msg != "" {
			t.Fatal(msg)
		}
	}
	if valid < 10000 || len(inputs)-valid < 10000 {
		t.Errorf("%d valid of %d inputs", valid, len(inputs))
	}
}

// checkUTF8AgainstRef compares validUTF8, validUTF8String and scanUTF8 on
// p with the reference, and utf8Stream fed p whole, in two pieces cut at
// every position (if everySplit), and byte by byte. It returns a
// description of the first disagreement, or "".
func checkUTF8AgainstRef(p []byte, everySplit bool) string {
	bad, tail := refUTF8(p)
	want := bad < 0 && tail == 0
	if got := validUTF8(p); got != want {
		return fmt.Sprintf("validUTF8(%q) = %v, want %v", p, got, want)
	}
	if got := validUTF8String(string(p)); got != want {
		return fmt.Sprintf("validUTF8String(%q) = %v, want %v", p, got, want)
	}
	if ok, tl := scanUTF8(p); ok != (bad < 0) || ok && tl != tail {
		return fmt.Sprintf("scanUTF8(%q) = %v, %d; reference: first bad byte %d, tail %d", p, ok, tl, bad, tail)
	}
	if msg := checkUTF8Stream(p, nil); msg != "" {
		return msg
	}
	if everySplit {
		for i := 0; i <= len(p); i++ {
			if msg := checkUTF8Stream(p, []int{i}); msg != "" {
				return msg
			}
		}
	}
	cuts := make([]int, 0, len(p))
	for i := 1; i < len(p); i++ {
		cuts = append(cuts, i)
	}
	return checkUTF8Stream(p, cuts)
}

// checkUTF8Stream feeds p to a new utf8Stream cut at cuts (ascending, in
// 0..len(p)) and checks it against the reference: RFC 6455 section 8.1
// fails the connection as soon as the bytes are not a prefix of valid
// UTF-8, so write must fail on the piece that holds the reference's first
// bad byte, not before and not after; after each piece that passes, done
// must say whether the bytes so far end on a character boundary. It
// returns a description of the first disagreement, or "".
func checkUTF8Stream(p []byte, cuts []int) string {
	bad, _ := refUTF8(p)
	var s utf8Stream
	start := 0
	bound := 0 // a character boundary in p[:start], by the reference
	for i, end := range append(cuts[:len(cuts):len(cuts)], len(p)) {
		ok := s.write(p[start:end])
		holdsBad := bad >= start && bad < end
		if ok == holdsBad {
			return fmt.Sprintf("utf8Stream %q cut at %v: write of piece %d [%d:%d] = %v, first bad byte %d", p, cuts, i, start, end, ok, bad)
		}
		if !ok {
			return ""
		}
		// p[:end] is a valid prefix; scanning it from a character
		// boundary finds the same unfinished character, in linear time.
		_, tail := refUTF8(p[bound:end])
		if s.done() != (tail == 0) {
			return fmt.Sprintf("utf8Stream %q cut at %v: done() = %v after %d bytes, reference tail %d", p, cuts, s.done(), end, tail)
		}
		start, bound = end, end-tail
	}
	return ""
}

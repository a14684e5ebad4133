package wsraise

// Section 6 of the conformance suite: UTF-8 handling, with the vectors of
// Markus Kuhn's decoder test (proto_test.go runs them).

import (
	"fmt"
	"testing"
	"unicode/utf8"

	"wsraise/internal/rawpeer"
)

// utf8Vector is one entry of the UTF-8 tables, after Markus Kuhn's
// "UTF-8 decoder capability and stress test" that Autobahn 6.x uses.
type utf8Vector struct {
	name  string
	s     string
	valid bool
}

var utf8Vectors = []utf8Vector{
	{"Greek kosme", "κόσμε", true},
	{"mixed scripts", "Hello-µ@ßöäüàá-UTF-8!!", true},
	{"U+0000", "\x00", true},
	{"U+0080", "\xc2\x80", true},
	{"U+0800", "\xe0\xa0\x80", true},
	{"U+10000", "\xf0\x90\x80\x80", true},
	{"U+007F", "\x7f", true},
	{"U+07FF", "\xdf\xbf", true},
	{"U+FFFF", "\xef\xbf\xbf", true},
	{"U+10FFFF", "\xf4\x8f\xbf\xbf", true},
	{"U+D7FF", "\xed\x9f\xbf", true},
	{"U+E000", "\xee\x80\x80", true},
	{"U+FFFD", "\xef\xbf\xbd", true},
	{"noncharacter U+FFFE", "\xef\xbf\xbe", true},
	{"noncharacter U+1FFFF", "\xf0\x9f\xbf\xbf", true},
	{"noncharacter U+FDD0", "\xef\xb7\x90", true},
	{"U+110000", "\xf4\x90\x80\x80", false},
	{"kosme with a surrogate", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64", false},
	{"lone continuation 0x80", "\x80", false},
	{"lone continuation 0xbf", "\xbf", false},
	{"two continuations", "\x80\xbf", false},
	{"all 64 continuation bytes", allBytes(0x80, 0xbf, ""), false},
	{"2-byte leads each followed by a space", allBytes(0xc0, 0xdf, " "), false},
	{"3-byte leads each followed by a space", allBytes(0xe0, 0xef, " "), false},
	{"4-byte leads each followed by a space", allBytes(0xf0, 0xf7, " "), false},
	{"2-byte sequence missing its last byte", "\xc0", false},
	{"3-byte sequence missing its last byte", "\xe0\x80", false},
	{"4-byte sequence missing its last byte", "\xf0\x80\x80", false},
	{"U+07FF missing its last byte", "\xdf", false},
	{"U+FFFF missing its last byte", "\xef\xbf", false},
	{"U+10FFFF missing its last byte", "\xf4\x8f\xbf", false},
	{"truncated sequences concatenated", "\xc0\xe0\x80\xf0\x80\x80\xdf\xef\xbf\xf4\x8f\xbf", false},
	{"byte 0xfe", "\xfe", false},
	{"byte 0xff", "\xff", false},
	{"0xfe 0xfe 0xff 0xff", "\xfe\xfe\xff\xff", false},
	{"5-byte form", "\xf8\x88\x80\x80\x80", false},
	{"6-byte form", "\xfc\x84\x80\x80\x80\x80", false},
	{"overlong slash, 2 bytes", "\xc0\xaf", false},
	{"overlong slash, 3 bytes", "\xe0\x80\xaf", false},
	{"overlong slash, 4 bytes", "\xf0\x80\x80\xaf", false},
	{"maximum overlong, 2 bytes", "\xc1\xbf", false},
	{"maximum overlong, 3 bytes", "\xe0\x9f\xbf", false},
	{"maximum overlong, 4 bytes", "\xf0\x8f\xbf\xbf", false},
	{"overlong NUL, 2 bytes", "\xc0\x80", false},
	{"overlong NUL, 3 bytes", "\xe0\x80\x80", false},
	{"overlong NUL, 4 bytes", "\xf0\x80\x80\x80", false},
	{"surrogate U+D800", "\xed\xa0\x80", false},
	{"surrogate U+DB7F", "\xed\xad\xbf", false},
	{"surrogate U+DFFF", "\xed\xbf\xbf", false},
	{"surrogate pair U+D800 U+DC00", "\xed\xa0\x80\xed\xb0\x80", false},
	{"surrogate pair U+DBFF U+DFFF", "\xed\xaf\xbf\xed\xbf\xbf", false},
	{"lead 0xf5", "\xf5\x80\x80\x80", false},
	{"valid text then a bad byte", "Hello \xc3\x28 world", false},
}

func allBytes(lo, hi byte, sep string) string {
	var b []byte
	for c := int(lo); c <= int(hi); c++ {
		b = append(b, byte(c))
		b = append(b, sep...)
	}
	return string(b)
}

// utf8Cases sends every vector whole, in one fragment per byte, and
// byte by byte on the wire. Section 8.1: an endpoint that receives invalid
// UTF-8 in a text message must fail the connection (1007, section 7.4.1).
func utf8Cases() []conformanceCase {
	var cs []conformanceCase
	for i, v := range utf8Vectors {
		want := "echo"
		if !v.valid {
			want = "1007"
		}
		expect := func(p *rawpeer.Peer) {
			if v.valid {
				p.ExpectText(v.s)
				p.CloseNormally()
			} else {
				p.ExpectClose(1007)
			}
		}
		cs = append(cs,
			conformanceCase{id: fmt.Sprintf("6.%d.1", i+1), section: "8.1", name: v.name + ": " + want, run: func(p *rawpeer.Peer) {
				p.Send(rawpeer.Text(v.s))
				expect(p)
			}},
			conformanceCase{id: fmt.Sprintf("6.%d.2", i+1), section: "8.1", name: v.name + ", one fragment per byte: " + want, run: func(p *rawpeer.Peer) {
				p.Send(fragments(rawpeer.OpText, []byte(v.s), 1)...)
				expect(p)
			}},
			conformanceCase{id: fmt.Sprintf("6.%d.3", i+1), section: "8.1", name: v.name + ", byte by byte: " + want, run: func(p *rawpeer.Peer) {
				p.SendChopped(1, rawpeer.Text(v.s))
				expect(p)
			}},
		)
	}
	// Fail fast (Autobahn 6.4): the connection fails as soon as a prefix
	// cannot be UTF-8, before the rest of the message arrives.
	invalidPrefix := "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80"
	cs = append(cs,
		conformanceCase{id: "6.100.1", section: "8.1", name: "invalid first fragment fails 1007 before the last arrives", run: func(p *rawpeer.Peer) {
			p.Send(rawpeer.Fragment(rawpeer.OpText, false, invalidPrefix))
			p.ExpectClose(1007)
		}},
		conformanceCase{id: "6.100.2", section: "8.1", name: "invalid code point split across fragments fails at the second", run: func(p *rawpeer.Peer) {
			p.Send(rawpeer.Fragment(rawpeer.OpText, false, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4"), rawpeer.Fragment(rawpeer.OpCont, false, "\x90"))
			p.ExpectClose(1007)
		}},
		conformanceCase{id: "6.100.3", section: "8.1", name: "invalid bytes early in a frame fail 1007 before the frame is complete", run: func(p *rawpeer.Peer) {
			f := rawpeer.Text(invalidPrefix)
			f.Length = 1000 // announced; only the first bytes are sent
			p.Send(f)
			p.ExpectClose(1007)
		}},
		conformanceCase{id: "6.100.4", section: "8.1", name: "a frame ending inside a character is fine if the next completes it", run: func(p *rawpeer.Peer) {
			p.Send(rawpeer.Fragment(rawpeer.OpText, false, "\xce"), rawpeer.Fragment(rawpeer.OpCont, false, "\xba\xe1"), rawpeer.Fragment(rawpeer.OpCont, true, "\xbd\xb9"))
			p.ExpectText("\xce\xba\xe1\xbd\xb9")
			p.CloseNormally()
		}},
		conformanceCase{id: "6.100.5", section: "8.1", name: "a message ending inside a character fails 1007", run: func(p *rawpeer.Peer) {
			p.Send(rawpeer.Fragment(rawpeer.OpText, false, "κ"), rawpeer.Fragment(rawpeer.OpCont, true, "\xe1\xbd"))
			p.ExpectClose(1007)
		}},
	)
	return cs
}

// TestUTF8VectorsAgreeWithStdlib keeps the table honest: every vector's
// expectation matches unicode/utf8, the naive reference.
func TestUTF8VectorsAgreeWithStdlib(t *testing.T) {
	for _, v := range utf8Vectors {
		if utf8.ValidString(v.s) != v.valid {
			t.Errorf("%s: table says valid=%v, unicode/utf8 disagrees", v.name, v.valid)
		}
	}
}

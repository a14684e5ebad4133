package wsproto

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// The reference for everything here is refUTF8 (utf8_ref_test.go), a
// validator written from the grammar of RFC 3629 section 4 without
// unicode/utf8: validUTF8 is unicode/utf8.Valid, so comparing it with
// unicode/utf8 could not fail.

// utf8TrickyInputs returns inputs around every rule of RFC 3629 section 4.
func utf8TrickyInputs() []string {
	in := []string{
		"", "a", "hello, world", "\x00", "\x7f",
		// Valid at each boundary.
		"\u0080", "\u07ff", "\u0800", "\ud7ff", "\ue000", "\uffff", "\U00010000", "\U0010ffff",
		"é€😀", "κόσμε", "日本語テキスト", "a\u00e9b\u20acc\U0001f600d",
		// Lone continuation bytes and impossible bytes.
		"\x80", "\xbf", "\x80\x80", "a\x80b", "\xc0", "\xc1", "\xf5", "\xf8", "\xfc", "\xfe", "\xff",
		"\xfe\xfe\xff\xff",
		// Overlong forms.
		"\xc0\x80", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\x80", "\xe0\x80\xaf", "\xe0\x9f\xbf",
		"\xf0\x80\x80\x80", "\xf0\x80\x80\xaf", "\xf0\x8f\xbf\xbf", "\xf8\x80\x80\x80\xaf",
		"\xfc\x80\x80\x80\x80\xaf",
		// UTF-16 surrogates D800-DFFF, alone and paired.
		"\xed\xa0\x80", "\xed\xad\xbf", "\xed\xae\x80", "\xed\xaf\xbf", "\xed\xb0\x80",
		"\xed\xbe\x80", "\xed\xbf\xbf", "\xed\xa0\x80\xed\xb0\x80", "\xed\xaf\xbf\xed\xbf\xbf",
		"\xed\x9f\xbf", // U+D7FF, valid
		// Above U+10FFFF.
		"\xf4\x90\x80\x80", "\xf4\xbf\xbf\xbf", "\xf5\x80\x80\x80", "\xf7\xbf\xbf\xbf",
		"\xf4\x8f\xbf\xbf", // U+10FFFF, valid
		// Missing or extra continuation bytes.
		"\xc2", "\xc2a", "\xe2\x82", "\xe2\x82a", "\xe2a\xac", "\xf0\x9f\x98", "\xf0\x9f\x98a",
		"\xf0\x9fa\x80", "\xf0a\x98\x80", "\xc2\x80\x80", "\xe2\x82\xac\x80",
		// Noncharacters are valid UTF-8.
		"\xef\xbf\xbe", "\xef\xbf\xbf", "\xf4\x8f\xbf\xbe",
		// Hello-world from the Autobahn suite, and with a bad tail.
		"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64",
		"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64\x69\x74\x65\x64",
	}
	// Every truncation and every one-byte deletion of a long mixed text.
	mixed := "ab\u00e9cd\u20acef\U0001f600gh\u07ff\u0800\U0010ffff" + strings.Repeat("x", 20) + "\u00e9\U00010000z"
	for i := 0; i <= len(mixed); i++ {
		in = append(in, mixed[:i], mixed[i:])
		if i < len(mixed) {
			in = append(in, mixed[:i]+mixed[i+1:])
		}
	}
	// ASCII with one bad byte at every offset 0..40, for lengths that go
	// through the 16- and 8-byte fast paths; plus a valid multibyte
	// character and an unfinished one at the same offsets.
	for _, n := range []int{41, 48, 64, 100} {
		for off := 0; off <= 40; off++ {
			for _, bad := range []string{"\x80", "\xff", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"} {
				s := strings.Repeat("A", off) + bad + strings.Repeat("B", max(0, n-off-len(bad)))
				in = append(in, s, s[:off+len(bad)])
			}
			in = append(in, strings.Repeat("A", off)+"\u20ac"+strings.Repeat("B", n-off))
		}
	}
	return in
}

func TestValidUTF8Table(t *testing.T) {
	inputs := utf8TrickyInputs()
	nInvalid := 0
	for _, s := range inputs {
		want := refValidUTF8([]byte(s))
		if !want {
			nInvalid++
		}
		if got := validUTF8([]byte(s)); got != want {
			t.Errorf("validUTF8(%q) = %v, want %v", s, got, want)
		}
		if got := validUTF8String(s); got != want {
			t.Errorf("validUTF8String(%q) = %v, want %v", s, got, want)
		}
	}
	// The table must really hold both kinds.
	if nInvalid < 100 || len(inputs)-nInvalid < 100 {
		t.Errorf("table has %d invalid of %d inputs", nInvalid, len(inputs))
	}
}

// TestScanUTF8Prefix checks scanUTF8's ok and tail against the reference.
func TestScanUTF8Prefix(t *testing.T) {
	for _, s := range utf8TrickyInputs() {
		p := []byte(s)
		ok, tail := scanUTF8(p)
		bad, wantTail := refUTF8(p)
		if wantOK := bad < 0; ok != wantOK || (ok && tail != wantTail) {
			t.Errorf("scanUTF8(%q) = %v, %d; want %v, %d", s, ok, tail, wantOK, wantTail)
		}
	}
}

// randomUTF8ish returns n bytes that are mostly valid UTF-8 with occasional
// damage, so that both outcomes are common.
func randomUTF8ish(rng *rand.Rand, n int) []byte {
	b := make([]byte, 0, n+4)
	for len(b) < n {
		switch rng.IntN(10) {
		case 0:
			b = append(b, byte(rng.Uint32())) // any byte
		case 1, 2, 3:
			b = append(b, byte(rng.IntN(0x80)))
		default:
			var r rune
			switch rng.IntN(4) {
			case 0:
				r = rune(0x80 + rng.IntN(0x800-0x80))
			case 1:
				r = rune(0x800 + rng.IntN(0x10000-0x800))
			default:
				r = rune(0x10000 + rng.IntN(utf8.MaxRune+1-0x10000))
			}
			b = utf8.AppendRune(b, r) // surrogates become U+FFFD
		}
	}
	if rng.IntN(4) == 0 && len(b) > 0 {
		b = b[:rng.IntN(len(b))] // maybe cut a character
	}
	return b
}

func TestValidUTF8Random(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	valid, invalid := 0, 0
	for i := 0; i < 20000; i++ {
		var p []byte
		if i%2 == 0 {
			p = randomUTF8ish(rng, rng.IntN(80))
		} else {
			p = make([]byte, rng.IntN(12))
			for j := range p {
				p[j] = byte(rng.Uint32())
			}
		}
		want := refValidUTF8(p)
		if want {
			valid++
		} else {
			invalid++
		}
		if got := validUTF8(p); got != want {
			t.Fatalf("validUTF8(%q) = %v, want %v", p, got, want)
		}
		if got := validUTF8String(string(p)); got != want {
			t.Fatalf("validUTF8String(%q) = %v, want %v", p, got, want)
		}
	}
	if valid < 1000 || invalid < 1000 {
		t.Errorf("random inputs: %d valid, %d invalid", valid, invalid)
	}
}

// TestUTF8StreamValidSplits feeds valid texts split at every byte boundary,
// and byte by byte: every write succeeds and done is true at the end only
// on a character boundary.
func TestUTF8StreamValidSplits(t *testing.T) {
	texts := []string{
		"",
		"plain ascii text that is long enough for the fast path",
		"κόσμε",
		"a\u00e9b\u20acc\U0001f600d\U0010ffff\u0800\u07ff",
		strings.Repeat("\U0001f600", 10) + strings.Repeat("z", 33) + "\u20ac",
	}
	for _, text := range texts {
		p := []byte(text)
		for i := 0; i <= len(p); i++ {
			var s utf8Stream
			if !s.write(p[:i]) {
				t.Fatalf("%q split at %d: first write failed", text, i)
			}
			// done after the first part is true exactly on a rune boundary.
			if got, want := s.done(), refValidUTF8(p[:i]); got != want {
				t.Errorf("%q split at %d: done() after first part = %v, want %v", text, i, got, want)
			}
			if !s.write(p[i:]) {
				t.Fatalf("%q split at %d: second write failed", text, i)
			}
			if !s.done() {
				t.Errorf("%q split at %d: done() = false at end", text, i)
			}
		}
		for j := 0; j <= len(p); j++ { // three parts
			for i := 0; i <= j; i++ {
				var s utf8Stream
				if !s.write(p[:i]) || !s.write(p[i:j]) || !s.write(p[j:]) || !s.done() {
					t.Fatalf("%q split at %d and %d failed", text, i, j)
				}
			}
		}
		var s utf8Stream
		for i := range p {
			if !s.write(p[i : i+1]) {
				t.Fatalf("%q byte by byte: byte %d failed", text, i)
			}
			if !s.write(nil) {
				t.Fatalf("%q byte by byte: empty write after byte %d failed", text, i)
			}
		}
		if !s.done() {
			t.Errorf("%q byte by byte: done() = false at end", text)
		}
		s.reset()
		if !s.done() {
			t.Error("done() = false after reset")
		}
	}
}

// TestUTF8StreamFailFast checks section 8.1 fail-fast: whatever the split,
// write returns false on the chunk that holds the first byte that makes
// the stream impossible, never later, and never earlier (checkUTF8Stream).
func TestUTF8StreamFailFast(t *testing.T) {
	tested := 0
	check := func(p []byte, cuts []int) {
		if msg := checkUTF8Stream(p, cuts); msg != "" {
			t.Fatal(msg)
		}
		tested++
	}
	inputs := utf8TrickyInputs()
	for _, in := range inputs {
		p := []byte(in)
		if len(p) > 50 {
			continue
		}
		check(p, nil)
		for i := 0; i <= len(p); i++ {
			check(p, []int{i})
		}
		cuts := make([]int, 0, len(p))
		for i := 1; i < len(p); i++ {
			cuts = append(cuts, i)
		}
		check(p, cuts) // byte by byte
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 3000; i++ {
		p := randomUTF8ish(rng, rng.IntN(40))
		var cuts []int
		for c := 0; c < len(p); c += rng.IntN(6) {
			cuts = append(cuts, c)
		}
		check(p, cuts)
	}
	if tested < 10000 {
		t.Errorf("only %d cases", tested)
	}
}

// TestUTF8StreamFailFastExamples spells out a few cases by hand.
func TestUTF8StreamFailFastExamples(t *testing.T) {
	tests := []struct {
		name   string
		chunks []string
		fail   int // index of the chunk whose write fails, -1 for none
		done   bool
	}{
		{"8.1 surrogate: ED then A0 fails on A0", []string{"ab\xed", "\xa0", "\x80"}, 1, false},
		{"8.1 above U+10FFFF: F4 then 90 fails on 90", []string{"\xf4", "\x90\x80\x80"}, 1, false},
		{"8.1 overlong E0 80 fails on 80", []string{"x", "\xe0", "\x80\x80"}, 2, false},
		{"8.1 F0 9F then ASCII fails on ASCII", []string{"\xf0\x9f", "a"}, 1, false},
		{"8.1 F0 9F 98 then ASCII fails on ASCII", []string{"\xf0", "\x9f\x98", "a"}, 2, false},
		{"8.1 impossible byte first", []string{"\xff", "abc"}, 0, false},
		{"8.1 C0 fails at once", []string{"abc\xc0"}, 0, false},
		{"8.1 F5 fails at once", []string{"ok", "\xf5"}, 1, false},
		{"8.1 unfinished at end is not done", []string{"ab", "\xe2\x82"}, -1, false},
		{"8.1 finished across three chunks", []string{"\xf0", "\x9f", "\x98", "\x80"}, -1, true},
		{"8.1 finished with more after", []string{"\xe2", "\x82\xacabc"}, -1, true},
		{"8.1 pending then bad later in chunk", []string{"\xe2", "\x82\xac\xff"}, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s utf8Stream
			failed := -1
			for i, c := range tt.chunks {
				if !s.write([]byte(c)) {
					failed = i
					break
				}
			}
			if failed != tt.fail {
				t.Fatalf("failed on chunk %d, want %d", failed, tt.fail)
			}
			if failed < 0 && s.done() != tt.done {
				t.Errorf("done() = %v, want %v", s.done(), tt.done)
			}
		})
	}
}

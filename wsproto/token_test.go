package wsproto

import (
	"strings"
	"testing"
)

// TestTokenBytes: every byte against tchar written out from RFC 7230
// section 3.2.6, independently of isTokenByte's switch.
func TestTokenBytes(t *testing.T) {
	const tchar = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	for b := 0; b < 256; b++ {
		if got, want := isTokenByte(byte(b)), strings.IndexByte(tchar, byte(b)) >= 0; got != want {
			t.Errorf("isTokenByte(%#x) = %v, want %v", b, got, want)
		}
	}
	for s, want := range map[string]bool{
		"": false, "chat": true, "v2.json": true, "a b": false, "a,b": false, "x\r\nY: 1": false,
		"caf\u00e9": false, "Sec-WebSocket-Key": true, "(comment)": false, "a\"b": false,
	} {
		if isToken(s) != want {
			t.Errorf("isToken(%q) = %v, want %v", s, !want, want)
		}
	}
}

func TestValidHeaderValue(t *testing.T) {
	for v, want := range map[string]bool{
		"": true, "text/plain; charset=utf-8": true, "a\tb": true, "caf\u00e9": true,
		"a\r\nInjected: 1": false, "a\nb": false, "a\x00b": false, "a\x7fb": false, "a\x1fb": false,
	} {
		if validHeaderValue(v) != want {
			t.Errorf("validHeaderValue(%q) = %v, want %v", v, !want, want)
		}
	}
}

// TestHeaderContainsToken: RFC 7230 section 7 lists, as RFC 6455 section
// 4.2.1 reads Upgrade and Connection.
func TestHeaderContainsToken(t *testing.T) {
	for _, tc := range []struct {
		values []string
		want   bool
	}{
		{[]string{"Upgrade"}, true},
		{[]string{"keep-alive, Upgrade"}, true},
		{[]string{"keep-alive", "upgrade"}, true},
		{[]string{" \tUPGRADE\t "}, true},
		{[]string{",,upgrade,"}, true},
		{[]string{"upgrades"}, false},
		{[]string{"up grade"}, false},
		{[]string{"keep-alive"}, false},
		{nil, false},
		{[]string{""}, false},
	} {
		if got := headerContainsToken(tc.values, "upgrade"); got != tc.want {
			t.Errorf("headerContainsToken(%q, upgrade) = %v, want %v", tc.values, got, tc.want)
		}
	}
	// The Kelvin sign folds to "k" in Unicode, not in ASCII.
	if headerContainsToken([]string{"\u212aeep-alive"}, "keep-alive") {
		t.Error("the Kelvin sign matched \"k\"")
	}
	if !headerContainsToken([]string{"Keep-Alive"}, "keep-alive") {
		t.Error("Keep-Alive did not match keep-alive")
	}
}

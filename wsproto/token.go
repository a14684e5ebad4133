package wsproto

// HTTP syntax the handshake needs (RFC 7230 sections 3.2 and 3.2.6),
// written here rather than taken from golang.org/x/net/http/httpguts,
// whose package pulls in golang.org/x/text (through idna) for host names
// this package never handles.

// isTokenByte reports whether b is a tchar: "!" / "#" / "$" / "%" / "&" /
// "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT /
// ALPHA (RFC 7230 section 3.2.6).
func isTokenByte(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	switch b {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// isToken reports whether s is a token: 1*tchar. A header field name is
// one (section 3.2: field-name = token), and so is a subprotocol (RFC 6455
// section 4.1) and an extension name or parameter (section 9.1).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenByte(s[i]) {
			return false
		}
	}
	return true
}

// validHeaderValue reports whether v may be sent as a header field value:
// no control character but HTAB, so no CR or LF that would end the line
// (section 3.2: field-vchar = VCHAR / obs-text, with SP and HTAB between).
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; (b < ' ' && b != '\t') || b == 0x7f {
			return false
		}
	}
	return true
}

// headerContainsToken reports whether one of the comma-separated lists in
// values holds token, compared case-insensitively in ASCII (section 7:
// #rule lists, with optional whitespace around the elements; RFC 6455
// section 4.2.1 items 3 and 4 for Upgrade and Connection).
func headerContainsToken(values []string, token string) bool {
	for _, v := range values {
		for len(v) > 0 {
			var elem string
			elem, v, _ = cutByte(v, ',')
			if equalFoldASCII(trimOWS(elem), token) {
				return true
			}
		}
	}
	return false
}

func cutByte(s string, sep byte) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// trimOWS trims spaces and horizontal tabs (section 3.2.3).
func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// equalFoldASCII is strings.EqualFold for ASCII only: the Kelvin sign
// must not match "k".
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

package wsproto

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Negotiation of permessage-deflate, RFC 7692 sections 5 and 7.
//
// Both ends compress with any LZ77 window from 8 to 15 bits, and inflate
// any, so every window size is negotiated both ways:
//
//   - A server honours any valid server_max_window_bits, compressing with
//     that window or a smaller one of its own, and says which in its
//     response (section 7.1.2.1); it includes the parameter unasked when its
//     own window is under 15 bits. It answers client_max_window_bits only
//     when the offer named it (section 7.1.2.2), to ask for a window of its
//     own choosing or to confirm the value the client offered, so that its
//     inflater keeps no more than the client will use.
//   - A client always offers client_max_window_bits, telling the server it
//     supports the parameter (section 7.1.2.2), with a value when it
//     compresses with less than 15 bits; it honours any window the
//     response gives it. It offers server_max_window_bits when it asks for
//     a smaller window, and accepts any window the server announces within
//     that ask.
//
// The window each end inflates with is the one the response states, 15
// bits when it states none: only the response binds both ends.

// deflateParams are the parameters of a permessage-deflate agreement, or
// of an offer. A window size of 0 means the parameter was not given, which
// is 15 bits (a 32 KiB window), or, for client_max_window_bits in an offer,
// that it was given without a value.
type deflateParams struct {
	// The server, or the client, resets its compression context for every
	// message (RFC 7692 sections 7.1.1.1, 7.1.1.2).
	serverNoContextTakeover, clientNoContextTakeover bool
	// The largest LZ77 window, in bits, the server or the client compresses
	// with (sections 7.1.2.1, 7.1.2.2): 8 to 15, or 0.
	serverMaxWindowBits, clientMaxWindowBits int
}

// extensionParam is one parameter of an extension: name, or name=value.
type extensionParam struct {
	name, value string
	hasValue    bool
}

// extensionOffer is one element of a Sec-WebSocket-Extensions list: an
// extension's name and its parameters, in order.
type extensionOffer struct {
	name   string
	params []extensionParam
}

const deflateName = "permessage-deflate"

// parseExtensions parses the values of the Sec-WebSocket-Extensions header
// lines, in order, with the grammar of RFC 6455 section 9.1:
//
//	extension-list = 1#extension
//	extension = extension-token *( ";" extension-param )
//	extension-param = token [ "=" (token | quoted-string) ]
//
// A quoted value must be a token once unescaped. Optional whitespace may
// surround the separators, and empty list elements are skipped (RFC 7230
// section 7). Malformed input returns an error naming the first fault; the
// header is then unusable as a whole, as where one element ends is unknown.
func parseExtensions(headers []string) ([]extensionOffer, error) {
	var offers []extensionOffer
	for _, h := range headers {
		p := extParser{s: h}
		for {
			p.skipSpace()
			if p.done() {
				break
			}
			if p.s[p.i] == ',' {
				p.i++
				continue
			}
			name, err := p.token("an extension name")
			if err != nil {
				return nil, err
			}
			offer := extensionOffer{name: name}
			p.skipSpace()
			for !p.done() && p.s[p.i] == ';' {
				p.i++
				p.skipSpace()
				var param extensionParam
				if param.name, err = p.token("a parameter name"); err != nil {
					return nil, err
				}
				p.skipSpace()
				if !p.done() && p.s[p.i] == '=' {
					p.i++
					p.skipSpace()
					if param.value, err = p.value(); err != nil {
						return nil, err
					}
					param.hasValue = true
					p.skipSpace()
				}
				offer.params = append(offer.params, param)
			}
			if !p.done() && p.s[p.i] != ',' {
				return nil, p.errorf("unexpected %q after extension %s", p.s[p.i], name)
			}
			offers = append(offers, offer)
		}
	}
	return offers, nil
}

// extParser scans one header line.
type extParser struct {
	s string
	i int
}

func (p *extParser) done() bool { return p.i >= len(p.s) }

// skipSpace skips OWS: spaces and horizontal tabs.
func (p *extParser) skipSpace() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *extParser) token(what string) (string, error) {
	start := p.i
	for p.i < len(p.s) && isTokenByte(p.s[p.i]) {
		p.i++
	}
	if p.i == start {
		if p.done() {
			return "", p.errorf("expected %s, found the end", what)
		}
		return "", p.errorf("expected %s, found %q", what, p.s[p.i])
	}
	return p.s[start:p.i], nil
}

// value reads a parameter value: a token, or a quoted-string whose
// unescaped content is a token (RFC 6455 section 9.1).
func (p *extParser) value() (string, error) {
	if p.done() || p.s[p.i] != '"' {
		return p.token("a parameter value")
	}
	p.i++
	var b strings.Builder
	for {
		if p.done() {
			return "", p.errorf("unterminated quoted string")
		}
		c := p.s[p.i]
		p.i++
		switch c {
		case '"':
			v := b.String()
			if !isToken(v) {
				return "", p.errorf("quoted value %q is not a token", v)
			}
			return v, nil
		case '\\': // quoted-pair
			if p.done() {
				return "", p.errorf("unterminated quoted string")
			}
			c = p.s[p.i]
			p.i++
		}
		b.WriteByte(c)
	}
}

func (p *extParser) errorf(format string, args ...any) error {
	return fmt.Errorf("websocket: malformed Sec-WebSocket-Extensions at byte %d: %s", p.i, fmt.Sprintf(format, args...))
}

// readDeflateParams checks the parameters of a permessage-deflate offer
// (response false) or response (response true) against RFC 7692 section 7.1:
// only the four parameters it defines, each at most once, the two
// no_context_takeover ones without a value, window sizes "a decimal integer
// value without leading zeroes between 8 to 15, inclusive". Only in an offer
// may client_max_window_bits have no value (section 7.1.2.2); clientNamed
// reports whether it appeared at all.
func readDeflateParams(params []extensionParam, response bool) (p deflateParams, clientNamed bool, err error) {
	seen := make(map[string]bool, len(params))
	for _, q := range params {
		// Section 7.1: an offer or response with "multiple extension
		// parameters with the same name" is declined or failed.
		if seen[q.name] {
			return p, false, fmt.Errorf("duplicate parameter %s", q.name)
		}
		seen[q.name] = true
		switch q.name {
		case "server_no_context_takeover", "client_no_context_takeover":
			// Sections 7.1.1.1, 7.1.1.2: "has no value".
			if q.hasValue {
				return p, false, fmt.Errorf("parameter %s has a value", q.name)
			}
			if q.name == "server_no_context_takeover" {
				p.serverNoContextTakeover = true
			} else {
				p.clientNoContextTakeover = true
			}
		case "server_max_window_bits":
			// Section 7.1.2.1: always has a value.
			bits, err := windowBits(q)
			if err != nil {
				return p, false, err
			}
			p.serverMaxWindowBits = bits
		case "client_max_window_bits":
			// Section 7.1.2.2: an offer may name it without a value; a
			// response always gives one.
			clientNamed = true
			if !q.hasValue && !response {
				continue
			}
			bits, err := windowBits(q)
			if err != nil {
				return p, false, err
			}
			p.clientMaxWindowBits = bits
		default:
			return p, false, fmt.Errorf("unknown parameter %s", q.name)
		}
	}
	return p, clientNamed, nil
}

// windowBits parses a window size, 8 to 15 without leading zeroes
// (RFC 7692 sections 7.1.2.1, 7.1.2.2).
func windowBits(q extensionParam) (int, error) {
	if !q.hasValue {
		return 0, fmt.Errorf("parameter %s has no value", q.name)
	}
	n, err := strconv.Atoi(q.value)
	if err != nil || n < 8 || n > 15 || q.value[0] == '0' || q.value[0] == '+' {
		return 0, fmt.Errorf("parameter %s=%s is not a window size from 8 to 15", q.name, q.value)
	}
	return n, nil
}

// acceptDeflate is acceptDeflateWith with no demands of the server's own.
func acceptDeflate(offers []extensionOffer) (params deflateParams, response string, ok bool) {
	return acceptDeflateWith(offers, deflateParams{})
}

// acceptDeflateWith chooses, as a server, the first permessage-deflate offer
// it can honour, in the client's order (RFC 7692 section 5.1), and returns
// the agreed parameters and the Sec-WebSocket-Extensions value to answer
// with. ok is false when there is none; the connection then goes on without
// compression.
//
// A malformed offer is declined (section 7.1: "A server MUST decline an
// extension negotiation offer for this extension if ... The negotiation
// offer contains an extension parameter with an invalid value"), and the
// next one is tried. Every well-formed offer can be honoured.
//
// want holds what the server demands whatever the offer: its
// serverNoContextTakeover and clientNoContextTakeover are added to the
// response (sections 7.1.1.1 and 7.1.1.2 allow a server to include either
// unasked), to save the memory context takeover costs. Its
// serverMaxWindowBits is the largest window the server compresses with (0
// for 15); its clientMaxWindowBits the window it asks of the client (0 for
// no ask).
//
// The agreed window sizes are those of the response, 0 where it states
// none, so that client and server agree on the same parameters.
func acceptDeflateWith(offers []extensionOffer, want deflateParams) (params deflateParams, response string, ok bool) {
	for _, o := range offers {
		if o.name != deflateName {
			continue
		}
		p, clientNamed, err := readDeflateParams(o.params, false)
		if err != nil {
			continue
		}
		p.serverNoContextTakeover = p.serverNoContextTakeover || want.serverNoContextTakeover
		p.clientNoContextTakeover = p.clientNoContextTakeover || want.clientNoContextTakeover
		// Section 7.1.2.1: the server accepts server_max_window_bits with
		// "the same or smaller value", and may include the parameter
		// unasked to say it uses a smaller window than 15 bits.
		own := bitsOr15(want.serverMaxWindowBits)
		if p.serverMaxWindowBits != 0 {
			own = min(own, p.serverMaxWindowBits)
		}
		if p.serverMaxWindowBits != 0 || own < 15 {
			p.serverMaxWindowBits = own
		}
		// Section 7.1.2.2: the server "MUST NOT include" client_max_window_bits
		// unless the offer has it. When it does, the server may ask for any
		// window, or answer with the value offered ("equal to or smaller
		// than the received value") to keep a smaller window to inflate.
		switch {
		case !clientNamed:
			p.clientMaxWindowBits = 0
		case want.clientMaxWindowBits != 0:
			p.clientMaxWindowBits = min(want.clientMaxWindowBits, bitsOr15(p.clientMaxWindowBits))
		}
		return p, deflateResponse(p), true
	}
	return deflateParams{}, "", false
}

// bitsOr15 is a window size in bits, 15 where none was given (RFC 7692
// sections 7.1.2.1, 7.1.2.2: without the parameter, the window may be as
// large as 32 KiB).
func bitsOr15(bits int) int {
	if bits == 0 {
		return 15
	}
	return bits
}

// deflateResponse builds the server's Sec-WebSocket-Extensions value for
// the agreed p.
func deflateResponse(p deflateParams) string {
	return deflateParamString(p, true)
}

// deflateOffer builds the Sec-WebSocket-Extensions value a client sends to
// offer permessage-deflate with p: the two no_context_takeover flags,
// server_max_window_bits if set (sections 7.1.1.1, 7.1.1.2, 7.1.2.1), and
// always client_max_window_bits, which tells the server the client honours
// the parameter in the response (section 7.1.2.2): with p's value if set,
// the client's promise to use no larger window, bare otherwise.
func deflateOffer(p deflateParams) string {
	return deflateParamString(p, false)
}

func deflateParamString(p deflateParams, response bool) string {
	s := deflateName
	if p.serverNoContextTakeover {
		s += "; server_no_context_takeover"
	}
	if p.clientNoContextTakeover {
		s += "; client_no_context_takeover"
	}
	if p.serverMaxWindowBits != 0 {
		s += "; server_max_window_bits=" + strconv.Itoa(p.serverMaxWindowBits)
	}
	switch {
	case p.clientMaxWindowBits != 0:
		s += "; client_max_window_bits=" + strconv.Itoa(p.clientMaxWindowBits)
	case !response:
		s += "; client_max_window_bits"
	}
	return s
}

var errDeflateNotOffered = errors.New("websocket: server's Sec-WebSocket-Extensions is not the one permessage-deflate offered")

// checkDeflateResponse validates, as a client that sent deflateOffer(offered),
// the server's Sec-WebSocket-Extensions value (several header lines joined
// with ", "), and returns the agreed parameters. Any fault fails the
// handshake (RFC 7692 section 5.1: "the client MUST _Fail the WebSocket
// Connection_").
//
// The rules, from section 7.1: exactly one extension, permessage-deflate;
// known parameters, once each, with valid values. server_no_context_takeover
// and client_no_context_takeover are accepted even unasked (sections
// 7.1.1.1, 7.1.1.2). server_max_window_bits is accepted unasked, as any
// window inflates, but when it was offered the response must repeat it with
// "the same or smaller value" (section 7.1.2.1). client_max_window_bits is
// always offered, so any valid value is honoured (section 7.1.2.2): the
// client compresses with no more than the smaller of it and its own.
func checkDeflateResponse(value string, offered deflateParams) (deflateParams, error) {
	exts, err := parseExtensions([]string{value})
	if err != nil {
		return deflateParams{}, err
	}
	if len(exts) != 1 || exts[0].name != deflateName {
		return deflateParams{}, errDeflateNotOffered
	}
	p, _, err := readDeflateParams(exts[0].params, true)
	if err != nil {
		return deflateParams{}, fmt.Errorf("websocket: server's permessage-deflate response: %w", err)
	}
	if offered.serverMaxWindowBits != 0 && (p.serverMaxWindowBits == 0 || p.serverMaxWindowBits > offered.serverMaxWindowBits) {
		return deflateParams{}, fmt.Errorf("websocket: server's permessage-deflate response does not accept server_max_window_bits=%d", offered.serverMaxWindowBits)
	}
	return p, nil
}

package wsproto

import (
	"strings"
	"testing"
)

// FuzzParseExtensions: parseExtensions never panics, on one header line or
// the same text split over two; what it parses holds only tokens; and an
// offer acceptDeflate takes, the client takes back through the response,
// agreeing on the same parameters.
func FuzzParseExtensions(f *testing.F) {
	f.Add("permessage-deflate; client_max_window_bits")
	f.Add("permessage-deflate; server_max_window_bits=10, permessage-deflate")
	f.Add(`permessage-deflate; server_max_window_bits="15"; client_no_context_takeover`)
	f.Add("x, ,permessage-deflate;server_no_context_takeover;server_no_context_takeover")
	f.Fuzz(func(t *testing.T, header string) {
		offers, err := parseExtensions([]string{header})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "websocket: malformed Sec-WebSocket-Extensions") {
				t.Fatalf("error %q", err)
			}
			return
		}
		for _, o := range offers {
			if !isToken(o.name) {
				t.Fatalf("extension name %q is not a token", o.name)
			}
			for _, q := range o.params {
				if !isToken(q.name) || q.hasValue != (q.value != "") || q.value != "" && !isToken(q.value) {
					t.Fatalf("parameter %+v", q)
				}
			}
		}
		// Split at a comma outside quotes, the list is the same over two
		// header lines.
		if i := strings.IndexByte(header, ','); i >= 0 && !strings.Contains(header, `"`) {
			two, err := parseExtensions([]string{header[:i], header[i+1:]})
			if err != nil || len(two) != len(offers) {
				t.Fatalf("split at %d: %d offers, %v; whole: %d offers", i, len(two), err, len(offers))
			}
		}
		p, resp, ok := acceptDeflate(offers)
		if !ok {
			return
		}
		var chosen []extensionParam
		for _, o := range offers {
			if o.name != deflateName {
				continue
			}
			q, _, err := readDeflateParams(o.params, false)
			if err == nil && (q.serverMaxWindowBits == 0 || q.serverMaxWindowBits == 15) {
				chosen = o.params
				break
			}
		}
		offered, _, err := readDeflateParams(chosen, false)
		if err != nil {
			t.Fatalf("accepted an offer readDeflateParams refuses: %v", err)
		}
		back, err := checkDeflateResponse(resp, offered)
		if err != nil {
			t.Fatalf("client refuses response %q: %v", resp, err)
		}
		if back != p {
			t.Fatalf("client agrees on %+v, server on %+v", back, p)
		}
		// The client's own offer for these parameters is accepted the same.
		again, err := parseExtensions([]string{deflateOffer(p)})
		if err != nil {
			t.Fatal(err)
		}
		if p2, _, ok := acceptDeflate(again); !ok || p2 != p {
			t.Fatalf("re-offered %q: %+v %v, want %+v", deflateOffer(p), p2, ok, p)
		}
	})
}

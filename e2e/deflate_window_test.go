package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"wsraise/wsproto"
)

// permessage-deflate with each window size agreed (RFC 7692 section
// 7.1.2), both ways, with peers we did not write. Besides what the tests
// of deflate_test.go check, each side must state the windows agreed, and
// the frames each side wrote must refer no further back than its window
// (checkWindow).

// windowSizes are the windows the npm ws tests agree, in bits, the
// smallest, 8, included. zlib refuses to compress a raw stream with an
// 8-bit window, but Node.js asks it for 9 bits instead (as its zlib
// documentation says), and zlib keeps 262 bytes of any window for
// lookahead: its references still reach back 250 bytes at most. zlib
// inflates raw 8-bit streams, so ws takes 8 bits both ways.
var windowSizes = []int{8, 9, 12, 15}

// maxWireWindow is maxWire with context takeover, for windows of bits
// bits. In an 8- or 9-bit window zlib reaches back 250 bytes at most,
// wsraise 256 or 512: chat messages then take 0.52 to 0.61 of their size
// on the wire, against about 0.4 with 12 bits or more.
func maxWireWindow(set string, bits int) float64 {
	if set == "small" && bits < 12 {
		return 0.75
	}
	return maxWire(set, true)
}

// windowParams is the parameters of an agreement on windows of bits bits
// both ways, as ws holds them once parsed.
func windowParams(bits int) map[string]any {
	return map[string]any{"server_max_window_bits": float64(bits), "client_max_window_bits": float64(bits)}
}

// windowResponse is wsraise's answer agreeing to windows of bits bits
// both ways, with context takeover.
func windowResponse(bits int) string {
	return fmt.Sprintf("permessage-deflate; server_max_window_bits=%d; client_max_window_bits=%d", bits, bits)
}

// TestNodeWSClientHonoursWindowBits: npm ws, as a client, asks a wsraise
// server with the default options for windows of 8, 9, 12 or 15 bits
// both ways, and gets them; then a server set to 9 bits both ways
// imposes them on a ws client that only offers a bare
// client_max_window_bits. Both sides state the windows agreed, every
// echo is intact and compressed, and neither side refers further back
// than its window.
func TestNodeWSClientHonoursWindowBits(t *testing.T) {
	needNode(t, "ws")
	sets := map[string][]echoMsg{"big": bigSet(), "small": smallSet()}
	s := newDeflateServer(t, map[string]*wsproto.CompressionOptions{
		"/echo":    {},
		"/echo-w9": {WindowBits: 9, PeerWindowBits: 9},
	}, sets, nil)
	wsURL := "ws" + strings.TrimPrefix(s.url, "http")
	type windowCase struct {
		name, path, deflate string
		bits                int
	}
	var cases []windowCase
	for _, bits := range windowSizes {
		cases = append(cases, windowCase{fmt.Sprintf("ws asks for %d bits", bits), "/echo",
			fmt.Sprintf(`{"threshold":0,"serverMaxWindowBits":%d,"clientMaxWindowBits":%d}`, bits, bits), bits})
	}
	cases = append(cases, windowCase{"the server imposes 9 bits", "/echo-w9", `{"threshold":0,"clientMaxWindowBits":true}`, 9})
	for _, c := range cases {
		for _, set := range []string{"big", "small"} {
			t.Run(c.name+"/"+set, func(t *testing.T) {
				var got peerResult
				out := run(t, 60*time.Second, "node", "ws_deflate_client.js", wsURL+c.path+"?set="+set, filepath.Join(s.dir, set), c.deflate)
				if err := json.Unmarshal(out, &got); err != nil {
					t.Fatalf("%v: %s", err, out)
				}
				rep := s.await(t, 1)[0]
				got.check(t, "ws client", len(sets[set]))
				if want := windowResponse(c.bits); rep.response != want {
					t.Errorf("the server answered %q, want %q", rep.response, want)
				}
				if got.Extensions != "permessage-deflate" || got.Response != rep.response || !reflect.DeepEqual(got.Params, windowParams(c.bits)) {
					t.Errorf("ws client: extensions %q, response header %q, parameters %v; the server wrote %q, want parameters %v",
						got.Extensions, got.Response, got.Params, rep.response, windowParams(c.bits))
				}
				checkReport(t, rep, sets[set], nil, maxWireWindow(set, c.bits))
				checkWindow(t, "ws's messages", rep.in, sets[set], c.bits, true)
				checkWindow(t, "wsraise's echoes", rep.out, sets[set], c.bits, true)
			})
		}
	}
}

// TestNodeWSServerHonoursWindowBits: wsraise's Dial, with WindowBits and
// PeerWindowBits of 8, 9, 12 or 15, against an npm ws server configured
// with the same serverMaxWindowBits and clientMaxWindowBits. Both sides
// state the windows agreed, every echo is intact and compressed, and
// neither side refers further back than its window.
func TestNodeWSServerHonoursWindowBits(t *testing.T) {
	needNode(t, "ws")
	sets := map[string][]echoMsg{"big": bigSet(), "small": smallSet()}
	for _, bits := range windowSizes {
		t.Run(fmt.Sprintf("%d bits", bits), func(t *testing.T) {
			addr, conns := startNodeServer(t, fmt.Sprintf(`{"threshold":0,"serverMaxWindowBits":%d,"clientMaxWindowBits":%d}`, bits, bits))
			opts := &wsproto.CompressionOptions{WindowBits: bits, PeerWindowBits: bits}
			for _, set := range []string{"big", "small"} {
				got := dialEcho(t, addr, opts, sets[set])
				what := set
				if !sameParams(got.response, windowResponse(bits)) {
					t.Errorf("%s: ws answered %q, want %q", what, got.response, windowResponse(bits))
				}
				var peer struct {
					Offer, Response, Extensions string
					Params                      any
					Messages                    int
					Errors                      []string
					Code                        int
				}
				select {
				case line := <-conns:
					if err := json.Unmarshal(line, &peer); err != nil {
						t.Fatalf("%s: %v: %s", what, err, line)
					}
				case <-time.After(30 * time.Second):
					t.Fatalf("%s: the ws server reported no connection", what)
				}
				if peer.Extensions != "permessage-deflate" || peer.Response != got.response || !reflect.DeepEqual(peer.Params, windowParams(bits)) ||
					peer.Messages != len(sets[set]) || len(peer.Errors) > 0 || peer.Code != 1000 {
					t.Errorf("%s: the ws server saw offer %q, answered %q (we read %q), extensions %q, parameters %v (want %v), %d messages of %d, errors %v, close %d",
						what, peer.Offer, peer.Response, got.response, peer.Extensions, peer.Params, windowParams(bits),
						peer.Messages, len(sets[set]), peer.Errors, peer.Code)
				}
				payload := payloadSize(sets[set])
				limit := int64(float64(payload) * maxWireWindow(set, bits))
				if got.wireOut >= limit || got.wireIn >= limit {
					t.Errorf("%s: %d payload bytes each way, on the wire %d out and %d in: want under %d (compressed)",
						what, payload, got.wireOut, got.wireIn, limit)
				}
				t.Logf("%s: offered %q, agreed %q; wire %d out (%.2f), %d in (%.2f)", what, peer.Offer, got.response,
					got.wireOut, float64(got.wireOut)/float64(payload), got.wireIn, float64(got.wireIn)/float64(payload))
				checkWindow(t, what+": ws's echoes", got.in, sets[set], bits, true)
				checkWindow(t, what+": wsraise's messages", got.out, sets[set], bits, true)
			}
		})
	}
}

// sameParams reports whether two extension values hold the same
// elements, in any order: names and parameters, split at ; and ,.
func sameParams(a, b string) bool {
	elements := func(s string) []string {
		var out []string
		for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' }) {
			out = append(out, strings.TrimSpace(f))
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(elements(a), elements(b))
}

// TestChromiumHonoursWindowBits: headless Chromium offers
// permessage-deflate with a bare client_max_window_bits. A wsraise server
// with the default options agrees without window parameters, 15 bits
// both ways; one set to 9 bits both ways answers server_max_window_bits=9
// and client_max_window_bits=9. The page sees the value the server sent,
// every echo is intact and compressed, and neither side refers further
// back than its window.
func TestChromiumHonoursWindowBits(t *testing.T) {
	needChromium(t)
	big, small := bigSet(), smallSet()
	all := append(append([]echoMsg{}, big...), small...)
	var index []string
	for _, m := range big {
		index = append(index, "big/"+m.name)
	}
	for _, m := range small {
		index = append(index, "small/"+m.name)
	}
	s := newDeflateServer(t, map[string]*wsproto.CompressionOptions{
		"/echo":    {},
		"/echo-w9": {WindowBits: 9, PeerWindowBits: 9},
	}, map[string][]echoMsg{"big": big, "small": small, "all": all}, index)
	cases := []struct {
		path, response string
		bits           int
	}{
		{"/echo?set=all", "permessage-deflate", 15},
		{"/echo-w9?set=all", windowResponse(9), 9},
	}
	var paths []string
	for _, c := range cases {
		paths = append(paths, c.path)
	}
	var got map[string]peerResult
	out := run(t, 120*time.Second, "node", "browser_deflate.js", s.url, strings.Join(paths, ","))
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	reps := s.await(t, len(cases))
	for i, c := range cases {
		r, rep := got[c.path], reps[i]
		if rep.path+"?set="+rep.set != c.path {
			t.Fatalf("the server's reports came in another order: %s for %s", rep.path, c.path)
		}
		what := "Chromium, " + c.path
		r.check(t, what, len(all))
		if !r.WasClean {
			t.Errorf("%s: the close was not clean", what)
		}
		// The 9-bit route can only ask for client_max_window_bits
		// because the offer has it (RFC 7692 section 7.1.2.2).
		if !hasParam(rep.offer, "client_max_window_bits") {
			t.Errorf("%s: Chromium offered %q, without client_max_window_bits", what, rep.offer)
		}
		if rep.response != c.response || r.Extensions != rep.response {
			t.Errorf("%s: the server wrote %q, want %q; WebSocket.extensions %q", what, rep.response, c.response, r.Extensions)
		}
		checkReport(t, rep, all, nil, 0.5)
		t.Logf("%s: offered %q", what, rep.offer)
		checkWindow(t, what+": Chromium's messages", rep.in, all, c.bits, true)
		checkWindow(t, what+": wsraise's echoes", rep.out, all, c.bits, true)
	}
}

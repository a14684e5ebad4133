package e2e

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
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
				peer := readPeerReport(t, what, "the ws server", conns)
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
	sets, index := pageSets()
	all := sets["all"]
	s := newDeflateServer(t, map[string]*wsproto.CompressionOptions{
		"/echo":    {},
		"/echo-w9": {WindowBits: 9, PeerWindowBits: 9},
	}, sets, index)
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

// needPythonWebsockets returns Debian's python3, after skipping the test
// (or failing it in CI) unless it has python3-websockets.
func needPythonWebsockets(t *testing.T) string {
	t.Helper()
	const python = "/usr/bin/python3"
	ok := fileExists(python) && exec.Command(python, "-c", "import websockets").Run() == nil
	need(t, "Debian's python3-websockets", ok, "apt-get install python3-websockets")
	return python
}

// pySet: a few messages of each kind for Python websockets, which
// compresses every message, however short: an empty one, a word,
// multi-byte text, a 70 KB chat history, binary records, and a chat
// message sent 20 times, which context takeover shrinks to a few bytes
// after the first. That message is 196 bytes: over wsraise's default
// threshold, 128, and within the 250 bytes zlib reaches back in a 9-bit
// window.
func pySet() []echoMsg {
	history := []byte("[")
	for _, m := range chatJSON(3, 400) {
		if len(history)+len(m)+2 > 70_000 {
			break
		}
		if len(history) > 1 {
			history = append(history, ',')
		}
		history = append(history, m...)
	}
	history = append(history, ']')
	var records []byte
	for i := range 1024 {
		records = binary.LittleEndian.AppendUint32(records, uint32(i))
		records = binary.LittleEndian.AppendUint32(records, uint32(20000+i%97*3))
		records = append(records, "sensor-7"...)
	}
	set := []echoMsg{
		{"000-empty.txt", false, nil},
		{"001-hello.txt", false, []byte("hello")},
		{"002-utf8.txt", false, []byte(strings.Repeat("héllo wörld ✓ 𝄞 κόσμε ", 100))},
		{"003-history.json", false, history},
		{"004-records.bin", true, records},
	}
	chat := []byte(`{"type":"message","id":4242,"room":"ops","user":"user7","ts":1718000000000,` +
		`"text":"deploy done: the build is green, the tests pass, and the release notes are in the ticket; thanks for the review"}`)
	for i := range 20 {
		set = append(set, echoMsg{fmt.Sprintf("%03d-chat.json", 5+i), false, chat})
	}
	return set
}

// pyParams is what Python websockets agreed, as py_deflate_client.py and
// py_deflate_server.py print it, for windows of bits bits both ways with
// context takeover.
func pyParams(bits int) map[string]any {
	return map[string]any{"remote_max_window_bits": float64(bits), "local_max_window_bits": float64(bits),
		"remote_no_context_takeover": false, "local_no_context_takeover": false}
}

// TestPythonClientHonoursWindowBits: Python websockets, as a client,
// offers server_max_window_bits and client_max_window_bits of 9, 12 or
// 15 to a wsraise server with the default options, which grants them.
// Both sides state the windows agreed, every echo is intact and
// compressed, and neither side refers further back than its window.
func TestPythonClientHonoursWindowBits(t *testing.T) {
	python := needPythonWebsockets(t)
	set := pySet()
	s := newDeflateServer(t, map[string]*wsproto.CompressionOptions{"/echo": {}}, map[string][]echoMsg{"py": set}, nil)
	wsURL := "ws" + strings.TrimPrefix(s.url, "http")
	for _, bits := range []int{9, 12, 15} {
		t.Run(fmt.Sprintf("%d bits", bits), func(t *testing.T) {
			var got peerResult
			out := run(t, 90*time.Second, python, "py_deflate_client.py", wsURL+"/echo?set=py", filepath.Join(s.dir, "py"), strconv.Itoa(bits))
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			rep := s.await(t, 1)[0]
			got.check(t, "websockets client", len(set))
			if want := windowResponse(bits); rep.response != want {
				t.Errorf("the server answered %q to the offer %q, want %q", rep.response, rep.offer, want)
			}
			wantParams := pyParams(bits)
			if got.Extensions != "permessage-deflate" || got.Response != rep.response || !reflect.DeepEqual(got.Params, wantParams) {
				t.Errorf("websockets client: extensions %q, response header %q, parameters %v; the server wrote %q, want parameters %v",
					got.Extensions, got.Response, got.Params, rep.response, wantParams)
			}
			checkReport(t, rep, set, nil, 0.5)
			t.Logf("offered %q", rep.offer)
			checkRepeats(t, "websockets' messages", checkWindow(t, "websockets' messages", rep.in, set, bits, true), set)
			checkRepeats(t, "wsraise's echoes", checkWindow(t, "wsraise's echoes", rep.out, set, bits, true), set)
		})
	}
}

// TestPythonServerHonoursWindowBits: wsraise's Dial, with WindowBits and
// PeerWindowBits of 9, 12 or 15, against a Python websockets server whose
// ServerPerMessageDeflateFactory has the same server_max_window_bits and
// client_max_window_bits. Both sides state the windows agreed, every
// echo is intact and compressed, neither side refers further back than
// its window, and each repeated message takes a few bytes both ways.
func TestPythonServerHonoursWindowBits(t *testing.T) {
	python := needPythonWebsockets(t)
	set := pySet()
	for _, bits := range []int{9, 12, 15} {
		t.Run(fmt.Sprintf("%d bits", bits), func(t *testing.T) {
			addr, conns := startPeerServer(t, "the websockets server", python, "py_deflate_server.py", strconv.Itoa(bits))
			got := dialEcho(t, addr, &wsproto.CompressionOptions{WindowBits: bits, PeerWindowBits: bits}, set)
			if !sameParams(got.response, windowResponse(bits)) {
				t.Errorf("websockets answered %q, want %q", got.response, windowResponse(bits))
			}
			peer := readPeerReport(t, fmt.Sprintf("%d bits", bits), "the websockets server", conns)
			if peer.Extensions != "permessage-deflate" || peer.Response != got.response || !reflect.DeepEqual(peer.Params, pyParams(bits)) ||
				peer.Messages != len(set) || len(peer.Errors) > 0 || peer.Code != 1000 {
				t.Errorf("the websockets server saw offer %q, answered %q (we read %q), extensions %q, parameters %v (want %v), %d messages of %d, errors %v, close %d",
					peer.Offer, peer.Response, got.response, peer.Extensions, peer.Params, pyParams(bits),
					peer.Messages, len(set), peer.Errors, peer.Code)
			}
			payload := payloadSize(set)
			limit := payload / 2
			if got.wireOut >= limit || got.wireIn >= limit {
				t.Errorf("%d payload bytes each way, on the wire %d out and %d in: want under %d (compressed)",
					payload, got.wireOut, got.wireIn, limit)
			}
			t.Logf("offered %q, agreed %q; wire %d out (%.2f), %d in (%.2f)", peer.Offer, got.response,
				got.wireOut, float64(got.wireOut)/float64(payload), got.wireIn, float64(got.wireIn)/float64(payload))
			checkRepeats(t, "websockets' echoes", checkWindow(t, "websockets' echoes", got.in, set, bits, true), set)
			checkRepeats(t, "wsraise's messages", checkWindow(t, "wsraise's messages", got.out, set, bits, true), set)
		})
	}
}

// checkRepeats checks that each message of set that repeats the one
// before took a few bytes at most on the wire: context takeover.
func checkRepeats(t *testing.T, what string, u windowUse, set []echoMsg) {
	t.Helper()
	if len(u.sizes) != len(set) {
		return // checkWindow failed the test
	}
	for i := 1; i < len(set); i++ {
		if bytes.Equal(set[i].data, set[i-1].data) && u.sizes[i] > 16 {
			t.Errorf("%s: %s, a %d-byte repeat of the message before, took %d bytes: no context taken over",
				what, set[i].name, len(set[i].data), u.sizes[i])
		}
	}
}

package wsraise

// The end-to-end protocol conformance suite: RFC 6455, over real loopback
// TCP. A raw peer (wire_test.go) drives a wsraise echo server frame by frame,
// and plays a raw server to the wsraise client. The cases follow the
// sections of the Autobahn fuzzingclient (1-7, 9 at sizes CI can afford,
// 10); each names the RFC section it checks.
//
//	go test -run Conformance -v .
//
// lists every case; the Counts tests log the number of cases per section.
// The server cases are here; section 6's UTF-8 vectors are in
// proto_utf8_test.go, the opening handshake in proto_handshake_test.go, the
// client's cases in proto_client_test.go, permessage-deflate (sections 12
// and 13) in compress_test.go.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/net/websocket"

	"wsraise/wsproto"
)

// conformanceCase is one case: an Autobahn-style id, the RFC 6455 section
// it checks, what it does, and the exchange with the raw peer.
type conformanceCase struct {
	id      string
	section string
	name    string
	path    string // route of the echo server; "" for /echo
	run     func(p *peer)
}

// echoServer serves wsraise echo routes on loopback: /echo with the
// defaults, /limit with a 1 KiB read limit, /stream echoing through
// Reader and Writer, and /close closing right after the handshake.
func echoServer(t testing.TB) *httptest.Server {
	mux := http.NewServeMux()
	echo := func(opts *wsproto.UpgradeOptions, stream bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			c, err := wsproto.Upgrade(w, r, opts)
			if err != nil {
				return
			}
			ctx := context.Background()
			for {
				if stream {
					err = echoStream(ctx, c)
				} else {
					var typ wsproto.MessageType
					var p []byte
					if typ, p, err = c.Read(ctx); err == nil {
						err = c.Write(ctx, typ, p)
					}
				}
				if err != nil {
					return
				}
			}
		}
	}
	mux.Handle("/echo", echo(nil, false))
	mux.Handle("/stream", echo(&wsproto.UpgradeOptions{WriteBufferSize: 1024}, true))
	mux.Handle("/limit", echo(&wsproto.UpgradeOptions{ReadLimit: 1024}, false))
	mux.HandleFunc("/close", func(w http.ResponseWriter, r *http.Request) {
		c, err := wsproto.Upgrade(w, r, &wsproto.UpgradeOptions{CloseTimeout: 2 * time.Second})
		if err != nil {
			return
		}
		c.Close(wsproto.StatusNormalClosure, "bye")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func echoStream(ctx context.Context, c *wsproto.Conn) error {
	typ, r, err := c.Reader(ctx)
	if err != nil {
		return err
	}
	w, err := c.Writer(ctx, typ)
	if err != nil {
		return err
	}
	var buf [700]byte
	for {
		n, err := r.Read(buf[:])
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return w.Close()
			}
			return err
		}
	}
}

func TestConformanceServer(t *testing.T) {
	srv := echoServer(t)
	addr := strings.TrimPrefix(srv.URL, "http://")
	cases := serverCases()
	for _, c := range cases {
		path := c.path
		if path == "" {
			path = "/echo"
		}
		t.Run(c.id+" "+c.name+" (RFC 6455 "+c.section+")", func(t *testing.T) {
			c.run(dialRaw(t, addr, path, nil))
		})
	}
	logCounts(t, cases)
}

func logCounts(t *testing.T, cases []conformanceCase) {
	counts := map[string]int{}
	for _, c := range cases {
		counts[strings.SplitN(c.id, ".", 2)[0]]++
	}
	var keys []string
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return len(keys[i]) < len(keys[j]) || len(keys[i]) == len(keys[j]) && keys[i] < keys[j]
	})
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, " %s:%d", k, counts[k])
	}
	t.Logf("%d cases by section:%s", len(cases), b.String())
}

// Payload helpers.
// repeat returns s repeated up to about n bytes, cut on a character boundary.
func repeat(s string, n int) string {
	r := strings.Repeat(s, n/len(s)+1)[:n]
	for len(r) > 0 && !utf8.RuneStart(s[len(r)%len(s)]) {
		r = r[:len(r)-1]
	}
	return r
}
func bin(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

func serverCases() []conformanceCase {
	var cs []conformanceCase
	add := func(id, section, name string, run func(p *peer)) {
		cs = append(cs, conformanceCase{id: id, section: section, name: name, run: run})
	}
	addOn := func(path, id, section, name string, run func(p *peer)) {
		cs = append(cs, conformanceCase{id: id, section: section, name: name, path: path, run: run})
	}

	// 1: framing — every length form (section 5.2), whole and chopped.
	for i, n := range []int{0, 125, 126, 127, 128, 65535, 65536} {
		add(fmt.Sprintf("1.1.%d", i+1), "5.2", fmt.Sprintf("text of %d bytes", n), func(p *peer) {
			s := repeat("*", n)
			p.send(text(s))
			p.expectText(s)
			p.closeNormally()
		})
		add(fmt.Sprintf("1.2.%d", i+1), "5.2", fmt.Sprintf("binary of %d bytes", n), func(p *peer) {
			b := bin(n)
			p.send(binaryFrame(b))
			p.expectMessage(opBinary, b)
			p.closeNormally()
		})
	}
	add("1.1.8", "5.2", "text of 65536 bytes in 997-byte writes", func(p *peer) {
		s := repeat("*", 65536)
		p.sendChopped(997, text(s))
		p.expectText(s)
		p.closeNormally()
	})
	add("1.2.8", "5.2", "binary of 65536 bytes in 997-byte writes", func(p *peer) {
		b := bin(65536)
		p.sendChopped(997, binaryFrame(b))
		p.expectMessage(opBinary, b)
		p.closeNormally()
	})
	add("1.3.1", "5.2", "header split byte by byte", func(p *peer) {
		s := repeat("x", 300) // a 16-bit length: 4 header bytes + 4 of mask
		p.sendChopped(1, text(s))
		p.expectText(s)
		p.closeNormally()
	})

	// 2: pings and pongs (sections 5.5.2, 5.5.3).
	for i, pl := range [][]byte{nil, []byte("Hello, world!"), {0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff}, bin(125)} {
		add(fmt.Sprintf("2.%d", i+1), "5.5.2", fmt.Sprintf("ping with %d bytes is answered with the same pong", len(pl)), func(p *peer) {
			p.send(ping(pl))
			p.expectPong(pl)
			p.closeNormally()
		})
	}
	add("2.5", "5.5", "ping of 126 bytes fails 1002", func(p *peer) {
		p.send(ping(bin(126)))
		p.expectClose(1002)
	})
	add("2.6", "5.5.2", "ping of 125 bytes sent byte by byte", func(p *peer) {
		p.sendChopped(1, ping(bin(125)))
		p.expectPong(bin(125))
		p.closeNormally()
	})
	add("2.7", "5.5.3", "unsolicited empty pong is ignored", func(p *peer) {
		p.send(pong(nil))
		p.closeNormally()
	})
	add("2.8", "5.5.3", "unsolicited pong with payload is ignored", func(p *peer) {
		p.send(pong([]byte("unsolicited")))
		p.closeNormally()
	})
	add("2.9", "5.5.3", "unsolicited pong then ping: one pong", func(p *peer) {
		p.send(pong([]byte("unsolicited")), ping([]byte("solicited")))
		p.expectPong([]byte("solicited"))
		p.closeNormally()
	})
	add("2.10", "5.5.2", "10 pings in one write, 10 pongs in order", func(p *peer) {
		var fs []frame
		for i := range 10 {
			fs = append(fs, ping([]byte(fmt.Sprint("ping ", i))))
		}
		p.send(fs...)
		for i := range 10 {
			p.expectPong([]byte(fmt.Sprint("ping ", i)))
		}
		p.closeNormally()
	})
	add("2.11", "5.5.2", "10 pings byte by byte, 10 pongs in order", func(p *peer) {
		var fs []frame
		for i := range 10 {
			fs = append(fs, ping([]byte(fmt.Sprint("ping ", i))))
		}
		p.sendChopped(1, fs...)
		for i := range 10 {
			p.expectPong([]byte(fmt.Sprint("ping ", i)))
		}
		p.closeNormally()
	})

	// 3: reserved bits, none negotiated (section 5.2).
	rsv := func(f frame, bits byte) frame { return f.with(func(f *frame) { f.rsv = bits }) }
	add("3.1", "5.2", "text with RSV1 fails 1002", func(p *peer) {
		p.send(rsv(text("Hello, world!"), 1))
		p.expectClose(1002)
	})
	add("3.2", "5.2", "text, text with RSV2, ping: echo, then 1002", func(p *peer) {
		p.send(text("small"), rsv(text("small"), 2), ping(nil))
		p.expectText("small")
		p.expectClose(1002)
	})
	add("3.3", "5.2", "the same with RSV3, frame by frame", func(p *peer) {
		p.sendEach(text("small"), rsv(text("small"), 3), ping(nil))
		p.expectText("small")
		p.expectClose(1002)
	})
	add("3.4", "5.2", "the same with RSV 4, byte by byte", func(p *peer) {
		p.sendChopped(1, text("small"), rsv(text("small"), 4), ping(nil))
		p.expectText("small")
		p.expectClose(1002)
	})
	add("3.5", "5.2", "binary with RSV 5 fails 1002", func(p *peer) {
		p.send(rsv(binaryFrame(bin(8)), 5))
		p.expectClose(1002)
	})
	add("3.6", "5.2", "ping with RSV 6 fails 1002", func(p *peer) {
		p.send(rsv(ping([]byte("x")), 6))
		p.expectClose(1002)
	})
	add("3.7", "5.2", "close with RSV 7 fails 1002", func(p *peer) {
		p.send(rsv(closeFrame(1000, ""), 7))
		p.expectClose(1002)
	})

	// 4: reserved opcodes (section 5.2): "If an unknown opcode is
	// received, the receiving endpoint MUST _Fail the WebSocket Connection_".
	for i, op := range []byte{3, 4, 5, 6, 7} {
		add(fmt.Sprintf("4.1.%d", i+1), "5.2", fmt.Sprintf("non-control opcode %d fails 1002", op), func(p *peer) {
			p.send(text("before"), frame{fin: true, op: op, payload: []byte("reserved"), length: -1}, ping(nil))
			p.expectText("before")
			p.expectClose(1002)
		})
	}
	for i, op := range []byte{0xB, 0xC, 0xD, 0xE, 0xF} {
		add(fmt.Sprintf("4.2.%d", i+1), "5.2", fmt.Sprintf("control opcode %d fails 1002", op), func(p *peer) {
			p.send(text("before"), frame{fin: true, op: op, length: -1}, ping(nil))
			p.expectText("before")
			p.expectClose(1002)
		})
	}

	// 5: fragmentation (section 5.4).
	add("5.1", "5.4", "fragmented ping fails 1002", func(p *peer) {
		p.send(frame{op: opPing, payload: []byte("frag1"), length: -1}, fragment(opCont, true, "frag2"))
		p.expectClose(1002)
	})
	add("5.2", "5.4", "fragmented pong fails 1002", func(p *peer) {
		p.send(frame{op: opPong, payload: []byte("frag1"), length: -1}, fragment(opCont, true, "frag2"))
		p.expectClose(1002)
	})
	twoFrags := []frame{fragment(opText, false, "fragment1"), fragment(opCont, true, "fragment2")}
	add("5.3", "5.4", "text in two fragments", func(p *peer) {
		p.send(twoFrags...)
		p.expectText("fragment1fragment2")
		p.closeNormally()
	})
	add("5.4", "5.4", "text in two fragments, frame by frame", func(p *peer) {
		p.sendEach(twoFrags...)
		p.expectText("fragment1fragment2")
		p.closeNormally()
	})
	add("5.5", "5.4", "text in two fragments, byte by byte", func(p *peer) {
		p.sendChopped(1, twoFrags...)
		p.expectText("fragment1fragment2")
		p.closeNormally()
	})
	withPing := []frame{fragment(opText, false, "fragment1"), ping([]byte("pongme!")), fragment(opCont, true, "fragment2")}
	add("5.6", "5.4", "ping between fragments is answered first", func(p *peer) {
		p.send(withPing...)
		p.expectPong([]byte("pongme!"))
		p.expectText("fragment1fragment2")
		p.closeNormally()
	})
	add("5.7", "5.4", "ping between fragments, frame by frame", func(p *peer) {
		p.sendEach(withPing...)
		p.expectPong([]byte("pongme!"))
		p.expectText("fragment1fragment2")
		p.closeNormally()
	})
	add("5.8", "5.4", "ping between fragments, byte by byte", func(p *peer) {
		p.sendChopped(1, withPing...)
		p.expectPong([]byte("pongme!"))
		p.expectText("fragment1fragment2")
		p.closeNormally()
	})
	add("5.9", "5.4", "final continuation with nothing to continue fails 1002", func(p *peer) {
		p.send(fragment(opCont, true, "non-continuation payload"), text("Hello, world!"))
		p.expectClose(1002)
	})
	add("5.10", "5.4", "the same, byte by byte", func(p *peer) {
		p.sendChopped(1, fragment(opCont, true, "non-continuation payload"), text("Hello, world!"))
		p.expectClose(1002)
	})
	add("5.11", "5.4", "non-final continuation with nothing to continue fails 1002", func(p *peer) {
		p.send(fragment(opCont, false, "fragment1"), fragment(opCont, true, "fragment2"), text("Hello, world!"))
		p.expectClose(1002)
	})
	add("5.12", "5.4", "message, then a stray continuation, fails 1002 after the echo", func(p *peer) {
		p.send(twoFrags[0], twoFrags[1], fragment(opCont, true, "stray"))
		p.expectText("fragment1fragment2")
		p.expectClose(1002)
	})
	add("5.13", "5.4", "a new text frame inside a fragmented message fails 1002", func(p *peer) {
		p.send(fragment(opText, false, "fragment1"), text("fragment2"))
		p.expectClose(1002)
	})
	add("5.14", "5.4", "a new binary frame inside a fragmented text fails 1002", func(p *peer) {
		p.send(fragment(opText, false, "fragment1"), fragment(opBinary, true, "fragment2"))
		p.expectClose(1002)
	})
	add("5.15", "5.4", "text in many fragments with pings between", func(p *peer) {
		p.sendEach(fragment(opText, false, "f1"), fragment(opCont, false, "f2"), ping([]byte("p1")),
			fragment(opCont, false, "f3"), fragment(opCont, false, "f4"), ping([]byte("p2")), fragment(opCont, true, "f5"))
		p.expectPong([]byte("p1"))
		p.expectPong([]byte("p2"))
		p.expectText("f1f2f3f4f5")
		p.closeNormally()
	})
	add("5.16", "5.4", "empty fragments around data", func(p *peer) {
		p.send(fragment(opText, false, ""), fragment(opCont, false, "middle"), fragment(opCont, true, ""))
		p.expectText("middle")
		p.closeNormally()
	})
	add("5.17", "5.4", "binary in 100 fragments of 1 byte", func(p *peer) {
		var fs []frame
		want := bin(100)
		for i := range 100 {
			op := byte(opCont)
			if i == 0 {
				op = opBinary
			}
			fs = append(fs, frame{fin: i == 99, op: op, payload: want[i : i+1], length: -1})
		}
		p.send(fs...)
		p.expectMessage(opBinary, want)
		p.closeNormally()
	})
	add("5.18", "5.4", "close between fragments ends the message unread", func(p *peer) {
		p.send(fragment(opText, false, "fragment1"), closeFrame(1000, ""), fragment(opCont, true, "fragment2"))
		p.expectClose(1000)
	})

	// 6: UTF-8 in text messages (sections 5.6, 8.1).
	cs = append(cs, utf8Cases()...)

	// 7: closing (sections 5.5.1, 7).
	add("7.1.1", "7.1.2", "echo, then a close 1000 is echoed and the server closes TCP", func(p *peer) {
		p.send(text("Hello World!"))
		p.expectText("Hello World!")
		p.send(closeFrame(1000, ""))
		if code, _ := p.readClose(); code != 1000 {
			p.t.Fatalf("close echo %d", code)
		}
		p.expectEOF()
	})
	add("7.1.2", "5.5.1", "a second close is ignored", func(p *peer) {
		p.send(closeFrame(1000, ""), closeFrame(1000, ""))
		p.readClose()
		p.expectEOF()
	})
	add("7.1.3", "5.5.1", "a ping after close is not answered", func(p *peer) {
		p.send(closeFrame(1000, ""), ping([]byte("after close")))
		p.readClose()
		p.expectEOF()
	})
	add("7.1.4", "5.5.1", "a text after close is not echoed", func(p *peer) {
		p.send(closeFrame(1000, ""), text("after close"))
		p.readClose()
		p.expectEOF()
	})
	add("7.1.5", "5.5.1", "a fragment, close, then the rest: nothing echoed", func(p *peer) {
		p.send(fragment(opText, false, "fragment1"), closeFrame(1000, ""), fragment(opCont, true, "fragment2"))
		p.readClose()
		p.expectEOF()
	})
	add("7.1.6", "5.5.1", "256 KiB text, close, ping: echo then close, no pong", func(p *peer) {
		s := repeat("BAsd7&jh23", 256<<10)
		p.send(text(s), closeFrame(1000, ""), ping([]byte("after close")))
		p.expectText(s)
		p.readClose()
		p.expectEOF()
	})
	add("7.3.1", "7.1.5", "close without payload is answered without payload", func(p *peer) {
		p.send(closeFrame(0, ""))
		if code, _ := p.readClose(); code != 0 {
			p.t.Fatalf("echo of an empty close carries code %d", code)
		}
		p.expectEOF()
	})
	add("7.3.2", "5.5.1", "close with a 1-byte payload fails 1002", func(p *peer) {
		p.send(frame{fin: true, op: opClose, payload: []byte{0x03}, length: -1})
		p.expectClose(1002)
	})
	add("7.3.3", "5.5.1", "close 1000 without reason", func(p *peer) {
		p.send(closeFrame(1000, ""))
		p.readClose()
		p.expectEOF()
	})
	add("7.3.4", "5.5.1", "close 1000 with a reason", func(p *peer) {
		p.send(closeFrame(1000, "Hello World!"))
		if code, _ := p.readClose(); code != 1000 {
			p.t.Fatal(code)
		}
		p.expectEOF()
	})
	add("7.3.5", "5.5.1", "close with a 123-byte reason", func(p *peer) {
		p.send(closeFrame(1000, repeat("*", 123)))
		if code, _ := p.readClose(); code != 1000 {
			p.t.Fatal(code)
		}
		p.expectEOF()
	})
	add("7.3.6", "5.5", "close with a 124-byte reason (126-byte payload) fails 1002", func(p *peer) {
		p.send(closeFrame(1000, repeat("*", 124)))
		p.expectClose(1002)
	})
	add("7.5.1", "8.1", "close reason not UTF-8 fails 1007", func(p *peer) {
		p.send(closeFrame(1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64"))
		p.expectClose(1007)
	})
	for i, code := range []uint16{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999} {
		add(fmt.Sprintf("7.7.%d", i+1), "7.4", fmt.Sprintf("valid close code %d is echoed", code), func(p *peer) {
			p.send(closeFrame(code, "reason"))
			if got, _ := p.readClose(); got != code {
				p.t.Fatalf("echo %d, want %d", got, code)
			}
			p.expectEOF()
		})
	}
	for i, code := range []uint16{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		add(fmt.Sprintf("7.9.%d", i+1), "7.4", fmt.Sprintf("invalid close code %d fails 1002", code), func(p *peer) {
			p.send(frame{fin: true, op: opClose, payload: []byte{byte(code >> 8), byte(code)}, length: -1})
			p.expectClose(1002)
		})
	}
	addOn("/close", "7.10.1", "7.1.1", "server-initiated close: 1000 with reason, server closes TCP first", func(p *peer) {
		code, reason := p.readClose()
		if code != 1000 || reason != "bye" {
			p.t.Fatalf("close %d %q, want 1000 \"bye\"", code, reason)
		}
		p.send(closeFrame(1000, ""))
		p.expectEOF()
	})
	addOn("/close", "7.10.2", "7.1.1", "server-initiated close unanswered: server closes TCP anyway", func(p *peer) {
		p.readClose()
		p.expectEOF()
	})

	// 9: large and many messages (section 5.4, 10.4), at sizes CI affords.
	for i, n := range []int{64 << 10, 256 << 10, 1 << 20, 4 << 20} {
		add(fmt.Sprintf("9.1.%d", i+1), "5.2", fmt.Sprintf("text of %d KiB", n>>10), func(p *peer) {
			s := repeat("BAsd7&jh23", n)
			p.send(text(s))
			p.expectText(s)
			p.closeNormally()
		})
		add(fmt.Sprintf("9.2.%d", i+1), "5.2", fmt.Sprintf("binary of %d KiB", n>>10), func(p *peer) {
			b := bin(n)
			p.send(binaryFrame(b))
			p.expectMessage(opBinary, b)
			p.closeNormally()
		})
	}
	for i, size := range []int{64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20} {
		add(fmt.Sprintf("9.3.%d", i+1), "5.4", fmt.Sprintf("1 MiB text in fragments of %d bytes", size), func(p *peer) {
			s := repeat("µ*", 1<<20) // 2-byte characters split across fragments
			p.send(fragments(opText, []byte(s), size)...)
			p.expectText(s)
			p.closeNormally()
		})
		add(fmt.Sprintf("9.4.%d", i+1), "5.4", fmt.Sprintf("1 MiB binary in fragments of %d bytes", size), func(p *peer) {
			b := bin(1 << 20)
			p.send(fragments(opBinary, b, size)...)
			p.expectMessage(opBinary, b)
			p.closeNormally()
		})
	}
	for i, chop := range []int{64, 1 << 10, 16 << 10} {
		add(fmt.Sprintf("9.5.%d", i+1), "5.2", fmt.Sprintf("1 MiB text in %d-byte writes", chop), func(p *peer) {
			s := repeat("*", 1<<20)
			p.sendChopped(chop, text(s))
			p.expectText(s)
			p.closeNormally()
		})
	}
	for i, n := range []int{0, 16, 64, 256, 1024, 4096} {
		add(fmt.Sprintf("9.7.%d", i+1), "5.6", fmt.Sprintf("1000 text messages of %d bytes", n), func(p *peer) {
			manyMessages(p, opText, n)
		})
		add(fmt.Sprintf("9.8.%d", i+1), "5.6", fmt.Sprintf("1000 binary messages of %d bytes", n), func(p *peer) {
			manyMessages(p, opBinary, n)
		})
	}
	addOn("/limit", "9.9.1", "10.4", "a frame over the read limit fails 1009 before its payload", func(p *peer) {
		p.send(frame{fin: true, op: opBinary, payload: bin(10), length: 1025})
		p.expectClose(1009)
	})
	addOn("/limit", "9.9.2", "10.4", "fragments adding up past the read limit fail 1009", func(p *peer) {
		p.send(fragments(opBinary, bin(1000), 100)[:9]...)
		p.send(frame{op: opCont, payload: bin(125), length: -1})
		p.expectClose(1009)
	})
	addOn("/limit", "9.9.3", "10.4", "a message at the read limit passes", func(p *peer) {
		p.send(binaryFrame(bin(1024)))
		p.expectMessage(opBinary, bin(1024))
		p.closeNormally()
	})
	add("9.9.4", "5.2", "a 64-bit length with the top bit set fails 1002", func(p *peer) {
		b := []byte{0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}
		p.write(b)
		p.expectClose(1002)
	})
	add("9.9.5", "5.2", "a length in a longer form than needed fails 1002", func(p *peer) {
		p.write([]byte{0x82, 0xFE, 0x00, 0x05, 1, 2, 3, 4, 1, 2, 3, 4, 5})
		p.expectClose(1002)
	})
	add("9.9.6", "5.1", "an unmasked client frame fails 1002", func(p *peer) {
		p.write(text("unmasked").encode())
		p.expectClose(1002)
	})

	// 10: automatic fragmentation by the sender (section 5.4).
	add("10.1.1", "5.4", "65536-byte text fragmented at 1300 bytes", func(p *peer) {
		s := repeat("*", 65536)
		p.send(fragments(opText, []byte(s), 1300)...)
		p.expectText(s)
		p.closeNormally()
	})
	addOn("/stream", "10.2.1", "5.4", "streamed echo of 100 KiB text: the server fragments it", func(p *peer) {
		s := repeat("κόσμε*", 100<<10)
		p.send(fragments(opText, []byte(s), 3000)...)
		p.expectText(s)
		p.closeNormally()
	})
	addOn("/stream", "10.2.2", "5.4", "ping during a streamed echo is answered between fragments", func(p *peer) {
		b := bin(64 << 10)
		fs := fragments(opBinary, b, 8<<10)
		fs = append(fs[:4:4], append([]frame{ping([]byte("mid"))}, fs[4:]...)...)
		p.send(fs...)
		// The pong arrives before the end of the echo.
		var got []byte
		sawPong := false
		for {
			f := p.next()
			if f.op == opPong {
				sawPong = true
				continue
			}
			got = append(got, f.payload...)
			if f.fin {
				break
			}
		}
		if !sawPong || !bytes.Equal(got, b) {
			p.t.Fatalf("pong seen %v, echo %d bytes equal %v", sawPong, len(got), bytes.Equal(got, b))
		}
		p.closeNormally()
	})
	return cs
}

// fragments splits b into a message of frames of at most size bytes.
func fragments(op byte, b []byte, size int) []frame {
	var fs []frame
	for first := true; first || len(b) > 0; first = false {
		n := min(size, len(b))
		f := frame{fin: n == len(b), op: opCont, payload: b[:n], length: -1}
		if first {
			f.op = op
		}
		fs = append(fs, f)
		b = b[n:]
	}
	return fs
}

// manyMessages sends 1000 messages while reading the echoes, as a real
// client does; sending all before reading could fill both TCP buffers.
func manyMessages(p *peer, op byte, n int) {
	payload := bin(n)
	if op == opText {
		payload = []byte(repeat("*", n))
	}
	var fs []frame
	for range 1000 {
		fs = append(fs, frame{fin: true, op: op, payload: payload, length: -1})
	}
	b := p.encode(fs...)
	errc := make(chan error, 1)
	go func() {
		p.nc.SetWriteDeadline(time.Now().Add(wait))
		_, err := p.nc.Write(b)
		errc <- err
	}()
	for range 1000 {
		p.expectMessage(op, payload)
	}
	if err := <-errc; err != nil {
		p.t.Fatal(err)
	}
	p.closeNormally()
}

// TestInteropXNetWebsocket: the golang.org/x/net/websocket client, which we
// did not write, talks to a wsraise echo server.
func TestInteropXNetWebsocket(t *testing.T) {
	srv := echoServer(t)
	ws, err := websocket.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/echo", "", srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ws.SetDeadline(time.Now().Add(wait))
	for _, m := range []string{"hello", "κόσμε", strings.Repeat("x", 70000), ""} {
		if err := websocket.Message.Send(ws, m); err != nil {
			t.Fatal(err)
		}
		var got string
		if err := websocket.Message.Receive(ws, &got); err != nil {
			t.Fatal(err)
		}
		if got != m {
			t.Fatalf("echo of %d bytes came back as %d", len(m), len(got))
		}
	}
	b := bin(100000)
	if err := websocket.Message.Send(ws, b); err != nil {
		t.Fatal(err)
	}
	var got []byte
	if err := websocket.Message.Receive(ws, &got); err != nil || !bytes.Equal(got, b) {
		t.Fatalf("binary echo: %v, equal %v", err, bytes.Equal(got, b))
	}
}

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

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
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
		expect := func(p *peer) {
			if v.valid {
				p.expectText(v.s)
				p.closeNormally()
			} else {
				p.expectClose(1007)
			}
		}
		cs = append(cs,
			conformanceCase{id: fmt.Sprintf("6.%d.1", i+1), section: "8.1", name: v.name + ": " + want, run: func(p *peer) {
				p.send(text(v.s))
				expect(p)
			}},
			conformanceCase{id: fmt.Sprintf("6.%d.2", i+1), section: "8.1", name: v.name + ", one fragment per byte: " + want, run: func(p *peer) {
				p.send(fragments(opText, []byte(v.s), 1)...)
				expect(p)
			}},
			conformanceCase{id: fmt.Sprintf("6.%d.3", i+1), section: "8.1", name: v.name + ", byte by byte: " + want, run: func(p *peer) {
				p.sendChopped(1, text(v.s))
				expect(p)
			}},
		)
	}
	// Fail fast (Autobahn 6.4): the connection fails as soon as a prefix
	// cannot be UTF-8, before the rest of the message arrives.
	invalidPrefix := "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80"
	cs = append(cs,
		conformanceCase{id: "6.100.1", section: "8.1", name: "invalid first fragment fails 1007 before the last arrives", run: func(p *peer) {
			p.send(fragment(opText, false, invalidPrefix))
			p.expectClose(1007)
		}},
		conformanceCase{id: "6.100.2", section: "8.1", name: "invalid code point split across fragments fails at the second", run: func(p *peer) {
			p.send(fragment(opText, false, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4"), fragment(opCont, false, "\x90"))
			p.expectClose(1007)
		}},
		conformanceCase{id: "6.100.3", section: "8.1", name: "invalid bytes early in a frame fail 1007 before the frame is complete", run: func(p *peer) {
			f := text(invalidPrefix)
			f.length = 1000 // announced; only the first bytes are sent
			p.send(f)
			p.expectClose(1007)
		}},
		conformanceCase{id: "6.100.4", section: "8.1", name: "a frame ending inside a character is fine if the next completes it", run: func(p *peer) {
			p.send(fragment(opText, false, "\xce"), fragment(opCont, false, "\xba\xe1"), fragment(opCont, true, "\xbd\xb9"))
			p.expectText("\xce\xba\xe1\xbd\xb9")
			p.closeNormally()
		}},
		conformanceCase{id: "6.100.5", section: "8.1", name: "a message ending inside a character fails 1007", run: func(p *peer) {
			p.send(fragment(opText, false, "κ"), fragment(opCont, true, "\xe1\xbd"))
			p.expectClose(1007)
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

// TestConformanceHandshake checks the opening handshake over raw TCP
// (section 4.2.1): refused requests get their HTTP status, and frames sent
// in the same write as the request are not lost.
func TestConformanceHandshake(t *testing.T) {
	srv := echoServer(t)
	addr := strings.TrimPrefix(srv.URL, "http://")
	t.Run("4.2.1 first frame in the request's write is kept", func(t *testing.T) {
		p := dialRaw(t, addr, "/echo", text("early").encode())
		p.expectText("early")
		p.closeNormally()
	})
	base := "Host: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	for _, c := range []struct {
		name, req string
		status    int
		header    string // "Name: value" the response must carry
	}{
		{"4.2.1 POST is refused 405", "POST /echo HTTP/1.1\r\n" + base + "Sec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n", 405, ""},
		{"4.2.1 HTTP/1.0 is refused 426", "GET /echo HTTP/1.0\r\n" + base + "Sec-WebSocket-Version: 13\r\n\r\n", 426, "Upgrade: websocket"},
		{"4.2.1 no Upgrade token is refused 426", "GET /echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 426, "Upgrade: websocket"},
		{"4.4 version 8 is refused 426 naming 13", "GET /echo HTTP/1.1\r\n" + base + "Sec-WebSocket-Version: 8\r\n\r\n", 426, "Sec-WebSocket-Version: 13"},
		{"4.2.1 a key of 15 bytes is refused 400", "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA\r\nSec-WebSocket-Version: 13\r\n\r\n", 400, ""},
		{"4.2.1 two keys are refused 400", "GET /echo HTTP/1.1\r\n" + base + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 400, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(wait))
			nc.Write([]byte(c.req))
			resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
			}
			if c.header != "" {
				name, value, _ := strings.Cut(c.header, ": ")
				if !strings.EqualFold(resp.Header.Get(name), value) {
					t.Fatalf("%s: %q, want %q", name, resp.Header.Get(name), value)
				}
			}
		})
	}
}

// TestConformanceClient drives the wsraise client, running an echo loop,
// from a raw server.
func TestConformanceClient(t *testing.T) {
	type clientCase struct {
		id, section, name string
		run               func(p *peer, c *wsproto.Conn, end <-chan error)
	}
	ctx := context.Background()
	unmaskedEcho := func(p *peer, fs ...frame) { p.send(fs...) }
	cases := []clientCase{
		{"C.1", "5.3", "every frame the client sends is masked, with a fresh key each", func(p *peer, c *wsproto.Conn, end <-chan error) {
			for i := range 20 {
				unmaskedEcho(p, text(fmt.Sprint("message ", i)))
				p.expectText(fmt.Sprint("message ", i))
			}
			if len(p.keys) < 19 { // 20 random keys; a repeat is a 2^-32 event
				t.Fatalf("%d distinct masking keys for 20 frames", len(p.keys))
			}
			p.send(closeFrame(1000, ""))
			p.readClose()
		}},
		{"C.2", "5.2", "lengths 0, 125, 126, 65535, 65536 both ways", func(p *peer, c *wsproto.Conn, end <-chan error) {
			for _, n := range []int{0, 125, 126, 65535, 65536} {
				p.send(binaryFrame(bin(n)))
				p.expectMessage(opBinary, bin(n))
			}
			p.send(closeFrame(1000, ""))
			p.readClose()
		}},
		{"C.3", "5.5.2", "ping answered with a masked pong", func(p *peer, c *wsproto.Conn, end <-chan error) {
			p.send(ping([]byte("hi")))
			p.expectPong([]byte("hi"))
			p.send(closeFrame(1000, ""))
			p.readClose()
		}},
		{"C.4", "5.1", "a masked frame from the server fails 1002", func(p *peer, c *wsproto.Conn, end <-chan error) {
			p.write(text("masked").with(func(f *frame) { f.masked = true; f.key = [4]byte{1, 2, 3, 4} }).encode())
			p.expectClose(1002)
		}},
		{"C.5", "5.2", "RSV1 fails 1002", func(p *peer, c *wsproto.Conn, end <-chan error) {
			p.send(text("x").with(func(f *frame) { f.rsv = 1 }))
			p.expectClose(1002)
		}},
		{"C.6", "5.2", "reserved opcode fails 1002", func(p *peer, c *wsproto.Conn, end <-chan error) {
			p.send(frame{fin: true, op: 0xB, length: -1})
			p.expectClose(1002)
		}},
		{"C.7", "5.5", "fragmented ping fails 1002", func(p *peer, c *wsproto.Conn, end <-chan error) {
			p.send(frame{op: opPing, length: -1}, fragment(opCont, true, ""))
			p.expectClose(1002)
		}},
		{"C.8", "5.4", "fragments with a ping between: pong, then the echo", func(p *peer, c *wsproto.Conn, end <-chan error) {
			p.send(fragment(opText, false, "frag1"), ping([]byte("p")), fragment(opCont, true, "frag2"))
			p.expectPong([]byte("p"))
			p.expectText("frag1frag2")
			p.send(closeFrame(1000, ""))
			p.readClose()
		}},
		{"C.9", "8.1", "invalid UTF-8 fails 1007 before the frame is complete", func(p *peer, c *wsproto.Conn, end <-chan error) {
			f := text("ok \xf4\x90\x80\x80")
			f.length = 500
			p.send(f)
			p.expectClose(1007)
		}},
		{"C.10", "7.4", "invalid close code from the server fails 1002", func(p *peer, c *wsproto.Conn, end <-chan error) {
			p.send(closeFrame(1005, ""))
			p.expectClose(1002)
		}},
		{"C.11", "7.1.2", "server close 1001 with reason: the client echoes 1001 and reports it received", func(p *peer, c *wsproto.Conn, end <-chan error) {
			p.send(closeFrame(1001, "going"))
			if code, _ := p.readClose(); code != 1001 {
				t.Fatalf("echo %d", code)
			}
			p.nc.Close()
			err := <-end
			var ce *wsproto.CloseError
			if !errors.As(err, &ce) || ce.Code != 1001 || ce.Reason != "going" || !ce.Received {
				t.Fatalf("client's read error %v, want received 1001 \"going\"", err)
			}
		}},
		{"C.12", "7.1.2", "client Close(1000, reason): masked close, then it waits for the server", func(p *peer, c *wsproto.Conn, end <-chan error) {
			done := make(chan error, 1)
			go func() { done <- c.Close(1000, "client done") }()
			code, reason := p.readClose()
			if code != 1000 || reason != "client done" {
				t.Fatalf("close %d %q", code, reason)
			}
			p.send(closeFrame(1000, ""))
			p.nc.Close()
			if err := <-done; err != nil {
				t.Fatalf("Close: %v", err)
			}
		}},
		{"C.13", "10.4", "a message over the client's read limit fails 1009", func(p *peer, c *wsproto.Conn, end <-chan error) {
			p.send(frame{fin: true, op: opBinary, payload: bin(10), length: 2048})
			p.expectClose(1009)
		}},
		{"C.14", "5.4", "continuation with nothing to continue fails 1002", func(p *peer, c *wsproto.Conn, end <-chan error) {
			p.send(fragment(opCont, true, "x"))
			p.expectClose(1002)
		}},
	}
	for _, cc := range cases {
		t.Run(cc.id+" "+cc.name+" (RFC 6455 "+cc.section+")", func(t *testing.T) {
			s := newRawServer(t, nil)
			c, _, err := wsproto.Dial(ctx, s.url(), &wsproto.DialOptions{ReadLimit: 1024 * 1024, CloseTimeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			if cc.id == "C.13" {
				c.SetReadLimit(1024)
			}
			p := s.accept()
			end := make(chan error, 1)
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					typ, b, err := c.Read(ctx)
					if err == nil {
						err = c.Write(ctx, typ, b)
					}
					if err != nil {
						end <- err
						return
					}
				}
			}()
			cc.run(p, c, end)
			p.nc.Close()
			select {
			case <-c.Done():
			case <-time.After(wait):
				t.Fatal("client connection did not end")
			}
			wg.Wait()
		})
	}
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

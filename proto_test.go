package wsraise

// The end-to-end protocol conformance suite: RFC 6455, over real loopback
// TCP. A raw peer (internal/rawpeer) drives a wsraise echo server frame by
// frame, and plays a raw server to the wsraise client. The cases follow the
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

	"wsraise/internal/rawpeer"
	"wsraise/wsproto"
)

// conformanceCase is one case: an Autobahn-style id, the RFC 6455 section
// it checks, what it does, and the exchange with the raw peer.
type conformanceCase struct {
	id      string
	section string
	name    string
	path    string // route of the echo server; "" for /echo
	run     func(p *rawpeer.Peer)
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
			c.run(rawpeer.Dial(t, addr, path, ""))
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
	add := func(id, section, name string, run func(p *rawpeer.Peer)) {
		cs = append(cs, conformanceCase{id: id, section: section, name: name, run: run})
	}
	addOn := func(path, id, section, name string, run func(p *rawpeer.Peer)) {
		cs = append(cs, conformanceCase{id: id, section: section, name: name, path: path, run: run})
	}

	// 1: framing — every length form (section 5.2), whole and chopped.
	for i, n := range []int{0, 125, 126, 127, 128, 65535, 65536} {
		add(fmt.Sprintf("1.1.%d", i+1), "5.2", fmt.Sprintf("text of %d bytes", n), func(p *rawpeer.Peer) {
			s := repeat("*", n)
			p.Send(rawpeer.Text(s))
			p.ExpectText(s)
			p.CloseNormally()
		})
		add(fmt.Sprintf("1.2.%d", i+1), "5.2", fmt.Sprintf("binary of %d bytes", n), func(p *rawpeer.Peer) {
			b := bin(n)
			p.Send(rawpeer.Binary(b))
			p.ExpectMessage(rawpeer.OpBinary, b)
			p.CloseNormally()
		})
	}
	add("1.1.8", "5.2", "text of 65536 bytes in 997-byte writes", func(p *rawpeer.Peer) {
		s := repeat("*", 65536)
		p.SendChopped(997, rawpeer.Text(s))
		p.ExpectText(s)
		p.CloseNormally()
	})
	add("1.2.8", "5.2", "binary of 65536 bytes in 997-byte writes", func(p *rawpeer.Peer) {
		b := bin(65536)
		p.SendChopped(997, rawpeer.Binary(b))
		p.ExpectMessage(rawpeer.OpBinary, b)
		p.CloseNormally()
	})
	add("1.3.1", "5.2", "header split byte by byte", func(p *rawpeer.Peer) {
		s := repeat("x", 300) // a 16-bit length: 4 header bytes + 4 of mask
		p.SendChopped(1, rawpeer.Text(s))
		p.ExpectText(s)
		p.CloseNormally()
	})

	// 2: pings and pongs (sections 5.5.2, 5.5.3).
	for i, pl := range [][]byte{nil, []byte("Hello, world!"), {0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff}, bin(125)} {
		add(fmt.Sprintf("2.%d", i+1), "5.5.2", fmt.Sprintf("ping with %d bytes is answered with the same pong", len(pl)), func(p *rawpeer.Peer) {
			p.Send(rawpeer.Ping(pl))
			p.ExpectPong(pl)
			p.CloseNormally()
		})
	}
	add("2.5", "5.5", "ping of 126 bytes fails 1002", func(p *rawpeer.Peer) {
		p.Send(rawpeer.Ping(bin(126)))
		p.ExpectClose(1002)
	})
	add("2.6", "5.5.2", "ping of 125 bytes sent byte by byte", func(p *rawpeer.Peer) {
		p.SendChopped(1, rawpeer.Ping(bin(125)))
		p.ExpectPong(bin(125))
		p.CloseNormally()
	})
	add("2.7", "5.5.3", "unsolicited empty pong is ignored", func(p *rawpeer.Peer) {
		p.Send(rawpeer.Pong(nil))
		p.CloseNormally()
	})
	add("2.8", "5.5.3", "unsolicited pong with payload is ignored", func(p *rawpeer.Peer) {
		p.Send(rawpeer.Pong([]byte("unsolicited")))
		p.CloseNormally()
	})
	add("2.9", "5.5.3", "unsolicited pong then ping: one pong", func(p *rawpeer.Peer) {
		p.Send(rawpeer.Pong([]byte("unsolicited")), rawpeer.Ping([]byte("solicited")))
		p.ExpectPong([]byte("solicited"))
		p.CloseNormally()
	})
	add("2.10", "5.5.2", "10 pings in one write, 10 pongs in order", func(p *rawpeer.Peer) {
		var fs []rawpeer.Frame
		for i := range 10 {
			fs = append(fs, rawpeer.Ping([]byte(fmt.Sprint("ping ", i))))
		}
		p.Send(fs...)
		for i := range 10 {
			p.ExpectPong([]byte(fmt.Sprint("ping ", i)))
		}
		p.CloseNormally()
	})
	add("2.11", "5.5.2", "10 pings byte by byte, 10 pongs in order", func(p *rawpeer.Peer) {
		var fs []rawpeer.Frame
		for i := range 10 {
			fs = append(fs, rawpeer.Ping([]byte(fmt.Sprint("ping ", i))))
		}
		p.SendChopped(1, fs...)
		for i := range 10 {
			p.ExpectPong([]byte(fmt.Sprint("ping ", i)))
		}
		p.CloseNormally()
	})

	// 3: reserved bits, none negotiated (section 5.2). As in Autobahn's
	// cases, "RSV = n" is the three bits read as a number, RSV1 the
	// highest: 1 is the RSV3 bit, 4 the RSV1 bit.
	rsv := func(f rawpeer.Frame, bits byte) rawpeer.Frame { f.RSV = bits; return f }
	add("3.1", "5.2", "text with RSV = 1 (the RSV3 bit) fails 1002", func(p *rawpeer.Peer) {
		p.Send(rsv(rawpeer.Text("Hello, world!"), 1))
		p.ExpectClose(1002)
	})
	add("3.2", "5.2", "text, text with RSV = 2 (RSV2), ping: echo, then 1002", func(p *rawpeer.Peer) {
		p.Send(rawpeer.Text("small"), rsv(rawpeer.Text("small"), 2), rawpeer.Ping(nil))
		p.ExpectText("small")
		p.ExpectClose(1002)
	})
	add("3.3", "5.2", "the same with RSV = 3 (RSV2 and RSV3), frame by frame", func(p *rawpeer.Peer) {
		p.SendEach(rawpeer.Text("small"), rsv(rawpeer.Text("small"), 3), rawpeer.Ping(nil))
		p.ExpectText("small")
		p.ExpectClose(1002)
	})
	add("3.4", "5.2", "the same with RSV = 4 (RSV1), byte by byte", func(p *rawpeer.Peer) {
		p.SendChopped(1, rawpeer.Text("small"), rsv(rawpeer.Text("small"), 4), rawpeer.Ping(nil))
		p.ExpectText("small")
		p.ExpectClose(1002)
	})
	add("3.5", "5.2", "binary with RSV = 5 (RSV1 and RSV3) fails 1002", func(p *rawpeer.Peer) {
		p.Send(rsv(rawpeer.Binary(bin(8)), 5))
		p.ExpectClose(1002)
	})
	add("3.6", "5.2", "ping with RSV = 6 (RSV1 and RSV2) fails 1002", func(p *rawpeer.Peer) {
		p.Send(rsv(rawpeer.Ping([]byte("x")), 6))
		p.ExpectClose(1002)
	})
	add("3.7", "5.2", "close with RSV = 7 (all three) fails 1002", func(p *rawpeer.Peer) {
		p.Send(rsv(rawpeer.Close(1000, ""), 7))
		p.ExpectClose(1002)
	})

	// 4: reserved opcodes (section 5.2): "If an unknown opcode is
	// received, the receiving endpoint MUST _Fail the WebSocket Connection_".
	for i, op := range []byte{3, 4, 5, 6, 7} {
		add(fmt.Sprintf("4.1.%d", i+1), "5.2", fmt.Sprintf("non-control opcode %d fails 1002", op), func(p *rawpeer.Peer) {
			p.Send(rawpeer.Text("before"), rawpeer.Frame{Fin: true, Op: op, Payload: []byte("reserved")}, rawpeer.Ping(nil))
			p.ExpectText("before")
			p.ExpectClose(1002)
		})
	}
	for i, op := range []byte{0xB, 0xC, 0xD, 0xE, 0xF} {
		add(fmt.Sprintf("4.2.%d", i+1), "5.2", fmt.Sprintf("control opcode %d fails 1002", op), func(p *rawpeer.Peer) {
			p.Send(rawpeer.Text("before"), rawpeer.Frame{Fin: true, Op: op}, rawpeer.Ping(nil))
			p.ExpectText("before")
			p.ExpectClose(1002)
		})
	}

	// 5: fragmentation (section 5.4).
	add("5.1", "5.4", "fragmented ping fails 1002", func(p *rawpeer.Peer) {
		p.Send(rawpeer.Frame{Op: rawpeer.OpPing, Payload: []byte("frag1")}, rawpeer.Fragment(rawpeer.OpCont, true, "frag2"))
		p.ExpectClose(1002)
	})
	add("5.2", "5.4", "fragmented pong fails 1002", func(p *rawpeer.Peer) {
		p.Send(rawpeer.Frame{Op: rawpeer.OpPong, Payload: []byte("frag1")}, rawpeer.Fragment(rawpeer.OpCont, true, "frag2"))
		p.ExpectClose(1002)
	})
	twoFrags := []rawpeer.Frame{rawpeer.Fragment(rawpeer.OpText, false, "fragment1"), rawpeer.Fragment(rawpeer.OpCont, true, "fragment2")}
	add("5.3", "5.4", "text in two fragments", func(p *rawpeer.Peer) {
		p.Send(twoFrags...)
		p.ExpectText("fragment1fragment2")
		p.CloseNormally()
	})
	add("5.4", "5.4", "text in two fragments, frame by frame", func(p *rawpeer.Peer) {
		p.SendEach(twoFrags...)
		p.ExpectText("fragment1fragment2")
		p.CloseNormally()
	})
	add("5.5", "5.4", "text in two fragments, byte by byte", func(p *rawpeer.Peer) {
		p.SendChopped(1, twoFrags...)
		p.ExpectText("fragment1fragment2")
		p.CloseNormally()
	})
	withPing := []rawpeer.Frame{rawpeer.Fragment(rawpeer.OpText, false, "fragment1"), rawpeer.Ping([]byte("pongme!")), rawpeer.Fragment(rawpeer.OpCont, true, "fragment2")}
	add("5.6", "5.4", "ping between fragments is answered first", func(p *rawpeer.Peer) {
		p.Send(withPing...)
		p.ExpectPong([]byte("pongme!"))
		p.ExpectText("fragment1fragment2")
		p.CloseNormally()
	})
	add("5.7", "5.4", "ping between fragments, frame by frame", func(p *rawpeer.Peer) {
		p.SendEach(withPing...)
		p.ExpectPong([]byte("pongme!"))
		p.ExpectText("fragment1fragment2")
		p.CloseNormally()
	})
	add("5.8", "5.4", "ping between fragments, byte by byte", func(p *rawpeer.Peer) {
		p.SendChopped(1, withPing...)
		p.ExpectPong([]byte("pongme!"))
		p.ExpectText("fragment1fragment2")
		p.CloseNormally()
	})
	add("5.9", "5.4", "final continuation with nothing to continue fails 1002", func(p *rawpeer.Peer) {
		p.Send(rawpeer.Fragment(rawpeer.OpCont, true, "non-continuation payload"), rawpeer.Text("Hello, world!"))
		p.ExpectClose(1002)
	})
	add("5.10", "5.4", "the same, byte by byte", func(p *rawpeer.Peer) {
		p.SendChopped(1, rawpeer.Fragment(rawpeer.OpCont, true, "non-continuation payload"), rawpeer.Text("Hello, world!"))
		p.ExpectClose(1002)
	})
	add("5.11", "5.4", "non-final continuation with nothing to continue fails 1002", func(p *rawpeer.Peer) {
		p.Send(rawpeer.Fragment(rawpeer.OpCont, false, "fragment1"), rawpeer.Fragment(rawpeer.OpCont, true, "fragment2"), rawpeer.Text("Hello, world!"))
		p.ExpectClose(1002)
	})
	add("5.12", "5.4", "message, then a stray continuation, fails 1002 after the echo", func(p *rawpeer.Peer) {
		p.Send(twoFrags[0], twoFrags[1], rawpeer.Fragment(rawpeer.OpCont, true, "stray"))
		p.ExpectText("fragment1fragment2")
		p.ExpectClose(1002)
	})
	add("5.13", "5.4", "a new text frame inside a fragmented message fails 1002", func(p *rawpeer.Peer) {
		p.Send(rawpeer.Fragment(rawpeer.OpText, false, "fragment1"), rawpeer.Text("fragment2"))
		p.ExpectClose(1002)
	})
	add("5.14", "5.4", "a new binary frame inside a fragmented text fails 1002", func(p *rawpeer.Peer) {
		p.Send(rawpeer.Fragment(rawpeer.OpText, false, "fragment1"), rawpeer.Fragment(rawpeer.OpBinary, true, "fragment2"))
		p.ExpectClose(1002)
	})
	add("5.15", "5.4", "text in many fragments with pings between", func(p *rawpeer.Peer) {
		p.SendEach(rawpeer.Fragment(rawpeer.OpText, false, "f1"), rawpeer.Fragment(rawpeer.OpCont, false, "f2"), rawpeer.Ping([]byte("p1")),
			rawpeer.Fragment(rawpeer.OpCont, false, "f3"), rawpeer.Fragment(rawpeer.OpCont, false, "f4"), rawpeer.Ping([]byte("p2")), rawpeer.Fragment(rawpeer.OpCont, true, "f5"))
		p.ExpectPong([]byte("p1"))
		p.ExpectPong([]byte("p2"))
		p.ExpectText("f1f2f3f4f5")
		p.CloseNormally()
	})
	add("5.16", "5.4", "empty fragments around data", func(p *rawpeer.Peer) {
		p.Send(rawpeer.Fragment(rawpeer.OpText, false, ""), rawpeer.Fragment(rawpeer.OpCont, false, "middle"), rawpeer.Fragment(rawpeer.OpCont, true, ""))
		p.ExpectText("middle")
		p.CloseNormally()
	})
	add("5.17", "5.4", "binary in 100 fragments of 1 byte", func(p *rawpeer.Peer) {
		var fs []rawpeer.Frame
		want := bin(100)
		for i := range 100 {
			op := byte(rawpeer.OpCont)
			if i == 0 {
				op = rawpeer.OpBinary
			}
			fs = append(fs, rawpeer.Frame{Fin: i == 99, Op: op, Payload: want[i : i+1]})
		}
		p.Send(fs...)
		p.ExpectMessage(rawpeer.OpBinary, want)
		p.CloseNormally()
	})
	add("5.18", "5.4", "close between fragments ends the message unread", func(p *rawpeer.Peer) {
		p.Send(rawpeer.Fragment(rawpeer.OpText, false, "fragment1"), rawpeer.Close(1000, ""), rawpeer.Fragment(rawpeer.OpCont, true, "fragment2"))
		p.ExpectClose(1000)
	})

	// 6: UTF-8 in text messages (sections 5.6, 8.1).
	cs = append(cs, utf8Cases()...)

	// 7: closing (sections 5.5.1, 7).
	add("7.1.1", "7.1.2", "echo, then a close 1000 is echoed and the server closes TCP", func(p *rawpeer.Peer) {
		p.Send(rawpeer.Text("Hello World!"))
		p.ExpectText("Hello World!")
		p.Send(rawpeer.Close(1000, ""))
		if code, _ := p.ReadClose(); code != 1000 {
			p.T.Fatalf("close echo %d", code)
		}
		p.ExpectEOF()
	})
	add("7.1.2", "5.5.1", "a second close is ignored", func(p *rawpeer.Peer) {
		p.Send(rawpeer.Close(1000, ""), rawpeer.Close(1000, ""))
		p.ReadClose()
		p.ExpectEOF()
	})
	add("7.1.3", "5.5.1", "a ping after close is not answered", func(p *rawpeer.Peer) {
		p.Send(rawpeer.Close(1000, ""), rawpeer.Ping([]byte("after close")))
		p.ReadClose()
		p.ExpectEOF()
	})
	add("7.1.4", "5.5.1", "a text after close is not echoed", func(p *rawpeer.Peer) {
		p.Send(rawpeer.Close(1000, ""), rawpeer.Text("after close"))
		p.ReadClose()
		p.ExpectEOF()
	})
	add("7.1.5", "5.5.1", "a fragment, close, then the rest: nothing echoed", func(p *rawpeer.Peer) {
		p.Send(rawpeer.Fragment(rawpeer.OpText, false, "fragment1"), rawpeer.Close(1000, ""), rawpeer.Fragment(rawpeer.OpCont, true, "fragment2"))
		p.ReadClose()
		p.ExpectEOF()
	})
	add("7.1.6", "5.5.1", "256 KiB text, close, ping: echo then close, no pong", func(p *rawpeer.Peer) {
		s := repeat("BAsd7&jh23", 256<<10)
		p.Send(rawpeer.Text(s), rawpeer.Close(1000, ""), rawpeer.Ping([]byte("after close")))
		p.ExpectText(s)
		p.ReadClose()
		p.ExpectEOF()
	})
	add("7.3.1", "7.1.5", "close without payload is answered without payload", func(p *rawpeer.Peer) {
		p.Send(rawpeer.Close(0, ""))
		if code, _ := p.ReadClose(); code != 0 {
			p.T.Fatalf("echo of an empty close carries code %d", code)
		}
		p.ExpectEOF()
	})
	add("7.3.2", "5.5.1", "close with a 1-byte payload fails 1002", func(p *rawpeer.Peer) {
		p.Send(rawpeer.Frame{Fin: true, Op: rawpeer.OpClose, Payload: []byte{0x03}})
		p.ExpectClose(1002)
	})
	add("7.3.3", "5.5.1", "close 1000 without reason", func(p *rawpeer.Peer) {
		p.Send(rawpeer.Close(1000, ""))
		p.ReadClose()
		p.ExpectEOF()
	})
	add("7.3.4", "5.5.1", "close 1000 with a reason", func(p *rawpeer.Peer) {
		p.Send(rawpeer.Close(1000, "Hello World!"))
		if code, _ := p.ReadClose(); code != 1000 {
			p.T.Fatal(code)
		}
		p.ExpectEOF()
	})
	add("7.3.5", "5.5.1", "close with a 123-byte reason", func(p *rawpeer.Peer) {
		p.Send(rawpeer.Close(1000, repeat("*", 123)))
		if code, _ := p.ReadClose(); code != 1000 {
			p.T.Fatal(code)
		}
		p.ExpectEOF()
	})
	add("7.3.6", "5.5", "close with a 124-byte reason (126-byte payload) fails 1002", func(p *rawpeer.Peer) {
		p.Send(rawpeer.Close(1000, repeat("*", 124)))
		p.ExpectClose(1002)
	})
	add("7.5.1", "8.1", "close reason not UTF-8 fails 1007", func(p *rawpeer.Peer) {
		p.Send(rawpeer.Close(1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64"))
		p.ExpectClose(1007)
	})
	for i, code := range []uint16{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999} {
		add(fmt.Sprintf("7.7.%d", i+1), "7.4", fmt.Sprintf("valid close code %d is echoed", code), func(p *rawpeer.Peer) {
			p.Send(rawpeer.Close(code, "reason"))
			if got, _ := p.ReadClose(); got != code {
				p.T.Fatalf("echo %d, want %d", got, code)
			}
			p.ExpectEOF()
		})
	}
	for i, code := range []uint16{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		add(fmt.Sprintf("7.9.%d", i+1), "7.4", fmt.Sprintf("invalid close code %d fails 1002", code), func(p *rawpeer.Peer) {
			p.Send(rawpeer.Frame{Fin: true, Op: rawpeer.OpClose, Payload: []byte{byte(code >> 8), byte(code)}})
			p.ExpectClose(1002)
		})
	}
	addOn("/close", "7.10.1", "7.1.1", "server-initiated close: 1000 with reason, server closes TCP first", func(p *rawpeer.Peer) {
		code, reason := p.ReadClose()
		if code != 1000 || reason != "bye" {
			p.T.Fatalf("close %d %q, want 1000 \"bye\"", code, reason)
		}
		p.Send(rawpeer.Close(1000, ""))
		p.ExpectEOF()
	})
	addOn("/close", "7.10.2", "7.1.1", "server-initiated close unanswered: server closes TCP anyway", func(p *rawpeer.Peer) {
		p.ReadClose()
		p.ExpectEOF()
	})

	// 9: large and many messages (section 5.4, 10.4), at sizes CI affords.
	for i, n := range []int{64 << 10, 256 << 10, 1 << 20, 4 << 20} {
		add(fmt.Sprintf("9.1.%d", i+1), "5.2", fmt.Sprintf("text of %d KiB", n>>10), func(p *rawpeer.Peer) {
			s := repeat("BAsd7&jh23", n)
			p.Send(rawpeer.Text(s))
			p.ExpectText(s)
			p.CloseNormally()
		})
		add(fmt.Sprintf("9.2.%d", i+1), "5.2", fmt.Sprintf("binary of %d KiB", n>>10), func(p *rawpeer.Peer) {
			b := bin(n)
			p.Send(rawpeer.Binary(b))
			p.ExpectMessage(rawpeer.OpBinary, b)
			p.CloseNormally()
		})
	}
	for i, size := range []int{64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20} {
		add(fmt.Sprintf("9.3.%d", i+1), "5.4", fmt.Sprintf("1 MiB text in fragments of %d bytes", size), func(p *rawpeer.Peer) {
			s := repeat("µ*", 1<<20) // 2-byte characters split across fragments
			p.Send(fragments(rawpeer.OpText, []byte(s), size)...)
			p.ExpectText(s)
			p.CloseNormally()
		})
		add(fmt.Sprintf("9.4.%d", i+1), "5.4", fmt.Sprintf("1 MiB binary in fragments of %d bytes", size), func(p *rawpeer.Peer) {
			b := bin(1 << 20)
			p.Send(fragments(rawpeer.OpBinary, b, size)...)
			p.ExpectMessage(rawpeer.OpBinary, b)
			p.CloseNormally()
		})
	}
	for i, chop := range []int{64, 1 << 10, 16 << 10} {
		add(fmt.Sprintf("9.5.%d", i+1), "5.2", fmt.Sprintf("1 MiB text in %d-byte writes", chop), func(p *rawpeer.Peer) {
			s := repeat("*", 1<<20)
			p.SendChopped(chop, rawpeer.Text(s))
			p.ExpectText(s)
			p.CloseNormally()
		})
	}
	for i, n := range []int{0, 16, 64, 256, 1024, 4096} {
		add(fmt.Sprintf("9.7.%d", i+1), "5.6", fmt.Sprintf("1000 text messages of %d bytes", n), func(p *rawpeer.Peer) {
			manyMessages(p, rawpeer.OpText, n)
		})
		add(fmt.Sprintf("9.8.%d", i+1), "5.6", fmt.Sprintf("1000 binary messages of %d bytes", n), func(p *rawpeer.Peer) {
			manyMessages(p, rawpeer.OpBinary, n)
		})
	}
	addOn("/limit", "9.9.1", "10.4", "a frame over the read limit fails 1009 before its payload", func(p *rawpeer.Peer) {
		p.Send(rawpeer.Frame{Fin: true, Op: rawpeer.OpBinary, Payload: bin(10), Length: 1025})
		p.ExpectClose(1009)
	})
	addOn("/limit", "9.9.2", "10.4", "fragments adding up past the read limit fail 1009", func(p *rawpeer.Peer) {
		p.Send(fragments(rawpeer.OpBinary, bin(1000), 100)[:9]...)
		p.Send(rawpeer.Frame{Op: rawpeer.OpCont, Payload: bin(125)})
		p.ExpectClose(1009)
	})
	addOn("/limit", "9.9.3", "10.4", "a message at the read limit passes", func(p *rawpeer.Peer) {
		p.Send(rawpeer.Binary(bin(1024)))
		p.ExpectMessage(rawpeer.OpBinary, bin(1024))
		p.CloseNormally()
	})
	add("9.9.4", "5.2", "a 64-bit length with the top bit set fails 1002", func(p *rawpeer.Peer) {
		b := []byte{0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}
		p.Write(b)
		p.ExpectClose(1002)
	})
	add("9.9.5", "5.2", "a length in a longer form than needed fails 1002", func(p *rawpeer.Peer) {
		p.Write([]byte{0x82, 0xFE, 0x00, 0x05, 1, 2, 3, 4, 1, 2, 3, 4, 5})
		p.ExpectClose(1002)
	})
	add("9.9.6", "5.1", "an unmasked client frame fails 1002", func(p *rawpeer.Peer) {
		p.Write(rawpeer.Text("unmasked").Encode())
		p.ExpectClose(1002)
	})

	// 10: automatic fragmentation by the sender (section 5.4).
	add("10.1.1", "5.4", "65536-byte text fragmented at 1300 bytes", func(p *rawpeer.Peer) {
		s := repeat("*", 65536)
		p.Send(fragments(rawpeer.OpText, []byte(s), 1300)...)
		p.ExpectText(s)
		p.CloseNormally()
	})
	addOn("/stream", "10.2.1", "5.4", "streamed echo of 100 KiB text: the server fragments it", func(p *rawpeer.Peer) {
		s := repeat("κόσμε*", 100<<10)
		p.Send(fragments(rawpeer.OpText, []byte(s), 3000)...)
		p.ExpectText(s)
		p.CloseNormally()
	})
	addOn("/stream", "10.2.2", "5.4", "ping during a streamed echo is answered between fragments", func(p *rawpeer.Peer) {
		b := bin(64 << 10)
		fs := fragments(rawpeer.OpBinary, b, 8<<10)
		fs = append(fs[:4:4], append([]rawpeer.Frame{rawpeer.Ping([]byte("mid"))}, fs[4:]...)...)
		p.Send(fs...)
		// The pong arrives before the end of the echo.
		var got []byte
		sawPong := false
		for {
			f := p.Next()
			if f.Op == rawpeer.OpPong {
				sawPong = true
				continue
			}
			got = append(got, f.Payload...)
			if f.Fin {
				break
			}
		}
		if !sawPong || !bytes.Equal(got, b) {
			p.T.Fatalf("pong seen %v, echo %d bytes equal %v", sawPong, len(got), bytes.Equal(got, b))
		}
		p.CloseNormally()
	})
	return cs
}

// fragments splits b into a message of frames of at most size bytes.
func fragments(op byte, b []byte, size int) []rawpeer.Frame {
	var fs []rawpeer.Frame
	for first := true; first || len(b) > 0; first = false {
		n := min(size, len(b))
		f := rawpeer.Frame{Fin: n == len(b), Op: rawpeer.OpCont, Payload: b[:n]}
		if first {
			f.Op = op
		}
		fs = append(fs, f)
		b = b[n:]
	}
	return fs
}

// manyMessages sends 1000 messages while reading the echoes, as a real
// client does; sending all before reading could fill both TCP buffers.
func manyMessages(p *rawpeer.Peer, op byte, n int) {
	payload := bin(n)
	if op == rawpeer.OpText {
		payload = []byte(repeat("*", n))
	}
	var fs []rawpeer.Frame
	for range 1000 {
		fs = append(fs, rawpeer.Frame{Fin: true, Op: op, Payload: payload})
	}
	b := p.Encode(fs...)
	errc := make(chan error, 1)
	go func() {
		p.Conn.SetWriteDeadline(time.Now().Add(rawpeer.Wait))
		_, err := p.Conn.Write(b)
		errc <- err
	}()
	for range 1000 {
		p.ExpectMessage(op, payload)
	}
	if err := <-errc; err != nil {
		p.T.Fatal(err)
	}
	p.CloseNormally()
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
	ws.SetDeadline(time.Now().Add(rawpeer.Wait))
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

package wsraise

// Conformance of permessage-deflate (RFC 7692) over loopback TCP, in the
// spirit of Autobahn sections 12 (payloads of every kind and size through
// the default parameters) and 13 (every parameter combination). A raw
// peer, built on internal/rawpeer, compresses and decompresses with
// compress/flate itself, not with wsproto's deflate.go, and drives the
// wsraise server; a raw server does the same to the wsraise client.
//
//	go test -run Compression -v .
//
// lists every case; the Counts logs give the number per section.

import (
	"bytes"
	"compress/flate"
	"context"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"wsraise/internal/race"
	"wsraise/internal/rawpeer"
	"wsraise/wsproto"
)

// deflateParams is what a handshake agreed, parsed here on its own. A
// window size of 0 was not stated: 15 bits.
type deflateParams struct {
	agreed                             bool
	serverNoTakeover, clientNoTakeover bool
	serverBits, clientBits             int
}

func parseAgreed(t testing.TB, h []string) deflateParams {
	t.Helper()
	if len(h) == 0 {
		return deflateParams{}
	}
	if len(h) != 1 {
		t.Fatalf("Sec-WebSocket-Extensions over %d lines: %q", len(h), h)
	}
	parts := strings.Split(h[0], ";")
	if strings.TrimSpace(parts[0]) != "permessage-deflate" {
		t.Fatalf("extension %q", h[0])
	}
	p := deflateParams{agreed: true}
	for _, q := range parts[1:] {
		switch q = strings.TrimSpace(q); q {
		case "server_no_context_takeover":
			p.serverNoTakeover = true
		case "client_no_context_takeover":
			p.clientNoTakeover = true
		default:
			// RFC 7692 sections 7.1.2.1, 7.1.2.2: 8 to 15, no leading zero.
			name, v, _ := strings.Cut(q, "=")
			bits, err := strconv.Atoi(v)
			if err != nil || bits < 8 || bits > 15 || v[0] == '0' || v[0] == '+' {
				t.Fatalf("parameter %q in %q", q, h[0])
			}
			switch name {
			case "server_max_window_bits":
				p.serverBits = bits
			case "client_max_window_bits":
				p.clientBits = bits
			default:
				t.Fatalf("parameter %q in %q", q, h[0])
			}
		}
	}
	return p
}

// deflatePeer is a raw peer with permessage-deflate: its own compressor
// and decompressor, with or without context takeover as agreed.
//
// With a 15-bit window it compresses with compress/flate. compress/flate
// cannot narrow its window, so with less the peer compresses with
// rawpeer.NaiveDeflate, which never refers further back than the window
// agreed (RFC 7692 section 7.1.2): wsraise's inflater, which keeps only
// that window, is then tested for real. It inflates with compress/flate,
// and rawpeer.Inflater checks that no message of wsraise's refers back
// further than the window wsraise agreed to compress with.
type deflatePeer struct {
	*rawpeer.Peer
	ownTakeover, peerTakeover bool
	ownBits, peerBits         int // the windows agreed for this peer's messages and for the other side's
	level                     int
	fw                        *flate.Writer
	wbuf                      bytes.Buffer
	dict                      []byte // the last 32 KiB the other side compressed
	sent                      []byte // with ownBits < 15, the last 2^ownBits bytes it compressed
	ref                       *rawpeer.Inflater
}

func newDeflatePeer(p *rawpeer.Peer, params deflateParams) *deflatePeer {
	d := &deflatePeer{Peer: p, level: flate.DefaultCompression}
	if p.Client {
		d.ownTakeover, d.peerTakeover = !params.clientNoTakeover, !params.serverNoTakeover
		d.ownBits, d.peerBits = params.clientBits, params.serverBits
	} else {
		d.ownTakeover, d.peerTakeover = !params.serverNoTakeover, !params.clientNoTakeover
		d.ownBits, d.peerBits = params.serverBits, params.clientBits
	}
	// Section 7.1.2: a window not stated is 15 bits.
	if d.ownBits == 0 {
		d.ownBits = 15
	}
	if d.peerBits == 0 {
		d.peerBits = 15
	}
	d.ref = rawpeer.NewInflater(d.peerBits, 64<<20)
	return d
}

// compress is section 7.2.1: compress, sync flush, drop 00 00 ff ff.
func (d *deflatePeer) compress(msg []byte) []byte {
	d.T.Helper()
	if d.ownBits < 15 {
		var history []byte
		if d.ownTakeover {
			history = d.sent
			d.sent = append(d.sent, msg...)
			d.sent = d.sent[max(0, len(d.sent)-1<<d.ownBits):]
		}
		return rawpeer.NaiveDeflate(history, msg, d.ownBits)
	}
	if d.fw == nil || !d.ownTakeover {
		d.fw, _ = flate.NewWriter(&d.wbuf, d.level)
	}
	d.wbuf.Reset()
	d.fw.Write(msg)
	d.fw.Flush()
	out, ok := bytes.CutSuffix(d.wbuf.Bytes(), []byte{0, 0, 0xff, 0xff})
	if !ok {
		d.T.Fatal("compress/flate's flush did not end with 00 00 ff ff")
	}
	return bytes.Clone(out)
}

// decompress is section 7.2.2: append 00 00 ff ff and inflate, with the
// window of earlier messages under context takeover.
func (d *deflatePeer) decompress(payload []byte) []byte {
	d.T.Helper()
	src := io.MultiReader(bytes.NewReader(payload), bytes.NewReader([]byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff}))
	var dict []byte
	if d.peerTakeover {
		dict = d.dict
	}
	out, err := io.ReadAll(flate.NewReaderDict(src, dict))
	if err != nil {
		d.T.Fatalf("inflating a %d-byte message: %v", len(payload), err)
	}
	if d.peerTakeover {
		d.dict = append(d.dict, out...)
		d.dict = d.dict[max(0, len(d.dict)-32<<10):]
	} else {
		d.ref.Reset()
	}
	got, maxDist, err := d.ref.Message(payload)
	if err != nil || !bytes.Equal(got, out) {
		d.T.Fatalf("rawpeer's inflater disagrees with compress/flate on a %d-byte message: %v", len(payload), err)
	}
	if maxDist > 1<<d.peerBits {
		d.T.Fatalf("a message refers %d bytes back, past the %d-bit window agreed", maxDist, d.peerBits)
	}
	return out
}

// compressedFrames compresses msg and splits it into frames of at most
// frag compressed bytes (0: one frame), RSV1 on the first only (section 6).
func (d *deflatePeer) compressedFrames(op byte, msg []byte, frag int) []rawpeer.Frame {
	c := d.compress(msg)
	if frag <= 0 {
		frag = len(c) + 1
	}
	fs := fragments(op, c, frag)
	fs[0].RSV = rawpeer.RSV1
	return fs
}

// nextFrame reads a frame and checks what RFC 6455 and RFC 7692 require
// of every frame wsraise sends: masking by role, RSV1 only on the first
// frame of a data message and only when agreed, no RSV2 or RSV3.
func (d *deflatePeer) nextFrame(first, agreed bool) rawpeer.Frame {
	d.T.Helper()
	f, err := d.ReadFrame(rawpeer.Wait)
	if err != nil {
		d.T.Fatalf("want a frame, got %v", err)
	}
	if f.RSV&^rawpeer.RSV1 != 0 || f.RSV != 0 && (!first || !agreed || f.Op >= rawpeer.OpClose) {
		d.T.Fatalf("frame op %#x with RSV bits %03b (first %v, agreed %v)", f.Op, f.RSV, first, agreed)
	}
	return f
}

// expectMessage reads one data message, inflating it if it came
// compressed, and checks it against want. wantCompressed: 1 compressed, 0
// not, -1 either.
func (d *deflatePeer) expectMessage(op byte, want []byte, agreed bool, wantCompressed int) {
	d.T.Helper()
	f := d.nextFrame(true, agreed)
	for f.Op == rawpeer.OpPong {
		f = d.nextFrame(true, agreed)
	}
	if f.Op != op {
		d.T.Fatalf("want opcode %#x, got %#x %.40q", op, f.Op, f.Payload)
	}
	compressed := f.RSV&rawpeer.RSV1 != 0
	if wantCompressed >= 0 && compressed != (wantCompressed == 1) {
		d.T.Fatalf("message of %d bytes: compressed %v", len(want), compressed)
	}
	got := f.Payload
	for !f.Fin {
		f = d.nextFrame(false, agreed)
		if f.Op != rawpeer.OpCont {
			d.T.Fatalf("want a continuation, got %#x", f.Op)
		}
		got = append(got, f.Payload...)
	}
	if compressed {
		got = d.decompress(got)
	}
	if op == rawpeer.OpText && !utf8.Valid(got) {
		d.T.Fatal("text message is not valid UTF-8")
	}
	if !bytes.Equal(got, want) {
		d.T.Fatalf("message differs: got %d bytes %.40q, want %d bytes %.40q", len(got), got, len(want), want)
	}
}

// dialRawDeflate performs the opening handshake by hand with offer as
// Sec-WebSocket-Extensions ("" for none) and returns the peer set up for
// what the server agreed.
func dialRawDeflate(t testing.TB, addr, path, offer string) (*deflatePeer, deflateParams) {
	t.Helper()
	extra := ""
	if offer != "" {
		extra = "Sec-WebSocket-Extensions: " + offer + "\r\n"
	}
	p := rawpeer.Dial(t, addr, path, extra)
	params := parseAgreed(t, p.Response.Header["Sec-Websocket-Extensions"])
	return newDeflatePeer(p, params), params
}

// deflateServer serves wsraise echo routes with compression: /deflate
// with the defaults, /stream echoing through Reader and Writer (1 KiB
// fragments), /nctx asking for server_no_context_takeover, /pnctx for
// client_no_context_takeover, /limit with a 64 KiB read limit, /low
// compressing every message, at level 9, /win9 with 9-bit windows both
// ways, and /plain without compression.
func deflateServer(t testing.TB) string {
	mux := http.NewServeMux()
	route := func(path string, opts wsproto.UpgradeOptions, stream bool) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			c, err := wsproto.Upgrade(w, r, &opts)
			if err != nil {
				return
			}
			ctx := context.Background()
			var buf []byte
			for {
				if stream {
					err = echoStream(ctx, c)
				} else {
					var typ wsproto.MessageType
					if typ, buf, err = c.ReadAppend(ctx, buf[:0]); err == nil {
						err = c.Write(ctx, typ, buf)
					}
				}
				if err != nil {
					return
				}
			}
		})
	}
	on := func(o wsproto.CompressionOptions) *wsproto.CompressionOptions { return &o }
	route("/deflate", wsproto.UpgradeOptions{Compression: on(wsproto.CompressionOptions{})}, false)
	route("/stream", wsproto.UpgradeOptions{WriteBufferSize: 1024, Compression: on(wsproto.CompressionOptions{})}, true)
	route("/nctx", wsproto.UpgradeOptions{Compression: on(wsproto.CompressionOptions{NoContextTakeover: true})}, false)
	route("/pnctx", wsproto.UpgradeOptions{Compression: on(wsproto.CompressionOptions{PeerNoContextTakeover: true})}, true)
	route("/limit", wsproto.UpgradeOptions{ReadLimit: 64 << 10, Compression: on(wsproto.CompressionOptions{})}, false)
	route("/low", wsproto.UpgradeOptions{Compression: on(wsproto.CompressionOptions{Threshold: -1, Level: 9})}, false)
	route("/win9", wsproto.UpgradeOptions{Compression: on(wsproto.CompressionOptions{WindowBits: 9, PeerWindowBits: 9})}, true)
	route("/plain", wsproto.UpgradeOptions{}, false)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// Payloads of section 12's kinds.
func payload(kind string, n int, seed int) []byte {
	r := mrand.New(mrand.NewPCG(uint64(seed), uint64(n)))
	var b []byte
	switch kind {
	case "json":
		for i := 0; len(b) < n; i++ {
			b = fmt.Appendf(b, `{"id":%d,"user":"user%d","text":"message %d in room %d","tags":["a","b%d"],"ok":true},`, seed*1000+i, r.IntN(50), i, r.IntN(9), i%7)
		}
	case "text":
		words := strings.Fields("Über allen Gipfeln ist Ruh, in allen Wipfeln spürest du kaum einen Hauch; die Vögelein schweigen im Walde. Warte nur, balde ruhest du auch.")
		for len(b) < n {
			b = append(b, words[r.IntN(len(words))]...)
			b = append(b, ' ')
		}
	case "html":
		for i := 0; len(b) < n; i++ {
			b = fmt.Appendf(b, `<tr class="row%d"><td><a href="/item/%d">Item %d</a></td><td>%d.%02d €</td></tr>`+"\n", i%2, r.IntN(10000), i, r.IntN(100), r.IntN(100))
		}
	case "binary": // an image-like ramp with noise
		b = make([]byte, n)
		for i := range b {
			b[i] = byte(i/64) + byte(r.IntN(4))
		}
	case "random":
		b = make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
	}
	b = b[:n]
	if kind != "binary" && kind != "random" {
		for len(b) > 0 && !utf8.RuneStart(b[len(b)-1]) { // cut on a character boundary
			b = b[:len(b)-1]
		}
		if len(b) > 0 && !utf8.Valid(b[len(b)-1:]) {
			b = b[:len(b)-1]
		}
	}
	return b
}

var compressSizes = []int{16, 64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 128 << 10}

// messagesFor bounds a case to about 256 KiB each way, which keeps the
// whole suite near 20 s with -race on a loaded 2-core machine: 100
// messages up to 1 KiB (Autobahn sends 1000), fewer of the larger ones,
// and at least 4, enough for context takeover to carry over.
func messagesFor(size int) int { return max(4, min(100, (256<<10)/size)) }

// messagesForWindow is messagesFor for a peer that compresses with a
// window of bits bits. Under 15 bits the peer compresses with
// rawpeer.NaiveDeflate, whose brute force costs the window's size at
// every position, so a case sends about 36 KiB, in messages of 256 bytes
// to 16 KiB; that is still past the largest of these windows, so the
// windows slide. It returns 0 for a case left out: the other sizes, and
// under -race the windows from 11 bits up, which would cost the race run
// half a minute of CPU; CI runs them in its run without -race (-tags
// purego).
func messagesForWindow(size, bits int) int {
	switch {
	case bits == 0 || bits >= 15:
		return messagesFor(size)
	case size < 256 || size > 16<<10, race.Enabled && bits >= 11:
		return 0
	}
	return max(2, min(messagesFor(size), (36<<10)/size))
}

// exchange sends n messages of kind and size through a deflatePeer
// client, compressed, every third one in fragments and every fifth one
// uncompressed, reading each echo while the next ones go out.
func exchange(d *deflatePeer, params deflateParams, kind string, size, n int, threshold int) {
	d.T.Helper()
	op := byte(rawpeer.OpText)
	if kind == "binary" || kind == "random" {
		op = rawpeer.OpBinary
	}
	msgs := make([][]byte, n)
	var wire []byte
	for i := range msgs {
		msgs[i] = payload(kind, size, i)
		var fs []rawpeer.Frame
		switch {
		case !params.agreed || i%5 == 4:
			fs = fragments(op, msgs[i], max(1, size/2))
		case i%3 == 1:
			fs = d.compressedFrames(op, msgs[i], max(1, size/7))
		default:
			fs = d.compressedFrames(op, msgs[i], 0)
		}
		wire = append(wire, d.Encode(fs...)...)
	}
	errc := make(chan error, 1)
	go func() {
		d.Conn.SetWriteDeadline(time.Now().Add(rawpeer.Wait))
		_, err := d.Conn.Write(wire)
		errc <- err
	}()
	for _, m := range msgs {
		want := 0
		if params.agreed && len(m) >= threshold {
			want = 1
		}
		d.expectMessage(op, m, params.agreed, want)
	}
	if err := <-errc; err != nil {
		d.T.Fatal(err)
	}
	d.CloseNormally()
}

type compressCase struct {
	id, section, name string
	run               func(t *testing.T, addr string)
}

func compressionServerCases() []compressCase {
	var cs []compressCase
	// Section 12: payload kinds at every size, default parameters.
	for k, kind := range []string{"json", "binary", "text", "html", "random"} {
		for s, size := range compressSizes {
			path := "/deflate"
			if s%2 == 1 {
				path = "/stream"
			}
			cs = append(cs, compressCase{
				id: fmt.Sprintf("12.%d.%d", k+1, s+1), section: "7.2",
				name: fmt.Sprintf("%s, %d messages of %d bytes, %s", kind, messagesFor(size), size, path),
				run: func(t *testing.T, addr string) {
					d, params := dialRawDeflate(t, addr, path, "permessage-deflate")
					if !params.agreed || params.serverNoTakeover || params.clientNoTakeover {
						t.Fatalf("agreed %+v", params)
					}
					exchange(d, params, kind, size, messagesFor(size), 128)
				},
			})
		}
	}
	// Section 13: every parameter combination, JSON at every size.
	combos := []struct {
		name, path, offer string
		want              deflateParams
		threshold         int
	}{
		{"default offer", "/deflate", "permessage-deflate", deflateParams{agreed: true}, 128},
		{"client_no_context_takeover", "/stream", "permessage-deflate; client_no_context_takeover", deflateParams{agreed: true, clientNoTakeover: true}, 128},
		{"server_no_context_takeover", "/deflate", "permessage-deflate; server_no_context_takeover", deflateParams{agreed: true, serverNoTakeover: true}, 128},
		{"no context takeover either way", "/stream", "permessage-deflate; server_no_context_takeover; client_no_context_takeover", deflateParams{agreed: true, serverNoTakeover: true, clientNoTakeover: true}, 128},
		{"server_max_window_bits=15 accepted", "/deflate", "permessage-deflate; server_max_window_bits=15", deflateParams{agreed: true, serverBits: 15}, 128},
		{"bare client_max_window_bits accepted, not answered", "/deflate", "permessage-deflate; client_max_window_bits", deflateParams{agreed: true}, 128},
		{"server_max_window_bits=9 accepted", "/deflate", "permessage-deflate; server_max_window_bits=9", deflateParams{agreed: true, serverBits: 9}, 128},
		{"malformed window declined, next offer taken", "/stream", "permessage-deflate; server_max_window_bits=16; client_max_window_bits, permessage-deflate; client_no_context_takeover", deflateParams{agreed: true, clientNoTakeover: true}, 128},
		{"server imposes server_no_context_takeover", "/nctx", "permessage-deflate", deflateParams{agreed: true, serverNoTakeover: true}, 128},
		{"server imposes client_no_context_takeover", "/pnctx", "permessage-deflate", deflateParams{agreed: true, clientNoTakeover: true}, 128},
		{"server compresses every message at level 9", "/low", "permessage-deflate; client_max_window_bits", deflateParams{agreed: true}, 0},
		{"client_max_window_bits=10 answered", "/stream", "permessage-deflate; client_max_window_bits=10", deflateParams{agreed: true, clientBits: 10}, 128},
		{"8-bit windows both ways", "/deflate", "permessage-deflate; server_max_window_bits=8; client_max_window_bits=8", deflateParams{agreed: true, serverBits: 8, clientBits: 8}, 128},
		{"server imposes 9-bit windows both ways", "/win9", "permessage-deflate; client_max_window_bits", deflateParams{agreed: true, serverBits: 9, clientBits: 9}, 128},
		{"server window smaller than offered", "/win9", "permessage-deflate; server_max_window_bits=12; client_max_window_bits=10", deflateParams{agreed: true, serverBits: 9, clientBits: 9}, 128},
	}
	// Every window size, both ways, through Reader and Writer and through
	// whole messages.
	for bits := 9; bits <= 15; bits++ {
		offer := fmt.Sprintf("permessage-deflate; server_max_window_bits=%d; client_max_window_bits=%d", bits, bits)
		combos = append(combos, struct {
			name, path, offer string
			want              deflateParams
			threshold         int
		}{fmt.Sprintf("%d-bit windows both ways", bits), []string{"/deflate", "/stream"}[bits%2], offer, deflateParams{agreed: true, serverBits: bits, clientBits: bits}, 128})
	}
	for c, combo := range combos {
		for s, size := range compressSizes {
			if messagesForWindow(size, combo.want.clientBits) == 0 {
				continue
			}
			cs = append(cs, compressCase{
				id: fmt.Sprintf("13.%d.%d", c+1, s+1), section: "7.1",
				name: fmt.Sprintf("%s, %d messages of %d bytes", combo.name, messagesForWindow(size, combo.want.clientBits), size),
				run: func(t *testing.T, addr string) {
					d, params := dialRawDeflate(t, addr, combo.path, combo.offer)
					if params != combo.want {
						t.Fatalf("agreed %+v, want %+v", params, combo.want)
					}
					if s%2 == 0 {
						d.level = flate.BestSpeed
					}
					exchange(d, params, "json", size, messagesForWindow(size, combo.want.clientBits), combo.threshold)
				},
			})
		}
	}
	// The rules of section 6 and the limits, on the wire.
	bad := func(id, section, name, path string, frames func(d *deflatePeer) []rawpeer.Frame, code uint16) {
		cs = append(cs, compressCase{id: id, section: section, name: name, run: func(t *testing.T, addr string) {
			d, _ := dialRawDeflate(t, addr, path, "permessage-deflate")
			d.Send(frames(d)...)
			d.ExpectClose(code)
		}})
	}
	hello := []byte(strings.Repeat("Hello, compressed world. ", 20))
	bad("12.100.1", "6.1", "RSV1 on a continuation frame fails 1002", "/deflate", func(d *deflatePeer) []rawpeer.Frame {
		fs := d.compressedFrames(rawpeer.OpText, hello, 10)
		fs[1].RSV = rawpeer.RSV1
		return fs
	}, 1002)
	bad("12.100.2", "6.1", "RSV1 on a ping fails 1002", "/deflate", func(d *deflatePeer) []rawpeer.Frame {
		return []rawpeer.Frame{rawpeer.Frame{Fin: true, RSV: rawpeer.RSV1, Op: rawpeer.OpPing, Payload: []byte("x")}}
	}, 1002)
	bad("12.100.3", "6.1", "RSV1 on a ping between compressed fragments fails 1002", "/stream", func(d *deflatePeer) []rawpeer.Frame {
		fs := d.compressedFrames(rawpeer.OpText, hello, 10)
		return []rawpeer.Frame{fs[0], rawpeer.Frame{Fin: true, RSV: rawpeer.RSV1, Op: rawpeer.OpPing}, fs[1]}
	}, 1002)
	bad("12.100.4", "7.2.2", "data that does not inflate fails 1007", "/deflate", func(d *deflatePeer) []rawpeer.Frame {
		return []rawpeer.Frame{rawpeer.Frame{Fin: true, RSV: rawpeer.RSV1, Op: rawpeer.OpBinary, Payload: []byte{0xf2, 0x48, 0xff, 0xff, 0xff, 0x07}}}
	}, 1007)
	bad("12.100.5", "RFC 6455 8.1", "text invalid once inflated fails 1007", "/stream", func(d *deflatePeer) []rawpeer.Frame {
		return d.compressedFrames(rawpeer.OpText, []byte("valid, then \xed\xa0\x80"), 0)
	}, 1007)
	bad("12.100.6", "RFC 6455 10.4", "10 MiB of zeros in 10 KiB, read limit 64 KiB: 1009", "/limit", func(d *deflatePeer) []rawpeer.Frame {
		d.level = flate.BestCompression
		return d.compressedFrames(rawpeer.OpBinary, make([]byte, 10<<20), 0)
	}, 1009)
	bad("12.100.7", "RFC 6455 5.2", "RSV1 without the extension fails 1002", "/plain", func(d *deflatePeer) []rawpeer.Frame {
		return d.compressedFrames(rawpeer.OpText, hello, 0)
	}, 1002)
	cs = append(cs, compressCase{id: "12.100.8", section: "6.1", name: "pings between compressed fragments are answered first", run: func(t *testing.T, addr string) {
		d, params := dialRawDeflate(t, addr, "/deflate", "permessage-deflate")
		fs := d.compressedFrames(rawpeer.OpText, hello, 7)
		var wire []rawpeer.Frame
		for i, f := range fs {
			wire = append(wire, f)
			if !f.Fin {
				wire = append(wire, rawpeer.Ping([]byte{byte(i)}))
			}
		}
		d.Send(wire...)
		for i := range len(fs) - 1 {
			d.ExpectPong([]byte{byte(i)})
		}
		d.expectMessage(rawpeer.OpText, hello, params.agreed, 1)
		d.CloseNormally()
	}})
	return cs
}

func TestCompressionServer(t *testing.T) {
	addr := deflateServer(t)
	cases := compressionServerCases()
	for _, c := range cases {
		t.Run(c.id+" "+c.name+" (RFC 7692 "+c.section+")", func(t *testing.T) { c.run(t, addr) })
	}
	logCompressionCounts(t, cases)
}

func logCompressionCounts(t *testing.T, cases []compressCase) {
	cc := make([]conformanceCase, len(cases))
	for i, c := range cases {
		cc[i] = conformanceCase{id: c.id}
	}
	logCounts(t, cc)
}

// TestCompressionClient drives the wsraise client, echoing with
// compression, from a raw server that answers the handshake with each
// parameter combination and compresses with compress/flate.
func TestCompressionClient(t *testing.T) {
	combos := []struct {
		name     string
		opts     wsproto.CompressionOptions
		offer    string // what the client must offer
		response string
		want     deflateParams
	}{
		{"default", wsproto.CompressionOptions{}, "permessage-deflate; client_max_window_bits", "permessage-deflate", deflateParams{agreed: true}},
		{"server_no_context_takeover unasked", wsproto.CompressionOptions{}, "permessage-deflate; client_max_window_bits", "permessage-deflate; server_no_context_takeover", deflateParams{agreed: true, serverNoTakeover: true}},
		{"client_no_context_takeover unasked", wsproto.CompressionOptions{}, "permessage-deflate; client_max_window_bits", "permessage-deflate; client_no_context_takeover", deflateParams{agreed: true, clientNoTakeover: true}},
		{"both asked", wsproto.CompressionOptions{NoContextTakeover: true, PeerNoContextTakeover: true},
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits",
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover", deflateParams{agreed: true, serverNoTakeover: true, clientNoTakeover: true}},
		{"client_max_window_bits=15 honoured", wsproto.CompressionOptions{}, "permessage-deflate; client_max_window_bits", "permessage-deflate; client_max_window_bits=15", deflateParams{agreed: true, clientBits: 15}},
		{"declined", wsproto.CompressionOptions{}, "permessage-deflate; client_max_window_bits", "", deflateParams{}},
		{"client_max_window_bits=9 honoured", wsproto.CompressionOptions{}, "permessage-deflate; client_max_window_bits", "permessage-deflate; client_max_window_bits=9", deflateParams{agreed: true, clientBits: 9}},
		{"server_max_window_bits=8 unasked", wsproto.CompressionOptions{}, "permessage-deflate; client_max_window_bits", "permessage-deflate; server_max_window_bits=8", deflateParams{agreed: true, serverBits: 8}},
		{"client_max_window_bits smaller than offered", wsproto.CompressionOptions{WindowBits: 12}, "permessage-deflate; client_max_window_bits=12", "permessage-deflate; client_max_window_bits=9", deflateParams{agreed: true, clientBits: 9}},
	}
	// Every window size, both ways: the client asks for the server's
	// window and offers its own.
	for bits := 8; bits <= 15; bits++ {
		offer := fmt.Sprintf("permessage-deflate; server_max_window_bits=%d; client_max_window_bits=%d", bits, bits)
		if bits == 15 {
			// 15 asks for nothing: the client offers neither value.
			offer = "permessage-deflate; client_max_window_bits"
		}
		combos = append(combos, struct {
			name     string
			opts     wsproto.CompressionOptions
			offer    string
			response string
			want     deflateParams
		}{fmt.Sprintf("%d-bit windows both ways", bits), wsproto.CompressionOptions{WindowBits: bits, PeerWindowBits: bits}, offer,
			fmt.Sprintf("permessage-deflate; server_max_window_bits=%d; client_max_window_bits=%d", bits, bits),
			deflateParams{agreed: true, serverBits: bits, clientBits: bits}})
	}
	var cases []compressCase
	for c, combo := range combos {
		for s, size := range compressSizes {
			if messagesForWindow(size, combo.want.serverBits) == 0 {
				continue
			}
			cases = append(cases, compressCase{
				id: fmt.Sprintf("13.%d.%d", 50+c, s+1), section: "7.1",
				name: fmt.Sprintf("client, %s, %d messages of %d bytes", combo.name, messagesForWindow(size, combo.want.serverBits), size),
				run: func(t *testing.T, _ string) {
					runClientCase(t, combo.opts, combo.offer, combo.response, combo.want, size)
				},
			})
		}
	}
	for _, c := range cases {
		t.Run(c.id+" "+c.name+" (RFC 7692 "+c.section+")", func(t *testing.T) { c.run(t, "") })
	}
	logCompressionCounts(t, cases)
	// A response the client must reject fails the handshake.
	for _, response := range []string{
		"permessage-deflate; client_max_window_bits",
		"permessage-deflate; server_max_window_bits=16",
		"permessage-deflate; mystery",
		"permessage-deflate, permessage-deflate",
		"x-webkit-deflate-frame",
	} {
		s := rawpeer.Listen(t, func(r *http.Request) string {
			return rawpeer.Response(r, "Sec-WebSocket-Extensions: "+response+"\r\n")
		})
		ctx, cancel := context.WithTimeout(context.Background(), rawpeer.Wait)
		c, _, err := wsproto.Dial(ctx, s.URL("/"), &wsproto.DialOptions{Compression: &wsproto.CompressionOptions{}})
		cancel()
		if err == nil {
			c.CloseNow()
			t.Errorf("response %q accepted", response)
		} else if !strings.Contains(err.Error(), "Sec-WebSocket-Extensions") {
			t.Errorf("response %q: error %q does not name the header", response, err)
		}
		p := s.Accept()
		p.Conn.Close()
	}
}

func runClientCase(t *testing.T, opts wsproto.CompressionOptions, offer, response string, want deflateParams, size int) {
	var offered []string
	var mu sync.Mutex
	s := rawpeer.Listen(t, func(r *http.Request) string {
		mu.Lock()
		offered = r.Header["Sec-Websocket-Extensions"]
		mu.Unlock()
		if response == "" {
			return rawpeer.Response(r, "")
		}
		return rawpeer.Response(r, "Sec-WebSocket-Extensions: "+response+"\r\n")
	})
	ctx := context.Background()
	c, _, err := wsproto.Dial(ctx, s.URL("/"), &wsproto.DialOptions{Compression: &opts, CloseTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	p := s.Accept()
	mu.Lock()
	if len(offered) != 1 || offered[0] != offer {
		t.Fatalf("offered %q, want %q", offered, offer)
	}
	mu.Unlock()
	if c.Compressed() != want.agreed {
		t.Fatalf("Compressed() = %v", c.Compressed())
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var buf []byte
		for i := 0; ; i++ {
			var typ wsproto.MessageType
			var err error
			if i%2 == 0 {
				typ, buf, err = c.ReadAppend(ctx, buf[:0])
				if err == nil {
					err = c.Write(ctx, typ, buf)
				}
			} else {
				err = echoStream(ctx, c)
			}
			if err != nil {
				return
			}
		}
	}()
	d := newDeflatePeer(p, want)
	n := messagesForWindow(size, want.serverBits)
	for i := range n {
		msg := payload("json", size, i)
		if want.agreed && i%4 != 3 {
			d.Send(d.compressedFrames(rawpeer.OpText, msg, []int{0, size / 3, 0}[i%3])...)
		} else {
			d.Send(rawpeer.Text(string(msg)))
		}
		// The echo is compressed from the threshold up; by Writer, it is
		// compressed once the message passes the threshold.
		wantCompressed := 0
		if want.agreed && size >= 128 {
			wantCompressed = 1
		}
		d.expectMessage(rawpeer.OpText, msg, want.agreed, wantCompressed)
	}
	d.Send(rawpeer.Close(1000, ""))
	d.ReadClose()
	p.Conn.Close()
	select {
	case <-c.Done():
	case <-time.After(rawpeer.Wait):
		t.Fatal("client connection did not end")
	}
	wg.Wait()
}

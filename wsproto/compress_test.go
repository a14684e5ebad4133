package wsproto

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"wsraise/internal/rawpeer"
)

// Tests of permessage-deflate wired into Conn (RFC 7692). The raw peers
// here compress and decompress with compress/flate directly, not with
// deflate.go, so that the two sides are not the same code.

// cpEncoder compresses messages as a peer would: a flate stream per
// message, or one for the connection with context takeover, each message
// ending with a sync flush whose 00 00 ff ff is removed (section 7.2.1).
type cpEncoder struct {
	takeover bool
	buf      bytes.Buffer
	fw       *flate.Writer
}

func (e *cpEncoder) encode(t testing.TB, msg []byte) []byte {
	t.Helper()
	if e.fw == nil || !e.takeover {
		e.buf.Reset()
		e.fw, _ = flate.NewWriter(&e.buf, flate.DefaultCompression)
	}
	e.buf.Reset()
	e.fw.Write(msg)
	e.fw.Flush()
	out := bytes.Clone(e.buf.Bytes())
	if !bytes.HasSuffix(out, []byte{0, 0, 0xff, 0xff}) {
		t.Fatalf("flush did not end with 00 00 ff ff: % x", out[max(0, len(out)-8):])
	}
	return out[:len(out)-4]
}

// cpDecoder decompresses messages as a peer would: the payload, then
// 00 00 ff ff (section 7.2.2), with the last 32 KiB of output as the
// dictionary under context takeover.
type cpDecoder struct {
	takeover bool
	dict     []byte
}

func (d *cpDecoder) decode(t testing.TB, payload []byte) []byte {
	t.Helper()
	src := io.MultiReader(bytes.NewReader(payload), bytes.NewReader([]byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff}))
	var dict []byte
	if d.takeover {
		dict = d.dict
	}
	out, err := io.ReadAll(flate.NewReaderDict(src, dict))
	if err != nil {
		t.Fatalf("decompressing %d bytes: %v", len(payload), err)
	}
	if d.takeover {
		d.dict = append(d.dict, out...)
		if len(d.dict) > 32<<10 {
			d.dict = d.dict[len(d.dict)-32<<10:]
		}
	}
	return out
}

// cpNext reads the next frame the raw peer receives.
func cpNext(t *testing.T, rp *rawpeer.Peer) rawpeer.Frame {
	t.Helper()
	f, err := rp.ReadFrame(ctTimeout)
	if err != nil {
		t.Fatalf("reading a frame: %v", err)
	}
	return f
}

// cpReadMessage reads one data message, answering nothing: it returns its
// opcode, whether its first frame had RSV1, the payload of its frames
// joined and their count. Only the first frame may have RSV1, and no
// frame RSV2 or RSV3 (RFC 7692 section 6.1).
func cpReadMessage(t *testing.T, rp *rawpeer.Peer) (op byte, compressed bool, payload []byte, frames int) {
	t.Helper()
	for {
		f := cpNext(t, rp)
		if f.RSV&^rawpeer.RSV1 != 0 {
			t.Fatalf("frame with RSV bits %03b", f.RSV)
		}
		if f.Op >= rawpeer.OpClose {
			if f.RSV != 0 {
				t.Fatalf("control frame %#x with RSV1", f.Op)
			}
			continue
		}
		if frames == 0 {
			op, compressed = f.Op, f.RSV&rawpeer.RSV1 != 0
		} else if f.Op != rawpeer.OpCont || f.RSV != 0 {
			t.Fatalf("fragment %d: op %#x rsv %03b", frames, f.Op, f.RSV)
		}
		frames++
		payload = append(payload, f.Payload...)
		if f.Fin {
			return op, compressed, payload, frames
		}
	}
}

// cpExpectClose reads frames until a close frame and checks its code.
func cpExpectClose(t *testing.T, rp *rawpeer.Peer, code StatusCode) {
	t.Helper()
	for {
		f := cpNext(t, rp)
		if f.Op != rawpeer.OpClose {
			continue
		}
		if len(f.Payload) < 2 || StatusCode(binary.BigEndian.Uint16(f.Payload)) != code {
			t.Fatalf("close frame %q, want code %d", f.Payload, code)
		}
		return
	}
}

// TestCompressionNegotiation: every combination of options on both sides,
// through Upgrade and Dial, agrees on the same extension string both ends,
// and messages go through both ways, compressed from the threshold up.
func TestCompressionNegotiation(t *testing.T) {
	type opts struct{ own, peer bool }
	all := []opts{{false, false}, {true, false}, {false, true}, {true, true}}
	for _, so := range append([]*opts{nil}, ptrs(all)...) {
		for _, co := range append([]*opts{nil}, ptrs(all)...) {
			var uo *UpgradeOptions
			var do *DialOptions
			want := ""
			if so != nil {
				uo = &UpgradeOptions{Compression: &CompressionOptions{NoContextTakeover: so.own, PeerNoContextTakeover: so.peer}}
			}
			if co != nil {
				do = &DialOptions{Compression: &CompressionOptions{NoContextTakeover: co.own, PeerNoContextTakeover: co.peer}}
			}
			if so != nil && co != nil {
				// The server's compressor resets if either side asks; so
				// does the client's.
				want = deflateName
				if so.own || co.peer {
					want += "; server_no_context_takeover"
				}
				if so.peer || co.own {
					want += "; client_no_context_takeover"
				}
			}
			t.Run(fmt.Sprintf("server=%v/client=%v", fmtOpts(so), fmtOpts(co)), func(t *testing.T) {
				server, client := ctPair(t, uo, do)
				if server.Extensions() != want || client.Extensions() != want {
					t.Fatalf("agreed server %q, client %q; want %q", server.Extensions(), client.Extensions(), want)
				}
				if server.Compressed() != (want != "") || client.Compressed() != (want != "") {
					t.Fatalf("Compressed() %v %v", server.Compressed(), client.Compressed())
				}
				cpEchoMessages(t, server, client, 20)
			})
		}
	}
}

func ptrs[T any](s []T) []*T {
	out := make([]*T, len(s))
	for i := range s {
		out[i] = &s[i]
	}
	return out
}

func fmtOpts[T any](p *T) string {
	if p == nil {
		return "off"
	}
	return strings.ReplaceAll(fmt.Sprintf("%+v", *p), " ", ",")
}

// cpEchoMessages sends n messages each way, of sizes around the threshold
// and up, by Write and by Writer, and checks they arrive whole.
func cpEchoMessages(t *testing.T, server, client *Conn, n int) {
	t.Helper()
	ctx := ctCtx(t)
	sizes := []int{0, 1, DefaultCompressionThreshold - 1, DefaultCompressionThreshold, 300, 5000, 70000}
	for i := range n {
		msg := jsonDocument(sizes[i%len(sizes)] + 400)[:sizes[i%len(sizes)]]
		for _, dir := range []struct {
			name     string
			from, to *Conn
		}{{"client to server", client, server}, {"server to client", server, client}} {
			rc := ctReadAsync(ctx, dir.to)
			var err error
			if i%2 == 0 {
				err = dir.from.Write(ctx, MessageText, msg)
			} else {
				err = cpWriteStream(ctx, dir.from, msg, 1000)
			}
			if err != nil {
				t.Fatalf("%s, message %d: %v", dir.name, i, err)
			}
			r := ctWait(t, rc)
			if r.err != nil || r.typ != MessageText || !bytes.Equal(r.p, msg) {
				t.Fatalf("%s, message %d of %d bytes: got %d bytes, %v", dir.name, i, len(msg), len(r.p), r.err)
			}
		}
	}
}

// cpWriteStream sends msg through Writer, in writes of chunk bytes.
func cpWriteStream(ctx context.Context, c *Conn, msg []byte, chunk int) error {
	w, err := c.Writer(ctx, MessageText)
	if err != nil {
		return err
	}
	for p := msg; len(p) > 0; {
		k := min(chunk, len(p))
		if _, err := w.Write(p[:k]); err != nil {
			w.Close()
			return err
		}
		p = p[k:]
	}
	return w.Close()
}

// TestUpgradeExtensionOffers: what the server answers to offers of every
// shape: several in one header, over several lines, malformed ones, every
// parameter. It never refuses the handshake for them.
func TestUpgradeExtensionOffers(t *testing.T) {
	on := &UpgradeOptions{Compression: &CompressionOptions{}}
	cases := []struct {
		name  string
		opts  *UpgradeOptions
		lines []string
		want  string // "" for no Sec-WebSocket-Extensions in the response
	}{
		{"7 plain offer", on, []string{"permessage-deflate"}, "permessage-deflate"},
		{"7 compression off", nil, []string{"permessage-deflate"}, ""},
		{"7 no offer", on, nil, ""},
		{"7.1.1.1 server_no_context_takeover", on, []string{"permessage-deflate; server_no_context_takeover"}, "permessage-deflate; server_no_context_takeover"},
		{"7.1.1.2 client_no_context_takeover", on, []string{"permessage-deflate; client_no_context_takeover"}, "permessage-deflate; client_no_context_takeover"},
		{"7.1.2.2 bare client_max_window_bits", on, []string{"permessage-deflate; client_max_window_bits"}, "permessage-deflate"},
		{"7.1.2.1 server_max_window_bits=15", on, []string{"permessage-deflate; server_max_window_bits=15"}, "permessage-deflate; server_max_window_bits=15"},
		{"7.1.2.1 server_max_window_bits=10 honoured", on, []string{"permessage-deflate; server_max_window_bits=10"}, "permessage-deflate; server_max_window_bits=10"},
		{"7.1.2.1 server_max_window_bits=8 honoured", on, []string{"permessage-deflate; server_max_window_bits=8"}, "permessage-deflate; server_max_window_bits=8"},
		{"7.1.2.2 client_max_window_bits=10 answered", on, []string{"permessage-deflate; client_max_window_bits=10"}, "permessage-deflate; client_max_window_bits=10"},
		{"5.1 first acceptable offer wins", on, []string{"permessage-deflate; server_max_window_bits=16, permessage-deflate; client_no_context_takeover, permessage-deflate"}, "permessage-deflate; client_no_context_takeover"},
		{"5.1 offers over several lines", on, []string{"x-webkit-deflate-frame", "permessage-deflate; server_max_window_bits=08", "permessage-deflate; server_no_context_takeover"}, "permessage-deflate; server_no_context_takeover"},
		{"9.1 malformed line declined, next line used", on, []string{"permessage-deflate; =", "permessage-deflate"}, "permessage-deflate"},
		{"9.1 malformed only", on, []string{"permessage-deflate;;"}, ""},
		{"7.1 unknown parameter declined", on, []string{"permessage-deflate; foo=1"}, ""},
		{"7.1 duplicate parameter declined", on, []string{"permessage-deflate; server_no_context_takeover; server_no_context_takeover"}, ""},
		{"7.1 window bits out of range declined", on, []string{"permessage-deflate; client_max_window_bits=16", "permessage-deflate; server_max_window_bits=015"}, ""},
		{"7.1.1 valued no_context_takeover declined", on, []string{"permessage-deflate; client_no_context_takeover=1"}, ""},
		{"quoted value", on, []string{`permessage-deflate; server_max_window_bits="15"`}, "permessage-deflate; server_max_window_bits=15"},
		{"other extension only", on, []string{"permessage-bzip2"}, ""},
		{"server asks for no takeover both ways", &UpgradeOptions{Compression: &CompressionOptions{NoContextTakeover: true, PeerNoContextTakeover: true}},
			[]string{"permessage-deflate"}, "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{"9.1 two names in one element", on, []string{"permessage-deflate server_no_context_takeover"}, ""},
		// The zero CompressionOptions: context takeover both ways, so
		// nothing to add to a browser's offer.
		{"default options", &UpgradeOptions{Compression: &CompressionOptions{}},
			[]string{"permessage-deflate; client_max_window_bits"}, "permessage-deflate"},
		{"server compresses each message on its own", &UpgradeOptions{Compression: &CompressionOptions{NoContextTakeover: true}},
			[]string{"permessage-deflate; client_max_window_bits"}, "permessage-deflate; server_no_context_takeover"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			server, rp := ctRawClient(t, tc.opts, tc.lines...)
			got := rp.Response.Header["Sec-Websocket-Extensions"]
			if tc.want == "" && len(got) != 0 || tc.want != "" && (len(got) != 1 || got[0] != tc.want) {
				t.Fatalf("response extensions %q, want %q", got, tc.want)
			}
			if server.Extensions() != tc.want || server.Compressed() != (tc.want != "") {
				t.Fatalf("server agreed %q", server.Extensions())
			}
			// The agreement holds on the wire: a compressed message is
			// read, or RSV1 fails with 1002 (RFC 6455 section 5.2).
			msg := []byte(strings.Repeat("negotiated ", 30))
			var enc cpEncoder
			rp.Conn.Write(rawpeer.Frame{Fin: true, RSV: rawpeer.RSV1, Op: rawpeer.OpText, Payload: enc.encode(t, msg)}.Mask().Encode())
			rc := ctReadAsync(ctCtx(t), server)
			if tc.want != "" {
				if r := ctWait(t, rc); r.err != nil || !bytes.Equal(r.p, msg) {
					t.Fatalf("read %q, %v", r.p, r.err)
				}
				return
			}
			cpExpectClose(t, rp, StatusProtocolError)
			rp.Conn.Close()
			ctCloseErr(t, "server", ctWait(t, rc).err, StatusProtocolError, "reserved bits set without an extension", false)
		})
	}
}

// TestUpgradeBadCompressionLevel: a level compress/flate does not have is
// refused before the handshake, as a server error.
func TestUpgradeBadCompressionLevel(t *testing.T) {
	srv, _, errs := hsServer(t, &UpgradeOptions{Compression: &CompressionOptions{Level: 12}})
	ctx := ctCtx(t)
	_, resp, err := Dial(ctx, hsURL(srv), &DialOptions{Compression: &CompressionOptions{}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("Dial: %v, %v", resp, err)
	}
	if uerr := <-errs; uerr == nil || !strings.Contains(uerr.Error(), "level 12") {
		t.Fatalf("Upgrade: %v", uerr)
	}
	if _, _, err := Dial(ctx, hsURL(srv), &DialOptions{Compression: &CompressionOptions{Level: -3}}); err == nil || !strings.Contains(err.Error(), "level -3") {
		t.Fatalf("Dial with level -3: %v", err)
	}
}

// TestDialExtensionResponses: the client offers permessage-deflate and
// checks the answer (RFC 7692 section 5.1: any fault fails the handshake
// with an error that names it).
func TestDialExtensionResponses(t *testing.T) {
	cases := []struct {
		name    string
		opts    CompressionOptions
		answer  string // header lines
		want    string // agreed, if no error
		wantErr string
	}{
		{"declined", CompressionOptions{}, "", "", ""},
		{"accepted", CompressionOptions{}, "Sec-WebSocket-Extensions: permessage-deflate\r\n", "permessage-deflate", ""},
		{"7.1.1.1 server_no_context_takeover unasked", CompressionOptions{}, "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n", "permessage-deflate; server_no_context_takeover", ""},
		{"7.1.1.2 client_no_context_takeover unasked", CompressionOptions{}, "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n", "permessage-deflate; client_no_context_takeover", ""},
		{"7.1.2.2 client_max_window_bits=15 honoured", CompressionOptions{}, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=15\r\n", "permessage-deflate; client_max_window_bits=15", ""},
		{"7.1.2.1 server_max_window_bits unasked", CompressionOptions{}, "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10\r\n", "permessage-deflate; server_max_window_bits=10", ""},
		{"7.1.2.2 client_max_window_bits=10 honoured", CompressionOptions{}, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10\r\n", "permessage-deflate; client_max_window_bits=10", ""},
		{"7.1.2.2 client_max_window_bits=8 honoured", CompressionOptions{}, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=8\r\n", "permessage-deflate; client_max_window_bits=8", ""},
		{"7.1.2.2 client_max_window_bits without value", CompressionOptions{}, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n", "", "has no value"},
		{"7.1.2.2 client_max_window_bits=16", CompressionOptions{}, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=16\r\n", "", "8 to 15"},
		{"7.1.2.1 server_max_window_bits=7", CompressionOptions{}, "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=7\r\n", "", "8 to 15"},
		{"7.1 unknown parameter", CompressionOptions{}, "Sec-WebSocket-Extensions: permessage-deflate; foo\r\n", "", "unknown parameter foo"},
		{"7.1 duplicate parameter", CompressionOptions{}, "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; client_no_context_takeover\r\n", "", "duplicate parameter"},
		{"7.1.2.1 server_max_window_bits without value", CompressionOptions{}, "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits\r\n", "", "has no value"},
		{"5.1 two extensions", CompressionOptions{}, "Sec-WebSocket-Extensions: permessage-deflate, permessage-deflate\r\n", "", "not the one permessage-deflate offered"},
		{"5.1 two lines", CompressionOptions{}, "Sec-WebSocket-Extensions: permessage-deflate\r\nSec-WebSocket-Extensions: permessage-deflate\r\n", "", "not the one"},
		{"5.1 another extension", CompressionOptions{}, "Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n", "", "not the one"},
		{"9.1 malformed", CompressionOptions{}, "Sec-WebSocket-Extensions: permessage-deflate; \"unterminated\r\n", "", "malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			offered := make(chan string, 1)
			s := rawpeer.Serve(t, func(nc net.Conn, br *bufio.Reader, r *http.Request, done <-chan struct{}) {
				offered <- strings.Join(r.Header["Sec-Websocket-Extensions"], " | ")
				io.WriteString(nc, rawpeer.Response(r, tc.answer))
				<-done
			})
			opts := tc.opts
			c, _, err := dtDial(t, s.URL("/ws"), &DialOptions{Compression: &opts})
			if got := <-offered; got != "permessage-deflate; client_max_window_bits" {
				t.Errorf("offered %q", got)
			}
			if tc.wantErr != "" {
				if c != nil || err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Dial: %v, want an error about %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Extensions() != tc.want || c.Compressed() != (tc.want != "") {
				t.Fatalf("agreed %q, want %q", c.Extensions(), tc.want)
			}
		})
	}
	// What each option offers.
	for _, tc := range []struct {
		opts CompressionOptions
		want string
	}{
		{CompressionOptions{}, "permessage-deflate; client_max_window_bits"},
		{CompressionOptions{PeerNoContextTakeover: true}, "permessage-deflate; server_no_context_takeover; client_max_window_bits"},
		{CompressionOptions{NoContextTakeover: true}, "permessage-deflate; client_no_context_takeover; client_max_window_bits"},
		{CompressionOptions{NoContextTakeover: true, PeerNoContextTakeover: true, Level: 9, Threshold: 10}, "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits"},
	} {
		offered := make(chan string, 1)
		s := rawpeer.Serve(t, func(nc net.Conn, br *bufio.Reader, r *http.Request, done <-chan struct{}) {
			offered <- strings.Join(r.Header["Sec-Websocket-Extensions"], " | ")
			io.WriteString(nc, rawpeer.Response(r, ""))
			<-done
		})
		opts := tc.opts
		if _, _, err := dtDial(t, s.URL("/ws"), &DialOptions{Compression: &opts}); err != nil {
			t.Fatal(err)
		}
		if got := <-offered; got != tc.want {
			t.Errorf("%+v offered %q, want %q", tc.opts, got, tc.want)
		}
	}
}

// TestClientOwnNoTakeover: a client with NoContextTakeover offers
// client_no_context_takeover; a server may leave it out of its answer
// (RFC 7692 section 7.1.1.2), and the client still compresses every
// message on its own: the same message twice comes out the same size.
// Without it the second refers to the first and shrinks.
func TestClientOwnNoTakeover(t *testing.T) {
	msg := []byte(strings.Repeat(`{"user":"ada","room":"general","text":"hello there, how are you today?"} `, 4))
	for _, takeover := range []bool{false, true} {
		sizes := make(chan [2]int64, 1)
		s := rawpeer.Serve(t, func(nc net.Conn, br *bufio.Reader, r *http.Request, done <-chan struct{}) {
			io.WriteString(nc, rawpeer.Response(r, "Sec-WebSocket-Extensions: permessage-deflate\r\n"))
			f1, err1 := rawpeer.ReadFrame(br)
			f2, err2 := rawpeer.ReadFrame(br)
			if err1 != nil || err2 != nil || f1.RSV&rawpeer.RSV1 == 0 || f2.RSV&rawpeer.RSV1 == 0 {
				sizes <- [2]int64{-1, -1}
				return
			}
			sizes <- [2]int64{int64(len(f1.Payload)), int64(len(f2.Payload))}
			<-done
		})
		c, _, err := dtDial(t, s.URL("/ws"), &DialOptions{Compression: &CompressionOptions{NoContextTakeover: !takeover}})
		if err != nil {
			t.Fatal(err)
		}
		ctx := ctCtx(t)
		for range 2 {
			if err := c.Write(ctx, MessageText, msg); err != nil {
				t.Fatal(err)
			}
		}
		got := <-sizes
		if got[0] < 0 {
			t.Fatalf("takeover %v: the server did not read two compressed frames", takeover)
		}
		if !takeover && got[1] != got[0] || takeover && got[1] >= got[0]/2 {
			t.Errorf("takeover %v: compressed sizes %d then %d", takeover, got[0], got[1])
		}
	}
}

// TestCompressionWindowOptionsChecked: WindowBits and PeerWindowBits are
// 0 or a window size, 8 to 15 (RFC 7692 sections 7.1.2.1, 7.1.2.2);
// anything else is refused before the handshake, by Upgrade as a server
// error and by Dial.
func TestCompressionWindowOptionsChecked(t *testing.T) {
	for _, tc := range []struct {
		opts CompressionOptions
		bad  string // "" when valid, else what the error names
	}{
		{CompressionOptions{}, ""},
		{CompressionOptions{WindowBits: 8, PeerWindowBits: 8}, ""},
		{CompressionOptions{WindowBits: 15, PeerWindowBits: 15}, ""},
		{CompressionOptions{WindowBits: 11, PeerWindowBits: 0}, ""},
		{CompressionOptions{WindowBits: 7}, "WindowBits 7"},
		{CompressionOptions{WindowBits: 16}, "WindowBits 16"},
		{CompressionOptions{WindowBits: -1}, "WindowBits -1"},
		{CompressionOptions{WindowBits: 1}, "WindowBits 1"},
		{CompressionOptions{PeerWindowBits: 7}, "PeerWindowBits 7"},
		{CompressionOptions{PeerWindowBits: 16}, "PeerWindowBits 16"},
		{CompressionOptions{PeerWindowBits: -15}, "PeerWindowBits -15"},
		{CompressionOptions{Level: 12, WindowBits: 9}, "level 12"},
	} {
		err := checkCompressionOptions(&tc.opts)
		if tc.bad == "" && err != nil || tc.bad != "" && (err == nil || !strings.Contains(err.Error(), tc.bad)) {
			t.Errorf("%+v: %v, want an error naming %q", tc.opts, err, tc.bad)
		}
	}
	srv, _, errs := hsServer(t, &UpgradeOptions{Compression: &CompressionOptions{PeerWindowBits: 16}})
	ctx := ctCtx(t)
	_, resp, err := Dial(ctx, hsURL(srv), &DialOptions{Compression: &CompressionOptions{}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("Dial: %v, %v", resp, err)
	}
	if uerr := <-errs; uerr == nil || !strings.Contains(uerr.Error(), "PeerWindowBits 16") {
		t.Fatalf("Upgrade: %v", uerr)
	}
	if _, _, err := Dial(ctx, hsURL(srv), &DialOptions{Compression: &CompressionOptions{WindowBits: 7}}); err == nil || !strings.Contains(err.Error(), "WindowBits 7") {
		t.Fatalf("Dial with WindowBits 7: %v", err)
	}
}

// cpWindows returns the window c compresses with and the one it keeps to
// decompress the peer's messages.
func cpWindows(c *Conn) (own, peer int) { return c.deflate.windowBits, c.inflate.win.size }

// TestUpgradeWindowOptions: what a server answers, compresses with and
// keeps to decompress, for its window options and each offer (RFC 7692
// sections 7.1.2.1, 7.1.2.2).
func TestUpgradeWindowOptions(t *testing.T) {
	for _, tc := range []struct {
		name      string
		opts      CompressionOptions
		offer     string
		response  string
		own, peer int // the window compressed with, and the bytes kept
	}{
		{"defaults", CompressionOptions{}, "permessage-deflate; client_max_window_bits", "permessage-deflate", 15, 1 << 15},
		{"7.1.2.1 window asked", CompressionOptions{}, "permessage-deflate; server_max_window_bits=10", "permessage-deflate; server_max_window_bits=10", 10, 1 << 15},
		{"7.1.2.1 own window announced unasked", CompressionOptions{WindowBits: 12}, "permessage-deflate", "permessage-deflate; server_max_window_bits=12", 12, 1 << 15},
		{"7.1.2.1 own window 15 not announced", CompressionOptions{WindowBits: 15}, "permessage-deflate", "permessage-deflate", 15, 1 << 15},
		{"7.1.2.1 own window under the asked", CompressionOptions{WindowBits: 9}, "permessage-deflate; server_max_window_bits=12", "permessage-deflate; server_max_window_bits=9", 9, 1 << 15},
		{"7.1.2.1 asked window under the own", CompressionOptions{WindowBits: 12}, "permessage-deflate; server_max_window_bits=8", "permessage-deflate; server_max_window_bits=8", 8, 1 << 15},
		{"7.1.2.2 peer window not asked unless offered", CompressionOptions{PeerWindowBits: 10}, "permessage-deflate", "permessage-deflate", 15, 1 << 15},
		{"7.1.2.2 peer window asked when offered bare", CompressionOptions{PeerWindowBits: 10}, "permessage-deflate; client_max_window_bits", "permessage-deflate; client_max_window_bits=10", 15, 1 << 10},
		{"7.1.2.2 offered client window confirmed", CompressionOptions{}, "permessage-deflate; client_max_window_bits=11", "permessage-deflate; client_max_window_bits=11", 15, 1 << 11},
		{"7.1.2.2 offered client window under the asked", CompressionOptions{PeerWindowBits: 13}, "permessage-deflate; client_max_window_bits=11", "permessage-deflate; client_max_window_bits=11", 15, 1 << 11},
		{"7.1.2.2 8 bits kept as 9", CompressionOptions{PeerWindowBits: 8}, "permessage-deflate; client_max_window_bits", "permessage-deflate; client_max_window_bits=8", 15, 1 << 9},
		{"both ways", CompressionOptions{WindowBits: 9, PeerWindowBits: 9}, "permessage-deflate; client_max_window_bits; server_max_window_bits=14",
			"permessage-deflate; server_max_window_bits=9; client_max_window_bits=9", 9, 1 << 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			server, rp := ctRawClient(t, &UpgradeOptions{Compression: &opts}, tc.offer)
			if got := rp.Response.Header["Sec-Websocket-Extensions"]; len(got) != 1 || got[0] != tc.response || server.Extensions() != tc.response {
				t.Fatalf("answered %q, agreed %q; want %q", got, server.Extensions(), tc.response)
			}
			if own, peer := cpWindows(server); own != tc.own || peer != tc.peer {
				t.Fatalf("compresses with %d bits, keeps %d bytes; want %d, %d", own, peer, tc.own, tc.peer)
			}
		})
	}
}

// TestDialWindowOptions: what a client offers for its window options,
// and what it compresses with and keeps to decompress for each response,
// or why it fails the handshake (RFC 7692 sections 7.1.2.1, 7.1.2.2).
func TestDialWindowOptions(t *testing.T) {
	for _, tc := range []struct {
		name      string
		opts      CompressionOptions
		offer     string
		response  string
		own, peer int    // the window compressed with, and the bytes kept
		wantErr   string // the handshake fails with this
	}{
		{"defaults", CompressionOptions{}, "permessage-deflate; client_max_window_bits", "permessage-deflate", 15, 1 << 15, ""},
		{"own window offered", CompressionOptions{WindowBits: 10}, "permessage-deflate; client_max_window_bits=10", "permessage-deflate", 10, 1 << 15, ""},
		{"own window 15 offered bare", CompressionOptions{WindowBits: 15}, "permessage-deflate; client_max_window_bits", "permessage-deflate", 15, 1 << 15, ""},
		{"response's client window honoured", CompressionOptions{}, "permessage-deflate; client_max_window_bits", "permessage-deflate; client_max_window_bits=9", 9, 1 << 15, ""},
		{"own window under the response's", CompressionOptions{WindowBits: 8}, "permessage-deflate; client_max_window_bits=8", "permessage-deflate; client_max_window_bits=12", 8, 1 << 15, ""},
		{"response's window under the own", CompressionOptions{WindowBits: 12}, "permessage-deflate; client_max_window_bits=12", "permessage-deflate; client_max_window_bits=10", 10, 1 << 15, ""},
		{"peer window asked and granted", CompressionOptions{PeerWindowBits: 10}, "permessage-deflate; server_max_window_bits=10; client_max_window_bits", "permessage-deflate; server_max_window_bits=10", 15, 1 << 10, ""},
		{"peer window granted smaller", CompressionOptions{PeerWindowBits: 10}, "permessage-deflate; server_max_window_bits=10; client_max_window_bits", "permessage-deflate; server_max_window_bits=8", 15, 1 << 9, ""},
		{"peer window unasked", CompressionOptions{}, "permessage-deflate; client_max_window_bits", "permessage-deflate; server_max_window_bits=11", 15, 1 << 11, ""},
		{"peer window larger than asked", CompressionOptions{PeerWindowBits: 10}, "permessage-deflate; server_max_window_bits=10; client_max_window_bits", "permessage-deflate; server_max_window_bits=12", 0, 0, "server_max_window_bits=10"},
		{"peer window asked, not answered", CompressionOptions{PeerWindowBits: 10}, "permessage-deflate; server_max_window_bits=10; client_max_window_bits", "permessage-deflate", 0, 0, "server_max_window_bits=10"},
		{"client window without value", CompressionOptions{}, "permessage-deflate; client_max_window_bits", "permessage-deflate; client_max_window_bits", 0, 0, "has no value"},
		{"client window 7", CompressionOptions{}, "permessage-deflate; client_max_window_bits", "permessage-deflate; client_max_window_bits=7", 0, 0, "8 to 15"},
		{"server window 08", CompressionOptions{}, "permessage-deflate; client_max_window_bits", "permessage-deflate; server_max_window_bits=08", 0, 0, "8 to 15"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			offered := make(chan string, 1)
			s := rawpeer.Serve(t, func(nc net.Conn, br *bufio.Reader, r *http.Request, done <-chan struct{}) {
				offered <- strings.Join(r.Header["Sec-Websocket-Extensions"], " | ")
				io.WriteString(nc, rawpeer.Response(r, "Sec-WebSocket-Extensions: "+tc.response+"\r\n"))
				<-done
			})
			opts := tc.opts
			c, _, err := dtDial(t, s.URL("/ws"), &DialOptions{Compression: &opts})
			if got := <-offered; got != tc.offer {
				t.Errorf("offered %q, want %q", got, tc.offer)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Dial: %v, want an error about %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Extensions() != tc.response {
				t.Fatalf("agreed %q, want %q", c.Extensions(), tc.response)
			}
			if own, peer := cpWindows(c); own != tc.own || peer != tc.peer {
				t.Fatalf("compresses with %d bits, keeps %d bytes; want %d, %d", own, peer, tc.own, tc.peer)
			}
		})
	}
}

// TestCompressionWindowsAgree: a wsraise client and server with window
// options on either side agree on the same extension both ends, and each
// end's compressor uses the window the other keeps to decompress.
func TestCompressionWindowsAgree(t *testing.T) {
	for _, tc := range []struct {
		server, client CompressionOptions
		want           string
		sOwn, cOwn     int // the window each compresses with
	}{
		{CompressionOptions{}, CompressionOptions{}, "permessage-deflate", 15, 15},
		{CompressionOptions{WindowBits: 10}, CompressionOptions{}, "permessage-deflate; server_max_window_bits=10", 10, 15},
		{CompressionOptions{}, CompressionOptions{PeerWindowBits: 9}, "permessage-deflate; server_max_window_bits=9", 9, 15},
		{CompressionOptions{WindowBits: 12}, CompressionOptions{PeerWindowBits: 10}, "permessage-deflate; server_max_window_bits=10", 10, 15},
		{CompressionOptions{}, CompressionOptions{WindowBits: 11}, "permessage-deflate; client_max_window_bits=11", 15, 11},
		{CompressionOptions{PeerWindowBits: 9}, CompressionOptions{WindowBits: 11}, "permessage-deflate; client_max_window_bits=9", 15, 9},
		{CompressionOptions{PeerWindowBits: 10}, CompressionOptions{}, "permessage-deflate; client_max_window_bits=10", 15, 10},
		{CompressionOptions{WindowBits: 8, PeerWindowBits: 8}, CompressionOptions{WindowBits: 8, PeerWindowBits: 8},
			"permessage-deflate; server_max_window_bits=8; client_max_window_bits=8", 8, 8},
	} {
		t.Run(fmt.Sprintf("server=%s/client=%s", fmtOpts(&tc.server), fmtOpts(&tc.client)), func(t *testing.T) {
			server, client := ctPair(t, &UpgradeOptions{Compression: &tc.server}, &DialOptions{Compression: &tc.client})
			if server.Extensions() != tc.want || client.Extensions() != tc.want {
				t.Fatalf("agreed server %q, client %q; want %q", server.Extensions(), client.Extensions(), tc.want)
			}
			sOwn, sPeer := cpWindows(server)
			cOwn, cPeer := cpWindows(client)
			if sOwn != tc.sOwn || cOwn != tc.cOwn || 1<<max(sOwn, 9) != cPeer || 1<<max(cOwn, 9) != sPeer {
				t.Fatalf("server compresses with %d bits, keeps %d bytes; client %d bits, %d bytes", sOwn, sPeer, cOwn, cPeer)
			}
			// Then messages both ways with context takeover, each side
			// compressing with its window and inflating the other's:
			// chat messages that refer to the ones before, and documents
			// longer than any window.
			ctx := context.Background()
			go func() {
				var buf []byte
				for {
					typ, p, err := server.ReadAppend(ctx, buf[:0])
					if err != nil {
						return
					}
					buf = p
					if server.Write(ctx, typ, p) != nil {
						return
					}
				}
			}()
			for i := range 60 {
				msg := chatMessage(i)
				if i%20 == 19 {
					msg = jsonDocument(40000 + i)
				}
				if err := client.Write(ctx, MessageText, msg); err != nil {
					t.Fatal(err)
				}
				_, got, err := client.Read(ctx)
				if err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("message %d of %d bytes: echo of %d bytes, %v", i, len(msg), len(got), err)
				}
			}
		})
	}
}

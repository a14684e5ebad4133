package wsraise

// An independent RFC 6455 peer for the conformance suite in proto_test.go.
// It shares no code with wsproto: frames are built and parsed here from the
// RFC's section 5.2 diagram, so a bug in wsproto's codec cannot hide itself.

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
)

// Opcodes, RFC 6455 section 5.2.
const (
	opCont   = 0x0
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
)

// wait bounds every read of the peer: a server that never answers fails the
// case instead of hanging the suite. It is never used to synchronise.
const wait = 10 * time.Second

// frame is one WebSocket frame as it goes on the wire.
type frame struct {
	fin     bool
	rsv     byte // the three RSV bits, 0-7
	op      byte
	masked  bool
	key     [4]byte
	payload []byte
	// length, if not negative, is announced instead of len(payload), for
	// frames that lie about their size or are sent in part.
	length int64
}

// Frame builders.
func text(s string) frame        { return frame{fin: true, op: opText, payload: []byte(s), length: -1} }
func binaryFrame(b []byte) frame { return frame{fin: true, op: opBinary, payload: b, length: -1} }
func ping(b []byte) frame        { return frame{fin: true, op: opPing, payload: b, length: -1} }
func pong(b []byte) frame        { return frame{fin: true, op: opPong, payload: b, length: -1} }
func fragment(op byte, fin bool, s string) frame {
	return frame{fin: fin, op: op, payload: []byte(s), length: -1}
}

// closeFrame builds a close frame with a code and reason; code 0 means no
// payload at all.
func closeFrame(code uint16, reason string) frame {
	f := frame{fin: true, op: opClose, length: -1}
	if code != 0 {
		f.payload = binary.BigEndian.AppendUint16(nil, code)
		f.payload = append(f.payload, reason...)
	}
	return f
}

func (f frame) with(mod func(*frame)) frame { mod(&f); return f }

// encode writes f in the section 5.2 format, masking the payload with f.key
// when f.masked.
func (f frame) encode() []byte {
	b0 := f.op | f.rsv<<4
	if f.fin {
		b0 |= 0x80
	}
	n := f.length
	if n < 0 {
		n = int64(len(f.payload))
	}
	var mask byte
	if f.masked {
		mask = 0x80
	}
	out := []byte{b0}
	switch {
	case n <= 125:
		out = append(out, mask|byte(n))
	case n <= 0xFFFF:
		out = append(out, mask|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, mask|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if f.masked {
		out = append(out, f.key[:]...)
	}
	start := len(out)
	out = append(out, f.payload...)
	if f.masked {
		for i := range f.payload {
			out[start+i] ^= f.key[i%4]
		}
	}
	return out
}

// readFrame reads one frame and unmasks it. It checks only what it needs
// to parse; the peer's expectations check the rest.
func readFrame(r *bufio.Reader) (frame, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return frame{}, err
	}
	f := frame{fin: h[0]&0x80 != 0, rsv: h[0] >> 4 & 7, op: h[0] & 0xF, masked: h[1]&0x80 != 0}
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 64<<20 {
		return f, fmt.Errorf("frame announces %d bytes", n)
	}
	if f.masked {
		if _, err := io.ReadFull(r, f.key[:]); err != nil {
			return f, err
		}
	}
	f.length = int64(n)
	f.payload = make([]byte, n)
	if _, err := io.ReadFull(r, f.payload); err != nil {
		return f, err
	}
	if f.masked {
		for i := range f.payload {
			f.payload[i] ^= f.key[i%4]
		}
	}
	return f, nil
}

// peer is one end of a raw WebSocket connection, the other end being the
// wsraise code under test. As a client it masks what it sends and expects
// unmasked frames; as a server, the reverse.
type peer struct {
	t      testing.TB
	nc     net.Conn
	br     *bufio.Reader
	client bool
	keys   map[[4]byte]int // masking keys seen from the wsraise client
}

// send writes frames in a single write, masking them as a client must.
func (p *peer) send(frames ...frame) {
	p.t.Helper()
	p.write(p.encode(frames...))
}

// sendChopped writes frames in writes of chunk bytes each, so the other end
// sees headers and payloads split at arbitrary points.
func (p *peer) sendChopped(chunk int, frames ...frame) {
	p.t.Helper()
	b := p.encode(frames...)
	for len(b) > 0 {
		n := min(chunk, len(b))
		p.write(b[:n])
		b = b[n:]
	}
}

// sendEach writes each frame in its own write.
func (p *peer) sendEach(frames ...frame) {
	p.t.Helper()
	for _, f := range frames {
		p.send(f)
	}
}

func (p *peer) encode(frames ...frame) []byte {
	var b []byte
	for _, f := range frames {
		if p.client {
			f.masked = true
			if _, err := rand.Read(f.key[:]); err != nil {
				p.t.Fatal(err)
			}
		}
		b = append(b, f.encode()...)
	}
	return b
}

func (p *peer) write(b []byte) {
	p.t.Helper()
	p.nc.SetWriteDeadline(time.Now().Add(wait))
	if _, err := p.nc.Write(b); err != nil {
		p.t.Fatalf("peer write: %v", err)
	}
}

// next reads the next frame and checks what RFC 6455 requires of every
// frame wsraise sends.
func (p *peer) next() frame {
	p.t.Helper()
	p.nc.SetReadDeadline(time.Now().Add(wait))
	f, err := readFrame(p.br)
	if err != nil {
		p.t.Fatalf("want a frame, got %v", err)
	}
	// Section 5.1: a server never masks; a client masks every frame.
	if f.masked == p.client {
		p.t.Fatalf("frame masked=%v from the %s", f.masked, map[bool]string{true: "server", false: "client"}[p.client])
	}
	if f.masked {
		p.keys[f.key]++
	}
	// Section 5.2: no RSV bit without an extension; known opcodes only.
	if f.rsv != 0 {
		p.t.Fatalf("frame with RSV bits %03b", f.rsv)
	}
	switch f.op {
	case opCont, opText, opBinary, opClose, opPing, opPong:
	default:
		p.t.Fatalf("frame with reserved opcode %#x", f.op)
	}
	// Section 5.5: control frames are short and never fragmented.
	if f.op >= opClose && (!f.fin || len(f.payload) > 125) {
		p.t.Fatalf("control frame %#x fin=%v len=%d", f.op, f.fin, len(f.payload))
	}
	return f
}

// expectMessage reads one data message, reassembling fragments, and
// compares it with want.
func (p *peer) expectMessage(op byte, want []byte) {
	p.t.Helper()
	f := p.next()
	if f.op != op {
		p.t.Fatalf("want message opcode %#x, got frame %#x %q", op, f.op, trunc(f.payload))
	}
	got := f.payload
	for !f.fin {
		f = p.next()
		if f.op != opCont {
			p.t.Fatalf("want a continuation frame, got %#x", f.op)
		}
		got = append(got, f.payload...)
	}
	if op == opText && !utf8.Valid(got) {
		p.t.Fatalf("text message is not valid UTF-8")
	}
	if !bytes.Equal(got, want) {
		p.t.Fatalf("message differs: got %d bytes %q, want %d bytes %q", len(got), trunc(got), len(want), trunc(want))
	}
}

func (p *peer) expectText(s string) { p.t.Helper(); p.expectMessage(opText, []byte(s)) }

// expectPong reads a pong frame with the given payload.
func (p *peer) expectPong(want []byte) {
	p.t.Helper()
	f := p.next()
	if f.op != opPong || !bytes.Equal(f.payload, want) {
		p.t.Fatalf("want pong %q, got frame %#x %q", trunc(want), f.op, trunc(f.payload))
	}
}

// expectClose reads a close frame, checks its payload (section 5.5.1) and
// that its code is want (0: no payload), answers it, and expects the TCP
// connection to end. Unless the other side is a client, which waits for the
// server to close TCP first (section 7.1.1), it then closes TCP itself.
func (p *peer) expectClose(want uint16) (reason string) {
	p.t.Helper()
	code, reason := p.readClose()
	if code != want {
		p.t.Fatalf("close code %d %q, want %d", code, reason, want)
	}
	p.answerClose(code)
	return reason
}

// readClose reads the next frame, which must be a close frame.
func (p *peer) readClose() (uint16, string) {
	p.t.Helper()
	f := p.next()
	if f.op != opClose {
		p.t.Fatalf("want a close frame, got %#x %q", f.op, trunc(f.payload))
	}
	var code uint16
	reason := ""
	switch len(f.payload) {
	case 0:
	case 1:
		p.t.Fatalf("close frame with a 1-byte payload")
	default:
		code = binary.BigEndian.Uint16(f.payload)
		reason = string(f.payload[2:])
		// Section 7.4: only these codes may be sent.
		if !(code >= 1000 && code <= 1003 || code >= 1007 && code <= 1014 || code >= 3000 && code <= 4999) {
			p.t.Fatalf("close frame with code %d, not allowed on the wire", code)
		}
		if !utf8.ValidString(reason) {
			p.t.Fatalf("close reason is not UTF-8: %q", reason)
		}
	}
	return code, reason
}

// answerClose echoes a close and waits for the end of the connection.
func (p *peer) answerClose(code uint16) {
	p.t.Helper()
	f := closeFrame(code, "")
	// The other end may already have closed TCP after failing the
	// connection; a write error is then expected.
	p.nc.SetWriteDeadline(time.Now().Add(wait))
	p.nc.Write(p.encode(f))
	if p.client {
		// The server closes TCP first (section 7.1.1).
		p.expectEOF()
		return
	}
	// A server closes TCP once it has both closes.
	p.nc.Close()
}

// expectEOF reads until the connection ends, which must happen without
// any further frame.
func (p *peer) expectEOF() {
	p.t.Helper()
	p.nc.SetReadDeadline(time.Now().Add(wait))
	b, err := p.br.ReadByte()
	if err == nil {
		p.t.Fatalf("want the end of the connection, got byte %#x", b)
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		p.t.Fatalf("want the end of the connection, got %v", err)
	}
}

// closeNormally ends a case that did not close: a close 1000 must be echoed.
func (p *peer) closeNormally() {
	p.t.Helper()
	p.send(closeFrame(1000, "done"))
	code, _ := p.readClose()
	if code != 1000 {
		p.t.Fatalf("close echo %d, want 1000", code)
	}
	p.expectEOF()
}

func trunc(b []byte) []byte {
	if len(b) > 40 {
		return append(b[:40:40], "..."...)
	}
	return b
}

// acceptKey computes Sec-WebSocket-Accept (section 4.2.2, step 5.4).
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// dialRaw opens a TCP connection to addr and performs the client side of
// the opening handshake (section 4.1) by hand, with extra sent right after
// the request in the same write.
func dialRaw(t testing.TB, addr, path string, extra []byte) *peer {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	var k [16]byte
	rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	p := &peer{t: t, nc: nc, br: bufio.NewReader(nc), client: true, keys: map[[4]byte]int{}}
	p.write(append([]byte(req), p.encode(decodeFrames(extra)...)...))
	nc.SetReadDeadline(time.Now().Add(wait))
	resp, err := http.ReadResponse(p.br, nil)
	if err != nil {
		t.Fatalf("handshake response: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake status %d", resp.StatusCode)
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != acceptKey(key) {
		t.Fatalf("Sec-WebSocket-Accept %q, want %q", got, acceptKey(key))
	}
	if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") || !strings.EqualFold(resp.Header.Get("Connection"), "upgrade") {
		t.Fatalf("handshake headers %v", resp.Header)
	}
	return p
}

// decodeFrames is the identity for nil: dialRaw's extra bytes are given as
// unmasked frames in a test and masked here.
func decodeFrames(b []byte) []frame {
	var out []frame
	r := bufio.NewReader(bytes.NewReader(b))
	for {
		f, err := readFrame(r)
		if err != nil {
			return out
		}
		f.length = -1
		out = append(out, f)
	}
}

// rawServer accepts one TCP connection, answers the opening handshake by
// hand and returns the peer, for driving the wsraise client.
type rawServer struct {
	ln    net.Listener
	peers chan *peer
	t     testing.TB
}

func newRawServer(t testing.TB, respond func(r *http.Request) string) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln, peers: make(chan *peer, 1), t: t}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			br := bufio.NewReader(nc)
			nc.SetReadDeadline(time.Now().Add(wait))
			r, err := http.ReadRequest(br)
			if err != nil {
				nc.Close()
				continue
			}
			resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
				"Sec-WebSocket-Accept: " + acceptKey(r.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n"
			if respond != nil {
				resp = respond(r)
			}
			nc.Write([]byte(resp))
			s.peers <- &peer{t: t, nc: nc, br: br, keys: map[[4]byte]int{}}
		}
	}()
	return s
}

func (s *rawServer) url() string { return "ws://" + s.ln.Addr().String() + "/" }

func (s *rawServer) accept() *peer {
	s.t.Helper()
	select {
	case p := <-s.peers:
		s.t.Cleanup(func() { p.nc.Close() })
		return p
	case <-time.After(wait):
		s.t.Fatal("no connection to the raw server")
		return nil
	}
}

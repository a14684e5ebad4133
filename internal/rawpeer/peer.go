package rawpeer

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
)

// Wait bounds every read and write of a Peer: a wsraise end that never
// answers fails the test instead of hanging it. It is never used to
// synchronise.
const Wait = 10 * time.Second

// Peer is one end of a WebSocket connection, driven frame by frame; the
// other end is the code under test. As a client it masks what it sends
// and expects unmasked frames; as a server, the reverse (section 5.1).
//
// Its methods, but for ReadFrame and Encode, fail the test on an error:
// call them from the test's goroutine only.
type Peer struct {
	T      testing.TB
	Conn   net.Conn
	R      *bufio.Reader // reads Conn
	Client bool
	// Response is the server's answer to a client's opening handshake.
	Response *http.Response
	// Keys counts the masking keys Next has seen, on a server's Peer.
	Keys map[[4]byte]int
}

// Send writes frames in a single write, masked if p is a client.
func (p *Peer) Send(frames ...Frame) {
	p.T.Helper()
	p.Write(p.Encode(frames...))
}

// SendChopped writes frames in writes of chunk bytes each, so that the
// other end sees headers and payloads split at arbitrary points.
func (p *Peer) SendChopped(chunk int, frames ...Frame) {
	p.T.Helper()
	b := p.Encode(frames...)
	for len(b) > 0 {
		n := min(chunk, len(b))
		p.Write(b[:n])
		b = b[n:]
	}
}

// SendEach writes each frame in a write of its own.
func (p *Peer) SendEach(frames ...Frame) {
	p.T.Helper()
	for _, f := range frames {
		p.Send(f)
	}
}

// Encode returns the bytes of frames as p sends them: a client masks
// each with a fresh key (section 5.3); a server sends them as they are.
func (p *Peer) Encode(frames ...Frame) []byte {
	var b []byte
	for _, f := range frames {
		if p.Client {
			f = f.Mask()
		}
		b = append(b, f.Encode()...)
	}
	return b
}

// Write writes b as it is.
func (p *Peer) Write(b []byte) {
	p.T.Helper()
	p.Conn.SetWriteDeadline(time.Now().Add(Wait))
	if _, err := p.Conn.Write(b); err != nil {
		p.T.Fatalf("rawpeer: write: %v", err)
	}
}

// ReadFrame reads the next frame, waiting up to timeout. A frame masked
// the wrong way for its sender is an error (section 5.1): a server never
// masks, a client always does.
func (p *Peer) ReadFrame(timeout time.Duration) (Frame, error) {
	p.Conn.SetReadDeadline(time.Now().Add(timeout))
	defer p.Conn.SetReadDeadline(time.Time{})
	f, err := ReadFrame(p.R)
	if err == nil && f.Masked == p.Client {
		err = fmt.Errorf("rawpeer: frame %#x masked=%v from the %s", f.Op, f.Masked, p.other())
	}
	return f, err
}

func (p *Peer) other() string {
	if p.Client {
		return "server"
	}
	return "client"
}

// Next reads the next frame and checks what RFC 6455 requires of every
// frame, with no extension agreed.
func (p *Peer) Next() Frame {
	p.T.Helper()
	f, err := p.ReadFrame(Wait)
	if err != nil {
		p.T.Fatalf("rawpeer: want a frame, got %v", err)
	}
	if f.Masked {
		if p.Keys == nil {
			p.Keys = map[[4]byte]int{}
		}
		p.Keys[f.Key]++
	}
	// Section 5.2: no RSV bit without an extension; known opcodes only.
	if f.RSV != 0 {
		p.T.Fatalf("rawpeer: frame with RSV bits %03b", f.RSV)
	}
	switch f.Op {
	case OpCont, OpText, OpBinary, OpClose, OpPing, OpPong:
	default:
		p.T.Fatalf("rawpeer: frame with reserved opcode %#x", f.Op)
	}
	// Section 5.5: control frames are short and never fragmented.
	if f.Op >= OpClose && (!f.Fin || len(f.Payload) > 125) {
		p.T.Fatalf("rawpeer: control frame %#x fin=%v len=%d", f.Op, f.Fin, len(f.Payload))
	}
	return f
}

// ExpectMessage reads one data message, joining its fragments (section
// 5.4), and compares it with want.
func (p *Peer) ExpectMessage(op byte, want []byte) {
	p.T.Helper()
	f := p.Next()
	if f.Op != op {
		p.T.Fatalf("rawpeer: want message opcode %#x, got frame %#x %.40q", op, f.Op, f.Payload)
	}
	got := f.Payload
	for !f.Fin {
		f = p.Next()
		if f.Op != OpCont {
			p.T.Fatalf("rawpeer: want a continuation frame, got %#x", f.Op)
		}
		got = append(got, f.Payload...)
	}
	// Section 5.6: text is UTF-8.
	if op == OpText && !utf8.Valid(got) {
		p.T.Fatalf("rawpeer: text message is not valid UTF-8")
	}
	if !bytes.Equal(got, want) {
		p.T.Fatalf("rawpeer: message differs: got %d bytes %.40q, want %d bytes %.40q", len(got), got, len(want), want)
	}
}

// ExpectText reads one text message, which must be s.
func (p *Peer) ExpectText(s string) { p.T.Helper(); p.ExpectMessage(OpText, []byte(s)) }

// ExpectPong reads a pong, which must carry want (section 5.5.3).
func (p *Peer) ExpectPong(want []byte) {
	p.T.Helper()
	f := p.Next()
	if f.Op != OpPong || !bytes.Equal(f.Payload, want) {
		p.T.Fatalf("rawpeer: want pong %.40q, got frame %#x %.40q", want, f.Op, f.Payload)
	}
}

// ReadClose reads the next frame, which must be a close frame, and
// returns its code (0 for none) and reason.
func (p *Peer) ReadClose() (code uint16, reason string) {
	p.T.Helper()
	f := p.Next()
	if f.Op != OpClose {
		p.T.Fatalf("rawpeer: want a close frame, got %#x %.40q", f.Op, f.Payload)
	}
	// Section 5.5.1: no payload, or a code and a UTF-8 reason.
	switch len(f.Payload) {
	case 0:
	case 1:
		p.T.Fatalf("rawpeer: close frame with a 1-byte payload")
	default:
		code = binary.BigEndian.Uint16(f.Payload)
		reason = string(f.Payload[2:])
		// Section 7.4: only these codes may be sent.
		if !(code >= 1000 && code <= 1003 || code >= 1007 && code <= 1014 || code >= 3000 && code <= 4999) {
			p.T.Fatalf("rawpeer: close frame with code %d, not allowed on the wire", code)
		}
		if !utf8.ValidString(reason) {
			p.T.Fatalf("rawpeer: close reason is not UTF-8: %q", reason)
		}
	}
	return code, reason
}

// ExpectClose reads a close frame whose code must be want (0: no
// payload), answers it and waits for the end (AnswerClose). It returns
// the reason.
func (p *Peer) ExpectClose(want uint16) (reason string) {
	p.T.Helper()
	code, reason := p.ReadClose()
	if code != want {
		p.T.Fatalf("rawpeer: close code %d %q, want %d", code, reason, want)
	}
	p.AnswerClose(code)
	return reason
}

// AnswerClose sends a close frame with code, as the answer to the other
// side's (section 5.5.1), and ends the connection as section 7.1.1 says:
// a server closes TCP first, so a client waits for that; a server closes
// TCP now.
func (p *Peer) AnswerClose(code uint16) {
	p.T.Helper()
	// The other end may already have closed TCP after failing the
	// connection; a write error is then expected.
	p.Conn.SetWriteDeadline(time.Now().Add(Wait))
	p.Conn.Write(p.Encode(Close(code, "")))
	if p.Client {
		p.ExpectEOF()
		return
	}
	p.Conn.Close()
}

// ExpectEOF reads until the connection ends, which must happen without
// another byte.
func (p *Peer) ExpectEOF() {
	p.T.Helper()
	p.Conn.SetReadDeadline(time.Now().Add(Wait))
	b, err := p.R.ReadByte()
	if err == nil {
		p.T.Fatalf("rawpeer: want the end of the connection, got byte %#x", b)
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		p.T.Fatalf("rawpeer: want the end of the connection, got %v", err)
	}
}

// CloseNormally ends an exchange that did not close: a client's close
// 1000 must be echoed (section 5.5.1), then the server closes TCP.
func (p *Peer) CloseNormally() {
	p.T.Helper()
	p.Send(Close(1000, "done"))
	if code, _ := p.ReadClose(); code != 1000 {
		p.T.Fatalf("rawpeer: close echo %d, want 1000", code)
	}
	p.ExpectEOF()
}

// SkipToClose reads frames, skipping data and pings without answering
// them, until a close frame, and returns its payload.
func (p *Peer) SkipToClose() []byte {
	p.T.Helper()
	for {
		f, err := p.ReadFrame(Wait)
		if err != nil {
			p.T.Fatalf("rawpeer: waiting for a close frame: %v", err)
		}
		if f.Op == OpClose {
			return f.Payload
		}
	}
}

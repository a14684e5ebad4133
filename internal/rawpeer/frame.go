// Package rawpeer is a WebSocket peer written by hand from RFC 6455, for
// testing wsraise against code it shares nothing with: it imports only the
// standard library, so a bug in wsraise's codec cannot hide itself by being
// on both ends. Every rule it relies on names its section of the RFC.
//
// Frames (this file) are built and parsed from the section 5.2 diagram:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-------+-+-------------+-------------------------------+
//	|F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//	|I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//	|N|V|V|V|       |S|             |   (if payload len==126/127)   |
//	| |1|2|3|       |K|             |                               |
//	+-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//	|     Extended payload length continued, if payload len == 127  |
//	+ - - - - - - - - - - - - - - - +-------------------------------+
//	|                               |Masking-key, if MASK set to 1  |
//	+-------------------------------+-------------------------------+
//	| Masking-key (continued)       |          Payload Data         |
//	+-------------------------------- - - - - - - - - - - - - - - - +
//
// A Peer (peer.go) sends and reads them on one connection, as a client
// (Dial, dial.go) or as a server (Listen, server.go); Serve runs a server
// of the test's own on goroutines of its own.
package rawpeer

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
)

// Opcodes, section 5.2. Those from 0x8 up are control frames (section 5.5).
const (
	OpCont   byte = 0x0
	OpText   byte = 0x1
	OpBinary byte = 0x2
	OpClose  byte = 0x8
	OpPing   byte = 0x9
	OpPong   byte = 0xA
)

// The reserved bits as Frame.RSV holds them. They must be 0 unless an
// extension gives them a meaning (section 5.2): permessage-deflate sets
// RSV1 on the first frame of a compressed message (RFC 7692 section 6).
const (
	RSV1 byte = 4
	RSV2 byte = 2
	RSV3 byte = 1
)

// maxRead bounds the payload ReadFrame accepts; no test needs more, and a
// garbled length must not make it allocate gigabytes.
const maxRead = 64 << 20

// Frame is one frame as it goes on the wire.
type Frame struct {
	Fin     bool // the last frame of its message (section 5.4)
	RSV     byte // RSV1 | RSV2 | RSV3
	Op      byte
	Masked  bool    // the payload is masked with Key (section 5.3)
	Key     [4]byte // the masking key
	Payload []byte  // unmasked
	// Length, if not 0, is announced instead of len(Payload): for frames
	// that lie about their size or are sent in part.
	Length uint64
}

// Text is a final text frame; s should be UTF-8 (section 5.6).
func Text(s string) Frame { return Frame{Fin: true, Op: OpText, Payload: []byte(s)} }

// Binary is a final binary frame.
func Binary(b []byte) Frame { return Frame{Fin: true, Op: OpBinary, Payload: b} }

// Ping is a ping with payload b (section 5.5.2).
func Ping(b []byte) Frame { return Frame{Fin: true, Op: OpPing, Payload: b} }

// Pong is a pong with payload b (section 5.5.3).
func Pong(b []byte) Frame { return Frame{Fin: true, Op: OpPong, Payload: b} }

// Fragment is one frame of a fragmented message (section 5.4): the first
// has the message's opcode, the others OpCont; only the last has fin.
func Fragment(op byte, fin bool, s string) Frame {
	return Frame{Fin: fin, Op: op, Payload: []byte(s)}
}

// Close is a close frame with code and reason; code 0 sends no payload at
// all (section 5.5.1).
func Close(code uint16, reason string) Frame {
	f := Frame{Fin: true, Op: OpClose}
	if code != 0 {
		f.Payload = ClosePayload(code, reason)
	}
	return f
}

// ClosePayload is the payload of a close frame: the code in two bytes,
// big-endian, then the reason (section 5.5.1).
func ClosePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// Mask returns f masked with a fresh random key, as a client sends every
// frame (sections 5.1 and 5.3).
func (f Frame) Mask() Frame {
	f.Masked = true
	rand.Read(f.Key[:])
	return f
}

// Encode returns the bytes of f.
func (f Frame) Encode() []byte {
	b0 := f.RSV<<4 | f.Op&0xF
	if f.Fin {
		b0 |= 0x80
	}
	n := f.Length
	if n == 0 {
		n = uint64(len(f.Payload))
	}
	var mask byte
	if f.Masked {
		mask = 0x80
	}
	// The length in the fewest bytes: 7 bits, or 126 and 16 bits, or 127
	// and 64 bits (section 5.2).
	out := []byte{b0}
	switch {
	case n <= 125:
		out = append(out, mask|byte(n))
	case n <= 0xFFFF:
		out = binary.BigEndian.AppendUint16(append(out, mask|126), uint16(n))
	default:
		out = binary.BigEndian.AppendUint64(append(out, mask|127), n)
	}
	if f.Masked {
		out = append(out, f.Key[:]...)
	}
	start := len(out)
	out = append(out, f.Payload...)
	if f.Masked {
		maskBytes(f.Key, out[start:])
	}
	return out
}

// maskBytes masks or unmasks b: byte i is XORed with key[i%4] (section
// 5.3).
func maskBytes(key [4]byte, b []byte) {
	for i := range b {
		b[i] ^= key[i%4]
	}
}

// ReadFrame reads one frame from r and unmasks its payload. It checks
// only what it needs to parse; Peer.Next checks the rest.
func ReadFrame(r io.Reader) (Frame, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return Frame{}, err
	}
	f := Frame{Fin: h[0]&0x80 != 0, RSV: h[0] >> 4 & 7, Op: h[0] & 0xF, Masked: h[1]&0x80 != 0}
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
	if n > maxRead {
		return f, fmt.Errorf("rawpeer: frame announces %d bytes", n)
	}
	if f.Masked {
		if _, err := io.ReadFull(r, f.Key[:]); err != nil {
			return f, err
		}
	}
	f.Payload = make([]byte, n)
	if _, err := io.ReadFull(r, f.Payload); err != nil {
		return f, err
	}
	if f.Masked {
		maskBytes(f.Key, f.Payload)
	}
	return f, nil
}

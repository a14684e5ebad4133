package wsproto

import (
	"encoding/binary"
	"errors"
	"strconv"
)

// opcode is a frame's opcode (RFC 6455 section 5.2).
type opcode byte

const (
	opContinuation opcode = 0x0
	opText         opcode = 0x1
	opBinary       opcode = 0x2
	opClose        opcode = 0x8
	opPing         opcode = 0x9
	opPong         opcode = 0xA
)

// isControl reports a control opcode: the most significant opcode bit is set
// (section 5.5).
func (op opcode) isControl() bool { return op&0x8 != 0 }

// MessageType is the type of a data message: text or binary.
type MessageType int

const (
	MessageText   MessageType = MessageType(opText)
	MessageBinary MessageType = MessageType(opBinary)
)

func (t MessageType) String() string {
	switch t {
	case MessageText:
		return "text"
	case MessageBinary:
		return "binary"
	}
	return "MessageType(" + strconv.Itoa(int(t)) + ")"
}

// RSV bits in the first header byte.
const (
	rsv1 = 0x40
	rsv2 = 0x20
	rsv3 = 0x10
)

// maxHeaderSize is 2 bytes, 8 of extended length and 4 of masking key.
const maxHeaderSize = 14

// maxControlPayload: "All control frames MUST have a payload length of 125
// bytes or less" (section 5.5).
const maxControlPayload = 125

// header is a decoded frame header (section 5.2).
type header struct {
	fin    bool
	rsv    byte // the RSV bits as they sit in the first byte (0x70 mask)
	op     opcode
	masked bool
	key    [4]byte
	length int64
}

var errShortHeader = errors.New("websocket: short frame header")

// headerSize returns the size of the header that starts with bytes b0 b1.
func headerSize(b1 byte) int {
	n := 2
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}

// parseHeader decodes the frame header at the start of b and returns it with
// its size. It returns errShortHeader if b holds less than a whole header,
// and a *CloseError (1002) if the length is encoded against section 5.2.
// Rules that depend on the connection's state live in check.go.
func parseHeader(b []byte) (header, int, error) {
	var h header
	if len(b) < 2 {
		return h, 0, errShortHeader
	}
	n := headerSize(b[1])
	if len(b) < n {
		return h, 0, errShortHeader
	}
	h.fin = b[0]&0x80 != 0
	h.rsv = b[0] & (rsv1 | rsv2 | rsv3)
	h.op = opcode(b[0] & 0x0f)
	h.masked = b[1]&0x80 != 0
	i := 2
	switch l := b[1] & 0x7f; l {
	case 126:
		h.length = int64(binary.BigEndian.Uint16(b[2:]))
		i += 2
		// Section 5.2: "the minimal number of bytes MUST be used to encode
		// the length".
		if h.length < 126 {
			return h, 0, protocolError("frame length not minimally encoded")
		}
	case 127:
		u := binary.BigEndian.Uint64(b[2:])
		i += 8
		// Section 5.2: "the most significant bit MUST be 0".
		if u>>63 != 0 {
			return h, 0, protocolError("frame length has the most significant bit set")
		}
		if u <= 0xffff {
			return h, 0, protocolError("frame length not minimally encoded")
		}
		h.length = int64(u)
	default:
		h.length = int64(l)
	}
	if h.masked {
		copy(h.key[:], b[i:i+4])
	}
	return h, n, nil
}

// appendHeader appends the encoding of h to dst, with the shortest length
// form (section 5.2).
func appendHeader(dst []byte, h header) []byte {
	b0 := byte(h.op) | h.rsv
	if h.fin {
		b0 |= 0x80
	}
	var b1 byte
	if h.masked {
		b1 = 0x80
	}
	switch {
	case h.length < 126:
		dst = append(dst, b0, b1|byte(h.length))
	case h.length <= 0xffff:
		dst = append(dst, b0, b1|126, byte(h.length>>8), byte(h.length))
	default:
		dst = append(dst, b0, b1|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(h.length))
	}
	if h.masked {
		dst = append(dst, h.key[:]...)
	}
	return dst
}

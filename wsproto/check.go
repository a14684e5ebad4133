package wsproto

// The rules a received frame header must follow given the connection's
// state. Each one fails the connection with 1002 (RFC 6455 section 7.4.1).

// checkHeader validates h, received by a server if server is true, while a
// fragmented message is in progress if fragmented is true. allowedRSV holds
// the RSV bits a negotiated extension defines.
func checkHeader(h *header, server, fragmented bool, allowedRSV byte) *CloseError {
	// Section 5.2: "MUST be 0 unless an extension is negotiated that
	// defines meanings for non-zero values".
	if h.rsv&^allowedRSV != 0 {
		return protocolError("reserved bits set without an extension")
	}
	// Section 5.1: "The server MUST close the connection upon receiving a
	// frame that is not masked"; "A client MUST close a connection if it
	// detects a masked frame".
	if server && !h.masked {
		return protocolError("client frame is not masked")
	}
	if !server && h.masked {
		return protocolError("server frame is masked")
	}
	switch h.op {
	case opContinuation:
		// Section 5.4: a continuation frame continues a fragmented message.
		if !fragmented {
			return protocolError("continuation frame with nothing to continue")
		}
		// RFC 7692 section 6.1: "An endpoint MUST NOT set the "Per-Message
		// Compressed" bit of control frames and non-first fragments of a
		// data message."
		if h.rsv&rsv1 != 0 {
			return protocolError("RSV1 set on a continuation frame")
		}
	case opText, opBinary:
		// Section 5.4: "fragments of one message MUST NOT be interleaved
		// between the fragments of another message".
		if fragmented {
			return protocolError("new data frame inside a fragmented message")
		}
	case opClose, opPing, opPong:
		// Section 5.5: control frames are at most 125 bytes and "MUST NOT
		// be fragmented".
		if h.length > maxControlPayload {
			return protocolError("control frame payload over 125 bytes")
		}
		if !h.fin {
			return protocolError("fragmented control frame")
		}
		// Section 5.5 / RFC 7692 section 6.1: RSV1 is never set on a
		// control frame, even with permessage-deflate.
		if h.rsv != 0 {
			return protocolError("reserved bits set on a control frame")
		}
	default:
		// Section 5.2: opcodes 0x3-0x7 and 0xB-0xF are reserved; "If an
		// unknown opcode is received, the receiving endpoint MUST _Fail
		// the WebSocket Connection_".
		return protocolError("reserved opcode")
	}
	return nil
}

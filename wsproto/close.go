package wsproto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// StatusCode is a close status code (RFC 6455 section 7.4).
type StatusCode uint16

// The registered status codes (RFC 6455 section 7.4.1 and the IANA
// "WebSocket Close Code Number Registry").
const (
	StatusNormalClosure   StatusCode = 1000
	StatusGoingAway       StatusCode = 1001
	StatusProtocolError   StatusCode = 1002
	StatusUnsupportedData StatusCode = 1003
	// 1004 is reserved and has no meaning.
	StatusNoStatusRcvd       StatusCode = 1005 // never on the wire: the close frame had no code
	StatusAbnormalClosure    StatusCode = 1006 // never on the wire: no close frame at all
	StatusInvalidPayload     StatusCode = 1007 // e.g. invalid UTF-8 in a text message
	StatusPolicyViolation    StatusCode = 1008
	StatusMessageTooBig      StatusCode = 1009
	StatusMandatoryExtension StatusCode = 1010
	StatusInternalError      StatusCode = 1011
	StatusServiceRestart     StatusCode = 1012
	StatusTryAgainLater      StatusCode = 1013
	StatusBadGateway         StatusCode = 1014
	StatusTLSHandshake       StatusCode = 1015 // never on the wire
)

// MaxCloseReason is the longest close reason, in bytes: a control frame
// payload is at most 125 bytes (RFC 6455 section 5.5), two of which are the code.
const MaxCloseReason = 123

var statusNames = map[StatusCode]string{
	StatusNormalClosure:      "normal closure",
	StatusGoingAway:          "going away",
	StatusProtocolError:      "protocol error",
	StatusUnsupportedData:    "unsupported data",
	StatusNoStatusRcvd:       "no status received",
	StatusAbnormalClosure:    "abnormal closure",
	StatusInvalidPayload:     "invalid payload data",
	StatusPolicyViolation:    "policy violation",
	StatusMessageTooBig:      "message too big",
	StatusMandatoryExtension: "mandatory extension",
	StatusInternalError:      "internal error",
	StatusServiceRestart:     "service restart",
	StatusTryAgainLater:      "try again later",
	StatusBadGateway:         "bad gateway",
	StatusTLSHandshake:       "TLS handshake",
}

// String returns the code and its registered name, as in "1008 (policy violation)".
func (c StatusCode) String() string {
	if name, ok := statusNames[c]; ok {
		return strconv.Itoa(int(c)) + " (" + name + ")"
	}
	return strconv.Itoa(int(c))
}

// Valid reports whether c may be sent in a close frame.
//
// RFC 6455 section 7.4.1: 1004, 1005, 1006 and 1015 MUST NOT be set as a
// status code in a Close frame. Section 7.4.2: 0-999 are not used, 1000-2999
// are reserved for the protocol and its extensions (only the registered ones
// may appear), 3000-3999 are registered by libraries and frameworks, 4000-4999
// are for private use.
func (c StatusCode) Valid() bool {
	switch {
	case c >= 1000 && c <= 1003:
		return true
	case c >= 1007 && c <= 1014:
		return true
	case c >= 3000 && c <= 4999:
		return true
	}
	return false
}

// CloseError is the error a read or write returns once the connection is
// closing: it tells the close code and reason, and who chose them.
//
// Received is true when the peer sent the close frame first, with this code
// and reason (Code is StatusNoStatusRcvd when its frame carried no code).
// Received is false when this endpoint chose the code: it sent a close frame
// because the peer broke the protocol (1002, 1007, 1009), because Close was
// called, or, for StatusAbnormalClosure, the connection ended with no close
// frame at all.
type CloseError struct {
	Code     StatusCode
	Reason   string
	Received bool
	// Err is the underlying cause, if any: the protocol violation that made
	// this side close, or the I/O error for StatusAbnormalClosure.
	Err error
}

func (e *CloseError) Error() string {
	var s string
	switch {
	case e.Code == StatusAbnormalClosure:
		s = "websocket: connection ended without a close frame"
	case e.Received:
		s = "websocket: peer closed with " + e.Code.String()
	default:
		s = "websocket: closed with " + e.Code.String()
	}
	if e.Reason != "" {
		s += ": " + strconv.Quote(e.Reason)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *CloseError) Unwrap() error { return e.Err }

// CloseStatus returns the close code carried by err, found with errors.As,
// or 0 when err carries none.
func CloseStatus(err error) StatusCode {
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return 0
}

// appendClosePayload appends the payload of a close frame: a 2-byte code in
// network order, then a UTF-8 reason (RFC 6455 section 5.5.1). It refuses
// anything a conforming peer would reject.
func appendClosePayload(dst []byte, code StatusCode, reason string) ([]byte, error) {
	if !code.Valid() {
		return dst, fmt.Errorf("websocket: close code %d may not be sent (RFC 6455 section 7.4)", uint16(code))
	}
	// Section 5.5: control frame payloads are at most 125 bytes.
	if len(reason) > MaxCloseReason {
		return dst, fmt.Errorf("websocket: close reason is %d bytes, more than %d", len(reason), MaxCloseReason)
	}
	// Section 5.5.1: the reason is UTF-8 encoded data.
	if !validUTF8String(reason) {
		return dst, errors.New("websocket: close reason is not valid UTF-8")
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	return append(dst, reason...), nil
}

// parseClosePayload decodes the payload of a received close frame. An empty
// payload means no code (StatusNoStatusRcvd). Errors are *CloseError values
// naming the code to fail the connection with.
func parseClosePayload(p []byte) (StatusCode, string, error) {
	switch {
	case len(p) == 0:
		return StatusNoStatusRcvd, "", nil
	case len(p) == 1:
		// Section 5.5.1: if there is a body, its first two bytes are the code.
		return 0, "", protocolError("close frame payload of 1 byte")
	}
	code := StatusCode(binary.BigEndian.Uint16(p))
	if !code.Valid() {
		// Section 7.4: an endpoint MUST NOT send these, so receiving one is
		// a protocol error.
		return 0, "", protocolError("invalid close code " + strconv.Itoa(int(code)))
	}
	reason := p[2:]
	// Section 5.5.1 and 8.1: the reason must be valid UTF-8.
	if !validUTF8(reason) {
		return 0, "", &CloseError{Code: StatusInvalidPayload, Reason: "invalid UTF-8 in close reason"}
	}
	return code, string(reason), nil
}

// protocolError is the error that fails a connection with 1002.
func protocolError(reason string) *CloseError {
	return &CloseError{Code: StatusProtocolError, Reason: reason}
}

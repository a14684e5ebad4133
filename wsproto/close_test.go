package wsproto

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"wsraise/internal/rawpeer"
)

// TestStatusCodeValid checks Valid for every code 0..5100 against the rule
// written out independently: RFC 6455 section 7.4.1/7.4.2 plus the IANA
// registry: 1000-1003 and 1007-1014 are sendable, 1004/1005/1006/1015 are
// not, 3000-4999 are for libraries and private use, the rest is not used.
func TestStatusCodeValid(t *testing.T) {
	sendable := map[int]bool{
		1000: true, 1001: true, 1002: true, 1003: true,
		1007: true, 1008: true, 1009: true, 1010: true,
		1011: true, 1012: true, 1013: true, 1014: true,
	}
	nValid := 0
	for c := 0; c <= 5100; c++ {
		want := sendable[c] || (c >= 3000 && c <= 4999)
		if got := StatusCode(c).Valid(); got != want {
			t.Errorf("StatusCode(%d).Valid() = %v, want %v", c, got, want)
		}
		if want {
			nValid++
		}
	}
	if nValid != 12+2000 {
		t.Errorf("%d valid codes, want 2012", nValid)
	}
	// Codes that never go on the wire (section 7.4.1).
	for _, c := range []StatusCode{0, 999, 1004, StatusNoStatusRcvd, StatusAbnormalClosure, StatusTLSHandshake, 1016, 2999, 5000, 65535} {
		if c.Valid() {
			t.Errorf("%d.Valid() = true", c)
		}
	}
}

func TestStatusCodeString(t *testing.T) {
	tests := []struct {
		c    StatusCode
		want string
	}{
		{StatusNormalClosure, "1000 (normal closure)"},
		{StatusGoingAway, "1001 (going away)"},
		{StatusProtocolError, "1002 (protocol error)"},
		{StatusUnsupportedData, "1003 (unsupported data)"},
		{StatusNoStatusRcvd, "1005 (no status received)"},
		{StatusAbnormalClosure, "1006 (abnormal closure)"},
		{StatusInvalidPayload, "1007 (invalid payload data)"},
		{StatusPolicyViolation, "1008 (policy violation)"},
		{StatusMessageTooBig, "1009 (message too big)"},
		{StatusMandatoryExtension, "1010 (mandatory extension)"},
		{StatusInternalError, "1011 (internal error)"},
		{StatusServiceRestart, "1012 (service restart)"},
		{StatusTryAgainLater, "1013 (try again later)"},
		{StatusBadGateway, "1014 (bad gateway)"},
		{StatusTLSHandshake, "1015 (TLS handshake)"},
		{1004, "1004"},
		{0, "0"},
		{3000, "3000"},
		{4999, "4999"},
		{65535, "65535"},
	}
	for _, tt := range tests {
		if got := tt.c.String(); got != tt.want {
			t.Errorf("StatusCode(%d).String() = %q, want %q", uint16(tt.c), got, tt.want)
		}
	}
	// The registered constants have the numbers of section 7.4.1.
	consts := []StatusCode{StatusNormalClosure, StatusGoingAway, StatusProtocolError,
		StatusUnsupportedData, StatusNoStatusRcvd, StatusAbnormalClosure, StatusInvalidPayload,
		StatusPolicyViolation, StatusMessageTooBig, StatusMandatoryExtension, StatusInternalError,
		StatusServiceRestart, StatusTryAgainLater, StatusBadGateway, StatusTLSHandshake}
	nums := []StatusCode{1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 1015}
	for i := range consts {
		if consts[i] != nums[i] {
			t.Errorf("constant %d = %d, want %d", i, consts[i], nums[i])
		}
	}
}

func TestAppendClosePayload(t *testing.T) {
	ok := []struct {
		name   string
		code   StatusCode
		reason string
		want   []byte
	}{
		{"5.5.1 code only", StatusNormalClosure, "", []byte{0x03, 0xe8}},
		{"5.5.1 code and reason", StatusGoingAway, "bye", []byte{0x03, 0xe9, 'b', 'y', 'e'}},
		{"5.5.1 private code", 4999, "", []byte{0x13, 0x87}},
		{"5.5.1 library code", 3000, "x", []byte{0x0b, 0xb8, 'x'}},
		{"5.5.1 UTF-8 reason", StatusPolicyViolation, "é€😀", append([]byte{0x03, 0xf0}, "é€😀"...)},
		{"5.5 reason of 123 bytes", StatusNormalClosure, strings.Repeat("a", 123), append([]byte{0x03, 0xe8}, strings.Repeat("a", 123)...)},
		// 41 three-byte characters: exactly 123 bytes.
		{"5.5 multibyte reason of 123 bytes", 1011, strings.Repeat("€", 41), append([]byte{0x03, 0xf3}, strings.Repeat("€", 41)...)},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			got, err := appendClosePayload([]byte{0xAA}, tt.code, tt.reason)
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if got[0] != 0xAA || !bytes.Equal(got[1:], tt.want) {
				t.Fatalf("payload = % x, want aa % x", got, tt.want)
			}
			code, reason, err := parseClosePayload(got[1:])
			if err != nil || code != tt.code || reason != tt.reason {
				t.Errorf("parse back = %v, %q, %v", code, reason, err)
			}
		})
	}

	bad := []struct {
		name   string
		code   StatusCode
		reason string
	}{
		{"7.4.1 code 1005 not sendable", StatusNoStatusRcvd, ""},
		{"7.4.1 code 1006 not sendable", StatusAbnormalClosure, ""},
		{"7.4.1 code 1015 not sendable", StatusTLSHandshake, ""},
		{"7.4.1 code 1004 reserved", 1004, ""},
		{"7.4.2 code 0", 0, ""},
		{"7.4.2 code 999", 999, "x"},
		{"7.4.2 code 2000", 2000, ""},
		{"7.4.2 code 5000", 5000, ""},
		{"5.5 reason of 124 bytes", StatusNormalClosure, strings.Repeat("a", 124)},
		{"5.5 reason of 200 bytes", StatusNormalClosure, strings.Repeat("a", 200)},
		{"5.5 multibyte reason of 124 bytes", StatusNormalClosure, strings.Repeat("€", 41) + "a"},
		{"5.5.1 reason with invalid byte", StatusNormalClosure, "ab\xffcd"},
		{"5.5.1 reason with surrogate", StatusNormalClosure, "\xed\xa0\x80"},
		{"5.5.1 reason with overlong", StatusNormalClosure, "\xc0\xaf"},
		{"5.5.1 reason truncated", StatusNormalClosure, "ok\xe2\x82"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte{0xAA, 0xBB}
			got, err := appendClosePayload(dst, tt.code, tt.reason)
			if err == nil {
				t.Fatalf("err = nil, payload % x", got)
			}
			if !bytes.Equal(got, []byte{0xAA, 0xBB}) {
				t.Errorf("dst changed to % x on error", got)
			}
		})
	}
}

func TestParseClosePayload(t *testing.T) {
	tests := []struct {
		name       string
		in         []byte
		wantCode   StatusCode
		wantReason string
		errCode    StatusCode // 0: no error
	}{
		{"5.5.1 empty payload: no status", nil, StatusNoStatusRcvd, "", 0},
		{"5.5.1 empty non-nil payload", []byte{}, StatusNoStatusRcvd, "", 0},
		{"5.5.1 1-byte payload", []byte{0x03}, 0, "", StatusProtocolError},
		{"5.5.1 1-byte payload 0xe8", []byte{0xe8}, 0, "", StatusProtocolError},
		{"5.5.1 code only", []byte{0x03, 0xe8}, StatusNormalClosure, "", 0},
		{"5.5.1 code 1014", []byte{0x03, 0xf6}, StatusBadGateway, "", 0},
		{"5.5.1 code 3000 with reason", []byte{0x0b, 0xb8, 'h', 'i'}, 3000, "hi", 0},
		{"5.5.1 code 4999", []byte{0x13, 0x87}, 4999, "", 0},
		{"5.5.1 UTF-8 reason", append([]byte{0x03, 0xe9}, "gé€😀"...), StatusGoingAway, "gé€😀", 0},
		{"5.5 125-byte payload", append([]byte{0x03, 0xe8}, strings.Repeat("z", 123)...), StatusNormalClosure, strings.Repeat("z", 123), 0},
		{"7.4 code 0", []byte{0, 0}, 0, "", StatusProtocolError},
		{"7.4 code 999", []byte{0x03, 0xe7}, 0, "", StatusProtocolError},
		{"7.4.1 code 1004", []byte{0x03, 0xec}, 0, "", StatusProtocolError},
		{"7.4.1 code 1005 on the wire", []byte{0x03, 0xed}, 0, "", StatusProtocolError},
		{"7.4.1 code 1006 on the wire", []byte{0x03, 0xee}, 0, "", StatusProtocolError},
		{"7.4.1 code 1015 on the wire", []byte{0x03, 0xf7, 'x'}, 0, "", StatusProtocolError},
		{"7.4.2 code 2999", []byte{0x0b, 0xb7}, 0, "", StatusProtocolError},
		{"7.4.2 code 5000", []byte{0x13, 0x88}, 0, "", StatusProtocolError},
		{"7.4.2 code 65535", []byte{0xff, 0xff}, 0, "", StatusProtocolError},
		{"7.4 invalid code wins over invalid reason", []byte{0, 0, 0xff}, 0, "", StatusProtocolError},
		{"8.1 non-UTF-8 reason", []byte{0x03, 0xe8, 0xff}, 0, "", StatusInvalidPayload},
		{"8.1 surrogate in reason", []byte{0x03, 0xe8, 'a', 0xed, 0xb0, 0x80}, 0, "", StatusInvalidPayload},
		{"8.1 truncated reason", []byte{0x03, 0xe8, 'a', 0xe2, 0x82}, 0, "", StatusInvalidPayload},
		{"8.1 overlong in reason", []byte{0x03, 0xe8, 0xe0, 0x80, 0xaf}, 0, "", StatusInvalidPayload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, reason, err := parseClosePayload(tt.in)
			if tt.errCode == 0 {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if code != tt.wantCode || reason != tt.wantReason {
					t.Errorf("got %v, %q; want %v, %q", code, reason, tt.wantCode, tt.wantReason)
				}
				return
			}
			var ce *CloseError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v (%T), want *CloseError", err, err)
			}
			if ce.Code != tt.errCode {
				t.Errorf("error code = %v, want %v", ce.Code, tt.errCode)
			}
			if ce.Received {
				t.Error("Received = true for a locally chosen error code")
			}
			if code != 0 || reason != "" {
				t.Errorf("on error got %v, %q; want zero values", code, reason)
			}
		})
	}
}

func TestCloseErrorAs(t *testing.T) {
	cause := errors.New("boom")
	ce := &CloseError{Code: StatusPolicyViolation, Reason: "no", Received: true, Err: cause}
	wrapped := fmt.Errorf("read: %w", ce)
	twice := fmt.Errorf("conn: %w", wrapped)

	var got *CloseError
	if !errors.As(twice, &got) || got != ce {
		t.Fatalf("errors.As = %v, %p; want %p", got != nil, got, ce)
	}
	if !errors.Is(twice, cause) {
		t.Error("errors.Is does not reach the cause through Unwrap")
	}
	if got := CloseStatus(ce); got != StatusPolicyViolation {
		t.Errorf("CloseStatus(ce) = %v", got)
	}
	if got := CloseStatus(twice); got != StatusPolicyViolation {
		t.Errorf("CloseStatus(wrapped twice) = %v", got)
	}
	if got := CloseStatus(errors.Join(io.EOF, protocolError("x"))); got != StatusProtocolError {
		t.Errorf("CloseStatus(joined) = %v", got)
	}
	// Not a close error: the sentinel is 0.
	for _, err := range []error{nil, io.EOF, errShortHeader, fmt.Errorf("x: %w", io.ErrUnexpectedEOF)} {
		if got := CloseStatus(err); got != 0 {
			t.Errorf("CloseStatus(%v) = %v, want 0", err, got)
		}
	}
	if pe := protocolError("bad"); pe.Code != StatusProtocolError || pe.Reason != "bad" || pe.Received || pe.Err != nil {
		t.Errorf("protocolError = %+v", pe)
	}
}

func TestCloseErrorMessage(t *testing.T) {
	tests := []struct {
		e    *CloseError
		want string
	}{
		{&CloseError{Code: StatusNormalClosure, Received: true}, "websocket: peer closed with 1000 (normal closure)"},
		{&CloseError{Code: StatusGoingAway, Reason: "bye", Received: true}, `websocket: peer closed with 1001 (going away): "bye"`},
		{&CloseError{Code: StatusProtocolError, Reason: "bad\n"}, `websocket: closed with 1002 (protocol error): "bad\n"`},
		{&CloseError{Code: 4000}, "websocket: closed with 4000"},
		{&CloseError{Code: StatusAbnormalClosure, Err: io.ErrUnexpectedEOF}, "websocket: connection ended without a close frame: unexpected EOF"},
		{&CloseError{Code: StatusAbnormalClosure, Received: true}, "websocket: connection ended without a close frame"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	if (&CloseError{}).Unwrap() != nil {
		t.Error("Unwrap of a CloseError without Err is not nil")
	}
}

// TestCloseUnanswered: Close reports a close handshake that did not
// complete because the peer ended the connection after reading our close
// frame without sending its own (section 7.1.2 expects one), as well as
// when it times out; the server's and the client's Close alike.
func TestCloseUnanswered(t *testing.T) {
	// readCloseFrame reads one close frame from br (masked or not).
	readCloseFrame := func(br *bufio.Reader) error {
		f, err := rawpeer.ReadFrame(br)
		if err == nil && f.Op != rawpeer.OpClose {
			err = fmt.Errorf("opcode %#x, want close", f.Op)
		}
		return err
	}
	t.Run("server", func(t *testing.T) {
		server, rp := ctRawClient(t, nil)
		done := make(chan error, 1)
		go func() { done <- server.Close(StatusNormalClosure, "bye") }()
		if err := readCloseFrame(rp.R); err != nil {
			t.Fatal(err)
		}
		rp.Conn.Close()
		if err := <-done; !errors.Is(err, errNoCloseReply) {
			t.Fatalf("Close: %v, want the error for a close left unanswered", err)
		}
	})
	t.Run("client", func(t *testing.T) {
		s := rawpeer.Serve(t, func(nc net.Conn, br *bufio.Reader, r *http.Request, done <-chan struct{}) {
			io.WriteString(nc, rawpeer.Response(r, ""))
			readCloseFrame(br)
		})
		c, _, err := Dial(ctCtx(t), s.URL("/ws"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Close(StatusNormalClosure, "bye"); !errors.Is(err, errNoCloseReply) {
			t.Fatalf("Close: %v, want the error for a close left unanswered", err)
		}
	})
}

// TestClientWaitsForServerTCPClose: section 7.1.1 — after the close
// frames, "the server [...] MUST close the underlying TCP connection" and
// the client should wait for it: our client's Close does not close TCP
// before the server does (within the close timeout), and returns once it
// has. Against the server that never closes, the client closes after the
// close timeout (TestCloseUnanswered covers the rest).
func TestClientWaitsForServerTCPClose(t *testing.T) {
	const hold = 300 * time.Millisecond
	early := make(chan bool, 1)
	s := rawpeer.Serve(t, func(nc net.Conn, br *bufio.Reader, r *http.Request, done <-chan struct{}) {
		io.WriteString(nc, rawpeer.Response(r, ""))
		if f, err := rawpeer.ReadFrame(br); err != nil || f.Op != rawpeer.OpClose {
			early <- true
			return
		}
		nc.Write(rawpeer.Close(1000, "").Encode()) // the server's close frame
		// The client must not close first: no EOF while we hold.
		nc.SetReadDeadline(time.Now().Add(hold))
		_, err := br.ReadByte()
		var ne net.Error
		early <- !(errors.As(err, &ne) && ne.Timeout())
	})
	c, _, err := Dial(ctCtx(t), s.URL("/ws"), nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.Close(StatusNormalClosure, ""); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if took := time.Since(start); took < hold {
		t.Errorf("Close returned after %v, before the server closed TCP (%v)", took, hold)
	}
	if <-early {
		t.Error("the client closed TCP before the server did")
	}
}

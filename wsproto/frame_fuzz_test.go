package wsproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// FuzzParseHeader: parseHeader never panics, fails only with errShortHeader
// or a 1002 *CloseError, and whatever it accepts re-encodes to the very
// same bytes (the length form is then minimal, section 5.2).
func FuzzParseHeader(f *testing.F) {
	f.Add([]byte("\x81\x05"))
	f.Add([]byte("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"))
	f.Add([]byte("\x82\x7e\x00\x7e"))
	f.Add([]byte("\x82\x7e\x00\x7d"))
	f.Add([]byte("\x02\xff\x00\x00\x00\x01\x00\x00\x00\x00\x01\x02\x03\x04"))
	f.Add([]byte("\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte("\x82\x7f\x00\x00\x00\x00\x00\x00\xff\xff"))
	f.Add([]byte("\xff\xff"))
	f.Add([]byte("\x88"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := parseHeader(b)
		if err != nil {
			if n != 0 {
				t.Fatalf("error %v with size %d", err, n)
			}
			if err == errShortHeader {
				if len(b) >= 2 && len(b) >= headerSize(b[1]) {
					t.Fatalf("errShortHeader for %d bytes, header size %d", len(b), headerSize(b[1]))
				}
				return
			}
			var ce *CloseError
			if !errors.As(err, &ce) || ce.Code != StatusProtocolError {
				t.Fatalf("error %v (%T), want errShortHeader or 1002", err, err)
			}
			return
		}
		if n != headerSize(b[1]) || n > len(b) || n < 2 || n > maxHeaderSize {
			t.Fatalf("size %d, headerSize %d, input %d bytes", n, headerSize(b[1]), len(b))
		}
		if h.length < 0 {
			t.Fatalf("negative length %d", h.length)
		}
		if enc := appendHeader(nil, h); !bytes.Equal(enc, b[:n]) {
			t.Fatalf("re-encoded % x, input % x", enc, b[:n])
		}
		// checkHeader must not panic either, in any state; and what it
		// rejects, it rejects with 1002.
		for _, server := range []bool{false, true} {
			for _, fragmented := range []bool{false, true} {
				for _, allowed := range []byte{0, rsv1} {
					hh := h
					if err := checkHeader(&hh, server, fragmented, allowed); err != nil && err.Code != StatusProtocolError {
						t.Fatalf("checkHeader: code %v", err.Code)
					}
				}
			}
		}
	})
}

// FuzzParseClosePayload: never panics; what it accepts has a sendable code
// (or 1005 for an empty payload) and a valid UTF-8 reason, and encodes back
// to the same payload.
func FuzzParseClosePayload(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x03})
	f.Add([]byte{0x03, 0xe8})
	f.Add([]byte("\x03\xe9bye"))
	f.Add([]byte("\x03\xed"))
	f.Add([]byte("\x0f\xa0\xc3\xa9\xe2\x82\xac"))
	f.Add([]byte("\x03\xe8\xed\xa0\x80"))
	f.Add([]byte("\x03\xe8\xe2\x82"))
	f.Fuzz(func(t *testing.T, p []byte) {
		code, reason, err := parseClosePayload(p)
		if err != nil {
			var ce *CloseError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T), want *CloseError", err, err)
			}
			// 1002 for a bad length or code; 1007 only for a good code with
			// a reason that is not UTF-8.
			want := StatusProtocolError
			if len(p) >= 2 && StatusCode(binary.BigEndian.Uint16(p)).Valid() {
				want = StatusInvalidPayload
				if refValidUTF8(p[2:]) {
					t.Fatalf("rejected % x with %v but it is well formed", p, ce.Code)
				}
			}
			if ce.Code != want {
				t.Fatalf("% x: error code %v, want %v", p, ce.Code, want)
			}
			return
		}
		if len(p) == 0 {
			if code != StatusNoStatusRcvd || reason != "" {
				t.Fatalf("empty payload: %v, %q", code, reason)
			}
			return
		}
		if !code.Valid() {
			t.Fatalf("accepted code %v", code)
		}
		if !refValidUTF8([]byte(reason)) {
			t.Fatalf("accepted reason %q", reason)
		}
		enc, err := appendClosePayload(nil, code, reason)
		if len(reason) > MaxCloseReason {
			// Longer than a control frame allows: the frame layer rejects
			// it; appendClosePayload must refuse to produce it.
			if err == nil {
				t.Fatalf("appendClosePayload accepted a %d-byte reason", len(reason))
			}
			return
		}
		if err != nil || !bytes.Equal(enc, p) {
			t.Fatalf("round trip: % x, %v; want % x", enc, err, p)
		}
	})
}

// FuzzUTF8: validUTF8, validUTF8String, scanUTF8 and utf8Stream agree with
// refUTF8, the validator written from RFC 3629 section 4 without
// unicode/utf8 (utf8_ref_test.go). The stream is fed the input whole, in
// two pieces cut at split, in pieces of 1 to 4 bytes whose sizes are
// split's bits, byte by byte, and, up to 64 bytes, in two pieces cut at
// every position: each time it must fail on the piece that holds the first
// impossible byte (RFC 6455 section 8.1), and done must follow the
// reference.
func FuzzUTF8(f *testing.F) {
	f.Add([]byte("hello, world"), 3)
	f.Add([]byte("κόσμε"), 1)
	f.Add([]byte("a\u00e9b\u20acc\U0001f600d"), 6)
	f.Add([]byte("\xed\xa0\x80"), 1)
	f.Add([]byte("\xf4\x90\x80\x80"), 2)
	f.Add([]byte("\xe0\x80\xaf"), 0)
	f.Add([]byte("ab\xe2\x82"), 3)
	f.Add([]byte("0123456789abcdef0123456789abcdef\xff"), 20)
	f.Fuzz(func(t *testing.T, p []byte, split int) {
		if msg := checkUTF8AgainstRef(p, len(p) <= 64); msg != "" {
			t.Fatal(msg)
		}
		if split < 0 {
			split = -(split + 1)
		}
		if msg := checkUTF8Stream(p, []int{split % (len(p) + 1)}); msg != "" {
			t.Fatal(msg)
		}
		var cuts []int
		bits := uint64(split)
		for c, i := 0, 0; ; i++ {
			c += 1 + int(bits>>(2*(i%32))&3)
			if c >= len(p) {
				break
			}
			cuts = append(cuts, c)
		}
		if msg := checkUTF8Stream(p, cuts); msg != "" {
			t.Fatal(msg)
		}
	})
}

// FuzzMask: maskBytes agrees with the byte-by-byte definition for any key,
// start position, alignment and data, and leaves surrounding bytes alone.
func FuzzMask(f *testing.F) {
	f.Add(uint32(0x3d21fa37), 0, uint8(0), []byte("Hello"))
	f.Add(uint32(0xffffffff), 3, uint8(1), []byte("0123456789abcdef"))
	f.Add(uint32(0x01020304), 2, uint8(5), bytes.Repeat([]byte{0x55}, 100))
	f.Add(uint32(0), 1, uint8(7), []byte{})
	f.Add(uint32(0xdeadbeef), -1, uint8(3), bytes.Repeat([]byte("xyz"), 30))
	f.Fuzz(func(t *testing.T, k uint32, pos int, off uint8, data []byte) {
		var key [4]byte
		binary.LittleEndian.PutUint32(key[:], k)
		o := int(off % 8)
		buf := make([]byte, o+len(data)+3)
		for i := range buf {
			buf[i] = byte(i*7 + 1)
		}
		copy(buf[o:], data)
		ref := append([]byte{}, buf...)
		got := maskBytes(key, pos, buf[o:o+len(data)])
		want := maskRef(key, pos&3, ref[o:o+len(data)])
		if got != want || !bytes.Equal(buf, ref) {
			t.Fatalf("key % x pos %d off %d: pos %d, want %d\n got % x\nwant % x", key, pos, o, got, want, buf, ref)
		}
		// Masking twice restores the data.
		maskBytes(key, pos, buf[o:o+len(data)])
		if !bytes.Equal(buf[o:o+len(data)], data) {
			t.Fatalf("mask twice did not restore the data")
		}
	})
}

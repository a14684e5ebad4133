package wsproto

import (
	"bytes"
	"errors"
	"testing"
)

// frameTestKey is an arbitrary masking key used by the header tests.
var frameTestKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// TestHeaderEncoding checks the exact wire bytes of every length form
// (RFC 6455 section 5.2: 7-bit, 16-bit and 64-bit payload length), masked
// and unmasked, and that parseHeader/appendHeader/headerSize agree.
func TestHeaderEncoding(t *testing.T) {
	tests := []struct {
		name string
		h    header
		want []byte
	}{
		{
			name: "5.2 len 0 unmasked text fin",
			h:    header{fin: true, op: opText, length: 0},
			want: []byte{0x81, 0x00},
		},
		{
			name: "5.2 len 0 masked binary",
			h:    header{op: opBinary, masked: true, key: frameTestKey, length: 0},
			want: []byte{0x02, 0x80, 0x37, 0xfa, 0x21, 0x3d},
		},
		{
			name: "5.2 len 125 unmasked (largest 7-bit)",
			h:    header{fin: true, op: opPing, length: 125},
			want: []byte{0x89, 0x7d},
		},
		{
			name: "5.2 len 125 masked",
			h:    header{fin: true, op: opClose, masked: true, key: frameTestKey, length: 125},
			want: []byte{0x88, 0xfd, 0x37, 0xfa, 0x21, 0x3d},
		},
		{
			name: "5.2 len 126 unmasked (smallest 16-bit)",
			h:    header{fin: true, op: opBinary, length: 126},
			want: []byte{0x82, 0x7e, 0x00, 0x7e},
		},
		{
			name: "5.2 len 126 masked",
			h:    header{op: opContinuation, masked: true, key: frameTestKey, length: 126},
			want: []byte{0x00, 0xfe, 0x00, 0x7e, 0x37, 0xfa, 0x21, 0x3d},
		},
		{
			name: "5.2 len 65535 unmasked (largest 16-bit)",
			h:    header{fin: true, op: opText, length: 65535},
			want: []byte{0x81, 0x7e, 0xff, 0xff},
		},
		{
			name: "5.2 len 65535 masked",
			h:    header{fin: true, op: opText, masked: true, key: frameTestKey, length: 65535},
			want: []byte{0x81, 0xfe, 0xff, 0xff, 0x37, 0xfa, 0x21, 0x3d},
		},
		{
			name: "5.2 len 65536 unmasked (smallest 64-bit)",
			h:    header{fin: true, op: opBinary, length: 65536},
			want: []byte{0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0},
		},
		{
			name: "5.2 len 65536 masked",
			h:    header{fin: true, op: opBinary, masked: true, key: frameTestKey, length: 65536},
			want: []byte{0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 0x37, 0xfa, 0x21, 0x3d},
		},
		{
			name: "5.2 len 2^32 unmasked",
			h:    header{op: opBinary, length: 1 << 32},
			want: []byte{0x02, 0x7f, 0, 0, 0, 1, 0, 0, 0, 0},
		},
		{
			name: "5.2 len 2^32 masked",
			h:    header{op: opBinary, masked: true, key: frameTestKey, length: 1 << 32},
			want: []byte{0x02, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0x37, 0xfa, 0x21, 0x3d},
		},
		{
			name: "5.2 len 2^63-1 unmasked (largest legal)",
			h:    header{fin: true, op: opBinary, length: 1<<63 - 1},
			want: []byte{0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		},
		{
			name: "5.2 RSV bits are carried through",
			h:    header{fin: true, rsv: rsv1 | rsv3, op: opText, length: 3},
			want: []byte{0xd1, 0x03},
		},
		{
			name: "5.2 all RSV bits, reserved opcode 0xF",
			h:    header{rsv: rsv1 | rsv2 | rsv3, op: 0xf, length: 1},
			want: []byte{0x7f, 0x01},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := appendHeader(nil, tt.h)
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("appendHeader = % x, want % x", got, tt.want)
			}
			if n := headerSize(tt.want[1]); n != len(tt.want) {
				t.Errorf("headerSize(%#x) = %d, want %d", tt.want[1], n, len(tt.want))
			}
			// Extra trailing bytes (the payload) must not be consumed.
			in := append(append([]byte{}, tt.want...), 0xAA, 0xBB)
			h, n, err := parseHeader(in)
			if err != nil {
				t.Fatalf("parseHeader: %v", err)
			}
			if n != len(tt.want) {
				t.Errorf("parseHeader size = %d, want %d", n, len(tt.want))
			}
			if h != tt.h {
				t.Errorf("parseHeader = %+v, want %+v", h, tt.h)
			}
			// appendHeader appends: existing content is kept.
			pre := []byte{1, 2, 3}
			got = appendHeader(pre, tt.h)
			if !bytes.Equal(got[:3], []byte{1, 2, 3}) || !bytes.Equal(got[3:], tt.want) {
				t.Errorf("appendHeader(prefix) = % x", got)
			}
		})
	}
}

// TestParseHeaderShort checks that every strict prefix of a header is
// reported as errShortHeader (section 5.2 header is 2-14 bytes).
func TestParseHeaderShort(t *testing.T) {
	headers := []header{
		{fin: true, op: opText, length: 5},
		{fin: true, op: opText, masked: true, key: frameTestKey, length: 5},
		{op: opBinary, length: 300},
		{op: opBinary, masked: true, key: frameTestKey, length: 300},
		{op: opBinary, length: 1 << 40},
		{op: opBinary, masked: true, key: frameTestKey, length: 1 << 40},
	}
	for _, h := range headers {
		enc := appendHeader(nil, h)
		for i := 0; i < len(enc); i++ {
			_, n, err := parseHeader(enc[:i])
			if err != errShortHeader || n != 0 {
				t.Errorf("parseHeader(% x) = %d, %v; want 0, errShortHeader", enc[:i], n, err)
			}
		}
		if _, n, err := parseHeader(enc); err != nil || n != len(enc) {
			t.Errorf("parseHeader(% x) = %d, %v; want %d, nil", enc, n, err, len(enc))
		}
	}
}

// TestHeaderSize checks headerSize for every second header byte.
func TestHeaderSize(t *testing.T) {
	for b := 0; b < 256; b++ {
		want := 2
		switch b & 0x7f {
		case 126:
			want = 4
		case 127:
			want = 10
		}
		if b&0x80 != 0 {
			want += 4
		}
		if got := headerSize(byte(b)); got != want {
			t.Errorf("headerSize(%#02x) = %d, want %d", b, got, want)
		}
	}
}

// TestHeaderRoundTrip encodes and decodes every combination of flags over a
// range of lengths around the form boundaries.
func TestHeaderRoundTrip(t *testing.T) {
	lengths := []int64{0, 1, 124, 125, 126, 127, 255, 256, 65534, 65535, 65536, 65537,
		1<<32 - 1, 1 << 32, 1<<32 + 1, 1<<62 + 5, 1<<63 - 1}
	for _, l := range lengths {
		for op := 0; op < 16; op++ {
			for rsv := 0; rsv < 8; rsv++ {
				for _, fin := range []bool{false, true} {
					for _, masked := range []bool{false, true} {
						h := header{fin: fin, rsv: byte(rsv << 4), op: opcode(op), masked: masked, length: l}
						if masked {
							h.key = [4]byte{byte(op), byte(rsv), byte(l), 0x5a}
						}
						enc := appendHeader(nil, h)
						got, n, err := parseHeader(enc)
						if err != nil || n != len(enc) || got != h {
							t.Fatalf("round trip of %+v: enc % x, got %+v, %d, %v", h, enc, got, n, err)
						}
					}
				}
			}
		}
	}
}

// TestParseHeaderLengthErrors checks the section 5.2 length rules: minimal
// encoding, and the most significant bit of a 64-bit length is 0.
func TestParseHeaderLengthErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
	}{
		{"5.2 16-bit form for length 0", []byte{0x82, 0x7e, 0x00, 0x00}},
		{"5.2 16-bit form for length 1", []byte{0x82, 0x7e, 0x00, 0x01}},
		{"5.2 16-bit form for length 125", []byte{0x82, 0x7e, 0x00, 0x7d}},
		{"5.2 16-bit form for length 125 masked", []byte{0x82, 0xfe, 0x00, 0x7d, 1, 2, 3, 4}},
		{"5.2 64-bit form for length 0", []byte{0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"5.2 64-bit form for length 125", []byte{0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0x7d}},
		{"5.2 64-bit form for length 126", []byte{0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0x7e}},
		{"5.2 64-bit form for length 65535", []byte{0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0xff, 0xff}},
		{"5.2 64-bit form for length 65535 masked", []byte{0x82, 0xff, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4}},
		{"5.2 64-bit length with MSB set (2^63)", []byte{0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0}},
		{"5.2 64-bit length with MSB set (all ones)", []byte{0x82, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{"5.2 64-bit length with MSB set, small rest", []byte{0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0x01}},
		{"5.2 64-bit length with MSB set masked", []byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, n, err := parseHeader(tt.in)
			if n != 0 {
				t.Errorf("size = %d, want 0", n)
			}
			var ce *CloseError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v (%T), want *CloseError", err, err)
			}
			if ce.Code != StatusProtocolError {
				t.Errorf("code = %v, want 1002", ce.Code)
			}
		})
	}
}

// TestCheckHeader covers the state-dependent rules of check.go.
func TestCheckHeader(t *testing.T) {
	// cl is a frame from a client (masked), sv one from a server (unmasked).
	cl := func(fin bool, rsv byte, op opcode, length int64) header {
		return header{fin: fin, rsv: rsv, op: op, masked: true, key: frameTestKey, length: length}
	}
	sv := func(fin bool, rsv byte, op opcode, length int64) header {
		return header{fin: fin, rsv: rsv, op: op, length: length}
	}
	type tc struct {
		name       string
		h          header
		server     bool // the receiving endpoint is a server
		fragmented bool
		allowedRSV byte
		wantErr    bool
	}
	tests := []tc{
		// Valid frames.
		{name: "5.2 valid text to server", h: cl(true, 0, opText, 10), server: true},
		{name: "5.2 valid binary to client", h: sv(true, 0, opBinary, 1<<40)},
		{name: "5.4 first fragment text", h: cl(false, 0, opText, 10), server: true},
		{name: "5.4 first fragment binary to client", h: sv(false, 0, opBinary, 10)},
		{name: "5.4 continuation inside fragmented message", h: cl(false, 0, opContinuation, 10), server: true, fragmented: true},
		{name: "5.4 final continuation", h: sv(true, 0, opContinuation, 0), fragmented: true},
		{name: "5.4 ping between fragments", h: cl(true, 0, opPing, 4), server: true, fragmented: true},
		{name: "5.4 close between fragments", h: sv(true, 0, opClose, 2), fragmented: true},
		{name: "5.5 close 125 bytes", h: cl(true, 0, opClose, 125), server: true},
		{name: "5.5 ping 125 bytes", h: sv(true, 0, opPing, 125)},
		{name: "5.5 pong 0 bytes", h: cl(true, 0, opPong, 0), server: true},
		{name: "5.2 RSV1 allowed by extension (RFC 7692)", h: cl(true, rsv1, opText, 10), server: true, allowedRSV: rsv1},
		{name: "5.2 all RSV allowed by extension", h: sv(true, rsv1|rsv2|rsv3, opBinary, 10), allowedRSV: rsv1 | rsv2 | rsv3},

		// 5.2: RSV bits without an extension.
		{name: "5.2 RSV1 without extension", h: cl(true, rsv1, opText, 1), server: true, wantErr: true},
		{name: "5.2 RSV2 without extension", h: cl(true, rsv2, opText, 1), server: true, wantErr: true},
		{name: "5.2 RSV3 without extension", h: sv(true, rsv3, opBinary, 1), wantErr: true},
		{name: "5.2 RSV2 with only RSV1 negotiated", h: sv(true, rsv2, opBinary, 1), allowedRSV: rsv1, wantErr: true},
		{name: "5.2 RSV1|RSV3 with only RSV1 negotiated", h: cl(true, rsv1|rsv3, opText, 1), server: true, allowedRSV: rsv1, wantErr: true},
		{name: "5.5/RFC7692 6.1 RSV1 on control frame even with extension", h: cl(true, rsv1, opPing, 1), server: true, allowedRSV: rsv1, wantErr: true},

		// 5.5: control frame rules.
		{name: "5.5 close payload 126", h: cl(true, 0, opClose, 126), server: true, wantErr: true},
		{name: "5.5 ping payload 126", h: sv(true, 0, opPing, 126), wantErr: true},
		{name: "5.5 pong payload 65536", h: cl(true, 0, opPong, 65536), server: true, wantErr: true},
		{name: "5.5 fragmented close", h: cl(false, 0, opClose, 0), server: true, wantErr: true},
		{name: "5.5 fragmented ping", h: sv(false, 0, opPing, 0), wantErr: true},
		{name: "5.5 fragmented pong inside message", h: sv(false, 0, opPong, 0), fragmented: true, wantErr: true},

		// 5.1: masking direction.
		{name: "5.1 unmasked text to server", h: sv(true, 0, opText, 1), server: true, wantErr: true},
		{name: "5.1 unmasked ping to server", h: sv(true, 0, opPing, 1), server: true, wantErr: true},
		{name: "5.1 masked text to client", h: cl(true, 0, opText, 1), wantErr: true},
		{name: "5.1 masked close to client", h: cl(true, 0, opClose, 2), wantErr: true},

		// 5.4: fragmentation state.
		{name: "5.4 continuation with nothing to continue (server)", h: cl(true, 0, opContinuation, 1), server: true, wantErr: true},
		{name: "5.4 continuation with nothing to continue (client)", h: sv(false, 0, opContinuation, 1), wantErr: true},
		{name: "5.4 text inside fragmented message", h: cl(true, 0, opText, 1), server: true, fragmented: true, wantErr: true},
		{name: "5.4 binary inside fragmented message", h: sv(false, 0, opBinary, 1), fragmented: true, wantErr: true},
	}
	// 5.2: reserved opcodes 0x3-0x7 and 0xB-0xF, both directions, with and
	// without a message in progress.
	for _, op := range []opcode{3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF} {
		tests = append(tests,
			tc{name: "5.2 reserved opcode " + opcodeName(op) + " to server", h: cl(true, 0, op, 0), server: true, wantErr: true},
			tc{name: "5.2 reserved opcode " + opcodeName(op) + " to client fragmented", h: sv(true, 0, op, 0), fragmented: true, wantErr: true},
		)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.h
			err := checkHeader(&h, tt.server, tt.fragmented, tt.allowedRSV)
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("checkHeader = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("checkHeader = nil, want 1002")
			}
			if err.Code != StatusProtocolError {
				t.Errorf("code = %v, want 1002", err.Code)
			}
			if err.Reason == "" {
				t.Error("empty reason")
			}
			if h != tt.h {
				t.Errorf("checkHeader modified the header: %+v", h)
			}
		})
	}
}

// TestCheckHeaderReservedOpcodesExhaustive checks that exactly the six
// opcodes of section 5.2 are accepted, whatever the other bits.
func TestCheckHeaderReservedOpcodesExhaustive(t *testing.T) {
	for op := opcode(0); op < 16; op++ {
		known := op == opContinuation || op == opText || op == opBinary ||
			op == opClose || op == opPing || op == opPong
		// Pick the fragmentation state that makes a known opcode legal.
		fragmented := op == opContinuation
		for _, server := range []bool{false, true} {
			h := header{fin: true, op: op, masked: server}
			err := checkHeader(&h, server, fragmented, 0)
			if known && err != nil {
				t.Errorf("opcode %#x server=%v: %v, want nil", byte(op), server, err)
			}
			if !known && (err == nil || err.Code != StatusProtocolError) {
				t.Errorf("opcode %#x server=%v: %v, want 1002", byte(op), server, err)
			}
		}
	}
}

func TestOpcodeIsControl(t *testing.T) {
	for op := opcode(0); op < 16; op++ {
		want := op >= 8
		if op.isControl() != want {
			t.Errorf("opcode %#x isControl = %v, want %v", byte(op), op.isControl(), want)
		}
	}
}

func TestMessageTypeString(t *testing.T) {
	for _, tt := range []struct {
		t    MessageType
		want string
	}{
		{MessageText, "text"},
		{MessageBinary, "binary"},
		{MessageType(0), "MessageType(0)"},
		{MessageType(9), "MessageType(9)"},
	} {
		if got := tt.t.String(); got != tt.want {
			t.Errorf("%d.String() = %q, want %q", int(tt.t), got, tt.want)
		}
	}
	if MessageText != 1 || MessageBinary != 2 {
		t.Errorf("MessageText, MessageBinary = %d, %d; want the opcodes 1, 2", MessageText, MessageBinary)
	}
}

func opcodeName(op opcode) string {
	const hex = "0123456789ABCDEF"
	return "0x" + string(hex[op&0xf])
}

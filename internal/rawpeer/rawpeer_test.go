package rawpeer

import (
	"bytes"
	"testing"
)

// TestRFCExamples: the peer encodes and reads back the example frames of
// RFC 6455 section 5.7, byte for byte.
func TestRFCExamples(t *testing.T) {
	hello := []byte("Hello")
	masked := Text("Hello")
	masked.Masked, masked.Key = true, [4]byte{0x37, 0xfa, 0x21, 0x3d}
	cases := []struct {
		name string
		f    Frame
		wire []byte
	}{
		{"unmasked text", Text("Hello"), []byte{0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}},
		{"masked text", masked, []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}},
		{"first fragment", Fragment(OpText, false, "Hel"), []byte{0x01, 0x03, 0x48, 0x65, 0x6c}},
		{"last fragment", Fragment(OpCont, true, "lo"), []byte{0x80, 0x02, 0x6c, 0x6f}},
		{"ping", Ping(hello), []byte{0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}},
		{"256 bytes", Binary(make([]byte, 256)), append([]byte{0x82, 0x7e, 0x01, 0x00}, make([]byte, 256)...)},
		{"64 KiB", Binary(make([]byte, 65536)), append([]byte{0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0}, make([]byte, 65536)...)},
	}
	for _, c := range cases {
		if got := c.f.Encode(); !bytes.Equal(got, c.wire) {
			t.Errorf("%s: encoded % x, want % x", c.name, got[:min(len(got), 12)], c.wire[:min(len(c.wire), 12)])
		}
		f, err := ReadFrame(bytes.NewReader(c.wire))
		if err != nil || f.Fin != c.f.Fin || f.Op != c.f.Op || f.Masked != c.f.Masked || f.Key != c.f.Key || !bytes.Equal(f.Payload, c.f.Payload) {
			t.Errorf("%s: read %+v, %v", c.name, f, err)
		}
	}
	if got := AcceptKey(SampleKey); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Errorf("AcceptKey(SampleKey) = %q (section 1.3)", got)
	}
}

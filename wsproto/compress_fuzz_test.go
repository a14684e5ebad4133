package wsproto

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"unicode/utf8"

	"wsraise/internal/rawpeer"
)

// FuzzServerReadCompressed feeds arbitrary bytes, then EOF, to a server
// connection that agreed permessage-deflate (with context takeover when
// the input's length is even, without when odd), and reads until it
// fails, by Read and by Reader in turn. It must not panic or hang; every
// message respects the read limit once inflated, and UTF-8; the final
// error is the abnormal closure at EOF, a received close, or a close with
// 1002, 1007 or 1009; what the server writes is well-formed unmasked
// control frames without RSV bits, ending with the close frame if one was
// sent.
func FuzzServerReadCompressed(f *testing.F) {
	// "Hello" compressed (RFC 7692 section 7.2.3.1), masked with 0 0 0 0.
	f.Add([]byte{0xc1, 0x87, 0, 0, 0, 0, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00})
	// The same in two fragments (section 7.2.3.1), a ping between them.
	f.Add([]byte{0x41, 0x83, 0, 0, 0, 0, 0xf2, 0x48, 0xcd, 0x89, 0x80, 0, 0, 0, 0, 0x80, 0x84, 0, 0, 0, 0, 0xc9, 0xc9, 0x07, 0x00})
	// Stored block "Hello" (section 7.2.3.3) and the empty message.
	f.Add([]byte{0xc1, 0x8b, 0, 0, 0, 0, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00, 0xc2, 0x81, 0, 0, 0, 0, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		nc := &fzConn{in: data, chunk: 1 + len(data)%13}
		noTakeover := len(data)%2 == 1
		p := deflateParams{serverNoContextTakeover: noTakeover, clientNoContextTakeover: noTakeover}
		c := newConn(nc, nil, true, config{readLimit: fzReadLimit, compression: &compressionConfig{params: p}})
		ctx := context.Background()
		var err error
		for i := 0; ; i++ {
			if i > len(data)/6+1 {
				t.Fatalf("%d messages from %d bytes", i, len(data))
			}
			var typ MessageType
			var msg []byte
			if i%2 == 0 {
				typ, msg, err = c.Read(ctx)
			} else {
				var r io.Reader
				if typ, r, err = c.Reader(ctx); err == nil {
					msg, err = io.ReadAll(io.LimitReader(r, 2*fzReadLimit))
				}
			}
			if err != nil {
				break
			}
			if typ != MessageText && typ != MessageBinary {
				t.Fatalf("message type %v", typ)
			}
			if len(msg) > fzReadLimit {
				t.Fatalf("message of %d bytes over the limit", len(msg))
			}
			if typ == MessageText && !utf8.Valid(msg) {
				t.Fatalf("invalid UTF-8 text %q", msg)
			}
		}
		var ce *CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("final error %v (%T)", err, err)
		}
		switch {
		case ce.Code == StatusAbnormalClosure:
			if !errors.Is(err, io.ErrUnexpectedEOF) || ce.Received {
				t.Fatalf("abnormal closure not at EOF: %v", err)
			}
		case ce.Received:
		case ce.Code != StatusProtocolError && ce.Code != StatusInvalidPayload && ce.Code != StatusMessageTooBig:
			t.Fatalf("server chose code %v: %v", ce.Code, err)
		}
		select {
		case <-c.Done():
		default:
			t.Fatal("the connection is still open after the read failed")
		}
		out := bytes.NewReader(nc.out.Bytes())
		sawClose := false
		for out.Len() > 0 {
			if sawClose {
				t.Fatalf("%d bytes after the close frame", out.Len())
			}
			f, ferr := rawpeer.ReadFrame(out)
			if ferr != nil || f.Masked || !f.Fin || f.RSV != 0 || f.Op < rawpeer.OpClose || len(f.Payload) > maxControlPayload {
				t.Fatalf("server frame %#x fin %v rsv %03b masked %v, %d bytes: %v", f.Op, f.Fin, f.RSV, f.Masked, len(f.Payload), ferr)
			}
			payload := f.Payload
			if f.Op == rawpeer.OpClose {
				sawClose = true
				if !ce.Received && ce.Code != StatusAbnormalClosure &&
					(len(payload) < 2 || StatusCode(binary.BigEndian.Uint16(payload)) != ce.Code) {
					t.Fatalf("error %v, close frame sent %q", err, payload)
				}
			}
		}
	})
}

package wsproto

import (
	"context"
	"fmt"
	"testing"

	"wsraise/internal/rawpeer"
)

// Compressed messages through Conn on a chat-like JSON workload: a ~300 B
// message (a different one each time, as a chat sends) and a 64 KiB
// document. ratio is message bytes over wire bytes, frame headers
// included.

var cbWorkloads = []struct {
	name string
	msg  func(i int) []byte
}{
	{"chat300B", chatMessage},
	{"json64KiB", func(int) []byte { return cbDoc }},
}

var cbDoc = jsonDocument(64 << 10)

func cbConfig(noTakeover bool) *compressionConfig {
	p := deflateParams{serverNoContextTakeover: noTakeover, clientNoContextTakeover: noTakeover}
	return &compressionConfig{params: p, extension: deflateResponse(p)}
}

// BenchmarkWriteCompressed: server-side Write with compression.
func BenchmarkWriteCompressed(b *testing.B) {
	ctx := context.Background()
	for _, wl := range cbWorkloads {
		for _, noTakeover := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/contextTakeover=%v", wl.name, !noTakeover), func(b *testing.B) {
				nc := &bnDiscard{}
				c := newConn(nc, nil, true, config{compression: cbConfig(noTakeover)})
				msgs := make([][]byte, 64)
				for i := range msgs {
					msgs[i] = wl.msg(i)
				}
				var in int64
				b.SetBytes(int64(len(msgs[0])))
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					m := msgs[i%len(msgs)]
					in += int64(len(m))
					if err := c.Write(ctx, MessageText, m); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(in)/float64(nc.n), "ratio")
			})
		}
	}
}

// BenchmarkReadCompressed: server-side ReadAppend, into a reused buffer,
// of a masked compressed message. The same frame comes again and again: it
// was compressed as a stream of its own, so it inflates the same with or
// without context takeover, but the inflater does the work of each mode
// (keeping the window, or not).
func BenchmarkReadCompressed(b *testing.B) {
	ctx := context.Background()
	for _, wl := range cbWorkloads {
		msg := wl.msg(7)
		d, _ := newDeflater(defaultDeflateLevel(true), true, 15)
		payload, _ := d.appendCompress(nil, msg)
		frame := rawpeer.Frame{Fin: true, RSV: rawpeer.RSV1, Op: rawpeer.OpText, Masked: true, Key: [4]byte{1, 2, 3, 4}, Payload: payload}.Encode()
		for _, noTakeover := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/contextTakeover=%v", wl.name, !noTakeover), func(b *testing.B) {
				c := newConn(&bnReplay{frame: frame}, nil, true, config{compression: cbConfig(noTakeover)})
				var buf []byte
				b.SetBytes(int64(len(msg)))
				b.ReportAllocs()
				for b.Loop() {
					var err error
					_, buf, err = c.ReadAppend(ctx, buf[:0])
					if err != nil || len(buf) != len(msg) {
						b.Fatal(len(buf), err)
					}
				}
				b.ReportMetric(float64(len(msg))/float64(len(frame)), "ratio")
			})
		}
	}
}

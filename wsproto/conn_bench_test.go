package wsproto

import (
	"context"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"wsraise/internal/rawpeer"
)

// bnDiscard is a net.Conn whose writes vanish: BenchmarkWrite measures the
// library, not the kernel.
type bnDiscard struct{ n int64 }

func (c *bnDiscard) Read(p []byte) (int, error)         { return 0, io.EOF }
func (c *bnDiscard) Write(p []byte) (int, error)        { c.n += int64(len(p)); return len(p), nil }
func (c *bnDiscard) Close() error                       { return nil }
func (c *bnDiscard) LocalAddr() net.Addr                { return fzAddr{} }
func (c *bnDiscard) RemoteAddr() net.Addr               { return fzAddr{} }
func (c *bnDiscard) SetDeadline(t time.Time) error      { return nil }
func (c *bnDiscard) SetReadDeadline(t time.Time) error  { return nil }
func (c *bnDiscard) SetWriteDeadline(t time.Time) error { return nil }

// bnReplay is a net.Conn whose reads return the same frame over and over.
type bnReplay struct {
	bnDiscard
	frame []byte
	off   int
}

func (c *bnReplay) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], c.frame[c.off:])
		n += k
		c.off = (c.off + k) % len(c.frame)
	}
	return n, nil
}

var bnSizes = []int{16, 1 << 10, 64 << 10}

func bnName(size int) string {
	switch {
	case size >= 1<<10:
		return strconv.Itoa(size>>10) + "KiB"
	}
	return strconv.Itoa(size) + "B"
}

// BenchmarkWrite: server-side Write of a whole binary message.
func BenchmarkWrite(b *testing.B) {
	ctx := context.Background()
	for _, size := range bnSizes {
		b.Run(bnName(size), func(b *testing.B) {
			nc := &bnDiscard{}
			c := newConn(nc, nil, true, config{})
			p := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if err := c.Write(ctx, MessageBinary, p); err != nil {
					b.Fatal(err)
				}
			}
			if per := nc.n / int64(b.N); per < int64(size)+2 {
				b.Fatalf("%d bytes written per message of %d", per, size)
			}
		})
	}
}

// BenchmarkRead: server-side Read (a new slice per message, which the
// caller owns) and Reader (streamed into the caller's buffer) of a masked
// binary message.
func BenchmarkRead(b *testing.B) {
	ctx := context.Background()
	for _, size := range bnSizes {
		payload := ctPattern(5, size)
		frame := rawpeer.Binary(payload).Mask().Encode()
		b.Run("Read/"+bnName(size), func(b *testing.B) {
			c := newConn(&bnReplay{frame: frame}, nil, true, config{})
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				_, p, err := c.Read(ctx)
				if err != nil || len(p) != size {
					b.Fatal(len(p), err)
				}
			}
		})
		b.Run("ReadAppend/"+bnName(size), func(b *testing.B) {
			c := newConn(&bnReplay{frame: frame}, nil, true, config{})
			var buf []byte
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				_, buf, err = c.ReadAppend(ctx, buf[:0])
				if err != nil || len(buf) != size {
					b.Fatal(len(buf), err)
				}
			}
		})
		b.Run("Reader/"+bnName(size), func(b *testing.B) {
			c := newConn(&bnReplay{frame: frame}, nil, true, config{})
			buf := make([]byte, 4096)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				_, r, err := c.Reader(ctx)
				if err != nil {
					b.Fatal(err)
				}
				total := 0
				for {
					n, err := r.Read(buf)
					total += n
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				if total != size {
					b.Fatalf("read %d bytes of %d", total, size)
				}
			}
		})
	}
}

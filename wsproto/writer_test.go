package wsproto

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"testing"
	"time"

	"wsraise/internal/rawpeer"
)

// recordConn is a net.Conn that keeps what is written to it.
type recordConn struct {
	net.Conn // nil: only the methods below are used
	out      bytes.Buffer
}

func (c *recordConn) Write(p []byte) (int, error)      { return c.out.Write(p) }
func (c *recordConn) Close() error                     { return nil }
func (c *recordConn) SetDeadline(time.Time) error      { return nil }
func (c *recordConn) SetReadDeadline(time.Time) error  { return nil }
func (c *recordConn) SetWriteDeadline(time.Time) error { return nil }
func (c *recordConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *recordConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *recordConn) Read(p []byte) (int, error)       { return 0, net.ErrClosed }

// writerMessage streams the writes given (their sizes) through a
// messageWriter with the write buffer bufSize, and returns the message and
// the frames that went on the wire.
func writerMessage(t testing.TB, server bool, bufSize int, sizes []int) (msg []byte, frames []rawpeer.Frame) {
	rc := &recordConn{}
	c := newConn(rc, nil, server, config{writeBufferSize: bufSize})
	w, err := c.Writer(context.Background(), MessageBinary)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range sizes {
		p := ctPattern(i, n)
		msg = append(msg, p...)
		if k, err := w.Write(p); err != nil || k != n {
			t.Fatalf("write %d of %d bytes: %d, %v", i, n, k, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r := bytes.NewReader(rc.out.Bytes())
	for r.Len() > 0 {
		f, err := rawpeer.ReadFrame(r)
		if err != nil {
			t.Fatalf("frame %d: %v", len(frames), err)
		}
		if f.Masked == server {
			t.Fatalf("frame %d: masked %v from a server=%v", len(frames), f.Masked, server)
		}
		frames = append(frames, f)
	}
	return msg, frames
}

// checkFragments checks frames against section 5.4 and against msg: a
// binary frame then continuations, FIN on the last only, the payloads
// making up msg; and that the writer sent no empty fragment and no more
// fragments than writes, plus the final one.
func checkFragments(msg []byte, writes int, frames []rawpeer.Frame) error {
	if len(frames) == 0 {
		return fmt.Errorf("no frame")
	}
	var got []byte
	for i, f := range frames {
		last := i == len(frames)-1
		want := rawpeer.OpCont
		if i == 0 {
			want = rawpeer.OpBinary
		}
		if f.Op != want || f.Fin != last || f.RSV != 0 {
			return fmt.Errorf("frame %d of %d: op %v fin %v rsv %d", i, len(frames), f.Op, f.Fin, f.RSV)
		}
		if len(f.Payload) == 0 && len(msg) > 0 {
			return fmt.Errorf("frame %d of %d: empty", i, len(frames))
		}
		got = append(got, f.Payload...)
	}
	if !bytes.Equal(got, msg) {
		return fmt.Errorf("payloads make %d bytes, not the %d written", len(got), len(msg))
	}
	if len(frames) > writes+1 {
		return fmt.Errorf("%d frames for %d writes", len(frames), writes)
	}
	return nil
}

// TestWriterFragments: a streamed message reaches the wire whole, in
// valid fragments, whatever the sizes of the writes and of the buffer,
// from a server and from a client (masked); a large Write is one
// fragment, not buffer-sized pieces, and the message ends with data.
func TestWriterFragments(t *testing.T) {
	for _, tc := range []struct {
		name   string
		buf    int
		sizes  []int
		frames int // 0: not checked
		last   int // the final frame's length; -1: not checked
	}{
		{"empty", 0, nil, 1, -1},
		{"one small", 0, []int{100}, 1, -1},
		{"small writes under the buffer", 0, []int{1000, 1000, 1000}, 1, -1},
		{"exactly the buffer", 0, []int{defaultBufferSize}, 1, -1},
		{"the buffer and one", 0, []int{defaultBufferSize, 1}, 2, -1},
		{"small writes over the buffer", 0, []int{1000, 1000, 1000, 1000, 1000}, 2, -1},
		{"one large", 0, []int{5000}, 2, writerTail},
		{"small then large", 0, []int{100, 60000}, 2, writerTail},
		{"large then small", 0, []int{60000, 100}, 2, writerTail + 100},
		{"large, large", 0, []int{60000, 60000}, 3, writerTail},
		{"1 MiB", 0, []int{1 << 20}, 2, writerTail},
		{"just over the tail", 0, []int{3500, writerTail + 1}, 2, writerTail},
		{"tiny buffer, large", 200, []int{5000}, 2, 200},
		{"tiny buffer, small writes", 200, []int{150, 150, 150, 150}, 0, -1},
		{"tiny buffer, mixed", 200, []int{7, 300, 1, 199, 200, 201, 5000}, 0, -1},
		{"64 KiB buffer", 64 << 10, []int{70000, 10, 200 << 10}, 3, writerTail},
	} {
		for _, server := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/server=%v", tc.name, server), func(t *testing.T) {
				msg, frames := writerMessage(t, server, tc.buf, tc.sizes)
				if err := checkFragments(msg, len(tc.sizes), frames); err != nil {
					t.Fatal(err)
				}
				// A message that ends with a large Write ends with data:
				// the writer kept the Write's last bytes for the final
				// fragment, rather than sending an empty one.
				if tc.last >= 0 && len(frames[len(frames)-1].Payload) != tc.last {
					t.Fatalf("final frame of %d bytes, want %d", len(frames[len(frames)-1].Payload), tc.last)
				}
				if tc.frames != 0 && len(frames) != tc.frames {
					var lens []int
					for _, f := range frames {
						lens = append(lens, len(f.Payload))
					}
					t.Fatalf("%d frames %v, want %d", len(frames), lens, tc.frames)
				}
			})
		}
	}
}

// FuzzWriter streams up to 16 writes of sizes drawn from the input (two
// bytes each, under 20,000, so that an execution stays fast enough to
// minimize) through a writer with a buffer size from the input, and checks
// the fragments on the wire as TestWriterFragments does.
func FuzzWriter(f *testing.F) {
	f.Add(uint16(0), true, []byte{0x00, 0x64, 0x4e, 0x1f})
	f.Add(uint16(200), false, []byte{0x00, 0x07, 0x01, 0x2c, 0x00, 0x01, 0x13, 0x88})
	f.Add(uint16(4096), true, []byte{0x10, 0x00, 0x00, 0x01, 0x04, 0x00, 0x04, 0x01})
	f.Fuzz(func(t *testing.T, bufSize uint16, server bool, in []byte) {
		var sizes []int
		for len(in) >= 2 && len(sizes) < 16 {
			sizes = append(sizes, int(binary.BigEndian.Uint16(in))%20000)
			in = in[2:]
		}
		msg, frames := writerMessage(t, server, int(bufSize), sizes)
		if err := checkFragments(msg, len(sizes), frames); err != nil {
			t.Fatalf("buffer %d, writes %v: %v", bufSize, sizes, err)
		}
	})
}

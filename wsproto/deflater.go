package wsproto

import (
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"unsafe"

	"wsraise/wsproto/internal/deflate"
)

// The write side of permessage-deflate's codec (RFC 7692 section 7.2.1),
// over internal/deflate. Between messages a deflater keeps nothing
// without context takeover, and with it the encoder's window and hash
// table: 2^windowBits bytes and at most 8 KiB.

// deflater compresses the messages of one connection.
type deflater struct {
	enc        *deflate.Encoder
	dst        io.Writer // a streamed message's destination, nil between messages
	windowBits int       // the window it compresses with, 8 to 15
}

// newDeflater returns a deflater at a compression level: 1 (fastest) to 9
// (smallest), flate.HuffmanOnly, flate.DefaultCompression (6, as in
// compress/flate), or 0 for internal/deflate's default. It compresses
// with a window of 2^windowBits bytes (8 to 15, RFC 7692 section 7.1.2),
// with or without context takeover (section 7.1.1:
// server_no_context_takeover for a server's deflater,
// client_no_context_takeover for a client's).
func newDeflater(level int, noContextTakeover bool, windowBits int) (*deflater, error) {
	if level < flate.HuffmanOnly || level > flate.BestCompression {
		return nil, fmt.Errorf("websocket: compression level %d is not from %d to %d", level, flate.HuffmanOnly, flate.BestCompression)
	}
	if windowBits < deflate.MinWindowBits || windowBits > deflate.MaxWindowBits {
		return nil, fmt.Errorf("websocket: window bits %d is not from %d to %d", windowBits, deflate.MinWindowBits, deflate.MaxWindowBits)
	}
	if level == flate.DefaultCompression {
		level = 6
	}
	return &deflater{enc: deflate.New(windowBits, level, !noContextTakeover), windowBits: windowBits}, nil
}

var errDeflaterIdle = errors.New("websocket: deflater used with no message begun")

// begin starts a streamed message; its compressed bytes go to dst as Write
// and finish produce them, less the final 00 00 ff ff.
func (d *deflater) begin(dst io.Writer) {
	d.dst = dst
}

// Write compresses p into the current message. Output comes in blocks,
// so most calls write nothing to dst.
func (d *deflater) Write(p []byte) (int, error) {
	if d.dst == nil {
		return 0, errDeflaterIdle
	}
	if err := d.emit(d.enc.Write, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// finish ends the current message with the sync flush, less its
// 00 00 ff ff (section 7.2.1: "Remove 4 octets (that are 0x00 0x00 0xff
// 0xff) from the tail end"). An empty message becomes the single byte
// 0x00 (section 7.2.3.6).
func (d *deflater) finish() error {
	if d.dst == nil {
		return errDeflaterIdle
	}
	err := d.emit(func(dst, _ []byte) []byte { return d.enc.Flush(dst) }, nil)
	d.dst = nil
	return err
}

// emit runs step, which appends compressed bytes to a pooled buffer, and
// writes them to dst.
func (d *deflater) emit(step func(dst, p []byte) []byte, p []byte) error {
	bp := compressBuffers.Get().(*[]byte)
	out := step((*bp)[:0], p)
	var err error
	if len(out) > 0 {
		_, err = d.dst.Write(out)
	}
	if cap(out) <= maxPooledCompressBuffer {
		*bp = out[:0]
		compressBuffers.Put(bp)
	}
	if err != nil {
		d.fail()
	}
	return err
}

// fail gives up the current message: Write and finish then report
// errDeflaterIdle until the next begins. The encoder forgets its history,
// so that it stays consistent: the next message would start a new stream,
// referring to nothing before it (RFC 7692 section 7.2.1 lets the sender
// choose what its compressor refers to). The peer, though, got part of a
// message and is left in the middle of a block: the connection has to
// fail anyway, and fail keeps the encoder from making it worse.
func (d *deflater) fail() {
	d.dst = nil
	d.enc.Reset()
}

// abort gives up the current message, if one was begun and not finished.
func (d *deflater) abort() {
	if d.dst != nil {
		d.fail()
	}
}

// appendCompress compresses msg as one message and appends it to dst.
func (d *deflater) appendCompress(dst, msg []byte) ([]byte, error) {
	return d.enc.Flush(d.enc.Write(dst, msg)), nil
}

// kept returns the bytes the deflater holds between messages.
func (d *deflater) kept() int { return int(unsafe.Sizeof(*d)) + d.enc.Kept() }

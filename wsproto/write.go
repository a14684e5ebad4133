package wsproto

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"sync"
)

var (
	errMessageType   = errors.New("websocket: message type must be MessageText or MessageBinary")
	errWriteUTF8     = errors.New("websocket: text message is not valid UTF-8")
	errWriterClosed  = errors.New("websocket: write to a closed message writer")
	errAbandoned     = errors.New("websocket: an earlier streamed message was left unfinished; only Close is possible")
	errControlLength = errors.New("websocket: control frame payload over 125 bytes")
)

// Write sends p as one message, in one frame. A text message must be valid
// UTF-8 (RFC 6455 section 5.6); if it is not, nothing is sent. ctx bounds the
// wait for another message's writer and the write itself; a write that fails
// or is interrupted closes the connection, since a frame may be cut short.
func (c *Conn) Write(ctx context.Context, typ MessageType, p []byte) error {
	if typ != MessageText && typ != MessageBinary {
		return errMessageType
	}
	if typ == MessageText && !validUTF8(p) {
		return errWriteUTF8
	}
	if err := c.acquireMsg(ctx); err != nil {
		return err
	}
	defer c.releaseMsg()
	if c.deflate != nil && len(p) >= c.threshold {
		return c.writeCompressed(ctx, opcode(typ), p)
	}
	return c.writeFrame(ctx, true, 0, opcode(typ), p)
}

// Writer returns a writer for one message that is sent in fragments
// (section 5.4) as its buffer fills; Close sends the last one. Control
// frames, such as pongs and a close, may go out between the fragments.
// Other messages wait until the writer is closed. A text message is checked
// as it is written: bytes that are not valid UTF-8 make Write fail, and the
// unfinished message then leaves only Close possible on the connection.
func (c *Conn) Writer(ctx context.Context, typ MessageType) (io.WriteCloser, error) {
	if typ != MessageText && typ != MessageBinary {
		return nil, errMessageType
	}
	if err := c.acquireMsg(ctx); err != nil {
		return nil, err
	}
	w := &c.mw
	w.ctx = ctx
	w.op = opcode(typ)
	w.open = true
	w.text = typ == MessageText
	w.sent = false
	w.err = nil
	w.deflating = false
	w.utf8.reset()
	w.buf = c.getBuffer(&c.mwBuf)
	*w.buf = (*w.buf)[:0]
	return w, nil
}

// Ping sends a ping with payload (at most 125 bytes). The pong arrives
// through the OnPong hook while the connection is being read.
func (c *Conn) Ping(ctx context.Context, payload []byte) error {
	if len(payload) > maxControlPayload {
		return errControlLength
	}
	return c.writeFrame(ctx, true, 0, opPing, payload)
}

func (c *Conn) acquireMsg(ctx context.Context) error {
	select {
	case c.msgSem <- struct{}{}:
		return nil
	default:
	}
	select {
	case c.msgSem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return c.Err()
	}
}

func (c *Conn) releaseMsg() { <-c.msgSem }

// writeControl sends a control frame from the read path, unless a close
// frame has been sent.
func (c *Conn) writeControl(op opcode, p []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if !c.closeSent && c.writeErr == nil {
		c.boundReplyLocked()
		c.writeFrameLocked(true, 0, op, p)
	}
}

// boundReplyLocked bounds the write of a reply the read path sends (a pong,
// the echo of a close), and of any close frame, by the write timeout, or
// the close timeout when there is none. A peer that sends pings and never reads would otherwise
// block the reader, and every writer behind it, once the socket's buffers
// are full; past the bound the write fails and the connection ends (1006).
// The next write with a context of its own clears the deadline. The caller
// holds wmu, so no other write is under way.
func (c *Conn) boundReplyLocked() {
	t := c.wdl.timeout
	if t <= 0 {
		t = c.closeTimeout
	}
	c.wdl.setTimeout(t)
}

// writeFrame sends one frame, with the RSV bits rsv.
func (c *Conn) writeFrame(ctx context.Context, fin bool, rsv byte, op opcode, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		// Section 5.5.1: nothing follows a close frame.
		if ce := c.closingErr(); ce != nil {
			return ce
		}
		return ErrClosed
	}
	if c.writeErr != nil {
		return c.writeErr
	}
	if c.abandoned && !op.isControl() {
		return errAbandoned
	}
	stop := c.wdl.start(ctx)
	defer c.wdl.end(stop)
	return ctxError(ctx, c.writeFrameLocked(fin, rsv, op, p))
}

// writeFrameLocked writes the frame with as few system calls as it can:
// header and payload together. A client masks each frame with a fresh key
// from crypto/rand (section 5.3: "unpredictable"). The caller holds wmu.
func (c *Conn) writeFrameLocked(fin bool, rsv byte, op opcode, p []byte) error {
	h := header{fin: fin, rsv: rsv, op: op, length: int64(len(p))}
	bp := c.getBuffer(&c.frameBuf)
	defer putBuffer(bp)
	b := appendHeader((*bp)[:0], h)
	var err error
	if c.server {
		if len(b)+len(p) <= cap(b) {
			_, err = c.nc.Write(append(b, p...))
		} else {
			// Large payloads go out from the caller's memory with writev.
			c.bufsArr = [2][]byte{b, p}
			c.bufs = c.bufsArr[:]
			_, err = c.bufs.WriteTo(c.nc)
			c.bufsArr = [2][]byte{}
		}
	} else {
		rand.Read(c.maskKey[:])
		h.masked = true
		h.key = c.maskKey
		b = appendHeader((*bp)[:0], h)
		if len(b)+len(p) > cap(b) {
			// The payload is masked into a copy, as it is not ours to
			// change: in pieces of up to maskBufferSize, so that a
			// 64 KiB message is one write, not sixteen.
			mb := maskBuffers.Get().(*[maskBufferSize]byte)
			defer maskBuffers.Put(mb)
			b = append(mb[:0], b...)
		}
		pos := 0
		for {
			k := copy(b[len(b):cap(b)], p)
			chunk := b[len(b) : len(b)+k]
			pos = maskBytes(h.key, pos, chunk)
			if _, err = c.nc.Write(b[:len(b)+k]); err != nil || k == len(p) {
				break
			}
			p = p[k:]
			b = b[:0]
		}
	}
	if err != nil {
		c.writeErr = err
		c.closeTCP(&CloseError{Code: StatusAbnormalClosure, Err: err})
		if end := c.Err(); end != nil && end.Code != StatusAbnormalClosure {
			c.writeErr = end
		}
	}
	return err
}

// messageWriter is the io.WriteCloser that Writer returns. There is one per
// connection, reused for every message; do not use it after Close.
type messageWriter struct {
	c    *Conn
	ctx  context.Context
	op   opcode // the first frame's opcode, then continuation
	buf  *[]byte
	open bool
	text bool
	sent bool // a fragment has gone out
	err  error
	utf8 utf8Stream
	// With compression (write_deflate.go): buf holds the start of the
	// message until it reaches the threshold; from then on, deflating,
	// the deflater compresses into out, sent as fragments through sink.
	deflating bool
	out       *[]byte
	sink      deflateSink
}

func (w *messageWriter) Write(p []byte) (int, error) {
	if !w.open {
		return 0, errWriterClosed
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.text {
		if !w.utf8.write(p) {
			w.err = errWriteUTF8
			return 0, w.err
		}
	}
	if w.c.deflate != nil {
		return w.writeCompressible(p)
	}
	n := 0
	for len(p) > 0 {
		b := *w.buf
		if len(b) == cap(b) {
			// Full, and more is coming: it is not the last fragment.
			if err := w.flush(b, false); err != nil {
				return n, err
			}
			*w.buf = b[:0]
			continue
		}
		if len(b) == 0 && len(p) > cap(b) {
			// Larger than the buffer: send it as it is, with no copy,
			// but for its last writerTail bytes, kept in the buffer: if
			// the message ends there, Close sends them with FIN rather
			// than an empty final frame (one system call and one wake-up
			// of the peer less).
			keep := min(writerTail, cap(b))
			if err := w.flush(p[:len(p)-keep], false); err != nil {
				return n, err
			}
			n += len(p) - keep
			p = p[len(p)-keep:]
			continue
		}
		k := copy(b[len(b):cap(b)], p)
		*w.buf = b[:len(b)+k]
		p = p[k:]
		n += k
	}
	return n, nil
}

// writerTail is how much of a large Write a messageWriter keeps back for
// the final fragment.
const writerTail = 1024

// flush sends p as the next fragment. The first fragment of a compressed
// message carries RSV1 (RFC 7692 section 6), no other does.
func (w *messageWriter) flush(p []byte, fin bool) error {
	var rsv byte
	if w.deflating && !w.sent {
		rsv = rsv1
	}
	err := w.c.writeFrame(w.ctx, fin, rsv, w.op, p)
	if err != nil {
		w.err = err
		return err
	}
	w.op = opContinuation
	w.sent = true
	return nil
}

// Close sends the last fragment and lets the next message be written.
func (w *messageWriter) Close() error {
	if !w.open {
		return errWriterClosed
	}
	w.open = false
	c := w.c
	defer c.releaseMsg()
	defer putBuffer(w.buf)
	if w.err == nil && w.text && !w.utf8.done() {
		w.err = errWriteUTF8
	}
	if w.err == nil && c.deflate != nil && !w.deflating && len(*w.buf) >= c.threshold {
		w.startDeflate()
	}
	if w.deflating {
		if w.err == nil {
			if err := c.deflate.finish(); err != nil {
				w.err = err
			} else {
				w.flush(*w.out, true)
			}
		}
		if w.err != nil {
			// The message was given up midway: the deflater drops its
			// unfinished stream, and the next message starts a new one.
			c.deflate.abort()
		}
		putBuffer(w.out)
		w.out = nil
		w.deflating = false
	} else if w.err == nil {
		return w.flush(*w.buf, true)
	}
	if w.err != nil && w.sent {
		// Fragments went out without a final one: section 5.4 allows no
		// other message until it ends, so only Close remains.
		c.wmu.Lock()
		c.abandoned = true
		c.wmu.Unlock()
	}
	return w.err
}

// maskBufferSize is the largest piece of a client's frame masked and
// written at once; maskBuffers pools the buffers, held only during a write.
const maskBufferSize = 64<<10 + maxHeaderSize

var maskBuffers = sync.Pool{New: func() any { return new([maskBufferSize]byte) }}

// Write buffers of the default size are pooled, so an idle connection
// holds none. A connection with another size keeps its own in *own.
var bufferPool = sync.Pool{New: func() any {
	b := make([]byte, 0, defaultBufferSize)
	return &b
}}

func (c *Conn) getBuffer(own **[]byte) *[]byte {
	if c.writeBufSize == defaultBufferSize {
		return bufferPool.Get().(*[]byte)
	}
	if *own == nil {
		b := make([]byte, 0, c.writeBufSize)
		*own = &b
	}
	return *own
}

func putBuffer(b *[]byte) {
	if cap(*b) == defaultBufferSize {
		*b = (*b)[:0]
		bufferPool.Put(b)
	}
}

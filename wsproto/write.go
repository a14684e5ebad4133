package wsproto

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"sync"
	"time"
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
// wait for another message's writer and the write itself. A write that ctx
// interrupts before any byte went out changes nothing; one that fails or is
// interrupted midway closes the connection, since a frame was cut short.
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
// (section 5.4) as its buffer fills; Close sends the last one. A Write
// larger than the buffer goes out at once as one fragment, with what was
// buffered before it, but for its last KiB, kept for the next fragment so
// that the final one carries data. Control
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
	// A pong waits its turn behind a data write, fairly (sync.Mutex hands
	// the lock over in order under contention). Without a write timeout, a
	// data write to a peer that does not read blocks until it reads or
	// the connection closes, and the reader with it; set one (the server
	// package does) or give writes a context deadline.
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if !c.closeSent && c.writeErr == nil {
		c.boundReplyLocked()
		c.writeFrameLocked(true, 0, op, p)
	}
}

// lockWriteBounded takes wmu to send a close frame (Close, the echo of
// the peer's close, failing the connection). A data write that holds it
// while blocked on a peer that does not read, with no deadline of its own
// (no context deadline, no write timeout), would hold it forever; the
// connection is ending anyway, so past the close timeout it is closed,
// which fails that write and frees the lock (the peer sees 1006).
func (c *Conn) lockWriteBounded() {
	if c.wmu.TryLock() {
		return
	}
	t := time.AfterFunc(c.closeTimeout, func() {
		c.closeTCP(&CloseError{Code: StatusAbnormalClosure, Err: errWriteBlocked})
	})
	c.wmu.Lock()
	t.Stop()
}

var errWriteBlocked = errors.New("websocket: a write blocked on a peer that does not read held the connection past the close timeout")

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
	return c.writeFrameOf(ctx, fin, rsv, op, p, nil)
}

// writeFrameOf sends one frame whose payload is p followed by q, so that a
// messageWriter can send its buffer and the caller's bytes in one system
// call, with no copy.
func (c *Conn) writeFrameOf(ctx context.Context, fin bool, rsv byte, op opcode, p, q []byte) error {
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
	if err := ctx.Err(); err != nil {
		// Nothing is sent: the connection stays as it was.
		return err
	}
	stop := c.wdl.start(ctx)
	defer c.wdl.end(stop)
	written, err := c.sendFrameLocked(fin, rsv, op, p, q)
	if err != nil {
		if written == 0 && contextEnded(ctx) {
			// The caller's context ended before any byte of the frame
			// went out: no frame was cut short, and the connection goes
			// on. (The write timeout, by contrast, means a peer that
			// does not read, and ends the connection.)
			return ctx.Err()
		}
		c.failWriteLocked(err)
	}
	return ctxError(ctx, err)
}

// contextEnded reports whether ctx is done or its deadline has passed
// (the socket's deadline, set from it, may fire before ctx's own timer).
func contextEnded(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// writeFrameLocked writes a frame with payload p; the caller holds wmu. A
// write that fails ends the connection.
func (c *Conn) writeFrameLocked(fin bool, rsv byte, op opcode, p []byte) error {
	_, err := c.sendFrameLocked(fin, rsv, op, p, nil)
	if err != nil {
		c.failWriteLocked(err)
	}
	return err
}

// sendFrameLocked writes the frame, payload p then q, with as few system
// calls as it can: header and payload together. A client masks each frame
// with a fresh key from crypto/rand (section 5.3: "unpredictable"). It
// returns how many bytes of the frame went out. The caller holds wmu.
func (c *Conn) sendFrameLocked(fin bool, rsv byte, op opcode, p, q []byte) (written int64, err error) {
	h := header{fin: fin, rsv: rsv, op: op, length: int64(len(p) + len(q))}
	bp := c.getBuffer(&c.frameBuf)
	defer putBuffer(bp)
	b := appendHeader((*bp)[:0], h)
	if c.server {
		if len(b)+len(p)+len(q) <= cap(b) {
			b = append(b, p...)
			var n int
			n, err = c.nc.Write(append(b, q...))
			written = int64(n)
		} else {
			// Large payloads go out from the caller's memory with writev.
			c.bufsArr = [3][]byte{b, p, q}
			c.bufs = c.bufsArr[:]
			if len(q) == 0 {
				c.bufs = c.bufs[:2]
			}
			if vw, ok := c.nc.(vectorWriter); ok {
				written, err = vw.writeVector(c.bufs)
			} else {
				written, err = c.bufs.WriteTo(c.nc)
			}
			c.bufsArr = [3][]byte{}
		}
	} else {
		rand.Read(c.maskKey[:])
		h.masked = true
		h.key = c.maskKey
		b = appendHeader((*bp)[:0], h)
		if len(b)+len(p)+len(q) > cap(b) {
			// The payload is masked into a copy, as it is not ours to
			// change: in pieces of up to maskBufferSize, so that a
			// 64 KiB message is one write, not sixteen.
			mb := maskBuffers.Get().(*[maskBufferSize]byte)
			defer maskBuffers.Put(mb)
			b = append(mb[:0], b...)
		}
		pos := 0
		for {
			n := len(b)
			k := copy(b[n:cap(b)], p)
			p = p[k:]
			if len(p) == 0 && len(q) > 0 {
				// p is all copied: q follows it in the same piece.
				m := copy(b[n+k:cap(b)], q)
				p, q = q[m:], nil
				k += m
			}
			pos = maskBytes(h.key, pos, b[n:n+k])
			var m int
			m, err = c.nc.Write(b[:n+k])
			written += int64(m)
			if err != nil || len(p) == 0 {
				break
			}
			b = b[:0]
		}
	}
	return written, err
}

// failWriteLocked ends the connection after a failed write: a frame may
// have been cut short, and nothing can follow it. The caller holds wmu.
func (c *Conn) failWriteLocked(err error) {
	c.writeErr = err
	c.closeTCP(&CloseError{Code: StatusAbnormalClosure, Err: err})
	if end := c.Err(); end != nil && end.Code != StatusAbnormalClosure {
		c.writeErr = end
	}
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
	b := *w.buf
	if len(b)+len(p) <= cap(b) {
		*w.buf = append(b, p...)
		return len(p), nil
	}
	n := len(p)
	if len(p) <= writerTail && len(p) <= cap(b) {
		// A small Write that overflows the buffer: fill it and send it.
		k := copy(b[len(b):cap(b)], p)
		if err := w.flush(b[:cap(b)], nil, false); err != nil {
			return 0, err
		}
		*w.buf = append(b[:0], p[k:]...)
		return n, nil
	}
	// A large Write: what is buffered and all of p, but for its last
	// bytes, go out as one fragment in one system call, with no copy. The
	// bytes kept back wait for the next Write or for Close, which sends
	// them with FIN rather than an empty final fragment (one system call
	// and one wake-up of the peer less).
	keep := min(writerTail, cap(b))
	if err := w.flush(b, p[:len(p)-keep], false); err != nil {
		return 0, err
	}
	*w.buf = append(b[:0], p[len(p)-keep:]...)
	return n, nil
}

// writerTail is how much of a large Write a messageWriter keeps back for
// the final fragment.
const writerTail = 1024

// flush sends p and q as the next fragment. The first fragment of a compressed
// message carries RSV1 (RFC 7692 section 6), no other does.
func (w *messageWriter) flush(p, q []byte, fin bool) error {
	var rsv byte
	if w.deflating && !w.sent {
		rsv = rsv1
	}
	err := w.c.writeFrameOf(w.ctx, fin, rsv, w.op, p, q)
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
				w.flush(*w.out, nil, true)
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
		return w.flush(*w.buf, nil, true)
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

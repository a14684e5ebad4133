package wsproto

import "context"

// The write side of permessage-deflate (RFC 7692 section 7.2.1). The
// deflater is used only by whoever holds msgSem, so messages are
// compressed in the order they go out, which context takeover needs.
// Control frames are never compressed (section 6.1) and may still go out
// between the fragments of a compressed message.

// writeCompressed sends p compressed, in one frame with RSV1 set (section
// 6: the "Per-Message Compressed" bit), through a pooled buffer. The caller
// holds msgSem.
func (c *Conn) writeCompressed(ctx context.Context, op opcode, p []byte) error {
	bp := compressBuffers.Get().(*[]byte)
	b, err := c.deflate.appendCompress((*bp)[:0], p)
	if err == nil {
		err = c.writeFrame(ctx, true, rsv1, op, b)
	}
	if cap(b) <= maxPooledCompressBuffer {
		*bp = b[:0]
		compressBuffers.Put(bp)
	}
	return err
}

// writeCompressible is messageWriter.Write on a connection with
// compression: the message waits in buf until it reaches the threshold (or
// fills the buffer, if the threshold is larger), then goes through the
// deflater, and out as fragments as the compressed bytes fill a buffer.
func (w *messageWriter) writeCompressible(p []byte) (int, error) {
	if !w.deflating {
		b := *w.buf
		if len(b)+len(p) < w.c.threshold && len(b)+len(p) <= cap(b) {
			*w.buf = append(b, p...)
			return len(p), nil
		}
		if err := w.startDeflate(); err != nil {
			return 0, err
		}
	}
	n, err := w.c.deflate.Write(p)
	if err != nil {
		if w.err == nil {
			w.err = err
		}
		return n, w.err
	}
	return n, nil
}

// startDeflate switches the message to compression, handing the deflater
// what buf holds.
func (w *messageWriter) startDeflate() error {
	c := w.c
	w.deflating = true
	w.out = c.getBuffer(&c.mwOut)
	*w.out = (*w.out)[:0]
	w.sink.w = w
	c.deflate.begin(&w.sink)
	if b := *w.buf; len(b) > 0 {
		_, err := c.deflate.Write(b)
		*w.buf = b[:0]
		if err != nil {
			if w.err == nil {
				w.err = err
			}
			return w.err
		}
	}
	return nil
}

// deflateSink receives the deflater's output for a streamed message and
// sends it as fragments, each a full buffer; Close sends the last one.
type deflateSink struct{ w *messageWriter }

func (s *deflateSink) Write(p []byte) (int, error) {
	w := s.w
	total := len(p)
	for len(p) > 0 {
		out := *w.out
		if len(out) == cap(out) {
			if err := w.flush(out, nil, false); err != nil {
				return 0, err
			}
			out = out[:0]
		}
		k := copy(out[len(out):cap(out)], p)
		*w.out = out[:len(out)+k]
		p = p[k:]
	}
	return total, nil
}

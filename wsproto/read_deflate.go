package wsproto

import (
	"errors"
	"io"
	"slices"
)

// The read side of permessage-deflate (RFC 7692 section 7.2.2). A message
// whose first frame has RSV1 set goes through the connection's inflater:
// the payload of its frames, unmasked and joined, is the compressed input
// (rawReader), and what the inflater gives is the message, checked as
// UTF-8 when it is text and limited to the read limit.

// rawReader is the inflater's source: the current message's payload as it
// is on the wire, across its frames. There is one per connection.
type rawReader struct{ c *Conn }

// Read returns payload bytes, unmasked, reading the next frame's header
// when one frame ends, and io.EOF at the end of the message's last frame.
// Control frames on the way are handled as usual (RFC 6455 section 5.4:
// they may come between the fragments of a message).
func (r *rawReader) Read(p []byte) (int, error) {
	c := r.c
	for c.remaining == 0 {
		if !c.fragmented {
			return 0, io.EOF
		}
		if err := c.nextDataFrame(); err != nil {
			return 0, err
		}
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > c.remaining {
		p = p[:c.remaining]
	}
	n, err := c.br.Read(p)
	if n > 0 {
		c.payloadRead(p[:n])
		return n, nil
	}
	if err != nil {
		return 0, c.ioError(err)
	}
	return 0, nil
}

var (
	errInflateTooBig = &CloseError{Code: StatusMessageTooBig, Reason: "decompressed message too big"}
	// RFC 7692 section 7.2.2 leaves open how to fail on data that does not
	// decompress; 1007 says the payload was not consistent with its type.
	errInflateCorrupt = &CloseError{Code: StatusInvalidPayload, Reason: "invalid compressed data"}
	// The context a message with context takeover refers to was lost to a
	// read interrupted in the middle of a compressed message: our fault,
	// not the peer's.
	errInflateContext = &CloseError{Code: StatusInternalError, Reason: "compression context lost"}
)

// readInflated reads decompressed bytes of the current message into p. At
// the end of the message it returns io.EOF, possibly with data.
func (c *Conn) readInflated(p []byte) (int, error) {
	if !c.inflating {
		// The inflater stopped on an error the caller has seen.
		return 0, c.abandonedInflate()
	}
	n, err := c.inflate.Read(p)
	// Section 8.1 of RFC 6455, on the decompressed bytes: fail as soon
	// as an invalid byte comes out.
	if n > 0 && c.msgType == MessageText && !c.utf8.write(p[:n]) {
		c.inflating = false
		c.inflate.end()
		return 0, c.fail(errInvalidUTF8Text)
	}
	switch {
	case err == nil:
		return n, nil
	case err == io.EOF:
		c.inflating = false
		// The message's text is whole: check that it ends on a whole
		// character (section 8.1) before anything else can fail.
		if c.msgType == MessageText && !c.utf8.done() {
			c.inMessage = false
			return 0, c.fail(errInvalidUTF8Text)
		}
		// A stream that ended with BFINAL set (section 7.2.3.4) may
		// leave bytes of the message unread; they are skipped.
		if serr := c.skipRaw(); serr != nil {
			return 0, serr
		}
		return n, c.endMessage()
	}
	c.inflating = false
	switch {
	case err == errInflateLimit:
		return 0, c.fail(errInflateTooBig)
	case errors.Is(err, errBadDeflate):
		return 0, c.fail(errInflateCorrupt)
	case err == errDeflateContext:
		return 0, c.fail(errInflateContext)
	}
	// The source's error: the connection has already failed or ended,
	// or a read deadline passed.
	return 0, err
}

// abandonedInflate is what reading a compressed message whose inflater has
// stopped gives: the connection's error if it has one, or the end of a
// message interrupted earlier.
func (c *Conn) abandonedInflate() error {
	if c.readErr != nil {
		return c.readErr
	}
	return errors.New("websocket: compressed message interrupted by an earlier error")
}

// appendInflated is ReadAppend for a compressed message. It grows dst only
// as output arrives, doubling but never past the read limit, so a message
// that inflates past the limit costs at most about twice the limit,
// whatever the size it would inflate to.
func (c *Conn) appendInflated(dst []byte) ([]byte, error) {
	buf := dst
	for {
		if len(buf) == cap(buf) {
			grow := max(cap(buf), 512)
			if c.readLimit > 0 {
				room := c.readLimit - int64(len(buf)-len(dst))
				if room == 0 {
					// At the limit: one more byte of output would be
					// past it. A probe byte tells, without growing buf.
					_, err := c.readInflated(c.probe[:])
					if err == io.EOF {
						return buf, nil
					}
					return buf[:len(dst)], err
				}
				grow = int(min(int64(grow), room))
			}
			buf = slices.Grow(buf, grow)
		}
		n, err := c.readInflated(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf[:len(dst)], err
		}
	}
}

// discardCompressed skips the rest of a compressed message. It still
// inflates it, into a pooled buffer, bounded by the read limit: with
// context takeover the next message may refer to this one's bytes, and
// the message is checked (UTF-8, the limit, the data) as if it were read.
func (c *Conn) discardCompressed() error {
	if c.inflating {
		buf := srcBuffers.Get().(*[srcBufferSize]byte)
		defer srcBuffers.Put(buf)
		for {
			_, err := c.readInflated(buf[:])
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}
	// The inflater stopped early, on a read deadline: skip what is left
	// on the wire. With context takeover the next compressed message will
	// fail with errInflateContext; without it, it starts afresh.
	if err := c.skipRaw(); err != nil {
		return err
	}
	c.inMessage = false
	return nil
}

// skipRaw skips the payload left in the current message's frames, in the
// read buffer itself.
func (c *Conn) skipRaw() error {
	for {
		if c.remaining == 0 {
			if !c.fragmented {
				return nil
			}
			if err := c.nextDataFrame(); err != nil {
				return err
			}
			continue
		}
		if c.br.Buffered() == 0 {
			if _, err := c.br.Peek(1); err != nil {
				return c.ioError(err)
			}
		}
		k := int(min(int64(c.br.Buffered()), c.remaining))
		c.br.Discard(k)
		c.remaining -= int64(k)
	}
}

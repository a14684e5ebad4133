package wsproto

import (
	"context"
	"io"
	"math"
	"slices"
)

// Reader waits for the next data message and returns its type and a reader
// for its payload, which ends with io.EOF at the end of the message. Control
// frames that arrive meanwhile are handled: pings are answered, pongs go to
// the OnPong hook, a close frame ends the connection.
//
// The reader is valid until the next call to Reader or Read, which first
// discards whatever of this message was not read. ctx bounds this call and
// every Read on the returned reader.
func (c *Conn) Reader(ctx context.Context) (MessageType, io.Reader, error) {
	if err := c.acquireRead(ctx); err != nil {
		return 0, nil, err
	}
	defer c.releaseRead()
	stop := c.rdl.start(ctx)
	defer c.rdl.end(stop)
	if err := c.beginMessage(); err != nil {
		return 0, nil, ctxError(ctx, err)
	}
	c.mr.ctx = ctx
	return c.msgType, &c.mr, nil
}

// Read waits for the next data message and returns it whole, in a new
// slice.
func (c *Conn) Read(ctx context.Context) (MessageType, []byte, error) {
	return c.ReadAppend(ctx, nil)
}

// ReadAppend waits for the next data message and appends it to dst. With a
// dst reused from one message to the next (dst[:0]), reading allocates
// nothing once dst has grown to the size of the messages.
func (c *Conn) ReadAppend(ctx context.Context, dst []byte) (MessageType, []byte, error) {
	if err := c.acquireRead(ctx); err != nil {
		return 0, dst, err
	}
	defer c.releaseRead()
	stop := c.rdl.start(ctx)
	defer c.rdl.end(stop)
	if err := c.beginMessage(); err != nil {
		return 0, dst, ctxError(ctx, err)
	}
	if c.compressed {
		buf, err := c.appendInflated(dst)
		if err != nil {
			return 0, buf, ctxError(ctx, err)
		}
		return c.msgType, buf, nil
	}
	// A frame announces its size, but room for it is made only as its
	// bytes arrive beyond trustedSize: a header alone must not make a
	// connection allocate up to the read limit.
	buf := slices.Grow(dst, int(min(c.remaining, trustedSize)))
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, int(min(c.remaining, int64(len(buf)))+1))
		}
		n, err := c.readPayload(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return c.msgType, buf, nil
		}
		if err != nil {
			return 0, buf[:len(dst)], ctxError(ctx, err)
		}
	}
}

// trustedSize is how much room ReadAppend makes for a frame on the word of
// its header alone.
const trustedSize = 64 << 10

// messageReader is the io.Reader that Reader returns. There is one per
// connection, reused for every message.
type messageReader struct {
	c   *Conn
	ctx context.Context
}

func (r *messageReader) Read(p []byte) (int, error) {
	c := r.c
	if err := c.acquireRead(r.ctx); err != nil {
		return 0, err
	}
	defer c.releaseRead()
	if !c.inMessage {
		if c.readErr != nil {
			return 0, c.readErr
		}
		return 0, io.EOF
	}
	stop := c.rdl.start(r.ctx)
	defer c.rdl.end(stop)
	n, err := c.readPayload(p)
	return n, ctxError(r.ctx, err)
}

// acquireRead takes the read side, waiting for another reader to finish.
func (c *Conn) acquireRead(ctx context.Context) error {
	select {
	case c.readSem <- struct{}{}:
		return nil
	default:
	}
	select {
	case c.readSem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return c.Err()
	}
}

func (c *Conn) releaseRead() { <-c.readSem }

// beginMessage discards the rest of any message not read to its end and
// reads up to the first data frame of the next one.
func (c *Conn) beginMessage() error {
	if c.readErr != nil {
		return c.readErr
	}
	if c.inMessage {
		if err := c.discardMessage(); err != nil {
			return err
		}
	}
	return c.nextDataFrame()
}

// nextDataFrame reads frame headers until a data frame's, answering the
// control frames on the way. A frame header, and a whole control frame, is
// consumed only once all of it has arrived, so a read interrupted by a
// deadline leaves the stream where it was.
func (c *Conn) nextDataFrame() error {
	for {
		b, err := c.br.Peek(2)
		if err != nil {
			return c.ioError(err)
		}
		n := headerSize(b[1])
		if b, err = c.br.Peek(n); err != nil {
			return c.ioError(err)
		}
		h, _, err := parseHeader(b)
		if err != nil {
			return c.fail(err.(*CloseError))
		}
		if ce := checkHeader(&h, c.server, c.fragmented, c.allowedRSV); ce != nil {
			return c.fail(ce)
		}
		if h.op.isControl() {
			b, err := c.br.Peek(n + int(h.length))
			if err != nil {
				return c.ioError(err)
			}
			p := c.ctrl[:h.length]
			copy(p, b[n:])
			c.br.Discard(n + int(h.length))
			if h.masked {
				maskBytes(h.key, 0, p)
			}
			if err := c.handleControl(h.op, p); err != nil {
				return err
			}
			continue
		}
		c.br.Discard(n)
		c.fragmented = !h.fin
		c.frame = h
		c.remaining = h.length
		c.maskPos = 0
		if h.op != opContinuation {
			c.inMessage = true
			c.msgType = MessageType(h.op)
			c.msgSize = 0
			c.utf8.reset()
			// RFC 7692 section 6: RSV1 on the first frame marks the
			// whole message compressed; checkHeader allowed it only if
			// the extension was agreed.
			c.compressed = h.rsv&rsv1 != 0
			c.inflating = false
		}
		// Section 10.4: an endpoint may limit message size and answer a
		// larger one with 1009, before reading its payload. For a
		// compressed message this bounds the bytes on the wire; the
		// inflater bounds the output. The test is on what is left, so a
		// sum of fragment lengths (each below 2^63) cannot wrap past it;
		// without a limit, a sum that would wrap is too big as well.
		room := int64(math.MaxInt64) - c.msgSize
		if c.readLimit > 0 {
			room = c.readLimit - c.msgSize
		}
		if h.length > room {
			return c.fail(&CloseError{Code: StatusMessageTooBig, Reason: "message too big"})
		}
		c.msgSize += h.length
		if c.compressed && h.op != opContinuation {
			limit := c.readLimit
			if limit <= 0 {
				limit = -1
			}
			c.inflate.begin(&c.raw, limit)
			c.inflating = true
		}
		return nil
	}
}

// readPayload reads message payload into p, crossing into the next frame of
// a fragmented message as needed. It returns io.EOF, possibly with data,
// at the end of the message.
func (c *Conn) readPayload(p []byte) (int, error) {
	if c.compressed {
		return c.readInflated(p)
	}
	for c.remaining == 0 {
		if !c.fragmented {
			return 0, c.endMessage()
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
		if c.msgType == MessageText && !c.utf8.write(p[:n]) {
			return 0, c.fail(errInvalidUTF8Text)
		}
		if c.remaining == 0 && !c.fragmented {
			return n, c.endMessage()
		}
		return n, nil
	}
	if err != nil {
		return 0, c.ioError(err)
	}
	return 0, nil
}

var errInvalidUTF8Text = &CloseError{Code: StatusInvalidPayload, Reason: "invalid UTF-8 in text message"}

// payloadRead unmasks b, just read, and counts it.
func (c *Conn) payloadRead(b []byte) {
	if c.frame.masked {
		c.maskPos = maskBytes(c.frame.key, c.maskPos, b)
	}
	c.remaining -= int64(len(b))
}

// endMessage is called at the end of a message's last frame. Section 8.1:
// a text message must end on a character boundary.
func (c *Conn) endMessage() error {
	c.inMessage = false
	if c.msgType == MessageText && !c.utf8.done() {
		return c.fail(errInvalidUTF8Text)
	}
	return io.EOF
}

// discardMessage skips the rest of the current message, still checking it:
// a text message is validated even when nobody reads it.
func (c *Conn) discardMessage() error {
	if c.compressed {
		return c.discardCompressed()
	}
	for {
		if c.remaining == 0 {
			if !c.fragmented {
				if err := c.endMessage(); err != io.EOF {
					return err
				}
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
		// Work in the read buffer itself: no copy.
		b, _ := c.br.Peek(int(min(int64(c.br.Buffered()), c.remaining)))
		c.payloadRead(b)
		if c.msgType == MessageText && !c.utf8.write(b) {
			return c.fail(errInvalidUTF8Text)
		}
		c.br.Discard(len(b))
	}
}

// handleControl acts on a control frame (RFC 6455 section 5.5).
func (c *Conn) handleControl(op opcode, p []byte) error {
	switch op {
	case opPing:
		// Section 5.5.2: answer with a pong carrying the same payload,
		// unless a close frame has been sent.
		c.writeControl(opPong, p)
	case opPong:
		// Section 5.5.3: a pong may be unsolicited; no answer is expected.
		if c.onPong != nil {
			c.onPong(p)
		}
	case opClose:
		code, reason, err := parseClosePayload(p)
		if err != nil {
			return c.fail(err.(*CloseError))
		}
		received := &CloseError{Code: code, Reason: reason, Received: true}
		c.closeSeen.Store(true)
		// Section 5.5.1: answer a close frame with one, echoing its code.
		c.lockWriteBounded()
		echo := !c.closeSent
		if echo {
			c.closeSent = true
			c.noteClosing(received)
			if c.writeErr == nil {
				c.boundReplyLocked()
				c.writeFrameLocked(true, 0, opClose, p[:min(len(p), 2)])
			}
		}
		c.wmu.Unlock()
		c.readErr = c.closingErr()
		c.endRead()
		if echo {
			// We answered, so we end the connection; when we sent
			// first, the goroutine in Close does.
			c.finish()
		}
		return c.readErr
	}
	return nil
}

// ioError turns an error from the network into the read error: a timeout
// is returned as it is and leaves the connection usable; anything else
// means the TCP connection has ended.
func (c *Conn) ioError(err error) error {
	if isTimeout(err) {
		select {
		case <-c.done:
		default:
			return err
		}
	}
	if end := c.Err(); end != nil {
		c.readErr = end
	} else {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		ce := &CloseError{Code: StatusAbnormalClosure, Err: err}
		c.readErr = ce
		c.closeTCP(ce)
		if end := c.Err(); end != nil {
			c.readErr = end
		}
	}
	c.endRead()
	return c.readErr
}

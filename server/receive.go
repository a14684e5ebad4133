package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/bits"
	"sync"

	"wsraise/wsproto"
)

// Messages are read by a goroutine of the connection's own (readLoop), so
// that control frames (pings, the peer's close) are handled even while the
// handler only sends, and handed to the receive methods one at a time.
//
// Each message is read into a buffer from a pool, taken only once the
// message has begun: a connection waiting for its next message holds no
// buffer. Receive and ReceiveBytes give the buffer to the caller;
// ReceiveText, ReceiveJSON and ReceiveAppend copy or decode the message
// and put the buffer back, so a handler that uses them allocates nothing
// per message once the pool has buffers of the right size.

type message struct {
	typ  wsproto.MessageType
	data []byte
	buf  *[]byte // data's buffer, for the pool
}

// Pooled buffers come in powers of two, from 512 bytes to 16 MiB (the
// default read limit); a message grows into the next size by a copy.
// Larger messages get buffers of their own, not pooled.
const (
	minBufferShift = 9
	maxBufferShift = 24
)

var messageBuffers [maxBufferShift - minBufferShift + 1]sync.Pool

// bufferClass is the index in messageBuffers of the smallest size that
// holds n bytes, or -1 if none does.
func bufferClass(n int) int {
	shift := max(bits.Len(uint(max(n, 1)-1)), minBufferShift)
	if shift > maxBufferShift {
		return -1
	}
	return shift - minBufferShift
}

// getBuffer returns an empty buffer with room for at least n bytes.
func getBuffer(n int) *[]byte {
	class := bufferClass(n)
	if class < 0 {
		b := make([]byte, 0, n)
		return &b
	}
	if bp, ok := messageBuffers[class].Get().(*[]byte); ok {
		*bp = (*bp)[:0]
		return bp
	}
	b := make([]byte, 0, 1<<(class+minBufferShift))
	return &b
}

// putBuffer gives a buffer from getBuffer back, unless it is not of a
// pooled size.
func putBuffer(bp *[]byte) {
	if bp == nil {
		return
	}
	c := cap(*bp)
	if class := bufferClass(c); class >= 0 && c == 1<<(class+minBufferShift) {
		messageBuffers[class].Put(bp)
	}
}

// readLoop reads messages and hands them to the receive methods one at a
// time. It ends with the connection.
func (ws *WebSocket) readLoop() {
	defer close(ws.msgs)
	defer ws.cancel()
	// The connection is over (the peer closed, TCP dropped, a protocol
	// error, or this side's close completed): State says so at once.
	defer ws.state.Store(int32(Disconnected))
	hint := 0 // the last message's size: the first guess for the next
	for {
		m, err := ws.readMessage(hint)
		if err != nil {
			ws.readErr = err
			return
		}
		hint = len(m.data)
		// Once this side is closing, no message is handed over: a select
		// between the two cases below would pick one at random, and the
		// handler could receive message n+3 right after n.
		select {
		case <-ws.discard:
			putBuffer(m.buf)
			continue
		default:
		}
		select {
		case ws.msgs <- m:
		case <-ws.discard:
			// This side is closing: nobody will receive the message, and
			// reading on is how the peer's close frame is found.
			putBuffer(m.buf)
		case <-ws.conn.Done():
			putBuffer(m.buf)
			ws.readErr = ws.conn.Err()
			return
		}
	}
}

// readMessage reads the next message whole into a pooled buffer, first of
// the size that holds hint bytes. The buffer grows only as the message's
// bytes arrive, never on the word of a frame header.
func (ws *WebSocket) readMessage(hint int) (message, error) {
	typ, r, err := ws.conn.Reader(context.Background())
	if err != nil {
		return message{}, err
	}
	bp := getBuffer(hint)
	b := *bp
	for {
		if len(b) == cap(b) {
			// Full: is there more? A one-byte read tells, without a larger
			// buffer for a message that fit exactly. (one is the
			// connection's: on this goroutine's stack it would escape
			// through the io.Reader and be allocated each time.)
			one := ws.one[:]
			n, err := r.Read(one)
			if err == io.EOF && n == 0 {
				break
			}
			if err != nil && err != io.EOF {
				putBuffer(bp)
				return message{}, err
			}
			next := getBuffer(2 * cap(b))
			*next = append(append(*next, b...), one[:n]...)
			putBuffer(bp)
			bp, b = next, *next
			if err == io.EOF {
				break
			}
			continue
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			putBuffer(bp)
			return message{}, err
		}
	}
	*bp = b
	return message{typ: typ, data: b, buf: bp}, nil
}

// next waits for the next message.
func (ws *WebSocket) next() (message, error) {
	if ws.State() == Connecting || ws.msgs == nil {
		return message{}, ErrNotAccepted
	}
	m, ok := <-ws.msgs
	if !ok {
		return message{}, ws.disconnect()
	}
	return m, nil
}

// Receive returns the next message, text or binary. The slice is the
// caller's to keep.
func (ws *WebSocket) Receive() (wsproto.MessageType, []byte, error) {
	m, err := ws.next()
	return m.typ, m.owned(), err
}

// ReceiveAppend appends the next message, text or binary, to dst and
// returns the extended slice. With a dst reused from one message to the
// next (dst[:0]), receiving allocates nothing once dst has grown to the
// size of the messages.
func (ws *WebSocket) ReceiveAppend(dst []byte) (wsproto.MessageType, []byte, error) {
	m, err := ws.next()
	if err != nil {
		return 0, dst, err
	}
	dst = append(dst, m.data...)
	putBuffer(m.buf)
	return m.typ, dst, nil
}

// ReceiveText returns the next message, which must be text; a binary one
// raises 1003 Unsupported Data.
func (ws *WebSocket) ReceiveText() (string, error) {
	m, err := ws.next()
	if err != nil {
		return "", err
	}
	defer putBuffer(m.buf)
	if m.typ != wsproto.MessageText {
		return "", Raise(wsproto.StatusUnsupportedData, "expected a text message")
	}
	return string(m.data), nil
}

// ReceiveBytes returns the next message, which must be binary; a text one
// raises 1003 Unsupported Data. The slice is the caller's to keep.
func (ws *WebSocket) ReceiveBytes() ([]byte, error) {
	m, err := ws.next()
	if err != nil {
		return nil, err
	}
	if m.typ != wsproto.MessageBinary {
		putBuffer(m.buf)
		return nil, Raise(wsproto.StatusUnsupportedData, "expected a binary message")
	}
	return m.owned(), nil
}

// owned returns the message for the caller to keep: its buffer, unless
// that is over twice the size (a buffer sized for an earlier, larger
// message), in which case a copy, and the buffer goes back to the pool.
func (m message) owned() []byte {
	if cap(m.data) > 2*len(m.data) && cap(m.data) > 1<<minBufferShift {
		d := bytes.Clone(m.data)
		putBuffer(m.buf)
		return d
	}
	return m.data
}

// ReceiveJSON decodes the next message, text or binary, into v. A message
// that does not decode returns a *JSONError, which closes with 1007 unless
// handled.
func (ws *WebSocket) ReceiveJSON(v any) error {
	m, err := ws.next()
	if err != nil {
		return err
	}
	defer putBuffer(m.buf)
	if err := json.Unmarshal(m.data, v); err != nil {
		return &JSONError{Err: err}
	}
	return nil
}

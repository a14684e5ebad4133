package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"wsraise/wsproto"
)

// Who reads. While a receive method waits, its own goroutine reads: the
// message goes straight to it, with no hand-over between goroutines. A
// goroutine of the connection's own (readLoop) reads when no receive
// method has waited for readQuiet, or at once when this side is closing,
// so that pings are answered and the peer's close is seen while the
// handler only sends; its message is handed to the next receive method.
// One goroutine at a time holds the read (reception.reading), from the
// start of a message until it is handed over, so messages stay in order.
//
// Each message is read into a buffer from a pool, taken only once the
// message has begun: a connection waiting for its next message holds no
// buffer. Receive and ReceiveBytes give the buffer to the caller;
// ReceiveText, ReceiveJSON and ReceiveAppend copy or decode the message
// and put the buffer back, so a handler that uses them allocates nothing
// per message once the pool has buffers of the right size.

// readQuiet is how long no receive method may have waited before readLoop
// reads in their stead.
const readQuiet = 10 * time.Millisecond

// reception is the WebSocket's reading state, guarded by mu.
type reception struct {
	mu      sync.Mutex
	reading bool          // a goroutine holds the read
	waiting int           // goroutines in a receive method
	leftAt  time.Time     // when the last one left
	freed   chan struct{} // closed when the read is let go, if a receive method waits for it
	err     error         // what ended reading; set once
	// quiet wakes readLoop readQuiet after the last receive method left
	// (armed: it will fire). wake tells readLoop the read was let go,
	// when it waits for that (needRead: this side is closing, or the
	// connection is over) or reading has ended.
	quiet    *time.Timer
	armed    bool
	wake     chan struct{}
	needRead bool
	// parked: readLoop holds a message no receive method has taken, and
	// reads nothing meanwhile (so the keepalive cannot see pongs).
	parked atomic.Bool
	// Owned by the goroutine that holds the read.
	hint int     // the last message's size: the first guess for the next
	one  [1]byte // readMessage's probe for the end of a message
}

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

// firstGuess caps the size of a message's first buffer, however large the
// last message was (as wsproto's ReadAppend trusts a header only so far).
const firstGuess = 64 << 10

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

// startReading sets reading up at accept: readLoop takes the read after
// readQuiet unless a receive method has taken it first.
func (ws *WebSocket) startReading() {
	r := &ws.rcv
	r.wake = make(chan struct{}, 1)
	r.leftAt = time.Now()
	r.quiet = time.NewTimer(readQuiet)
	r.armed = true
	go ws.readLoop()
}

// readLoop reads when no receive method does (see above) and hands its
// messages to them. It ends with the connection.
func (ws *WebSocket) readLoop() {
	defer close(ws.msgs)
	defer ws.cancel()
	// The connection is over (the peer closed, TCP dropped, a protocol
	// error, or this side's close completed): State says so at once.
	defer ws.state.Store(int32(Disconnected))
	defer ws.rcv.quiet.Stop()
	for ws.awaitTurn() {
		m, err := ws.readMessage()
		if err != nil {
			ws.letGo(err)
			return
		}
		// Once this side is closing, no message is handed over: a select
		// between the two cases below would pick one at random, and the
		// handler could receive message n+3 right after n.
		select {
		case <-ws.discard:
			putBuffer(m.buf)
			ws.letGo(nil)
			continue
		default:
		}
		ws.rcv.parked.Store(true)
		select {
		case ws.msgs <- m:
			ws.letGo(nil)
		case <-ws.discard:
			// This side is closing: nobody will receive the message, and
			// reading on is how the peer's close frame is found.
			putBuffer(m.buf)
			ws.letGo(nil)
		case <-ws.conn.Done():
			putBuffer(m.buf)
			ws.letGo(ws.conn.Err())
			return
		}
	}
}

// awaitTurn waits until readLoop should read, and takes the read; false
// when reading is over. It sleeps on the quiet timer while receive methods
// read for themselves, and is woken by a letGo only when it waits for one.
func (ws *WebSocket) awaitTurn() bool {
	r := &ws.rcv
	discard, done := ws.discard, ws.conn.Done()
	for {
		r.mu.Lock()
		over := isClosed(ws.conn.Done())
		if over && r.err == nil && !r.reading {
			r.err = ws.conn.Err()
		}
		if r.err != nil {
			r.mu.Unlock()
			return false
		}
		closing := isClosed(ws.discard)
		if !r.reading && (closing || r.waiting == 0 && time.Since(r.leftAt) >= readQuiet) {
			r.reading = true
			r.needRead = false
			r.mu.Unlock()
			return true
		}
		if !r.reading && r.waiting == 0 && !r.armed {
			r.quiet.Reset(readQuiet - time.Since(r.leftAt))
			r.armed = true
		}
		r.needRead = r.reading && (closing || over)
		r.mu.Unlock()
		if closing {
			discard = nil // closed: it would be ready forever
		}
		if over {
			done = nil
		}
		select {
		case <-r.wake:
		case <-r.quiet.C:
			r.mu.Lock()
			r.armed = false
			r.mu.Unlock()
		case <-discard:
		case <-done:
		}
	}
}

// letGo gives the read back; err, if not nil, is what ended reading.
func (ws *WebSocket) letGo(err error) {
	r := &ws.rcv
	r.parked.Store(false)
	r.mu.Lock()
	r.reading = false
	if err != nil && r.err == nil {
		r.err = err
	}
	kick := err != nil || r.needRead
	if r.freed != nil {
		close(r.freed)
		r.freed = nil
	}
	r.mu.Unlock()
	if kick {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// readMessage reads the next message whole into a pooled buffer, first of
// the size of the last one but at most firstGuess: the buffer grows, by
// doubling, only as the message's bytes arrive, so a peer that starts a
// message and stalls holds no more than twice what it sent (after one
// large message, a stalled small one would otherwise hold its size). The
// caller holds the read.
func (ws *WebSocket) readMessage() (message, error) {
	typ, r, err := ws.conn.Reader(context.Background())
	if err != nil {
		return message{}, err
	}
	bp := getBuffer(min(ws.rcv.hint, firstGuess))
	b := *bp
	for {
		if len(b) == cap(b) {
			// Full: is there more? A one-byte read tells, without a larger
			// buffer for a message that fit exactly. (one is the
			// connection's: on this goroutine's stack it would escape
			// through the io.Reader and be allocated each time.)
			one := ws.rcv.one[:]
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
	ws.rcv.hint = len(b)
	return message{typ: typ, data: b, buf: bp}, nil
}

// next waits for the next message: one readLoop has read, or, if no
// goroutine holds the read, one it reads itself.
func (ws *WebSocket) next() (message, error) {
	if ws.State() == Connecting || ws.msgs == nil {
		return message{}, ErrNotAccepted
	}
	r := &ws.rcv
	r.mu.Lock()
	r.waiting++
	defer func() {
		r.mu.Lock()
		r.waiting--
		r.leftAt = time.Now()
		if r.waiting == 0 && !r.armed && r.err == nil {
			r.quiet.Reset(readQuiet)
			r.armed = true
		}
		r.mu.Unlock()
	}()
	for {
		var (
			m  message
			ok bool
		)
		select {
		case m, ok = <-ws.msgs:
			r.mu.Unlock()
		default:
			if r.err != nil {
				r.mu.Unlock()
				return message{}, ws.readingOver()
			}
			if !r.reading {
				r.reading = true
				r.mu.Unlock()
				return ws.readDirect()
			}
			// readLoop holds the read: its message comes on msgs, or the
			// read is let go (to another receive method, or with an end).
			if r.freed == nil {
				r.freed = make(chan struct{})
			}
			freed := r.freed
			r.mu.Unlock()
			select {
			case m, ok = <-ws.msgs:
			case <-freed:
				r.mu.Lock()
				continue
			}
		}
		if !ok {
			return message{}, ws.readingOver()
		}
		if isClosed(ws.discard) {
			// This side closed while readLoop was handing the message
			// over: it is not received (as readLoop would have dropped
			// it a moment later).
			putBuffer(m.buf)
			r.mu.Lock()
			continue
		}
		return m, nil
	}
}

// readingOver is the receive methods' error once reading has ended. The
// state and the context say so before it is returned, whichever goroutine
// found the end (readLoop may not have got to its own deferred calls yet).
func (ws *WebSocket) readingOver() error {
	ws.state.Store(int32(Disconnected))
	ws.cancel()
	return ws.disconnect()
}

// readDirect reads the next message on the receive method's goroutine,
// which holds the read. Once this side is closing, messages are dropped
// (as readLoop drops them) and reading goes on to the end.
func (ws *WebSocket) readDirect() (message, error) {
	for {
		m, err := ws.readMessage()
		if err != nil {
			ws.letGo(err)
			return message{}, ws.readingOver()
		}
		if isClosed(ws.discard) {
			putBuffer(m.buf)
			continue
		}
		ws.letGo(nil)
		return m, nil
	}
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

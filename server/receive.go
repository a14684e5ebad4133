package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"sync"
	"time"

	"wsraise/wsproto"
)

// Who reads. A receive method reads the next message itself, on its own
// goroutine: the message goes straight to the caller. Between receives
// nothing reads, unless something needs the connection read; then a
// goroutine of the connection's own (readAhead) reads instead:
//
//   - while a keepalive ping's pong is due, so that the pong is seen
//     (the ping starts it, and so does a receive that returns meanwhile);
//   - while this side is closing, so that the peer's close is seen;
//   - for the whole life of a connection accepted with SendOnly.
//
// readOnIfNeeded is that rule, asked wherever reading may have stopped.
// readAhead answers pings and sees the peer's close on the way. It stops
// at the first data message and leaves it for the next receive method
// (parked); with SendOnly, that message closes the connection with 1008
// instead. A message parked longer than PongTimeout, while the keepalive
// misses its pong (nothing reads meanwhile), ends the connection with
// 1011 (keepalive.go). One goroutine at a time holds the read, from the
// start of a message until it has it whole, so messages stay in order.
//
// Once this side has begun closing, messages are dropped, and whoever
// reads goes on to the peer's close frame.

// reading is the WebSocket's read side, guarded by mu.
type reading struct {
	mu       sync.Mutex
	holder   bool          // a goroutine holds the read
	parked   *message      // read ahead, waiting for a receive method
	parkedAt time.Time     // when it was parked
	err      error         // what ended reading; set once
	over     bool          // finish has begun: no new readAhead
	changed  chan struct{} // closed at the next change, if someone waits for one
	sendOnly bool          // set by Accept, before anything reads
	ahead    sync.WaitGroup
	// Owned by the goroutine that holds the read.
	hint int     // the last message's size: the first guess for the next
	one  [1]byte // readMessage's probe for the end of a message
}

type message struct {
	typ  wsproto.MessageType
	data []byte
	buf  *[]byte // data's buffer, for the pool; nil if appended to dst
	held int64   // bytes taken from the app's budget
}

// changedLocked wakes the goroutines that wait for a change. r.mu is held.
func (r *reading) changedLocked() {
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
}

// letGo gives the read back. err, if not nil, ended reading; the
// connection is then over, and State and Context say so before letGo
// returns.
func (ws *WebSocket) letGo(err error) {
	r := &ws.rd
	r.mu.Lock()
	r.holder = false
	if err != nil {
		if r.err == nil {
			r.err = err
		}
		// Before any waiting receive wakes and returns the disconnect.
		ws.ended()
	}
	r.changedLocked()
	r.mu.Unlock()
}

// next returns the next message: one parked by readAhead, or one it
// reads itself. ctx bounds the wait. With appendTo, a message it reads
// itself is appended to dst by the protocol layer, with no copy and no
// buffer of its own (message.buf is then nil).
func (ws *WebSocket) next(ctx context.Context, appendTo bool, dst []byte) (message, error) {
	if _, err := ws.accepted(); err != nil {
		return message{}, err
	}
	r := &ws.rd
	if r.sendOnly {
		return message{}, ErrSendOnly
	}
	r.mu.Lock()
	for {
		if m := r.parked; m != nil {
			r.parked = nil
			r.mu.Unlock()
			if ws.closing.Load() {
				ws.release(*m)
				r.mu.Lock()
				continue
			}
			ws.readOnIfNeeded()
			return *m, nil
		}
		if r.err != nil {
			r.mu.Unlock()
			return message{}, ws.disconnect()
		}
		if !r.holder {
			r.holder = true
			r.mu.Unlock()
			return ws.readDirect(ctx, appendTo, dst)
		}
		// readAhead holds the read: wait for its message, or its end.
		if r.changed == nil {
			r.changed = make(chan struct{})
		}
		changed := r.changed
		r.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return message{}, ws.interrupted(ctx)
		}
		r.mu.Lock()
	}
}

// readDirect reads the next message on the receive method's goroutine,
// which holds the read: appended to dst, or into a pooled buffer.
func (ws *WebSocket) readDirect(ctx context.Context, appendTo bool, dst []byte) (message, error) {
	for {
		m, err := ws.readMessage(ctx, appendTo, dst)
		switch {
		case err == nil && ws.closing.Load():
			ws.release(m)
			continue // this side is closing: read on to the peer's close
		case err == nil:
			ws.letGo(nil)
			ws.readOnIfNeeded()
			return m, nil
		case err == errBudget:
			// Close before letting go: no other receive may read the next
			// message in between.
			derr := ws.refuseMessage()
			ws.letGo(nil)
			return message{}, derr
		case isContextError(err) && ws.conn.Load().Err() == nil:
			// Interrupted by ctx (wsproto reports ctx's error only then;
			// the socket's deadline can pass before ctx's timer marks it
			// done): the connection is as it was, but for the rest of a
			// message cut short, which the next read skips.
			ws.letGo(nil)
			ws.readOnIfNeeded()
			return message{}, err
		}
		ws.letGo(err)
		return message{}, ws.disconnect()
	}
}

// refuseMessage closes the connection with 1013 Try Again Later (IANA's
// WebSocket Close Code Number Registry, RFC 6455 section 11.7): a
// message would have taken the app past Options.MaxBufferedBytes. It
// returns the receive methods' error.
func (ws *WebSocket) refuseMessage() error {
	ws.mu.Lock()
	ws.note = errBudget.Error()
	ws.mu.Unlock()
	ws.Close(wsproto.StatusTryAgainLater, "server busy: try again later")
	return ws.disconnect()
}

// interrupted is the error of a receive whose ctx ended while it waited:
// the disconnect, if the connection is over, or ctx's error.
func (ws *WebSocket) interrupted(ctx context.Context) error {
	r := &ws.rd
	r.mu.Lock()
	over := r.err != nil
	r.mu.Unlock()
	if over || ws.conn.Load().Err() != nil {
		return ws.disconnect()
	}
	return ctx.Err()
}

func isContextError(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// readAhead starts a goroutine that reads while no receive method does
// (see the top of this file), unless something reads already, a message
// is parked, or reading is over.
func (ws *WebSocket) readAhead() {
	r := &ws.rd
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.holder || r.parked != nil || r.err != nil || r.over {
		return
	}
	r.holder = true
	r.ahead.Add(1)
	go func() {
		defer r.ahead.Done()
		for {
			m, err := ws.readMessage(context.Background(), false, nil)
			switch {
			case err == errBudget:
				ws.refuseMessage() // before letting go, as in readDirect
				ws.letGo(nil)
				return
			case err != nil:
				ws.letGo(err)
				return
			case ws.closing.Load():
				ws.release(m)
				continue
			case r.sendOnly:
				// RFC 6455 section 7.4.1: 1008 is the generic refusal of
				// a message that breaks the endpoint's policy (as
				// coder/websocket's CloseRead).
				ws.release(m)
				ws.letGo(nil)
				ws.Close(wsproto.StatusPolicyViolation, "this endpoint does not receive messages")
				return
			}
			r.mu.Lock()
			r.parked, r.parkedAt = &m, time.Now()
			r.holder = false
			r.changedLocked()
			r.mu.Unlock()
			return
		}
	}()
}

// readOnIfNeeded starts readAhead if nothing reads and something needs
// the connection read: the keepalive awaits a pong (it may sit behind
// the message a receive just returned), or this side is closing (Close
// waits for the peer's close frame, which a receive was to read).
func (ws *WebSocket) readOnIfNeeded() {
	if ws.closing.Load() || ws.awaitingPong() {
		ws.readAhead()
	}
}

// parkedFor reports how long a message has been parked, if one is.
func (ws *WebSocket) parkedFor() (time.Duration, bool) {
	r := &ws.rd
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.parked == nil {
		return 0, false
	}
	return time.Since(r.parkedAt), true
}

// stopReading waits for readAhead's goroutine, once the connection is
// closed, and frees a parked message.
func (ws *WebSocket) stopReading() {
	r := &ws.rd
	r.mu.Lock()
	r.over = true
	r.mu.Unlock()
	r.ahead.Wait()
	r.mu.Lock()
	if r.parked != nil {
		ws.release(*r.parked)
		r.parked = nil
	}
	r.mu.Unlock()
}

// readMessage reads the next message whole: appended to dst with
// appendTo, or else into a buffer from the pool. The buffer is first of
// the size of the last message, but at most firstGuess, and grows only as
// the message's bytes arrive: to the last message's size, or by doubling.
// A peer that starts a message and stalls makes the server hold no more
// than twice what it sent, or the size of its last message. Every byte
// of growth is taken from the app's budget (Options.MaxBufferedBytes)
// and given back once the message is the handler's: at once for dst,
// when the pooled buffer is handed over (release) otherwise. The caller
// holds the read.
func (ws *WebSocket) readMessage(ctx context.Context, appendTo bool, dst []byte) (message, error) {
	c := ws.conn.Load()
	typ, rd, err := c.Reader(ws.ioContext(ctx))
	if err != nil {
		return message{}, err
	}
	if c.Compressed() {
		// The message may be compressed (the reader does not say), and
		// inflating it holds a flate reader and its window until its end.
		if !ws.app.budget.take(inflateCost) {
			return message{}, errBudget
		}
		defer ws.app.budget.give(inflateCost)
	}
	r := &ws.rd
	m := message{typ: typ}
	var b []byte
	if appendTo {
		b = dst
	}
	start, base := len(b), cap(b) // base: memory that was there before
	fail := func(err error) (message, error) {
		ws.app.budget.give(m.held)
		if !appendTo {
			putBuffer(m.buf)
		}
		return message{}, err
	}
	for {
		if len(b) == cap(b) {
			var probe int
			if len(b) > start {
				// Full: is there more? A one-byte read tells, without a
				// larger buffer for a message that fit exactly. (one is the
				// connection's: on this goroutine's stack it would escape
				// through the io.Reader and be allocated each time.)
				n, err := rd.Read(r.one[:])
				if n == 0 && err == io.EOF {
					break
				}
				if err != nil && err != io.EOF {
					return fail(err)
				}
				probe = n
			}
			// The room this message gets next: twice what has come, or a
			// first guess; once it is past the first guess, the size of
			// the last message if that is more (a peer that sends large
			// messages gets one step, not a copy per doubling).
			have := len(b) - start
			want := max(2*have, min(r.hint, firstGuess), 1<<minBufferShift)
			if have > 0 && r.hint > want {
				want = r.hint
			}
			held := int64(start + want - base) // memory the message holds
			if c := bufferClass(want); !appendTo && c >= 0 {
				held = 1 << (c + minBufferShift) // getBuffer's size
			}
			if !ws.app.budget.take(held - m.held) {
				return fail(errBudget)
			}
			m.held = held
			if appendTo {
				b = slices.Grow(b, start+want-len(b))
			} else {
				next := getBuffer(want)
				*next = append(*next, b...)
				putBuffer(m.buf)
				m.buf, b = next, *next
			}
			if probe > 0 {
				b = append(b, r.one[0])
			}
			continue
		}
		n, err := rd.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(err)
		}
	}
	r.hint = len(b) - start
	m.data = b
	if appendTo {
		ws.app.budget.give(m.held) // the bytes are the caller's
		m.held = 0
	} else {
		*m.buf = b
	}
	return m, nil
}

// release gives a message's buffer back to the pool and its bytes back to
// the budget.
func (ws *WebSocket) release(m message) {
	ws.app.budget.give(m.held)
	putBuffer(m.buf)
}

// Receive returns the next message, text or binary. The slice is the
// caller's to keep. ctx bounds the wait: see Receiving in the package
// documentation for what an interrupted receive leaves behind.
func (ws *WebSocket) Receive(ctx context.Context) (wsproto.MessageType, []byte, error) {
	m, err := ws.next(ctx, false, nil)
	if err != nil {
		return 0, nil, err
	}
	ws.app.budget.give(m.held) // the caller's now
	return m.typ, m.owned(), nil
}

// ReceiveAppend appends the next message, text or binary, to dst and
// returns the extended slice. With a dst reused from one message to the
// next (dst[:0]), receiving allocates nothing once dst has grown to the
// size of the messages.
func (ws *WebSocket) ReceiveAppend(ctx context.Context, dst []byte) (wsproto.MessageType, []byte, error) {
	m, err := ws.next(ctx, true, dst)
	if err != nil {
		return 0, dst, err
	}
	if m.buf == nil {
		return m.typ, m.data, nil // read straight into dst
	}
	dst = append(dst, m.data...)
	ws.release(m)
	return m.typ, dst, nil
}

// ReceiveText returns the next message, which must be text; a binary one
// raises 1003 Unsupported Data.
func (ws *WebSocket) ReceiveText(ctx context.Context) (string, error) {
	m, err := ws.next(ctx, false, nil)
	if err != nil {
		return "", err
	}
	defer ws.release(m)
	if m.typ != wsproto.MessageText {
		return "", Raise(wsproto.StatusUnsupportedData, "expected a text message")
	}
	return string(m.data), nil
}

// ReceiveBytes returns the next message, which must be binary; a text one
// raises 1003 Unsupported Data. The slice is the caller's to keep.
func (ws *WebSocket) ReceiveBytes(ctx context.Context) ([]byte, error) {
	m, err := ws.next(ctx, false, nil)
	if err != nil {
		return nil, err
	}
	if m.typ != wsproto.MessageBinary {
		ws.release(m)
		return nil, Raise(wsproto.StatusUnsupportedData, "expected a binary message")
	}
	ws.app.budget.give(m.held) // the caller's now
	return m.owned(), nil
}

// ReceiveJSON decodes the next message, text or binary, into v. A message
// that does not decode returns a *JSONError, which closes with 1007 unless
// handled.
func (ws *WebSocket) ReceiveJSON(ctx context.Context, v any) error {
	m, err := ws.next(ctx, false, nil)
	if err != nil {
		return err
	}
	defer ws.release(m)
	if err := json.Unmarshal(m.data, v); err != nil {
		return &JSONError{Err: err}
	}
	return nil
}

// owned returns the message for the caller to keep: its buffer, unless
// that is over twice the size (a small message in the smallest pooled
// buffer, or one in a buffer sized for an earlier, larger message), in
// which case a copy, and the buffer goes back to the pool.
func (m message) owned() []byte {
	if cap(m.data) > 2*len(m.data) {
		d := bytes.Clone(m.data)
		putBuffer(m.buf)
		return d
	}
	return m.data
}

package wsproto

import (
	"bufio"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for the options of Upgrade and Dial.
const (
	DefaultReadLimit    = 16 << 20 // 16 MiB, as uvicorn
	DefaultCloseTimeout = 5 * time.Second
	defaultBufferSize   = 4096
	minReadBufferSize   = 256 // a whole control frame (14+125 bytes) must fit
)

// ErrClosed is returned by operations on a connection that has ended.
var ErrClosed = errors.New("websocket: connection closed")

// Conn is a WebSocket connection, server or client side.
//
// One goroutine may read at a time (concurrent reads are serialised);
// any number may write. See the package documentation for the rules on
// deadlines, cancellation and closing.
type Conn struct {
	nc          net.Conn
	br          readBuffer
	server      bool
	subprotocol string
	extensions  string // the Sec-WebSocket-Extensions agreed

	readLimit    int64
	closeTimeout time.Duration
	onPong       func([]byte)
	allowedRSV   byte
	writeBufSize int

	// permessage-deflate (compress.go), nil without it.
	deflate   *deflater // used by whoever holds msgSem
	inflate   *inflater // used by whoever holds readSem
	threshold int       // messages from this size up are compressed

	// Read side: owned by whoever holds readSem.
	readSem    chan struct{}
	readErr    error // sticky: once set, every read returns it
	frame      header
	remaining  int64 // payload bytes of frame not read yet
	maskPos    int
	inMessage  bool // a data message has started and its last frame is not read
	fragmented bool // the last data frame read had FIN clear
	msgType    MessageType
	msgSize    int64
	compressed bool // the current message has RSV1 set (RFC 7692 section 6)
	inflating  bool // the inflater has the current message and has not ended it
	raw        rawReader
	probe      [1]byte // appendInflated's look past the read limit
	utf8       utf8Stream
	ctrl       [maxControlPayload]byte
	mr         messageReader
	rdl        deadline

	// Write side.
	msgSem    chan struct{} // one data message at a time
	wmu       sync.Mutex    // one frame at a time; guards the fields below
	closeSent bool
	closeSeen atomic.Bool // the peer's close frame arrived
	abandoned bool        // a streamed message was left unfinished
	writeErr  error
	maskKey   [4]byte
	frameBuf  *[]byte // write buffers when writeBufSize is not the default
	mwBuf     *[]byte
	mwOut     *[]byte // compressed fragments of a streamed message
	bufs      net.Buffers
	bufsArr   [3][]byte
	mw        messageWriter
	wdl       deadline

	// Closing.
	stateMu   sync.Mutex
	closing   *CloseError   // the first close sent or received
	endErr    *CloseError   // how the connection ended
	readEnded chan struct{} // closed when the read side stops for good
	readOnce  sync.Once
	done      chan struct{} // closed when the TCP connection is closed
	doneOnce  sync.Once
}

// config is what Upgrade and Dial pass to newConn.
type config struct {
	readLimit       int64
	closeTimeout    time.Duration
	writeTimeout    time.Duration
	readBufferSize  int
	writeBufferSize int
	onPong          func([]byte)
	subprotocol     string
	compression     *compressionConfig // nil: no extension agreed
}

// newConn wraps nc. br, if not nil, holds bytes already read from nc.
func newConn(nc net.Conn, br *bufio.Reader, server bool, cfg config) *Conn {
	if cfg.readLimit == 0 {
		cfg.readLimit = DefaultReadLimit
	}
	if cfg.closeTimeout <= 0 {
		cfg.closeTimeout = DefaultCloseTimeout
	}
	if cfg.readBufferSize <= 0 {
		cfg.readBufferSize = defaultBufferSize
	}
	cfg.readBufferSize = max(cfg.readBufferSize, minReadBufferSize)
	if cfg.writeBufferSize <= 0 {
		cfg.writeBufferSize = defaultBufferSize
	}
	cfg.writeBufferSize = max(cfg.writeBufferSize, 2*maxHeaderSize+maxControlPayload)
	c := &Conn{
		nc:           nc,
		server:       server,
		subprotocol:  cfg.subprotocol,
		readLimit:    cfg.readLimit,
		closeTimeout: cfg.closeTimeout,
		onPong:       cfg.onPong,
		writeBufSize: cfg.writeBufferSize,
		readSem:      make(chan struct{}, 1),
		msgSem:       make(chan struct{}, 1),
		readEnded:    make(chan struct{}),
		done:         make(chan struct{}),
	}
	c.br.init(nc, br, cfg.readBufferSize)
	c.mr.c = c
	c.mw.c = c
	c.raw.c = c
	if cfg.compression != nil {
		c.setupCompression(cfg.compression)
	}
	c.rdl.init(nc.SetReadDeadline)
	c.wdl.init(nc.SetWriteDeadline)
	c.wdl.timeout = cfg.writeTimeout
	return c
}

// Subprotocol returns the subprotocol agreed in the handshake, or "".
func (c *Conn) Subprotocol() string { return c.subprotocol }

// LocalAddr returns the local network address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// RemoteAddr returns the peer's network address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// SetReadLimit sets the largest message, in bytes, the connection accepts;
// a larger one fails the connection with 1009 (RFC 6455 section 10.4) before
// its payload is read. With compression, the limit applies both to the
// bytes on the wire and to the decompressed message, which fails with 1009
// as soon as its output passes the limit. n <= 0 removes the limit. Call
// it before reading.
func (c *Conn) SetReadLimit(n int64) { c.readLimit = n }

// Done returns a channel that is closed when the TCP connection is closed.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns how the connection ended, or nil while it is open.
func (c *Conn) Err() *CloseError {
	select {
	case <-c.done:
	default:
		return nil
	}
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	return c.endErr
}

// noteClosing records the first close sent or received and returns the
// one in force.
func (c *Conn) noteClosing(ce *CloseError) *CloseError {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	if c.closing == nil {
		c.closing = ce
	}
	return c.closing
}

func (c *Conn) closingErr() *CloseError {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	return c.closing
}

// endRead marks the read side finished: a close frame came in, or the
// stream failed.
func (c *Conn) endRead() {
	c.readOnce.Do(func() { close(c.readEnded) })
}

// closeTCP closes the TCP connection once, recording how it ended.
func (c *Conn) closeTCP(end *CloseError) {
	c.doneOnce.Do(func() {
		c.stateMu.Lock()
		if c.closing != nil {
			end = c.closing
		}
		c.endErr = end
		c.stateMu.Unlock()
		c.nc.Close()
		c.endRead()
		close(c.done)
	})
}

// CloseNow closes the TCP connection at once, without a close handshake
// (the peer sees 1006). Pending reads and writes return errors.
func (c *Conn) CloseNow() error {
	select {
	case <-c.done:
		return ErrClosed
	default:
	}
	c.closeTCP(&CloseError{Code: StatusAbnormalClosure, Err: errors.New("closed without a close handshake")})
	return nil
}

// Close performs the closing handshake (RFC 6455 section 7.1.2): it sends a
// close frame with code and reason, waits up to the close timeout for the
// peer's close frame, and then closes the TCP connection. A server closes
// TCP at once; a client waits for the server to close it first (section
// 7.1.1). Data messages that arrive before the peer's close frame go to the
// goroutine that is reading when Close is called, which should read until
// it gets an error; if none is, Close reads them itself and discards them.
//
// Close returns an error, and sends nothing, if code may not be sent or the
// reason is not valid UTF-8 of at most 123 bytes. It returns ErrClosed if a
// close frame was already sent or the connection has ended, and an error if
// the peer did not answer in time, or ended the connection without
// answering (the connection is closed anyway).
func (c *Conn) Close(code StatusCode, reason string) error {
	var buf [maxControlPayload]byte
	payload, err := appendClosePayload(buf[:0], code, reason)
	if err != nil {
		return err
	}
	// The whole handshake is bounded: even a write blocked on a peer that
	// does not read cannot hold Close for longer than the close timeout.
	timer := time.AfterFunc(c.closeTimeout, func() {
		c.closeTCP(&CloseError{Code: StatusAbnormalClosure, Err: errCloseTimeout})
	})
	defer timer.Stop()
	sent, err := c.sendClose(payload, &CloseError{Code: code, Reason: reason})
	if err != nil {
		return err
	}
	if !sent {
		return ErrClosed
	}
	// If nobody is reading, Close reads until the peer's close frame. If a
	// goroutine is reading, the messages that arrive before that frame are
	// its to receive: Close waits for it to reach the close frame.
	select {
	case c.readSem <- struct{}{}:
		c.rdl.setTimeout(c.closeTimeout)
		c.awaitPeerClose()
		c.finish()
		<-c.readSem
	default:
		select {
		case <-c.readEnded:
			select {
			case c.readSem <- struct{}{}:
				c.finish()
				<-c.readSem
			case <-c.done:
			}
		case <-c.done:
		}
	}
	c.closeTCP(c.closingErr())
	if !timer.Stop() {
		return errCloseTimeout
	}
	if !c.closeSeen.Load() {
		return errNoCloseReply
	}
	return nil
}

var (
	errCloseTimeout = errors.New("websocket: the close handshake timed out")
	errNoCloseReply = errors.New("websocket: the connection ended without the peer's close frame")
)

// sendClose writes a close frame unless one was sent already. It reports
// whether it sent one. After it, no data frame is ever written (RFC 6455
// section 5.5.1: "The application MUST NOT send any more data frames after
// sending a Close frame").
func (c *Conn) sendClose(payload []byte, ce *CloseError) (bool, error) {
	c.lockWriteBounded()
	defer c.wmu.Unlock()
	if c.closeSent {
		return false, nil
	}
	select {
	case <-c.done:
		return false, ErrClosed
	default:
	}
	c.closeSent = true
	c.noteClosing(ce)
	if c.writeErr != nil {
		return false, c.writeErr
	}
	// Bounded like a reply: a deadline left by an earlier write may have
	// passed, and a peer that does not read must not hold fail or Close.
	c.boundReplyLocked()
	if err := c.writeFrameLocked(true, 0, opClose, payload); err != nil {
		return false, err
	}
	return true, nil
}

// awaitPeerClose reads frames, discarding data, until the peer's close
// frame, an error or the read deadline. The caller holds readSem.
func (c *Conn) awaitPeerClose() {
	for c.readErr == nil {
		var err error
		if c.inMessage {
			err = c.discardMessage()
		} else {
			err = c.nextDataFrame()
		}
		if err != nil {
			return
		}
	}
}

// finish ends a connection whose close frames have been exchanged, or whose
// read side failed. A server closes TCP first (RFC 6455 section 7.1.1); a
// client waits for the server to do so, for up to the close timeout. The
// caller holds readSem.
func (c *Conn) finish() {
	if !c.server {
		c.drain()
	}
	c.closeTCP(c.closingErr())
}

// drain discards what the peer sends until it closes the TCP connection, or
// the close timeout passes. Reading before closing keeps unread bytes from
// turning our close into a TCP reset that could destroy the close frame we
// sent before the peer reads it. The caller holds readSem.
func (c *Conn) drain() {
	c.rdl.setTimeout(c.closeTimeout)
	for {
		c.br.Discard(c.br.Buffered())
		if _, err := c.br.Peek(1); err != nil {
			return
		}
	}
}

// fail is RFC 6455 section 7.1.7, _Fail the WebSocket Connection_: send a
// close frame with ce's code, then close the connection. It returns ce as
// the read error. The caller holds readSem.
func (c *Conn) fail(ce *CloseError) error {
	var buf [maxControlPayload]byte
	if payload, err := appendClosePayload(buf[:0], ce.Code, ce.Reason); err == nil {
		c.sendClose(payload, ce)
	}
	c.readErr = c.noteClosing(ce)
	c.endRead()
	if c.server {
		// Our FIN follows the close frame; the peer's EOF ends drain.
		if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
	}
	c.drain()
	c.closeTCP(ce)
	return c.readErr
}

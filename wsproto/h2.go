package wsproto

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// WebSockets over HTTP/2 (RFC 8441). The client opens a stream with an
// extended CONNECT whose :protocol is "websocket" (section 4), and the
// server accepts it with a 2xx response (section 5); the stream then
// carries the WebSocket's frames, as a TCP connection does after a 101.
// Nothing is hijacked: the handler keeps the stream until the connection
// ends, and returning from it ends the stream (END_STREAM).
//
// net/http's HTTP/2 server accepts extended CONNECT only when the program
// runs with GODEBUG=http2xconnect=1 in its environment; it then
// advertises SETTINGS_ENABLE_CONNECT_PROTOCOL (section 3).

// ExtendedConnect reports whether net/http's HTTP/2 server in this
// process accepts extended CONNECT, so that clients may open WebSockets
// over HTTP/2 (RFC 8441). Since Go 1.24 it does when the program starts
// with GODEBUG=http2xconnect=1 in its environment; net/http reads it once,
// when it starts, and it cannot be set from code. Upgrade accepts a
// WebSocket over HTTP/2 whenever one arrives: nothing else needs setting.
func ExtendedConnect() bool { return extendedConnect }

// extendedConnect is net/http's own test of GODEBUG (h2_bundle.go in Go
// 1.26), made when this package starts, just after net/http's.
var extendedConnect = strings.Contains(os.Getenv("GODEBUG"), "http2xconnect=1")

// isExtendedConnect reports whether r asks for a WebSocket over HTTP/2:
// an extended CONNECT with :protocol websocket (RFC 8441 section 4).
// net/http gives the pseudo-header as r.Header[":protocol"].
func isExtendedConnect(r *http.Request) bool {
	p := r.Header[":protocol"]
	return r.ProtoMajor >= 2 && r.Method == http.MethodConnect && len(p) == 1 && p[0] == "websocket"
}

// errProtocol refuses an extended CONNECT for a protocol other than
// websocket, which this server does not speak (RFC 8441 section 4).
var errProtocol = errors.New("the :protocol of an extended CONNECT must be websocket")

// isOtherExtendedConnect reports an extended CONNECT for another protocol.
func isOtherExtendedConnect(r *http.Request) bool {
	return r.ProtoMajor >= 2 && r.Method == http.MethodConnect && len(r.Header[":protocol"]) > 0 && !isExtendedConnect(r)
}

// checkExtendedConnect applies RFC 8441 section 5 to an extended
// CONNECT: the headers of RFC 6455 section 4.2.1 still apply but for
// Upgrade, Connection and Sec-WebSocket-Key, which HTTP/2 does not use.
func checkExtendedConnect(r *http.Request) (int, error) {
	// RFC 6455 section 4.2.1 item 6: version 13. A 426 means nothing on
	// HTTP/2, which has no Upgrade; 400 names the version all the same.
	if v := r.Header["Sec-Websocket-Version"]; len(v) != 1 || v[0] != "13" {
		return http.StatusBadRequest, errVersion
	}
	return 0, nil
}

// refuseH2 is refuse for an HTTP/2 request: no Upgrade or Connection
// header, which HTTP/2 forbids (RFC 9113 section 8.2.2).
func refuseH2(w http.ResponseWriter, status int, err error) error {
	if err == errVersion {
		w.Header().Set("Sec-WebSocket-Version", "13")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	body := err.Error()
	w.WriteHeader(status)
	w.Write([]byte(body + "\n"))
	return &HandshakeError{Status: status, Header: w.Header().Clone(), Body: body}
}

// acceptH2 answers an extended CONNECT with 200 and the handshake's
// headers, and returns the stream as a net.Conn.
func acceptH2(w http.ResponseWriter, r *http.Request, headers http.Header, timeout time.Duration) (net.Conn, error) {
	rc := http.NewResponseController(w)
	// net/http's ReadTimeout and WriteTimeout put deadlines on the stream,
	// and a stream does not survive one: Conn bounds its own operations.
	rc.SetReadDeadline(time.Time{})
	h := w.Header()
	for name, values := range headers {
		h[name] = values
	}
	// RFC 8441 section 5: a 2xx status accepts the WebSocket.
	w.WriteHeader(http.StatusOK)
	rc.SetWriteDeadline(time.Now().Add(timeout))
	err := rc.Flush()
	rc.SetWriteDeadline(time.Time{})
	if err != nil {
		return nil, err
	}
	local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	return newH2Stream(r.Body, &serverSide{w: w, rc: rc}, local, h2Addr(r.RemoteAddr)), nil
}

// vectorWriter is a net.Conn that sends several buffers as one write.
// net.Buffers.WriteTo writes an HTTP/2 stream a buffer at a time, and
// each write is flushed, so a frame's header and payload would go out as
// two DATA frames.
type vectorWriter interface {
	writeVector(bufs [][]byte) (int64, error)
}

// streamWriter is the sending half of an HTTP/2 stream.
type streamWriter interface {
	Write(p []byte) (int, error)              // sends p on the stream
	writeVector(bufs [][]byte) (int64, error) // sends the buffers as one write
	SetWriteDeadline(t time.Time) error
	abort()      // ends the stream at once, cutting a blocked write
	closeWrite() // ends this side of the stream, once the Conn is done with it
}

// serverSide sends through the handler's ResponseWriter, flushing each
// write. Its end of the stream comes when the handler returns.
type serverSide struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (s *serverSide) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if err == nil {
		err = s.rc.Flush()
	}
	return n, err
}

// writeVector writes the buffers, then flushes once.
func (s *serverSide) writeVector(bufs [][]byte) (int64, error) {
	var total int64
	for _, b := range bufs {
		n, err := s.w.Write(b)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, s.rc.Flush()
}

func (s *serverSide) SetWriteDeadline(t time.Time) error { return s.rc.SetWriteDeadline(t) }

// abort: a write deadline in the past resets the stream.
func (s *serverSide) abort() { s.rc.SetWriteDeadline(time.Unix(1, 0)) }

func (s *serverSide) closeWrite() {}

// h2Addr is a peer's address as net/http gives it.
type h2Addr string

func (a h2Addr) Network() string { return "tcp" }
func (a h2Addr) String() string  { return string(a) }

// h2Stream is an HTTP/2 stream as a net.Conn: reads from the request
// body, writes to the ResponseWriter, each write flushed.
//
// A read deadline on an HTTP/2 stream ends the stream, but Conn's
// contract is that a read cut by its context leaves the connection
// usable. So a goroutine of the stream's own reads the body, and Read
// waits for what it read, or for the deadline, which then cuts only the
// wait. A write deadline is the stream's own: a write that times out
// ends the connection anyway.
type h2Stream struct {
	body          io.ReadCloser
	out           streamWriter
	local, remote net.Addr

	chunks  chan []byte   // the reader's reads, one at a time
	taken   chan struct{} // Read has used a chunk up; the reader may read on
	readErr error         // why the reader stopped, once chunks is closed
	rest    []byte        // what Read has not returned of the last chunk

	mu        sync.Mutex
	deadline  time.Time
	moved     chan struct{} // closed when the read deadline changes
	wmu       sync.Mutex    // one write at a time; guards closed
	closed    bool
	ended     atomic.Bool   // Close has begun: a server's ResponseWriter is not to be touched
	done      chan struct{} // closed by Close
	closeOnce sync.Once
}

func newH2Stream(body io.ReadCloser, out streamWriter, local, remote net.Addr) *h2Stream {
	s := &h2Stream{body: body, out: out, local: local, remote: remote,
		chunks: make(chan []byte), taken: make(chan struct{}), moved: make(chan struct{}), done: make(chan struct{})}
	go s.readBody()
	return s
}

// readBody reads the body into its buffer and hands each read to Read,
// until the body ends (END_STREAM, a reset, or Close).
func (s *h2Stream) readBody() {
	buf := make([]byte, 4096)
	for {
		n, err := s.body.Read(buf)
		if n > 0 {
			select {
			case s.chunks <- buf[:n]:
			case <-s.done:
				return
			}
			select {
			case <-s.taken:
			case <-s.done:
				return
			}
		}
		if err != nil {
			s.readErr = err
			close(s.chunks)
			return
		}
	}
}

func (s *h2Stream) Read(p []byte) (int, error) {
	for len(s.rest) == 0 {
		s.mu.Lock()
		deadline, moved := s.deadline, s.moved
		s.mu.Unlock()
		var timer *time.Timer
		var timeout <-chan time.Time
		if !deadline.IsZero() {
			d := time.Until(deadline)
			if d <= 0 {
				return 0, os.ErrDeadlineExceeded
			}
			timer = time.NewTimer(d)
			timeout = timer.C
		}
		var err error
		select {
		case c, ok := <-s.chunks:
			if ok {
				s.rest = c
			} else {
				err = s.readErr
			}
		case <-timeout:
			err = os.ErrDeadlineExceeded
		case <-moved:
		case <-s.done:
			err = net.ErrClosed
		}
		if timer != nil {
			timer.Stop()
		}
		if err != nil {
			return 0, err
		}
	}
	n := copy(p, s.rest)
	s.rest = s.rest[n:]
	if len(s.rest) == 0 {
		select {
		case s.taken <- struct{}{}:
		case <-s.done:
		}
	}
	return n, nil
}

func (s *h2Stream) Write(p []byte) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed {
		return 0, net.ErrClosed
	}
	return s.out.Write(p)
}

// Close ends the stream's use by the Conn; on a server the handler's
// return then ends the stream, and a client ends its side. A write
// blocked on flow control is cut by resetting the stream.
func (s *h2Stream) Close() error {
	s.closeOnce.Do(func() {
		s.ended.Store(true)
		if !s.wmu.TryLock() {
			s.out.abort()
			s.wmu.Lock()
		}
		s.closed = true
		s.wmu.Unlock()
		close(s.done)
		s.out.closeWrite()
		s.body.Close()
	})
	return nil
}

func (s *h2Stream) writeVector(bufs [][]byte) (int64, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed {
		return 0, net.ErrClosed
	}
	return s.out.writeVector(bufs)
}

func (s *h2Stream) LocalAddr() net.Addr  { return s.local }
func (s *h2Stream) RemoteAddr() net.Addr { return s.remote }

func (s *h2Stream) SetDeadline(t time.Time) error {
	s.SetReadDeadline(t)
	return s.SetWriteDeadline(t)
}

func (s *h2Stream) SetReadDeadline(t time.Time) error {
	s.mu.Lock()
	s.deadline = t
	close(s.moved)
	s.moved = make(chan struct{})
	s.mu.Unlock()
	return nil
}

func (s *h2Stream) SetWriteDeadline(t time.Time) error {
	if s.ended.Load() {
		return net.ErrClosed
	}
	return s.out.SetWriteDeadline(t)
}

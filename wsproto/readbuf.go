package wsproto

import (
	"bufio"
	"io"
	"sync"
	"syscall"
)

// readBuffer buffers what the connection reads, with the part of
// bufio.Reader's interface the read path needs: Peek, Discard, Read,
// Buffered. It differs in one way that matters to a server holding many
// idle connections: on a connection with a file descriptor, it holds its
// buffer only while the buffer has bytes in it or a system call is filling
// it. While a read waits for the network, the buffer is back in a pool
// (fillRaw, in readbuf_unix.go), so an idle connection costs no buffer.
// The purego build tag turns this off (readbuf_other.go): reads then go
// through the connection's Read, and the buffer is kept.
type readBuffer struct {
	src  io.Reader
	raw  syscall.RawConn // nil: read src with plain reads, keeping the buffer
	buf  []byte          // nil while released
	r, w int             // buf[r:w] is unread
	size int

	// Raw reads (readbuf_unix.go): the functions given to
	// syscall.RawConn.Read, made once in init (a closure made for each
	// read would be an allocation per read), and what they report.
	fillFn, intoFn func(fd uintptr) bool
	dst            []byte // intoFn's destination
	n              int
	err            error
	lowat          int // the socket's SO_RCVLOWAT as last set; 0 or 1: the default (readbuf_lowat_linux.go)
}

// The pool holds array pointers, not slices: putting a slice in an
// interface would allocate its header on every release.
var readBufferPool = sync.Pool{New: func() any { return new([defaultBufferSize]byte) }}

// init sets the buffer up for nc, taking over the bytes that br (from the
// HTTP server's hijack) had already read: they are the first frames.
func (b *readBuffer) init(nc io.Reader, br *bufio.Reader, size int) {
	b.src = nc
	b.size = size
	if sc, ok := nc.(syscall.Conn); ok && size == defaultBufferSize && rawReads {
		if raw, err := sc.SyscallConn(); err == nil {
			b.raw = raw
			b.initRaw()
		}
	}
	if br != nil && br.Buffered() > 0 {
		p, _ := br.Peek(br.Buffered())
		b.buf = make([]byte, max(size, len(p)))
		b.w = copy(b.buf, p)
	}
}

func (b *readBuffer) get() []byte {
	if b.size == defaultBufferSize {
		return readBufferPool.Get().(*[defaultBufferSize]byte)[:]
	}
	return make([]byte, b.size)
}

// release gives an empty buffer back to the pool.
func (b *readBuffer) release() {
	if len(b.buf) == defaultBufferSize {
		readBufferPool.Put((*[defaultBufferSize]byte)(b.buf))
	}
	b.buf, b.r, b.w = nil, 0, 0
}

// Buffered returns how many bytes can be read without waiting.
func (b *readBuffer) Buffered() int { return b.w - b.r }

// Peek returns the next n bytes without consuming them, waiting for them
// if needed. With fewer, it returns what there is and the read error.
// n is at most the buffer size.
func (b *readBuffer) Peek(n int) ([]byte, error) {
	for b.w-b.r < n {
		if err := b.fill(); err != nil {
			return b.buf[b.r:b.w], err
		}
	}
	return b.buf[b.r : b.r+n], nil
}

// Discard skips n bytes, which must be buffered.
func (b *readBuffer) Discard(n int) {
	b.r += min(n, b.w-b.r)
}

// Read reads into p what is buffered or, if nothing is, what one read of
// the connection gives. A large p is filled straight from the connection.
func (b *readBuffer) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if b.r == b.w {
		if len(p) >= b.size {
			return b.readInto(p)
		}
		if err := b.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, b.buf[b.r:b.w])
	b.r += n
	return n, nil
}

// fill reads once from the connection into the free end of the buffer,
// after moving the unread bytes to its start.
func (b *readBuffer) fill() error {
	if b.r > 0 {
		b.w = copy(b.buf, b.buf[b.r:b.w])
		b.r = 0
	}
	if b.raw != nil {
		return b.fillRaw()
	}
	if b.buf == nil {
		b.buf = b.get()
	}
	for range 100 {
		n, err := b.src.Read(b.buf[b.w:])
		b.w += n
		if n > 0 || err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// readInto reads from the connection straight into p.
func (b *readBuffer) readInto(p []byte) (int, error) {
	if b.raw != nil {
		return b.rawRead(p)
	}
	return b.src.Read(p)
}

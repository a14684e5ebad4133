package wsproto

import (
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
)

// The permessage-deflate codec (RFC 7692 section 7.2): this file is the
// inflater, over compress/flate; deflater.go is the deflater, over our own
// encoder (internal/deflate). Each serves one direction of one connection;
// neither is safe for concurrent use.
//
// Memory: a flate reader is about 40 KiB (its 32 KiB window and Huffman
// tables). An inflater borrows one from a pool for each message; with
// context takeover it keeps only the last 2^bits bytes of output (the
// LZ77 window the peer agreed to compress with, 512 bytes to 32 KiB),
// given to the reader as its dictionary at the next message. An idle
// connection without context takeover holds nothing for compression.
// docs/PERFORMANCE.md has the sizes.

// deflateWindow is the largest LZ77 window, 15 bits or 32 KiB (RFC 7692
// sections 7.1.2.1, 7.1.2.2): compress/flate's decoder window, and the
// size of the pooled window buffers.
const deflateWindow = 1 << 15

// inflateEnd follows a message's compressed bytes into the flate reader:
// the 00 00 ff ff the sender removed (section 7.2.2: "Append 4 octets of
// 0x00 0x00 0xff 0xff to the tail end of the payload of the message"), then
// an empty final stored block, so the reader ends the message with io.EOF
// rather than io.ErrUnexpectedEOF. A message that ended its own stream with
// BFINAL set (section 7.2.3.4) ends before reaching these bytes.
var inflateEnd = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

var (
	// errInflateLimit: the message inflates to more than the limit; the
	// connection should fail with 1009.
	errInflateLimit = errors.New("websocket: decompressed message exceeds the read limit")
	// errBadDeflate wraps what compress/flate reports of corrupt data; the
	// connection should fail (RFC 7692 section 7.2.2 leaves the code open;
	// 1007 fits).
	errBadDeflate = errors.New("websocket: invalid compressed data")
	// errDeflateContext: with context takeover, an earlier message was not
	// processed to its end, so the shared LZ77 window is lost.
	errDeflateContext = errors.New("websocket: compression context lost after an incomplete message")
)

// inflateReaders pools flate readers; all of them were made by
// flate.NewReaderDict and implement flate.Resetter.
var inflateReaders sync.Pool

// inflater decompresses the messages of one connection.
type inflater struct {
	takeover bool  // context takeover: each message may refer to the last
	limit    int64 // the current message's limit on output; <0 for none
	n        int64 // output of the current message so far
	fr       io.ReadCloser
	src      inflateSrc
	win      window // with takeover, the last 2^bits bytes of output
	err      error  // the current message's end: io.EOF or its error
	broken   bool   // with takeover, the window is no longer the peer's
}

// newInflater returns an inflater for a peer that does, or does not, use
// context takeover (RFC 7692 section 7.1.1: server_no_context_takeover
// for a client's inflater, client_no_context_takeover for a server's), and
// that compresses with an LZ77 window of at most windowBits bits, 8 to 15
// (section 7.1.2: server_max_window_bits for a client's inflater,
// client_max_window_bits for a server's). With context takeover it keeps
// the last 2^bits bytes of output between messages, bits being windowBits
// but never under 9: zlib does not compress with an 8-bit window. Before
// 1.2.9 it silently used 9 bits when asked for 8; since, it refuses 8 for
// raw deflate, and a zlib-based peer that agreed to 8 asks it for 9. Either
// way its messages may refer up to 512 bytes back, which a 256-byte window
// would fail to inflate.
func newInflater(noContextTakeover bool, windowBits int) *inflater {
	bits := windowBits
	if bits < 8 || bits > 15 {
		bits = 15 // not a window size; the largest inflates any stream
	}
	bits = max(bits, 9)
	return &inflater{takeover: !noContextTakeover, win: window{size: 1 << bits}}
}

// begin starts a message whose compressed payload, without the trailing
// 00 00 ff ff, src yields until io.EOF; Read then returns its decompressed
// bytes, up to limit (negative for no limit). The caller discards whatever
// of src is left after the end of a stream with BFINAL set.
func (f *inflater) begin(src io.Reader, limit int64) {
	f.start(inflateSrc{r: src}, limit)
}

// beginBytes is begin for a payload held whole.
func (f *inflater) beginBytes(payload []byte, limit int64) {
	f.start(inflateSrc{b: payload}, limit)
}

func (f *inflater) start(src inflateSrc, limit int64) {
	f.end()
	f.limit, f.n, f.err = limit, 0, nil
	if f.broken {
		f.err = errDeflateContext
		return
	}
	f.src = src
	f.src.tail = inflateEnd
	if br, ok := src.r.(io.ByteReader); ok {
		f.src.br = br
	} else if src.r != nil {
		f.src.buf = srcBuffers.Get().(*[srcBufferSize]byte)
	}
	var dict []byte
	if f.takeover {
		dict = f.win.bytes()
	}
	if fr, ok := inflateReaders.Get().(io.ReadCloser); ok {
		fr.(flate.Resetter).Reset(&f.src, dict)
		f.fr = fr
	} else {
		f.fr = flate.NewReaderDict(&f.src, dict)
	}
}

// Read returns the current message's decompressed bytes, then io.EOF. It
// returns errInflateLimit as soon as the output would pass the limit, with
// no more than the limit read; an error wrapping errBadDeflate for corrupt
// data; or the error of the source. Any error ends the message.
func (f *inflater) Read(p []byte) (int, error) {
	if f.fr == nil {
		if f.err == nil {
			return 0, errors.New("websocket: inflater read with no message begun")
		}
		return 0, f.err
	}
	if f.limit >= 0 {
		// One byte more than the room left tells whether the message
		// goes past the limit, without inflating further.
		if room := f.limit - f.n; int64(len(p)) > room {
			p = p[:room+1]
		}
	}
	n, err := f.fr.Read(p)
	if f.limit >= 0 && f.n+int64(n) > f.limit {
		n, err = int(f.limit-f.n), errInflateLimit
	}
	f.n += int64(n)
	if f.takeover {
		f.win.write(p[:n])
	}
	switch {
	case err == nil || err == io.EOF || err == errInflateLimit:
	case f.src.err != nil:
		err = f.src.err // the source failed, not the data
	default:
		err = fmt.Errorf("%w: %w", errBadDeflate, err)
	}
	if err != nil {
		f.err = err
		f.end()
	}
	return n, err
}

// end finishes the current message and returns the flate reader to its
// pool. With context takeover, a message not read to io.EOF breaks the
// context: every later message fails with errDeflateContext.
func (f *inflater) end() {
	if f.fr == nil {
		return
	}
	if f.takeover && f.err != io.EOF {
		f.broken = true
		f.win.release()
	}
	// Point the pooled reader away from f, which it must not keep alive.
	f.fr.(flate.Resetter).Reset(emptySrc{}, nil)
	inflateReaders.Put(f.fr)
	f.fr = nil
	if f.src.buf != nil {
		srcBuffers.Put(f.src.buf)
	}
	f.src = inflateSrc{}
	if f.err == nil {
		f.err = errors.New("websocket: message abandoned before its end")
	}
}

// appendInflate decompresses a whole message's payload and appends it to
// dst. It grows dst only as output arrives, so a payload that inflates past
// limit costs no more than limit bytes.
func (f *inflater) appendInflate(dst, payload []byte, limit int64) ([]byte, error) {
	f.beginBytes(payload, limit)
	for {
		if len(dst) == cap(dst) {
			// Double, but never past one byte over the limit.
			grow := max(cap(dst), 512)
			if limit >= 0 {
				grow = int(min(int64(grow), limit-f.n+1))
			}
			dst = slices.Grow(dst, grow)
		}
		n, err := f.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

// inflateTo decompresses the message src yields into w, through a pooled
// buffer, and returns the number of bytes written.
func (f *inflater) inflateTo(w io.Writer, src io.Reader, limit int64) (int64, error) {
	f.begin(src, limit)
	buf := srcBuffers.Get().(*[srcBufferSize]byte)
	defer srcBuffers.Put(buf)
	var written int64
	for {
		n, err := f.Read(buf[:])
		if n > 0 {
			m, werr := w.Write(buf[:n])
			written += int64(m)
			if werr != nil {
				f.end()
				return written, werr
			}
		}
		if err == io.EOF {
			return written, nil
		}
		if err != nil {
			return written, err
		}
	}
}

// inflateSrc feeds the flate reader a message's compressed bytes and then
// inflateEnd. It is an io.ByteReader, so that flate reads no further than
// it needs and adds no buffer of its own.
type inflateSrc struct {
	r    io.Reader     // the message, when streamed
	br   io.ByteReader // r, if it is one
	buf  *[srcBufferSize]byte
	b    []byte // unread bytes: the payload, or buffered from r
	tail []byte // unread part of inflateEnd
	err  error  // r's error, if not io.EOF
}

const srcBufferSize = 4096

var srcBuffers = sync.Pool{New: func() any { return new([srcBufferSize]byte) }}

// fill makes b non-empty, and reports false when the message is exhausted
// or its source failed.
func (s *inflateSrc) fill() bool {
	for len(s.b) == 0 {
		if s.r == nil || s.br != nil {
			return false
		}
		n, err := s.r.Read(s.buf[:])
		s.b = s.buf[:n]
		if err != nil {
			if err != io.EOF {
				s.err = err
			}
			s.r = nil
			return n > 0 && s.err == nil
		}
	}
	return true
}

func (s *inflateSrc) ReadByte() (byte, error) {
	if s.br != nil {
		c, err := s.br.ReadByte()
		if err == nil {
			return c, nil
		}
		s.br, s.r = nil, nil
		if err != io.EOF {
			s.err = err
		}
	}
	if s.fill() {
		c := s.b[0]
		s.b = s.b[1:]
		return c, nil
	}
	if s.err != nil {
		return 0, s.err
	}
	if len(s.tail) > 0 {
		c := s.tail[0]
		s.tail = s.tail[1:]
		return c, nil
	}
	return 0, io.EOF
}

func (s *inflateSrc) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if s.br != nil {
		// Stored blocks are read with Read; byte by byte is good enough
		// for a source that chose to be an io.ByteReader.
		c, err := s.ReadByte()
		if err != nil {
			return 0, err
		}
		p[0] = c
		return 1, nil
	}
	if s.fill() {
		n := copy(p, s.b)
		s.b = s.b[n:]
		return n, nil
	}
	if s.err != nil {
		return 0, s.err
	}
	if len(s.tail) > 0 {
		n := copy(p, s.tail)
		s.tail = s.tail[n:]
		return n, nil
	}
	return 0, io.EOF
}

// emptySrc is what a pooled flate reader reads from.
type emptySrc struct{}

func (emptySrc) Read([]byte) (int, error) { return 0, io.EOF }
func (emptySrc) ReadByte() (byte, error)  { return 0, io.EOF }

// window keeps the last size bytes written to it, the LZ77 window context
// takeover shares between messages (RFC 7692 section 7.2.1 and 7.2.2).
// Once full it is a ring, put back in order only when bytes is called, at
// the start of a message. A 32 KiB window takes its buffers from a pool; a
// smaller one makes its own.
type window struct {
	buf  []byte // len grows to size, then stays
	pos  int    // when full, where the oldest byte is and the next goes
	size int    // a power of two, 512 to deflateWindow
}

func (w *window) write(p []byte) {
	if len(p) >= w.size {
		if w.buf == nil {
			w.buf = w.alloc()
		}
		w.buf = append(w.buf[:0], p[len(p)-w.size:]...)
		w.pos = 0
		return
	}
	if len(w.buf) < w.size {
		if w.buf == nil {
			w.buf = w.alloc()
		}
		n := min(w.size-len(w.buf), len(p))
		w.buf = append(w.buf, p[:n]...)
		p = p[n:]
	}
	for len(p) > 0 {
		n := copy(w.buf[w.pos:], p)
		p = p[n:]
		w.pos = (w.pos + n) % w.size
	}
}

// alloc returns an empty buffer of capacity size.
func (w *window) alloc() []byte {
	if w.size == deflateWindow {
		return windowBuffers.Get().(*[deflateWindow]byte)[:0]
	}
	return make([]byte, 0, w.size)
}

// bytes returns the window's contents, oldest first.
func (w *window) bytes() []byte {
	switch {
	case w.pos == 0:
	case w.size == deflateWindow:
		// Unroll the ring into a buffer from the pool, and give the old
		// one back: two copies, no more.
		buf := windowBuffers.Get().(*[deflateWindow]byte)
		n := copy(buf[:], w.buf[w.pos:])
		copy(buf[n:], w.buf[:w.pos])
		windowBuffers.Put((*[deflateWindow]byte)(w.buf))
		w.buf, w.pos = buf[:], 0
	default:
		// Rotate in place, with no second buffer: reversing the newer
		// and the older part, then the whole, puts the oldest byte first.
		slices.Reverse(w.buf[:w.pos])
		slices.Reverse(w.buf[w.pos:])
		slices.Reverse(w.buf)
		w.pos = 0
	}
	return w.buf
}

// release empties the window, and gives a pooled buffer back.
func (w *window) release() {
	if cap(w.buf) == deflateWindow {
		windowBuffers.Put((*[deflateWindow]byte)(w.buf[:deflateWindow]))
	}
	w.buf, w.pos = nil, 0
}

var windowBuffers = sync.Pool{New: func() any { return new([deflateWindow]byte) }}

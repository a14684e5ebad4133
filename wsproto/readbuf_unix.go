//go:build unix && !purego

// This file is the fast path of readbuf_other.go, which the purego build
// tag selects instead. It reads with the socket's own system call, so
// that a connection waiting for the network holds no read buffer. That
// matters to a server with many idle connections.

package wsproto

import (
	"io"
	"os"
	"syscall"
)

// rawReads is true: init reads through syscall.RawConn when it can.
const rawReads = true

// initRaw makes the functions fillRaw and rawRead give the poller, once
// per connection.
func (b *readBuffer) initRaw() {
	b.fillFn = b.fillCallback
	b.intoFn = b.intoCallback
}

// fillRaw reads with the descriptor's own system call, inside
// syscall.RawConn.Read: the runtime's poller calls the function when the
// socket may be readable, and waits again when it returns false. The
// buffer is taken from the pool only for the system call, and given back
// when the socket has nothing (EAGAIN), so a connection waiting for its
// next message holds no buffer. This is the loop net.Conn.Read runs, with
// the buffer's lifetime moved inside it.
func (b *readBuffer) fillRaw() error {
	b.n, b.err = 0, nil
	rerr := b.raw.Read(b.fillFn)
	return rawResult(&b.w, b.n, b.err, rerr)
}

func (b *readBuffer) fillCallback(fd uintptr) bool {
	if b.buf == nil {
		b.buf = b.get()
	}
	b.n, b.err = readFD(fd, b.buf[b.w:])
	if b.err == syscall.EAGAIN {
		if b.r == b.w {
			b.release()
		}
		b.setLowat(fd, 1) // wake for any byte
		return false
	}
	return true
}

// rawRead reads into p, which is not the buffer, in the same way.
func (b *readBuffer) rawRead(p []byte) (int, error) {
	b.dst, b.n, b.err = p, 0, nil
	rerr := b.raw.Read(b.intoFn)
	b.dst = nil
	var got int
	rerr = rawResult(&got, b.n, b.err, rerr)
	return got, rerr
}

func (b *readBuffer) intoCallback(fd uintptr) bool {
	b.n, b.err = readFD(fd, b.dst)
	if b.err == syscall.EAGAIN {
		// b.dst is payload of the current frame, which the peer must send
		// before anything else (no control frame can come inside a
		// frame): the wait may be for more than one byte.
		b.setLowat(fd, lowatFor(len(b.dst)))
		return false
	}
	return true
}

// readFD is read(2), retried on EINTR.
func readFD(fd uintptr, p []byte) (int, error) {
	for {
		n, err := syscall.Read(int(fd), p)
		if err != syscall.EINTR {
			return n, err
		}
	}
}

// rawResult adds a read's count to *w and turns its outcome into the error
// a net.Conn's Read would give: the poller's (a deadline, a closed
// connection), the system call's, or io.EOF for a read of nothing.
func rawResult(w *int, n int, err, rerr error) error {
	switch {
	case rerr != nil:
		return rerr
	case err != nil:
		return os.NewSyscallError("read", err)
	case n == 0:
		return io.EOF
	}
	*w += n
	return nil
}

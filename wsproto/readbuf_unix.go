//go:build unix

package wsproto

import (
	"io"
	"os"
	"syscall"
)

const rawReads = true

// fillRaw reads with the descriptor's own system call, inside
// syscall.RawConn.Read: the runtime's poller calls the function when the
// socket may be readable, and waits again when it returns false. The
// buffer is taken from the pool only for the system call, and given back
// when the socket has nothing (EAGAIN), so a connection waiting for its
// next message holds no buffer. This is the loop net.Conn.Read runs, with
// the buffer's lifetime moved inside it.
func (b *readBuffer) fillRaw() error {
	var n int
	var err error
	rerr := b.raw.Read(func(fd uintptr) bool {
		if b.buf == nil {
			b.buf = b.get()
		}
		for {
			n, err = syscall.Read(int(fd), b.buf[b.w:])
			if err != syscall.EINTR {
				break
			}
		}
		if err == syscall.EAGAIN {
			if b.r == b.w {
				b.release()
			}
			return false
		}
		return true
	})
	return rawResult(&b.w, n, err, rerr)
}

// rawRead reads into p, which is not the buffer, in the same way.
func rawRead(raw syscall.RawConn, p []byte) (int, error) {
	var n int
	var err error
	rerr := raw.Read(func(fd uintptr) bool {
		for {
			n, err = syscall.Read(int(fd), p)
			if err != syscall.EINTR {
				break
			}
		}
		return err != syscall.EAGAIN
	})
	var got int
	rerr = rawResult(&got, n, err, rerr)
	return got, rerr
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

//go:build !purego

// Part of the fast read path (readbuf_unix.go, which replaces
// readbuf_other.go): a read that waits inside a large frame's payload
// wakes a few times, not once per TCP segment. readbuf_lowat_other.go
// stands in for it on other unix systems; with the purego build tag,
// neither is built, as there are no raw reads to tune.

package wsproto

import "syscall"

// A reader that waits in the middle of a large frame payload is woken, by
// default, by every segment that arrives: a read of part of the payload,
// then an empty one (EAGAIN) and a wait, several times per message.
// SO_RCVLOWAT (socket(7)) tells Linux to report the socket readable only
// once that many bytes are queued, or at EOF, an error or under memory
// pressure. So the reader sleeps until a worthwhile read is possible.
//
// It is only raised for bytes the peer must send next: the rest of the
// current frame's payload, where no control frame can come. So waiting for
// them delays nothing. It is set back to 1 before any other wait. Reads
// themselves are not affected: a non-blocking read returns what is there.
// Fewer wake-ups give more round trips on large messages
// (docs/PERFORMANCE.md).

const (
	lowatFrom = 64 << 10  // payload still to come from which the threshold is raised, to this
	lowatMax  = 256 << 10 // the next step, and the highest
)

// lowatFor is the SO_RCVLOWAT for a wait with want bytes of payload still
// to come: one of three steps, never more than want (the peer may send no
// more), so that the threshold changes, and costs a system call, only at
// a step's edge rather than at every wait.
func lowatFor(want int) int {
	switch {
	case want >= lowatMax:
		return lowatMax
	case want >= lowatFrom:
		return lowatFrom
	}
	return 1
}

// setLowat sets the socket's SO_RCVLOWAT to n, if it is not n already. A
// failure leaves the default, which only costs more wake-ups.
func (b *readBuffer) setLowat(fd uintptr, n int) {
	if n == b.lowat || (n == 1 && b.lowat == 0) {
		return
	}
	if syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, n) == nil {
		b.lowat = n
	}
}

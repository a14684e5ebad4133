package server

import (
	"math/bits"
	"sync"
)

// Each message is read into a buffer from a pool, taken only once the
// message has begun: a connection waiting for its next message holds no
// buffer. Pooled buffers come in powers of two, from 512 bytes to 16 MiB
// (the default read limit); a message grows into the next size by a copy.
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

package server

import (
	"errors"
	"sync/atomic"
)

// Defaults of the app-wide limits (Options.MaxConnections and
// Options.MaxBufferedBytes).
const (
	DefaultMaxConnections   = 10000
	DefaultMaxBufferedBytes = 64 << 20
)

// budget counts the bytes that all connections hold in messages being
// received: what a peer can make the server allocate. A message takes
// from it as its buffer grows and gives back once the message is the
// handler's (or dropped).
type budget struct {
	limit int64 // <= 0: no limit
	used  atomic.Int64
}

// take reserves n bytes, or reports that they would go past the limit.
func (b *budget) take(n int64) bool {
	if n <= 0 {
		return true
	}
	if b.limit <= 0 {
		b.used.Add(n)
		return true
	}
	// Compare and swap, so that a take that fails never counts, even for
	// a moment (adding and taking back could refuse another's take).
	for {
		used := b.used.Load()
		if used+n > b.limit {
			return false
		}
		if b.used.CompareAndSwap(used, used+n) {
			return true
		}
	}
}

// give returns n bytes.
func (b *budget) give(n int64) { b.used.Add(-n) }

// inflateCost is what a message in progress on a connection with
// permessage-deflate takes from the budget besides its buffer: a flate
// reader's state, with its 32 KiB window (RFC 7692 section 7.1.2: up to
// 2^15 bytes of history), held from the message's first frame to its
// end.
const inflateCost = 48 << 10

// errBudget is why a message was refused: it would have taken the app
// past Options.MaxBufferedBytes.
var errBudget = errors.New("server: the app's MaxBufferedBytes are in use; message refused")

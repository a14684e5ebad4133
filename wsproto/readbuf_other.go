//go:build !unix || purego

// The portable read path: reads go through net.Conn, and each connection
// keeps its read buffer while it waits. readbuf_unix.go replaces this file
// on unix systems, unless the purego build tag is set.

package wsproto

import "errors"

// rawReads is false: b.raw is never set, so the two reads below are never
// called.
const rawReads = false

var errNoRawReads = errors.New("websocket: raw reads are not available in this build")

func (b *readBuffer) initRaw() {}

func (b *readBuffer) fillRaw() error { return errNoRawReads }

func (b *readBuffer) rawRead([]byte) (int, error) { return 0, errNoRawReads }

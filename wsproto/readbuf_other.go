//go:build !unix

package wsproto

import "errors"

// Without unix system calls, reads go through net.Conn and each
// connection keeps its read buffer: b.raw is never set, so the two reads
// below are never called.
const rawReads = false

var errNoRawReads = errors.New("websocket: raw reads are not available on this system")

func (b *readBuffer) initRaw() {}

func (b *readBuffer) fillRaw() error { return errNoRawReads }

func (b *readBuffer) rawRead([]byte) (int, error) { return 0, errNoRawReads }

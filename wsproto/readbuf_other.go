//go:build !unix

package wsproto

import "syscall"

// Without unix system calls, reads go through net.Conn and each
// connection keeps its read buffer.
const rawReads = false

func (b *readBuffer) fillRaw() error { panic("unreachable") }

func rawRead(raw syscall.RawConn, p []byte) (int, error) { panic("unreachable") }

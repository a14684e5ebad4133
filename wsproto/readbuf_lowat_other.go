//go:build unix && !linux && !purego

package wsproto

// SO_RCVLOWAT is used on Linux only (readbuf_lowat_linux.go): elsewhere
// its effect on the poller differs (kqueue has its own NOTE_LOWAT).

func lowatFor(int) int { return 1 }

func (b *readBuffer) setLowat(uintptr, int) {}

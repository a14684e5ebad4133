package main

import (
	"wsraise/wsproto"
)

// Every message of the soak is determined by its connection's number and
// its sequence number: the client regenerates what it sent to check each
// echo without keeping it. A message starts with a 24-byte header, the
// connection and sequence numbers in hex, followed by a body: pseudo-random
// bytes for binary messages (even sequence numbers are text, odd binary),
// a mix of one- to four-byte UTF-8 characters for text.

const headerLen = 24

// mix is splitmix64's finaliser.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func seed(id int, seq int64) uint64 {
	return mix(uint64(id)<<40 ^ uint64(seq) + 0x9e3779b97f4a7c15)
}

// msgType is the type of message seq.
func msgType(seq int64) wsproto.MessageType {
	if seq%2 == 0 {
		return wsproto.MessageText
	}
	return wsproto.MessageBinary
}

// bodySize spreads sizes: 70% up to 256 bytes, 25% up to 16 KiB, 5% up to
// maxSize, so that every frame length encoding is used.
func bodySize(h uint64, maxSize int) int {
	r, v := h%100, int(h>>8)
	switch {
	case r < 70 || maxSize <= 256:
		return v % min(256, maxSize+1)
	case r < 95 || maxSize <= 16<<10:
		return 256 + v%(min(16<<10, maxSize)-256+1)
	default:
		return 16<<10 + v%(maxSize-16<<10+1)
	}
}

var textPieces = []string{"a", "b", "c", "x", "y", "z", " ", "0", "9", "é", "ß", "€", "漢", "😀", "𝄞"}

// appendHeader appends the header of message seq of connection id.
func appendHeader(b []byte, id int, seq int64) []byte {
	const hex = "0123456789abcdef"
	for i := 7; i >= 0; i-- {
		b = append(b, hex[(uint64(id)>>(4*i))&15])
	}
	for i := 15; i >= 0; i-- {
		b = append(b, hex[(uint64(seq)>>(4*i))&15])
	}
	return b
}

// body walks the bytes of a message's body, calling f with each piece;
// it stops early when f returns false.
func body(id int, seq int64, maxSize int, f func(piece []byte) bool) {
	h := seed(id, seq)
	size := bodySize(h, maxSize)
	x := h | 1
	var chunk [256]byte
	if msgType(seq) == wsproto.MessageText {
		for n := 0; n < size; {
			b := chunk[:0]
			for len(b) < len(chunk)-4 && n+len(b) < size {
				x = x*6364136223846793005 + 1442695040888963407
				b = append(b, textPieces[(x>>33)%uint64(len(textPieces))]...)
			}
			n += len(b)
			if !f(b) {
				return
			}
		}
		return
	}
	for n := 0; n < size; {
		b := chunk[:min(len(chunk), size-n)]
		for i := range b {
			x = x*6364136223846793005 + 1442695040888963407
			b[i] = byte(x >> 56)
		}
		n += len(b)
		if !f(b) {
			return
		}
	}
}

// appendMessage appends message seq of connection id to b.
func appendMessage(b []byte, id int, seq int64, maxSize int) []byte {
	b = appendHeader(b, id, seq)
	body(id, seq, maxSize, func(p []byte) bool {
		b = append(b, p...)
		return true
	})
	return b
}

// verdict is what checkMessage found.
type verdict int

const (
	intact    verdict = iota
	misplaced         // a whole, intact message, but not the one expected
	corrupt           // anything else
)

// checkMessage compares a received message with message seq of
// connection id. When it is another message of that connection, whole, it
// returns misplaced and that message's sequence number.
func checkMessage(typ wsproto.MessageType, p []byte, id int, seq int64, maxSize int) (verdict, int64) {
	var hdr [headerLen]byte
	if len(p) >= headerLen && string(p[:headerLen]) != string(appendHeader(hdr[:0], id, seq)) {
		gotID, gotSeq, ok := parseHeader(p)
		if ok && gotID == id && gotSeq >= 0 {
			if v, _ := checkMessage(typ, p, id, gotSeq, maxSize); v == intact {
				return misplaced, gotSeq
			}
		}
		return corrupt, seq
	}
	if typ != msgType(seq) || len(p) < headerLen {
		return corrupt, seq
	}
	rest := p[headerLen:]
	ok := true
	body(id, seq, maxSize, func(piece []byte) bool {
		if len(rest) < len(piece) || string(rest[:len(piece)]) != string(piece) {
			ok = false
			return false
		}
		rest = rest[len(piece):]
		return true
	})
	if !ok || len(rest) != 0 {
		return corrupt, seq
	}
	return intact, seq
}

func parseHeader(p []byte) (id int, seq int64, ok bool) {
	var v [2]uint64
	for i, c := range p[:headerLen] {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		default:
			return 0, 0, false
		}
		k := 0
		if i >= 8 {
			k = 1
		}
		v[k] = v[k]<<4 | uint64(d)
	}
	return int(v[0]), int64(v[1]), true
}

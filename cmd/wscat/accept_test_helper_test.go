package main

import (
	"crypto/sha1"
	"encoding/base64"
)

// acceptFor computes Sec-WebSocket-Accept independently (RFC 6455 4.2.2).
func acceptFor(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

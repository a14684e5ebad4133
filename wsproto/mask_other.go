//go:build !amd64 || purego

package wsproto

// maskLong XORs b with k repeated, low byte first; see maskWords.
func maskLong(b []byte, k uint32) {
	maskWords(b, k)
}

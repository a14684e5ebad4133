//go:build !amd64 || purego

package wsproto

// maskLong XORs b with k repeated, low byte first; see maskWords. This is
// the portable path: mask_amd64.go replaces it on amd64, unless the
// purego build tag is set.
func maskLong(b []byte, k uint32) {
	maskWords(b, k)
}

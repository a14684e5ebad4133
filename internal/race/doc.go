// Package race tells tests whether the race detector is on (go test
// -race). Under it, sync.Pool drops a quarter of what is put back, at
// random, so pooled buffers are allocated again: a test that counts
// allocations skips, or allows for them.
package race

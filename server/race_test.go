//go:build race

package server_test

// raceEnabled: under the race detector sync.Pool drops a quarter of what
// is put back, so allocation counts are measured without it.
const raceEnabled = true

//go:build race

package wsraise

// raceEnabled: under the race detector, sync.Pool drops a quarter of what
// is put back, so pooled buffers are allocated again; allocation bounds
// allow for it.
const raceEnabled = true

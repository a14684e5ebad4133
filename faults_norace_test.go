//go:build !race

package wsraise

const raceEnabled = false

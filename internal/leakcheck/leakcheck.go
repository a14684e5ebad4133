// Package leakcheck fails a test binary that leaves goroutines of this
// module running after its tests: a connection, a timer or a handler that
// never ends is a bug even when every test passed.
package leakcheck

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Main runs the tests, then waits up to settle for the goroutines that
// mention module code in their stacks to end. Those still running are
// printed and make the binary fail. Use it from TestMain:
//
//	func TestMain(m *testing.M) { leakcheck.Main(m, 5*time.Second) }
func Main(m *testing.M, settle time.Duration) {
	code := m.Run()
	if code == 0 {
		if leaked := Wait(settle); leaked != "" {
			fmt.Fprintf(os.Stderr, "leakcheck: goroutines still running after the tests:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// Wait polls until no goroutine runs module code or settle passes, and
// returns the stacks of those left.
func Wait(settle time.Duration) string {
	deadline := time.Now().Add(settle)
	for {
		leaked := Leaked()
		if leaked == "" || time.Now().After(deadline) {
			return leaked
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Leaked returns the stacks of the running goroutines, other than the
// caller's, that have a frame in this module ("wsraise/" or the root
// package "wsraise.").
func Leaked() string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 {
			continue // the caller's goroutine comes first
		}
		if strings.Contains(g, "wsraise/") || strings.Contains(g, "wsraise.") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

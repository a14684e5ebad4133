package wsproto

import (
	"context"
	"testing"
	"time"
)

// TestDeadlineTimeoutSlack: with a fixed timeout, the connection's deadline
// is set at the first operation, left alone while it is still at least the
// timeout away, and moved again once it is not; a context's own deadline,
// or a fixed bound set while closing, is always applied, and the next
// timeout-bounded operation then sets the deadline afresh. (The passing of
// time is simulated by moving the recorded deadline, so that a slow machine
// cannot make the test wrong.)
func TestDeadlineTimeoutSlack(t *testing.T) {
	const timeout = 10 * time.Second
	var sets []time.Time
	d := &deadline{timeout: timeout}
	d.init(func(t time.Time) error { sets = append(sets, t); return nil })
	op := func(ctx context.Context) { d.end(d.start(ctx)) }
	bg := context.Background()
	// want checks the number of deadlines set so far, and that the last is
	// between lo and hi from now.
	want := func(step string, n int, lo, hi time.Duration) {
		t.Helper()
		if len(sets) != n {
			t.Fatalf("%s: %d deadlines set, want %d", step, len(sets), n)
		}
		if left := time.Until(sets[n-1]); left < lo || left > hi {
			t.Fatalf("%s: the deadline is %v away, want %v to %v", step, left, lo, hi)
		}
	}
	full := timeout + timeoutSlack(timeout)

	op(bg)
	want("first operation", 1, full-time.Second, full)
	for range 1000 {
		op(bg)
	}
	want("1000 operations at once", 1, full-time.Second, full)

	// Time passes: the deadline is now just under the timeout away.
	d.fromTimeout = time.Now().Add(timeout - time.Millisecond)
	op(bg)
	want("deadline under the timeout away", 2, full-time.Second, full)

	// A context's deadline always wins, and the timeout is set again after it.
	ctx, cancel := context.WithTimeout(bg, time.Hour)
	op(ctx)
	cancel()
	want("context deadline", 3, 59*time.Minute, time.Hour)
	op(bg)
	want("back to the timeout", 4, full-time.Second, full)

	// So does a fixed bound set meanwhile (a reply while closing).
	d.setTimeout(time.Millisecond)
	want("setTimeout", 5, -time.Second, time.Millisecond)
	op(bg)
	want("after setTimeout", 6, full-time.Second, full)
}

package wsproto

import (
	"context"
	"testing"
	"time"
)

// TestDeadlineTimeoutSlack: with a fixed timeout, the connection's deadline
// is set at the first operation, left alone while it is still at least the
// timeout away, and moved again once it is not; a context's own deadline,
// or a cancellation, is always applied, and the next timeout-bounded
// operation then sets the deadline afresh.
func TestDeadlineTimeoutSlack(t *testing.T) {
	const timeout = 400 * time.Millisecond
	var sets []time.Time
	d := &deadline{timeout: timeout}
	d.init(func(t time.Time) error { sets = append(sets, t); return nil })
	op := func(ctx context.Context) {
		d.end(d.start(ctx))
	}
	bg := context.Background()

	start := time.Now()
	op(bg)
	if len(sets) != 1 {
		t.Fatalf("first operation: %d deadlines set, want 1", len(sets))
	}
	if got, lo, hi := sets[0], start.Add(timeout), time.Now().Add(timeout+timeoutSlack(timeout)); got.Before(lo) || got.After(hi) {
		t.Fatalf("deadline %v after the start, want between %v and %v", got.Sub(start), timeout, timeout+timeoutSlack(timeout))
	}
	for range 1000 {
		op(bg)
	}
	if len(sets) != 1 {
		t.Fatalf("1000 operations at once: %d deadlines set, want still 1", len(sets))
	}
	// Once the deadline is less than the timeout away, it moves.
	time.Sleep(timeoutSlack(timeout) + 20*time.Millisecond)
	before := time.Now()
	op(bg)
	if len(sets) != 2 || sets[1].Sub(before) < timeout {
		t.Fatalf("after %v: %d deadlines set, the last %v away, want 2 and at least %v", timeoutSlack(timeout), len(sets), sets[len(sets)-1].Sub(before), timeout)
	}

	// A context's deadline always wins, and the timeout is set again after it.
	ctx, cancel := context.WithTimeout(bg, time.Hour)
	op(ctx)
	cancel()
	if n := len(sets); n != 3 || time.Until(sets[2]) < 59*time.Minute {
		t.Fatalf("context deadline: %d deadlines set, want 3, the last an hour away", n)
	}
	op(bg)
	if n := len(sets); n != 4 || time.Until(sets[3]) > timeout+timeoutSlack(timeout) {
		t.Fatalf("back to the timeout: %d deadlines set, want 4, the last within %v", n, timeout+timeoutSlack(timeout))
	}
	// So does a fixed bound set meanwhile (a reply while closing).
	d.setTimeout(time.Millisecond)
	op(bg)
	if n := len(sets); n != 6 || time.Until(sets[5]) < timeout {
		t.Fatalf("after setTimeout: %d deadlines set, want 6, the last at least %v away", n, timeout)
	}
}

package wsproto

import (
	"context"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// aLongTimeAgo is a deadline in the past: setting it interrupts a blocked
// read or write at once.
var aLongTimeAgo = time.Unix(1, 0)

// deadline turns a context into net.Conn deadlines for one direction. With
// context.Background it costs nothing and allocates nothing.
type deadline struct {
	set     func(time.Time) error
	timeout time.Duration // if > 0, bounds an operation whose context has no deadline
	mu      sync.Mutex
	gen     uint64      // bumped when an operation ends, so a late cancellation is ignored
	armed   atomic.Bool // a deadline is set on the connection
	// fromTimeout is the deadline set last from timeout, zero if the one
	// set since came from elsewhere. Setting a deadline costs a runtime
	// timer update: with a timeout, it is moved only once it is less than
	// timeout away, and then to timeoutSlack past the timeout, so a
	// connection that writes often sets it once per eighth of the timeout
	// instead of at every write. An operation is then bounded by between
	// timeout and 9/8 of it.
	fromTimeout time.Time
}

// timeoutSlack is how far past the timeout a deadline from it is set.
func timeoutSlack(t time.Duration) time.Duration { return t / 8 }

func (d *deadline) init(set func(time.Time) error) { d.set = set }

// start applies ctx to the operation about to run. The returned stop, if
// not nil, must be passed to end.
func (d *deadline) start(ctx context.Context) (stop func() bool) {
	dl, hasDeadline := ctx.Deadline()
	done := ctx.Done()
	if !hasDeadline && done == nil && d.timeout <= 0 && !d.armed.Load() {
		return nil // the fast path: nothing to set, nothing to clear
	}
	d.mu.Lock()
	switch {
	case hasDeadline:
		d.set(dl)
		d.armed.Store(true)
		d.fromTimeout = time.Time{}
	case d.timeout > 0:
		if now := time.Now(); d.fromTimeout.IsZero() || d.fromTimeout.Sub(now) < d.timeout {
			d.fromTimeout = now.Add(d.timeout + timeoutSlack(d.timeout))
			d.set(d.fromTimeout)
			d.armed.Store(true)
		}
	case d.armed.Load():
		d.set(time.Time{})
		d.armed.Store(false)
		d.fromTimeout = time.Time{}
	}
	gen := d.gen
	d.mu.Unlock()
	if done == nil {
		return nil
	}
	return context.AfterFunc(ctx, func() {
		d.mu.Lock()
		if d.gen == gen {
			d.set(aLongTimeAgo)
			d.armed.Store(true)
			d.fromTimeout = time.Time{}
		}
		d.mu.Unlock()
	})
}

func (d *deadline) end(stop func() bool) {
	if stop == nil {
		return
	}
	stop()
	d.mu.Lock()
	d.gen++
	d.mu.Unlock()
}

// setTimeout bounds what follows by a fixed time (used while closing).
func (d *deadline) setTimeout(t time.Duration) {
	d.mu.Lock()
	d.set(time.Now().Add(t))
	d.armed.Store(true)
	d.fromTimeout = time.Time{}
	d.gen++
	d.mu.Unlock()
}

func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// ctxError reports a timeout caused by ctx as ctx's error. The connection's
// deadline, set from ctx's, can pass before ctx's own timer marks it done,
// so a deadline already past counts as well.
func ctxError(ctx context.Context, err error) error {
	if err != nil && isTimeout(err) {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
			return context.DeadlineExceeded
		}
	}
	return err
}

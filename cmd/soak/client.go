package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"wsraise/wsproto"
)

// clientConfig is what the client side of the soak needs.
type clientConfig struct {
	URL      string        // the demo's base ws:// URL; the soak uses /echo
	Conns    int           // connections to hold
	Active   float64       // share of them exchanging messages
	Shutdown float64       // share of them closed by the app's Shutdown
	Duration time.Duration // how long traffic runs once all are open
	Window   int           // messages in flight per active connection
	MaxSize  int           // largest message body
	Pause    time.Duration // pause between messages of one connection
	Dialers  int           // dials at once
	Retries  int           // extra attempts per failed dial
	Code     wsproto.StatusCode
	// Wait is how long, at the end, the client waits for echoes and closes.
	Wait time.Duration
	// ShutdownIdle keeps the Shutdown group idle: no traffic while the app
	// shuts down.
	ShutdownIdle bool
	// Progress, if set, receives a line at each phase.
	Progress io.Writer `json:"-"`
}

// client is one soak connection, seen from the client side.
type client struct {
	id       int
	active   bool
	shutdown bool // closed by the app's Shutdown, not by the client
	cfg      *clientConfig
	c        *wsproto.Conn
	rec      *recorder

	sent     atomic.Int64 // messages sent (sequence numbers 0..sent-1)
	next     atomic.Int64 // the sequence number of the next echo expected
	echoed   atomic.Int64 // echoes received in order and intact
	skipped  atomic.Int64 // echoes missing: a later one came first
	slots    chan struct{}
	progress chan struct{} // pinged on every echo
	stop     chan struct{} // stops the writer
	stopOnce sync.Once
	wrote    chan struct{} // closed when the writer has returned
	done     chan struct{} // closed when the reader has returned
	end      error         // the reader's last error, set before done
}

// dial opens the connection, retrying a bounded number of times.
func (cl *client) dial(ctx context.Context) error {
	var err error
	for attempt := 0; attempt <= cl.cfg.Retries; attempt++ {
		if attempt > 0 {
			cl.rec.dialRetries.Add(1)
			select {
			case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		cl.c, _, err = wsproto.Dial(ctx, cl.cfg.URL+"/echo", &wsproto.DialOptions{
			HandshakeTimeout: 10 * time.Second,
			CloseTimeout:     10 * time.Second,
			WriteTimeout:     30 * time.Second,
		})
		if err == nil {
			return nil
		}
	}
	return err
}

func (cl *client) start() {
	cl.slots = make(chan struct{}, max(cl.cfg.Window, 1))
	cl.progress = make(chan struct{}, 1)
	cl.stop = make(chan struct{})
	cl.wrote = make(chan struct{})
	cl.done = make(chan struct{})
	go cl.read()
	if !cl.active {
		close(cl.wrote)
	}
}

// startTraffic starts the writer of an active connection.
func (cl *client) startTraffic() {
	if cl.active {
		go cl.write()
	}
}

// halt stops the writer.
func (cl *client) halt() { cl.stopOnce.Do(func() { close(cl.stop) }) }

// read receives every message until the connection ends, checking that
// each is the next echo expected, whole.
func (cl *client) read() {
	defer close(cl.done)
	for {
		typ, p, err := cl.c.Read(context.Background())
		if err != nil {
			cl.end = err
			return
		}
		seq := cl.next.Load()
		if seq >= cl.sent.Load() {
			cl.rec.fault("conn %d: a message with nothing outstanding (%d bytes)", cl.id, len(p))
			cl.rec.corrupt.Add(1)
			continue
		}
		switch v, got := checkMessage(typ, p, cl.id, seq, cl.cfg.MaxSize); {
		case v == intact:
			cl.echoed.Add(1)
			cl.next.Add(1)
		case v == misplaced && got > seq && got < cl.sent.Load():
			// Echoes seq to got-1 are missing, or will come late.
			cl.rec.fault("conn %d: echo %d came while %d was expected", cl.id, got, seq)
			cl.skipped.Add(got - seq)
			cl.echoed.Add(1)
			cl.next.Store(got + 1)
		case v == misplaced:
			cl.rec.fault("conn %d: echo %d came again, or late, while %d was expected", cl.id, got, seq)
			cl.rec.misplaced.Add(1)
		default:
			cl.rec.fault("conn %d: echo %d corrupt (%v, %d bytes)", cl.id, seq, typ, len(p))
			cl.rec.corrupt.Add(1)
			cl.next.Add(1)
		}
		cl.rec.bytes.Add(int64(len(p)))
		select {
		case <-cl.slots:
		default:
		}
		select {
		case cl.progress <- struct{}{}:
		default:
		}
	}
}

// write sends messages until stopped, with at most Window unanswered.
func (cl *client) write() {
	defer close(cl.wrote)
	var buf []byte
	for {
		select {
		case cl.slots <- struct{}{}:
		case <-cl.stop:
			return
		case <-cl.done:
			return
		}
		select {
		case <-cl.stop:
			return
		default:
		}
		if !cl.send(&buf) {
			return
		}
		if cl.cfg.Pause > 0 {
			select {
			case <-time.After(cl.cfg.Pause):
			case <-cl.stop:
				return
			}
		}
	}
}

// send sends the next message. A failure is a fault unless the server has
// closed the connection (the Shutdown group).
func (cl *client) send(buf *[]byte) bool {
	seq := cl.sent.Load()
	*buf = appendMessage((*buf)[:0], cl.id, seq, cl.cfg.MaxSize)
	cl.sent.Add(1) // before the write: the echo may come back before it returns
	if err := cl.c.Write(context.Background(), msgType(seq), *buf); err != nil {
		cl.sent.Add(-1)
		if !cl.shutdown || wsproto.CloseStatus(err) != cl.cfg.Code {
			cl.rec.fault("conn %d: send %d: %v", cl.id, seq, err)
			cl.rec.sendErrors.Add(1)
		}
		return false
	}
	if cap(*buf) > 64<<10 {
		*buf = nil // hold no large buffer between messages
	}
	return true
}

// await waits until every message sent has been answered, or the connection
// ends, or the time is up.
func (cl *client) await(timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for cl.next.Load() < cl.sent.Load() {
		select {
		case <-cl.progress:
		case <-cl.done:
			return cl.next.Load() >= cl.sent.Load()
		case <-t.C:
			return false
		}
	}
	return true
}

// probe sends one message on an idle connection and waits for its echo:
// the connection is still alive at the end of the soak.
func (cl *client) probe(timeout time.Duration) error {
	var buf []byte
	if !cl.send(&buf) {
		return errors.New("send failed")
	}
	if !cl.await(timeout) {
		return fmt.Errorf("no echo within %v", timeout)
	}
	return nil
}

// forEach runs f on every client, n at a time.
func forEach(cls []*client, n int, f func(cl *client)) {
	work := make(chan *client)
	var wg sync.WaitGroup
	for range min(n, len(cls)) {
		wg.Go(func() {
			for cl := range work {
				f(cl)
			}
		})
	}
	for _, cl := range cls {
		work <- cl
	}
	close(work)
	wg.Wait()
}

package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"wsraise/wsproto"
)

// recorder collects the client side's counts and the first faults.
type recorder struct {
	dialRetries, dialFailures      atomic.Int64
	misplaced, corrupt, sendErrors atomic.Int64
	bytes                          atomic.Int64
	mu                             sync.Mutex
	faults                         []string
	faultCount                     int
}

const keepFaults = 20

func (r *recorder) fault(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faultCount++
	if len(r.faults) < keepFaults {
		r.faults = append(r.faults, fmt.Sprintf(format, args...))
	}
}

// clientResult is the client side's report, sent by a child process to
// its parent as JSON.
type clientResult struct {
	Conns, Active, ShutdownGroup int
	DialRetries, DialFailures    int64
	DialTime                     time.Duration
	Sent, Echoed, Bytes          int64
	Lost                         int64 // never echoed: a gap, or the end of a connection closed by the client
	Unanswered                   int64 // sent on a connection closed by Shutdown, not echoed before its close
	Misplaced                    int64 // echoed twice, or late
	Corrupt                      int64
	SendErrors                   int64
	ProbesFailed                 int
	Closes                       map[string]int // how each connection ended, as the client saw it
	UnexpectedCloses             int
	Faults                       []string
	FaultCount                   int
}

// events is how the client side tells the coordinator where it is.
type events interface {
	held()         // every connection is open
	wantShutdown() // the client-closed connections are closed: shut the app down
}

func (cfg *clientConfig) progress(format string, args ...any) {
	if cfg.Progress != nil {
		fmt.Fprintf(cfg.Progress, "soak: "+format+"\n", args...)
	}
}

// runClients runs the client side of the soak and returns its report.
func runClients(ctx context.Context, cfg clientConfig, ev events) (*clientResult, error) {
	rec := &recorder{}
	cls := make([]*client, cfg.Conns)
	nShutdown := int(math.Round(cfg.Shutdown * float64(cfg.Conns)))
	for i := range cls {
		cls[i] = &client{
			id:       i,
			active:   math.Floor(float64(i+1)*cfg.Active) > math.Floor(float64(i)*cfg.Active),
			shutdown: i >= cfg.Conns-nShutdown,
			cfg:      &cfg,
			rec:      rec,
		}
	}
	if cfg.ShutdownIdle {
		for _, cl := range cls {
			cl.active = cl.active && !cl.shutdown
		}
	}
	res := &clientResult{Conns: cfg.Conns, ShutdownGroup: nShutdown, Closes: map[string]int{}}

	// Open every connection, a bounded number at a time.
	start := time.Now()
	var opened []*client
	var mu sync.Mutex
	forEach(cls, cfg.Dialers, func(cl *client) {
		if err := cl.dial(ctx); err != nil {
			rec.dialFailures.Add(1)
			rec.fault("conn %d: dial: %v", cl.id, err)
			return
		}
		cl.start()
		mu.Lock()
		opened = append(opened, cl)
		mu.Unlock()
	})
	res.DialTime = time.Since(start)
	sort.Slice(opened, func(i, j int) bool { return opened[i].id < opened[j].id })
	for _, cl := range opened {
		if cl.active {
			res.Active++
		}
	}
	cfg.progress("%d of %d connections open in %v; traffic on %d for %v", len(opened), cfg.Conns, res.DialTime.Round(time.Millisecond), res.Active, cfg.Duration)
	ev.held()
	for _, cl := range opened {
		cl.startTraffic()
	}

	// Traffic.
	select {
	case <-time.After(cfg.Duration):
	case <-ctx.Done():
	}

	var byClient, byServer []*client
	for _, cl := range opened {
		if cl.shutdown {
			byServer = append(byServer, cl)
		} else {
			byClient = append(byClient, cl)
		}
	}
	// The client-closed group stops sending; what it sent must all come
	// back. Idle connections of both groups prove they are alive.
	for _, cl := range byClient {
		cl.halt()
	}
	var probesFailed atomic.Int64
	forEach(opened, 64, func(cl *client) {
		if cl.active {
			if !cl.shutdown {
				<-cl.wrote
				cl.await(cfg.Wait)
			}
			return
		}
		if err := cl.probe(cfg.Wait); err != nil {
			probesFailed.Add(1)
			rec.fault("conn %d: idle connection dead at the end: %v", cl.id, err)
		}
	})
	res.ProbesFailed = int(probesFailed.Load())

	cfg.progress("traffic over; idle connections answered; closing %d with 1000", len(byClient))
	// The client closes its group with 1000.
	forEach(byClient, 256, func(cl *client) {
		if err := cl.c.Close(wsproto.StatusNormalClosure, "soak done"); err != nil {
			rec.fault("conn %d: close: %v", cl.id, err)
		}
	})
	// The app's Shutdown closes the others, in the middle of their traffic.
	if len(byServer) > 0 {
		cfg.progress("closed; asking the app to shut down %d", len(byServer))
		ev.wantShutdown()
	}

	timeout := time.After(2 * cfg.Wait)
	for _, cl := range opened {
		select {
		case <-cl.done:
		case <-timeout:
			cl.c.CloseNow()
			<-cl.done
		}
		cl.halt()
		<-cl.wrote
		res.addEnd(cl, rec)
	}

	res.DialRetries = rec.dialRetries.Load()
	res.DialFailures = rec.dialFailures.Load()
	res.Misplaced = rec.misplaced.Load()
	res.Corrupt = rec.corrupt.Load()
	res.SendErrors = rec.sendErrors.Load()
	res.Bytes = rec.bytes.Load()
	rec.mu.Lock()
	res.Faults, res.FaultCount = rec.faults, rec.faultCount
	rec.mu.Unlock()
	runtime.GC()
	return res, nil
}

// addEnd accounts for a connection that has ended.
func (res *clientResult) addEnd(cl *client, rec *recorder) {
	sent, next := cl.sent.Load(), cl.next.Load()
	res.Sent += sent
	res.Echoed += cl.echoed.Load()
	res.Lost += cl.skipped.Load()
	if cl.shutdown {
		res.Unanswered += sent - next
	} else if sent > next {
		res.Lost += sent - next
		rec.fault("conn %d: the last %d of %d messages never echoed", cl.id, sent-next, sent)
	}
	var ce *wsproto.CloseError
	var key string
	want := false
	switch {
	case errors.As(cl.end, &ce):
		dir := "sent"
		if ce.Received {
			dir = "received"
		}
		key = fmt.Sprintf("%d %s %q", ce.Code, dir, ce.Reason)
		if cl.shutdown {
			want = ce.Received && ce.Code == cl.cfg.Code && ce.Reason == "server shutting down"
		} else {
			want = !ce.Received && ce.Code == wsproto.StatusNormalClosure && ce.Reason == "soak done"
		}
	default:
		key = fmt.Sprintf("error: %v", cl.end)
	}
	res.Closes[key]++
	if !want {
		res.UnexpectedCloses++
		rec.fault("conn %d: ended with %s", cl.id, key)
	}
}

package main

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"wsraise/wsproto"
)

// soak runs the whole soak and returns its report. An error means the run
// could not be made at all; what it found is in the report's Violations.
func soak(ctx context.Context, cfg config) (*report, error) {
	if cfg.URL != "" {
		return soakRemote(ctx, cfg)
	}
	split := cfg.Split
	if split == "auto" {
		split = "inprocess"
		if lim, _ := raiseFileLimit(0); uint64(2*cfg.Conns+256) > lim {
			split = "child"
		}
	}
	need := uint64(cfg.Conns + 256)
	if split == "inprocess" {
		need += uint64(cfg.Conns)
	}
	if _, err := raiseFileLimit(need); err != nil {
		return nil, err
	}

	rep := &report{cfg: cfg, Split: split}
	rep.Goroutines.Start = runtime.NumGoroutine()
	rep.Files.Start = openFiles()
	rep.Heap.Start = heapInUse()
	start := time.Now()

	d, err := startDemo(cfg.Ping, cfg.PongTimeout, cfg.Code)
	if err != nil {
		return nil, err
	}
	samp := startSampler(time.Second)
	ccfg := cfg.clientConfig
	ccfg.URL = d.URL
	ev := make(chan string, 4)
	var outcome <-chan clientOutcome
	if split == "child" {
		outcome, err = startChild(ctx, ccfg, ev)
		if err != nil {
			d.shutdown(cfg.ShutdownTimeout)
			samp.finish()
			return nil, err
		}
	} else {
		oc := make(chan clientOutcome, 1)
		go func() {
			res, err := runClients(ctx, ccfg, chanEvents(ev))
			oc <- clientOutcome{res, err}
		}()
		outcome = oc
	}

	shutDown := false
	shutdown := make(chan error, 1)
	var res *clientResult
	for res == nil {
		select {
		case e := <-ev:
			switch e {
			case "held":
				rep.HeldAfter = time.Since(start)
				samp.sample()
				rep.AtHold.Goroutines, rep.AtHold.Files, rep.AtHold.Heap = runtime.NumGoroutine(), openFiles(), heapInUse()
			case "shutdown":
				if !shutDown {
					shutDown = true
					go func() {
						var err error
						rep.ShutdownTook, err = d.shutdown(cfg.ShutdownTimeout)
						shutdown <- err
					}()
				}
			}
		case o := <-outcome:
			if o.err != nil {
				rep.violate("client side: %v", o.err)
				res = &clientResult{Closes: map[string]int{}}
			} else {
				res = o.res
			}
		}
	}
	if !shutDown {
		go func() {
			var err error
			rep.ShutdownTook, err = d.shutdown(cfg.ShutdownTimeout)
			shutdown <- err
		}()
	}
	if err := <-shutdown; err != nil {
		rep.violate("the app's Shutdown: %v (took %v)", err, rep.ShutdownTook)
	}
	shutdownEnd := time.Now()
	rep.Clients = res
	rep.Elapsed = time.Since(start)
	rep.Goroutines.Peak, rep.Files.Peak, rep.Heap.Peak = samp.finish()
	rep.ServerEnds, rep.ServerEndTotal, rep.ServerErrors = d.ends.snapshot()

	// Everything must be back where it was: the server's handlers, reading
	// goroutines, timers and sockets (and, in process, the clients').
	rep.Goroutines.End = settle(runtime.NumGoroutine, rep.Goroutines.Start, 10*time.Second)
	rep.Files.End = settle(openFiles, rep.Files.Start, 10*time.Second)
	// A keepalive timer (a pong's deadline) keeps a connection's memory
	// for up to -pong-timeout after it ends: let them all fire, then
	// measure.
	time.Sleep(time.Until(shutdownEnd.Add(cfg.PongTimeout + time.Second)))
	rep.HeapAllowed = rep.Heap.Start + cfg.HeapSlack + goroutineRetained*uint64(rep.Goroutines.Peak)
	rep.Heap.End = settleHeap(rep.HeapAllowed, 5*time.Second)
	if cfg.MemProfile != "" {
		if err := writeHeapProfile(cfg.MemProfile); err != nil {
			return nil, err
		}
	}
	rep.check()
	return rep, nil
}

// goroutineRetained is what the Go runtime keeps of every goroutine that
// ever ran at once: their descriptors stay on its free lists, for reuse,
// and count in the live heap (about 480 bytes each in Go 1.26).
const goroutineRetained = 600

// soakRemote runs the clients against a server elsewhere: no Shutdown
// group, and no server-side figures.
func soakRemote(ctx context.Context, cfg config) (*report, error) {
	if _, err := raiseFileLimit(uint64(cfg.Conns + 256)); err != nil {
		return nil, err
	}
	cfg.Shutdown = 0
	rep := &report{cfg: cfg, Split: "remote"}
	start := time.Now()
	ev := make(chan string, 4)
	go func() {
		for range ev {
		}
	}()
	res, err := runClients(ctx, cfg.clientConfig, chanEvents(ev))
	close(ev)
	if err != nil {
		return nil, err
	}
	rep.Clients = res
	rep.Elapsed = time.Since(start)
	rep.check()
	return rep, nil
}

// check turns the figures into violations.
func (r *report) check() {
	c := r.Clients
	if c == nil {
		return
	}
	opened := c.Conns - int(c.DialFailures)
	if c.DialFailures > 0 {
		r.violate("%d of %d connections could not be opened", c.DialFailures, c.Conns)
	}
	if c.Lost > 0 || c.Corrupt > 0 || c.Misplaced > 0 {
		r.violate("messages lost %d, corrupt %d, out of order %d", c.Lost, c.Corrupt, c.Misplaced)
	}
	if c.SendErrors > 0 {
		r.violate("%d sends failed", c.SendErrors)
	}
	if c.ProbesFailed > 0 {
		r.violate("%d idle connections did not answer at the end", c.ProbesFailed)
	}
	if c.UnexpectedCloses > 0 {
		r.violate("%d connections ended otherwise than expected: %v", c.UnexpectedCloses, c.Closes)
	}
	if r.Split == "remote" {
		return
	}
	// The server's side of every end: one record each, the client's 1000
	// for its group, the shutdown code for the other, nothing else.
	byServer := c.ShutdownGroup
	want := map[string]int{}
	if n := opened - byServer; n > 0 {
		want[endKey("client", wsproto.StatusNormalClosure, "soak done")] = n
	}
	if byServer > 0 {
		want[endKey("server", r.cfg.Code, "server shutting down")] = byServer
	}
	if fmt.Sprint(want) != fmt.Sprint(r.ServerEnds) {
		r.violate("the app logged these connection ends: %v, want %v", r.ServerEnds, want)
	}
	if r.Goroutines.End > r.Goroutines.Start {
		r.violate("goroutines: %d at the start, %d at the end", r.Goroutines.Start, r.Goroutines.End)
	}
	if r.Files.End > r.Files.Start {
		r.violate("open files: %d at the start, %d at the end", r.Files.Start, r.Files.End)
	}
	if r.Heap.End > r.HeapAllowed {
		r.violate("heap: %d bytes at the start, %d at the end (allowed: %d)", r.Heap.Start, r.Heap.End, r.HeapAllowed)
	}
}

package main

import (
	"fmt"
	"io"
	"sort"
	"time"
)

// report is the result of a soak.
type report struct {
	cfg            config
	Split          string
	HeldAfter      time.Duration // from the start until every connection was open
	Elapsed        time.Duration
	ShutdownTook   time.Duration
	Clients        *clientResult
	ServerEnds     map[string]int // the app's end records
	ServerEndTotal int
	ServerErrors   []string
	AtHold         struct {
		Goroutines, Files int
		Heap              uint64
	} // with every connection open, before traffic
	Goroutines  figure[int]
	Files       figure[int]
	Heap        figure[uint64]
	HeapAllowed uint64 // the bound on Heap.End
	Violations  []string
}

type figure[T int | uint64] struct{ Start, Peak, End T }

func (r *report) violate(format string, args ...any) {
	r.Violations = append(r.Violations, fmt.Sprintf(format, args...))
}

func (r *report) print(w io.Writer) {
	cfg := r.cfg
	fmt.Fprintf(w, "soak: %d connections (%g active, %g closed by Shutdown with %d), %v of traffic, window %d, bodies up to %d bytes, clients %s\n",
		cfg.Conns, cfg.Active, cfg.Shutdown, cfg.Code, cfg.Duration, cfg.Window, cfg.MaxSize, r.Split)
	if c := r.Clients; c != nil {
		fmt.Fprintf(w, "  connections opened   %d of %d in %v (%d dial retries, %d failures); all open %v after start\n",
			c.Conns-int(c.DialFailures), c.Conns, c.DialTime.Round(time.Millisecond), c.DialRetries, c.DialFailures, r.HeldAfter.Round(time.Millisecond))
		fmt.Fprintf(w, "  active connections   %d; closed by Shutdown %d\n", c.Active, c.ShutdownGroup)
		fmt.Fprintf(w, "  messages             %d sent, %d echoed intact and in order (%.1f MB)\n", c.Sent, c.Echoed, float64(c.Bytes)/1e6)
		fmt.Fprintf(w, "  lost %d, corrupt %d, out of order %d, send errors %d, idle not answering %d\n", c.Lost, c.Corrupt, c.Misplaced, c.SendErrors, c.ProbesFailed)
		fmt.Fprintf(w, "  cut short by Shutdown %d (sent, not echoed before the close frame: allowed)\n", c.Unanswered)
		fmt.Fprintf(w, "  ends seen by clients:\n")
		printCounts(w, c.Closes)
		for _, f := range c.Faults {
			fmt.Fprintf(w, "  fault: %s\n", f)
		}
		if c.FaultCount > len(c.Faults) {
			fmt.Fprintf(w, "  ... %d faults in all\n", c.FaultCount)
		}
	}
	if r.Split != "remote" {
		fmt.Fprintf(w, "  ends logged by the app (%d):\n", r.ServerEndTotal)
		printCounts(w, r.ServerEnds)
		for _, e := range r.ServerErrors {
			fmt.Fprintf(w, "  app record: %s\n", e)
		}
		if n := r.ServerEndTotal; n > 0 {
			fmt.Fprintf(w, "  all open, idle       goroutines %d, open files %d, heap %.1f MB (%.1f KB a connection, clients included when in process)\n",
				r.AtHold.Goroutines, r.AtHold.Files, float64(r.AtHold.Heap)/1e6, float64(r.AtHold.Heap-r.Heap.Start)/float64(n)/1e3)
		}
		fmt.Fprintf(w, "  app Shutdown took    %v\n", r.ShutdownTook.Round(time.Millisecond))
		fmt.Fprintf(w, "  goroutines           start %d, peak %d, end %d\n", r.Goroutines.Start, r.Goroutines.Peak, r.Goroutines.End)
		fmt.Fprintf(w, "  open files           start %d, peak %d, end %d\n", r.Files.Start, r.Files.Peak, r.Files.End)
		fmt.Fprintf(w, "  heap                 start %.1f MB, peak %.1f MB, end %.1f MB (allowed %.1f MB: %.1f MB plus 600 B a goroutine at the peak, which the runtime keeps)\n",
			float64(r.Heap.Start)/1e6, float64(r.Heap.Peak)/1e6, float64(r.Heap.End)/1e6, float64(r.HeapAllowed)/1e6, float64(r.cfg.HeapSlack)/1e6)
	}
	fmt.Fprintf(w, "  elapsed              %v\n", r.Elapsed.Round(time.Millisecond))
	if len(r.Violations) == 0 {
		fmt.Fprintln(w, "PASS: no violation")
		return
	}
	for _, v := range r.Violations {
		fmt.Fprintf(w, "VIOLATION: %s\n", v)
	}
	fmt.Fprintf(w, "FAIL: %d violations\n", len(r.Violations))
}

func printCounts(w io.Writer, m map[string]int) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "    %6d  %s\n", m[k], k)
	}
}

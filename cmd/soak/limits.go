package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"
)

// raiseFileLimit raises the soft limit on open files to the hard limit and
// fails if it is still below need.
func raiseFileLimit(need uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("reading the open-file limit: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, fmt.Errorf("raising the open-file limit to %d: %w", lim.Max, err)
		}
	}
	if lim.Cur < need {
		return lim.Cur, fmt.Errorf("the open-file limit is %d, this run needs %d in one process: raise it (ulimit -n) or open fewer connections", lim.Cur, need)
	}
	return lim.Cur, nil
}

// openFiles counts this process's open file descriptors, or returns -1
// where /proc is not available.
func openFiles() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents) - 1 // the directory being read is one of them
}

// settle polls f until it returns at most want or the time is up, and
// returns its last value.
func settle(f func() int, want int, within time.Duration) int {
	deadline := time.Now().Add(within)
	for {
		n := f()
		if n <= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// heapInUse returns the live heap after two collections (the second frees
// what sync.Pools dropped in the first).
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// settleHeap polls the live heap until it is at most want or the time is
// up, and returns its last value.
func settleHeap(want uint64, within time.Duration) uint64 {
	deadline := time.Now().Add(within)
	for {
		n := heapInUse()
		if n <= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func writeHeapProfile(name string) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

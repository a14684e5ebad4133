package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// The idle test holds k connections open and reads the server's resident
// memory from /proc before and after: what an idle connection costs.

type idleResult struct {
	Lib          string  `json:"lib"`
	Conns        int     `json:"conns"`
	HandshakesPS float64 `json:"handshakes_per_s"`
	BaseRSSKiB   int     `json:"base_rss_kib"`
	RSSKiB       int     `json:"rss_kib"`
	BytesPerConn float64 `json:"bytes_per_conn"`
	Errors       int     `json:"errors"`
	FirstError   string  `json:"first_error,omitempty"`
}

// rssKiB reads VmRSS of a process.
func rssKiB(pid int) (int, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

func runIdle(lib, addr string, k, pid int) idleResult {
	res := idleResult{Lib: lib, Conns: k}
	base, err := rssKiB(pid)
	if err != nil {
		res.Errors++
		res.FirstError = err.Error()
		return res
	}
	res.BaseRSSKiB = base
	ccs := make([]*clientConn, 0, k)
	defer func() {
		for _, cc := range ccs {
			cc.c.Close()
		}
	}()
	start := time.Now()
	for range k {
		cc, err := dialLoad(addr, lib, loadReadBuffer)
		if err != nil {
			res.Errors++
			res.FirstError = err.Error()
			break
		}
		ccs = append(ccs, cc)
	}
	res.HandshakesPS = float64(len(ccs)) / time.Since(start).Seconds()
	// Let the server settle: goroutines parked, buffers returned to pools.
	time.Sleep(time.Second)
	runtime.GC()
	rss, err := rssKiB(pid)
	if err != nil {
		res.Errors++
		res.FirstError = err.Error()
		return res
	}
	res.RSSKiB = rss
	if len(ccs) > 0 {
		res.BytesPerConn = float64(rss-base) * 1024 / float64(len(ccs))
	}
	return res
}

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The compression comparison: each library's echo server and its own
// client, in one process over loopback TCP, with permessage-deflate off,
// without context takeover, and with it. A closed loop sends the chat
// workload as text messages for a fixed time and checks every echo byte
// for byte. The client's connection counts the bytes on the wire each way,
// so the compression ratio is measured, not asked of the library.

type compressResult struct {
	Lib        string  `json:"lib"`
	Mode       string  `json:"mode"`
	Workload   string  `json:"workload"`
	Extensions string  `json:"extensions"` // as the server's 101 response gave it
	RoundTrips int     `json:"round_trips"`
	Seconds    float64 `json:"seconds"`
	RTPS       float64 `json:"rtps"`
	// CPU time of the process (server and client) per round trip, in
	// microseconds: less disturbed than rtps by other work on the machine.
	CPUus    float64 `json:"cpu_us_per_rt"`
	Payload  float64 `json:"payload_per_msg"` // bytes per message
	UpWire   float64 `json:"up_wire_per_msg"` // client to server, bytes on the wire per message
	DownWire float64 `json:"down_wire_per_msg"`
	// The client's socket writes and reads per message: how a library
	// cuts a message into system calls.
	Writes     float64 `json:"writes_per_msg"`
	Reads      float64 `json:"reads_per_msg"`
	Mismatches int     `json:"mismatches"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
}

// compWorkload is a named set of messages, sent in turn.
type compWorkload struct {
	name string
	msgs [][]byte
}

func compWorkloads() []compWorkload {
	return []compWorkload{
		{"chat message", chatMessages(1, 2000)},
		{"64 KiB document", chatDocuments(2, 8, 64<<10)},
	}
}

// maxCompRoundTrips bounds a case in count as well as in time.
const maxCompRoundTrips = 5_000_000

// runCompress runs every library of libs in every mode on every
// workload, each for d: those named in only, if it is not empty (see
// selectedLib).
func runCompress(libs []compLib, d time.Duration, only string) []compressResult {
	var out []compressResult
	for _, w := range compWorkloads() {
		for _, lib := range libs {
			if !selectedLib(lib.name, only) {
				continue
			}
			for _, mode := range lib.modes {
				r := runCompressCase(lib, mode, w, d)
				fmt.Fprintf(os.Stderr, "%-8s %-20s %-16s %8.0f rt/s %7.1f µs CPU/rt  wire/msg %7.0f up %7.0f down (payload %6.0f)  client writes/msg %.1f reads/msg %.1f  mismatches %d errors %d %s\n",
					r.Lib, r.Mode, r.Workload, r.RTPS, r.CPUus, r.UpWire, r.DownWire, r.Payload, r.Writes, r.Reads, r.Mismatches, r.Errors, r.FirstError)
				out = append(out, r)
			}
		}
	}
	return out
}

func runCompressCase(lib compLib, mode string, w compWorkload, d time.Duration) (res compressResult) {
	res = compressResult{Lib: lib.name, Mode: mode, Workload: w.name}
	fail := func(err error) compressResult {
		res.Errors++
		if res.FirstError == "" {
			res.FirstError = err.Error()
		}
		return res
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	defer ln.Close()
	go lib.serve(ln, mode)
	addr := ln.Addr().String()
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		return fail(err)
	}
	// Whatever a library does, nothing waits past this.
	watchdog := time.AfterFunc(d+30*time.Second, func() { raw.Close() })
	defer watchdog.Stop()
	cc := &countingConn{Conn: raw, capture: true}
	client, err := lib.dial(cc, addr, mode)
	if err != nil {
		raw.Close()
		return fail(fmt.Errorf("%s client, %s: %v", lib.name, mode, err))
	}
	defer client.close()
	res.Extensions, err = cc.responseExtensions()
	if err != nil {
		return fail(err)
	}
	if err := checkNegotiated(mode, res.Extensions); err != nil {
		return fail(fmt.Errorf("%s: %v", lib.name, err))
	}

	// A few messages first, not counted: buffers and pools fill up.
	for i := range min(16, len(w.msgs)) {
		if same, err := client.echo(w.msgs[i]); err != nil {
			return fail(err)
		} else if !same {
			res.Mismatches++
		}
	}
	up0, down0 := cc.written.Load(), cc.read.Load()
	writes0, reads0 := cc.writes.Load(), cc.reads.Load()
	var payload int64
	cpu0 := cpuTime()
	start := time.Now()
	deadline := start.Add(d)
	n := 0
	for ; n < maxCompRoundTrips && time.Now().Before(deadline); n++ {
		msg := w.msgs[n%len(w.msgs)]
		same, err := client.echo(msg)
		if err != nil {
			fail(err)
			break
		}
		if !same {
			res.Mismatches++
		}
		payload += int64(len(msg))
	}
	res.Seconds = time.Since(start).Seconds()
	cpu := cpuTime() - cpu0
	res.RoundTrips = n
	if n > 0 {
		res.RTPS = float64(n) / res.Seconds
		res.CPUus = float64(cpu.Microseconds()) / float64(n)
		res.Payload = float64(payload) / float64(n)
		res.UpWire = float64(cc.written.Load()-up0) / float64(n)
		res.DownWire = float64(cc.read.Load()-down0) / float64(n)
		res.Writes = float64(cc.writes.Load()-writes0) / float64(n)
		res.Reads = float64(cc.reads.Load()-reads0) / float64(n)
	}
	return res
}

// checkNegotiated checks the server's Sec-WebSocket-Extensions against
// the mode asked for, so that a row cannot silently measure another mode.
func checkNegotiated(mode, ext string) error {
	has := func(p string) bool { return strings.Contains(ext, p) }
	var ok bool
	switch mode {
	case compOff:
		ok = ext == ""
	case compNoTakeover:
		ok = has("permessage-deflate") && has("server_no_context_takeover") && has("client_no_context_takeover")
	case compTakeover:
		ok = has("permessage-deflate") && !has("no_context_takeover")
	}
	if !ok {
		return fmt.Errorf("asked for compression %s, the server agreed to %q", mode, ext)
	}
	return nil
}

// countingConn counts the bytes read and written through it, and keeps
// the first bytes read, where the handshake response is.
type countingConn struct {
	net.Conn
	read, written atomic.Int64
	reads, writes atomic.Int64 // calls

	mu      sync.Mutex
	capture bool
	head    []byte
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	c.reads.Add(1)
	c.mu.Lock()
	if c.capture && len(c.head) < 8<<10 {
		c.head = append(c.head, p[:n]...)
	}
	c.mu.Unlock()
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	c.writes.Add(1)
	return n, err
}

// responseExtensions parses the handshake response from the captured
// bytes, ends the capture, and returns its Sec-WebSocket-Extensions.
func (c *countingConn) responseExtensions() (string, error) {
	c.mu.Lock()
	head := c.head
	c.capture, c.head = false, nil
	c.mu.Unlock()
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(head)), nil)
	if err != nil {
		return "", fmt.Errorf("reading back the handshake response: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return "", fmt.Errorf("handshake response: %s", resp.Status)
	}
	return strings.Join(resp.Header.Values("Sec-WebSocket-Extensions"), ", "), nil
}

// compressDuration is how long each row of the comparison runs.
func compressDuration(quick bool) time.Duration {
	if quick {
		return 100 * time.Millisecond
	}
	return 2 * time.Second
}

// selectedLib reports whether the comma-separated list only is empty or
// names lib, or the library lib is a window variant of ("wsraise" for
// "wsraise-w12").
func selectedLib(lib, only string) bool {
	has := func(name string) bool { return strings.Contains(","+only+",", ","+name+",") }
	base, _, _ := strings.Cut(lib, "-w")
	return only == "" || has(lib) || has(base)
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"wsraise/wsproto"
)

// The memory test of compression: what an idle connection costs a server
// once permessage-deflate has been used on it, one message each way, so
// that the server's compressor and decompressor both hold whatever they
// keep between messages. Each case's echo server runs alone in a child
// process ("serve -lib L -comp MODE"); this process dials n connections
// with wsproto's client, sends one chat message of at least 300 bytes on
// each and reads its echo, then reads the growth of the server's VmRSS.

type compIdleResult struct {
	Lib        string `json:"lib"`
	Mode       string `json:"mode"`
	Conns      int    `json:"conns"`
	Capped     bool   `json:"capped,omitempty"` // fewer connections than asked: see compIdleCase.maxConns
	Extensions string `json:"extensions"`
	BaseRSSKiB int    `json:"base_rss_kib"`
	RSSKiB     int    `json:"rss_kib"`
	// BytesPerConn is the growth of VmRSS per connection, once the server
	// has been idle for compIdleSettle.
	BytesPerConn float64 `json:"bytes_per_conn"`
	// HeldBytesPerConn is the same after the server collected its garbage
	// and returned its free memory to the system (debug.FreeOSMemory):
	// what the connections hold, less the garbage not yet collected and
	// the free pages not yet returned.
	HeldRSSKiB       int     `json:"held_rss_kib"`
	HeldBytesPerConn float64 `json:"held_bytes_per_conn"`
	// HeapBytesPerConn is the growth per connection of the server's live
	// heap objects and goroutine stacks, after a garbage collection:
	// everything the connections hold in Go, whether its pages were ever
	// touched (and so count in VmRSS) or not.
	HeapBytesPerConn float64 `json:"heap_bytes_per_conn"`
	// Uncompressed counts connections whose message or echo went without
	// RSV1, the bit of a compressed message.
	Uncompressed int    `json:"uncompressed"`
	Mismatches   int    `json:"mismatches"`
	Errors       int    `json:"errors"`
	FirstError   string `json:"first_error,omitempty"`
}

// compIdleCase is one row of the memory test.
type compIdleCase struct {
	lib  compLib
	mode string
	// client is the wsproto client's compression; nil for none.
	client *wsproto.CompressionOptions
	// maxConns caps the connections of a library whose connections are
	// too large for n of them to fit the machine's memory; 0 for no cap.
	maxConns int
}

// coderMaxConns: coder keeps a compress/flate Writer per connection with
// context takeover, over 1 MB; 10,000 of them would take over 10 GB.
const coderMaxConns = 1000

func compIdleCases() []compIdleCase {
	takeover := func(bits int) *wsproto.CompressionOptions {
		return &wsproto.CompressionOptions{WindowBits: bits, PeerWindowBits: bits}
	}
	return []compIdleCase{
		{lib: compLibWsraise, mode: compOff},
		{lib: compLibWsraise, mode: compTakeover, client: takeover(0)},
		{lib: compWindowLibs[0], mode: compTakeover, client: takeover(12)},
		{lib: compWindowLibs[1], mode: compTakeover, client: takeover(9)},
		{lib: compLibCoder, mode: compTakeover, client: takeover(0), maxConns: coderMaxConns},
		{lib: compLibs[3], mode: compTakeover, client: takeover(0)},
		{lib: compLibGwsDefault, mode: compTakeover, client: takeover(0)},
		{lib: compLibs[1], mode: compNoTakeover, client: &wsproto.CompressionOptions{NoContextTakeover: true, PeerNoContextTakeover: true}},
	}
}

// compModeFlags are the names of the compression modes on the command
// line (serve -comp).
var compModeFlags = map[string]string{"off": compOff, "no-takeover": compNoTakeover, "takeover": compTakeover}

func compModeFlag(mode string) string {
	for k, v := range compModeFlags {
		if v == mode {
			return k
		}
	}
	return mode
}

// serveComp serves lib's compression echo in mode (a compModeFlags name)
// at addr, for the memory test.
func serveComp(lib, mode, addr string) error {
	l, ok := findCompLib(lib)
	if !ok {
		return fmt.Errorf("no compression echo for library %q", lib)
	}
	m, ok := compModeFlags[mode]
	if !ok {
		return fmt.Errorf("unknown compression mode %q (off, no-takeover or takeover)", mode)
	}
	freeMemoryOnSignal()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Println("listening", ln.Addr())
	return l.serve(ln, m)
}

// runCompIdle runs every case (only those of the libraries in only, when
// it is not empty) with n connections each, every server a child process
// of self pinned to CPU 0.
func runCompIdle(self string, n int, only string) ([]compIdleResult, error) {
	var out []compIdleResult
	for _, c := range compIdleCases() {
		if !selectedLib(c.lib.name, only) {
			continue
		}
		srv, addr, output, err := startServerOutput(self, c.lib.name, "-comp", compModeFlag(c.mode))
		if err != nil {
			return out, err
		}
		pid := srv.Process.Pid
		r := measureCompIdle(c, addr, pid, n, func() (int64, error) { return askMemory(pid, output) })
		srv.Process.Kill()
		srv.Wait()
		fmt.Fprintf(os.Stderr, "%-12s %-20s x%-5d %8.0f B/conn settled, %8.0f held, %8.0f heap+stacks  uncompressed %d mismatches %d errors %d %s\n",
			r.Lib, r.Mode, r.Conns, r.BytesPerConn, r.HeldBytesPerConn, r.HeapBytesPerConn, r.Uncompressed, r.Mismatches, r.Errors, r.FirstError)
		out = append(out, r)
	}
	return out, nil
}

// askMemory asks the server pid to free its memory and returns its live
// heap and stacks, which it prints to output (see freeMemoryOnSignal).
func askMemory(pid int, output *bufio.Reader) (int64, error) {
	if err := askFreeMemory(pid); err != nil {
		return 0, err
	}
	type answer struct {
		line string
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		line, err := output.ReadString('\n')
		got <- answer{line, err}
	}()
	select {
	case a := <-got:
		var heap, stacks int64
		if a.err != nil {
			return 0, fmt.Errorf("server's memory: %v", a.err)
		}
		if _, err := fmt.Sscanf(a.line, "memory %d %d", &heap, &stacks); err != nil {
			return 0, fmt.Errorf("server's memory: %q: %v", a.line, err)
		}
		return heap + stacks, nil
	case <-time.After(30 * time.Second):
		return 0, errors.New("server's memory: no answer in 30 s")
	}
}

// compIdleSettle is how long the server idles before its memory is read;
// it idles a quarter of it before each collection it is asked for, and
// half of it after the last (a variable for the tests).
var compIdleSettle = 2 * time.Second

// measureCompIdle measures case c against its server at addr, process pid,
// with n connections (fewer if c caps them); freeMemory asks the server to
// collect its garbage and return its free memory to the system, and
// returns its live heap and stacks.
func measureCompIdle(c compIdleCase, addr string, pid, n int, freeMemory func() (int64, error)) compIdleResult {
	res := compIdleResult{Lib: c.lib.name, Mode: c.mode, Conns: n}
	if c.maxConns > 0 && n > c.maxConns {
		res.Conns, res.Capped = c.maxConns, true
	}
	fail := func(err error) {
		res.Errors++
		if res.FirstError == "" {
			res.FirstError = err.Error()
		}
	}
	msgs := compIdleMessages()
	var conns []*wsproto.Conn
	defer func() {
		for _, wc := range conns {
			wc.CloseNow()
		}
	}()
	// dial opens a connection and sends msg both ways on it.
	dial := func(msg []byte) (*wsproto.Conn, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var fc *frameConn
		wc, _, err := wsproto.Dial(ctx, "ws://"+addr+"/", &wsproto.DialOptions{
			NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
				nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				fc = &frameConn{Conn: nc}
				return fc, nil
			},
			ReadLimit:   maxMessage,
			Compression: c.client,
		})
		if err != nil {
			return nil, err
		}
		if res.Extensions == "" {
			res.Extensions = wc.Extensions()
		}
		if err := checkNegotiated(c.mode, wc.Extensions()); err != nil {
			wc.CloseNow()
			return nil, err
		}
		fc.mark()
		if err := wc.Write(ctx, wsproto.MessageText, msg); err != nil {
			wc.CloseNow()
			return nil, err
		}
		typ, got, err := wc.Read(ctx)
		if err != nil {
			wc.CloseNow()
			return nil, err
		}
		if typ != wsproto.MessageText || !bytes.Equal(got, msg) {
			res.Mismatches++
		}
		if c.mode != compOff && (fc.firstWritten&rsv1 == 0 || fc.firstRead&rsv1 == 0) {
			res.Uncompressed++
		}
		return wc, nil
	}

	// One connection first, closed again: pools and the server's first
	// allocations are then in the baseline, not spread over the count.
	if wc, err := dial(msgs[0]); err != nil {
		fail(err)
		return res
	} else {
		wc.CloseNow()
	}
	time.Sleep(compIdleSettle / 4)
	heap0, err := freeMemory()
	if err != nil {
		fail(err)
		return res
	}
	time.Sleep(compIdleSettle / 4)
	if res.BaseRSSKiB, err = rssKiB(pid); err != nil {
		fail(err)
		return res
	}
	conns = make([]*wsproto.Conn, 0, res.Conns)
	for i := range res.Conns {
		wc, err := dial(msgs[i%len(msgs)])
		if err != nil {
			fail(err)
			break
		}
		conns = append(conns, wc)
	}
	if len(conns) == 0 {
		return res
	}
	res.Conns = len(conns)
	perConn := func(kib int) float64 { return float64(kib-res.BaseRSSKiB) * 1024 / float64(len(conns)) }
	time.Sleep(compIdleSettle)
	if res.RSSKiB, err = rssKiB(pid); err != nil {
		fail(err)
		return res
	}
	res.BytesPerConn = perConn(res.RSSKiB)
	heap1, err := freeMemory()
	if err != nil {
		fail(err)
		return res
	}
	res.HeapBytesPerConn = float64(heap1-heap0) / float64(len(conns))
	time.Sleep(compIdleSettle / 2)
	if res.HeldRSSKiB, err = rssKiB(pid); err != nil {
		fail(err)
		return res
	}
	res.HeldBytesPerConn = perConn(res.HeldRSSKiB)
	return res
}

// rsv1 is the bit of a frame's first byte that marks a compressed message
// (RFC 7692 section 6).
const rsv1 = 0x40

// frameConn keeps the first byte written and the first byte read after
// mark: with one message each way, the first bytes of their frames.
type frameConn struct {
	net.Conn
	armedW, armedR          bool
	firstWritten, firstRead byte
}

func (c *frameConn) mark() { c.armedW, c.armedR = true, true }

func (c *frameConn) Write(p []byte) (int, error) {
	if c.armedW && len(p) > 0 {
		c.firstWritten, c.armedW = p[0], false
	}
	return c.Conn.Write(p)
}

func (c *frameConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.armedR && n > 0 {
		c.firstRead, c.armedR = p[0], false
	}
	return n, err
}

// compIdleMessages are the chat workload's messages of at least 300
// bytes: each connection sends one, in turn.
func compIdleMessages() [][]byte {
	var out [][]byte
	for _, m := range chatMessages(3, 2000) {
		if len(m) >= 300 {
			out = append(out, m)
		}
	}
	return out
}

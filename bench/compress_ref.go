package main

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"wsraise/wsproto"
)

// The compress/flate reference: the comparison's workloads compressed in
// process, with no network, by compress/flate as a permessage-deflate
// endpoint uses it (RFC 7692 section 7.2.1): Write and Flush per message,
// the trailing 00 00 ff ff left out; with context takeover one
// flate.Writer compresses every message, without it the writer is Reset
// before each. Beside it, wsraise's own encoder through the public API: a
// wsproto client whose connection answers the handshake itself and keeps
// the frames written, whose payload is the compressed message. The
// messages are the ones the comparison sends, in its order (16 not
// counted, then from the first). Each message counts with the header of a
// server's frame, so that the ratio is the one the comparison reads off
// the wire from the server. The encoders take turns, a round of every
// message each, and a row's time per message is its median round's.

type flateRefResult struct {
	Workload string  `json:"workload"`
	Mode     string  `json:"mode"` // compNoTakeover or compTakeover
	Lib      string  `json:"lib"`  // "compress/flate" or "wsraise"
	Level    int     `json:"level"`
	Messages int     `json:"messages"` // per round
	Payload  float64 `json:"payload_per_msg"`
	Wire     float64 `json:"wire_per_msg"` // compressed, plus the frame header
	NsPerMsg float64 `json:"ns_per_msg"`
	Error    string  `json:"error,omitempty"`
}

const (
	refFlate   = "compress/flate"
	refWsraise = "wsraise"
)

// flateRefLevels are compress/flate's levels in the reference: 1
// (BestSpeed), which wsraise used without context takeover, and 2, which
// it used with it, before it had its own encoder.
var flateRefLevels = []int{1, 2}

// flateRefMinBytes: a round compresses whole rounds of a workload's
// messages until it has compressed at least this much.
const flateRefMinBytes = 1 << 20

// flateRefRounds is how many rounds each encoder compresses.
const flateRefRounds = 5

// refEncoder compresses the messages of one direction of one connection.
type refEncoder struct {
	lib   string
	level int
	// compress compresses msg as the next message and returns the size
	// of the result.
	compress func(msg []byte) (int, error)
	close    func()
}

func runFlateReference() []flateRefResult {
	var out []flateRefResult
	for _, w := range compWorkloads() {
		for _, mode := range []string{compNoTakeover, compTakeover} {
			out = append(out, flateReference(w, mode)...)
		}
	}
	return out
}

// flateReference runs compress/flate at each level and wsraise on w, in
// mode.
func flateReference(w compWorkload, mode string) []flateRefResult {
	var encs []refEncoder
	var res []flateRefResult
	for _, level := range flateRefLevels {
		encs = append(encs, flateEncoder(mode, level))
	}
	if e, err := wsraiseEncoder(mode); err != nil {
		res = append(res, flateRefResult{Workload: w.name, Mode: mode, Lib: refWsraise, Error: err.Error()})
	} else {
		encs = append(encs, e)
	}
	var round int
	for _, m := range w.msgs {
		round += len(m)
	}
	n := len(w.msgs) * max(1, (flateRefMinBytes+round-1)/max(1, round))
	type tally struct {
		payload, wire int
		times         []time.Duration
		err           error
	}
	tallies := make([]tally, len(encs))
	for i, e := range encs {
		for j := range min(16, len(w.msgs)) {
			if _, err := e.compress(w.msgs[j]); err != nil && tallies[i].err == nil {
				tallies[i].err = err
			}
		}
	}
	for range flateRefRounds {
		for i, e := range encs {
			t := &tallies[i]
			if t.err != nil {
				continue
			}
			start := time.Now()
			for j := range n {
				msg := w.msgs[j%len(w.msgs)]
				c, err := e.compress(msg)
				if err != nil {
					t.err = err
					break
				}
				t.payload += len(msg)
				t.wire += serverFrameHeader(c) + c
			}
			t.times = append(t.times, time.Since(start))
		}
	}
	for i, e := range encs {
		e.close()
		t := tallies[i]
		r := flateRefResult{Workload: w.name, Mode: mode, Lib: e.lib, Level: e.level, Messages: n}
		if t.err != nil {
			r.Error = t.err.Error()
		} else {
			msgs := float64(n * len(t.times))
			r.Payload, r.Wire = float64(t.payload)/msgs, float64(t.wire)/msgs
			slices.Sort(t.times)
			r.NsPerMsg = float64(t.times[len(t.times)/2].Nanoseconds()) / float64(n)
		}
		res = append(res, r)
	}
	return res
}

// flateEncoder is compress/flate at level.
func flateEncoder(mode string, level int) refEncoder {
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, level)
	e := refEncoder{lib: refFlate, level: level, close: func() {}}
	e.compress = func(msg []byte) (int, error) {
		if err != nil {
			return 0, err
		}
		buf.Reset()
		if mode == compNoTakeover {
			fw.Reset(&buf)
		}
		fw.Write(msg)
		fw.Flush()
		if !bytes.HasSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff}) {
			return 0, fmt.Errorf("compress/flate level %d: a flush that does not end in 00 00 ff ff", level)
		}
		return buf.Len() - 4, nil
	}
	return e
}

// wsraiseEncoder is a wsproto client at its default level, in mode,
// writing to a loopConn.
func wsraiseEncoder(mode string) (refEncoder, error) {
	ext := "permessage-deflate"
	if mode == compNoTakeover {
		ext += "; server_no_context_takeover; client_no_context_takeover"
	}
	lc := newLoopConn(ext)
	ctx := context.Background()
	c, _, err := wsproto.Dial(ctx, "ws://loop/", &wsproto.DialOptions{NetDial: onlyConn(lc), Compression: wsprotoCompression(mode, 0)})
	if err != nil {
		lc.Close()
		return refEncoder{}, err
	}
	return refEncoder{
		lib:   refWsraise,
		level: 2,
		compress: func(msg []byte) (int, error) {
			lc.out.Reset()
			if err := c.Write(ctx, wsproto.MessageText, msg); err != nil {
				return 0, err
			}
			return compressedPayload(lc.out.Bytes())
		},
		close: func() { c.CloseNow() },
	}, nil
}

// compressedPayload returns the payload size of b, which must be one
// whole masked frame of a compressed message (RFC 6455 section 5.2).
func compressedPayload(b []byte) (int, error) {
	if len(b) < 2 || b[0]&0xc0 != 0xc0 || b[1]&0x80 == 0 {
		return 0, errors.New("wsraise: not one final, compressed, masked frame")
	}
	n, h := int(b[1]&0x7f), 2
	switch {
	case n == 126 && len(b) >= 4:
		n, h = int(binary.BigEndian.Uint16(b[2:])), 4
	case n == 127 && len(b) >= 10:
		n, h = int(binary.BigEndian.Uint64(b[2:])), 10
	}
	if len(b) != h+4+n {
		return 0, fmt.Errorf("wsraise: %d bytes written for a frame of %d", len(b), h+4+n)
	}
	return n, nil
}

// loopConn is the server's end of a connection, in process: it answers
// the client's handshake with a 101 that agrees to the extension ext,
// then keeps whatever the client writes in out. Reads after the response
// wait until the connection is closed.
type loopConn struct {
	ext    string
	req    []byte
	resp   *bytes.Reader
	out    bytes.Buffer
	closed chan struct{}
	once   sync.Once
}

func newLoopConn(ext string) *loopConn {
	return &loopConn{ext: ext, closed: make(chan struct{})}
}

func (c *loopConn) Write(p []byte) (int, error) {
	if c.resp != nil {
		return c.out.Write(p)
	}
	c.req = append(c.req, p...)
	if !bytes.Contains(c.req, []byte("\r\n\r\n")) {
		return len(p), nil
	}
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(c.req)))
	if err != nil {
		return 0, err
	}
	sum := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	c.resp = bytes.NewReader([]byte(strings.Join([]string{
		"HTTP/1.1 101 Switching Protocols",
		"Upgrade: websocket",
		"Connection: Upgrade",
		"Sec-WebSocket-Accept: " + base64.StdEncoding.EncodeToString(sum[:]),
		"Sec-WebSocket-Extensions: " + c.ext,
		"", "",
	}, "\r\n")))
	return len(p), nil
}

func (c *loopConn) Read(p []byte) (int, error) {
	if c.resp != nil && c.resp.Len() > 0 {
		return c.resp.Read(p)
	}
	<-c.closed
	return 0, io.EOF
}

func (c *loopConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *loopConn) LocalAddr() net.Addr                { return loopAddr{} }
func (c *loopConn) RemoteAddr() net.Addr               { return loopAddr{} }
func (c *loopConn) SetDeadline(t time.Time) error      { return nil }
func (c *loopConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *loopConn) SetWriteDeadline(t time.Time) error { return nil }

type loopAddr struct{}

func (loopAddr) Network() string { return "loop" }
func (loopAddr) String() string  { return "loop" }

// serverFrameHeader is the size of the header of a server's frame (not
// masked) with n bytes of payload (RFC 6455 section 5.2).
func serverFrameHeader(n int) int {
	switch {
	case n < 126:
		return 2
	case n < 1<<16:
		return 4
	}
	return 10
}

package main

import (
	"bytes"
	"compress/flate"
	"fmt"
)

// The compress/flate reference: the comparison's workloads compressed in
// process, with no network, as a permessage-deflate endpoint on
// compress/flate compresses them (RFC 7692 section 7.2.1): Write and Flush
// per message, the trailing 00 00 ff ff left out. With context takeover
// one flate.Writer compresses every message; without it, the writer is
// Reset before each. The messages are the ones the comparison sends, in
// its order (16 not counted, then from the first), and each is counted
// with the frame header a server would put before it, so that the ratio
// is the one the comparison reads off the wire from the server.

type flateRefResult struct {
	Workload string  `json:"workload"`
	Mode     string  `json:"mode"` // compNoTakeover or compTakeover
	Level    int     `json:"level"`
	Messages int     `json:"messages"`
	Payload  float64 `json:"payload_per_msg"`
	Wire     float64 `json:"wire_per_msg"` // compressed, plus the frame header
	Error    string  `json:"error,omitempty"`
}

// flateRefLevels are the levels the reference runs: 1, compress/flate's
// BestSpeed, which wsraise used without context takeover, and 2, which it
// used with it, before it had its own encoder.
var flateRefLevels = []int{1, 2}

// flateRefMinBytes: the reference compresses whole rounds of a workload's
// messages until it has compressed at least this much.
const flateRefMinBytes = 1 << 20

func runFlateReference() []flateRefResult {
	var out []flateRefResult
	for _, w := range compWorkloads() {
		for _, mode := range []string{compNoTakeover, compTakeover} {
			for _, level := range flateRefLevels {
				out = append(out, flateReference(w, mode, level))
			}
		}
	}
	return out
}

func flateReference(w compWorkload, mode string, level int) flateRefResult {
	res := flateRefResult{Workload: w.name, Mode: mode, Level: level}
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, level)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	// compress returns the size of msg compressed as the next message.
	compress := func(msg []byte) (int, error) {
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
	for i := range min(16, len(w.msgs)) {
		if _, err := compress(w.msgs[i]); err != nil {
			res.Error = err.Error()
			return res
		}
	}
	var round int
	for _, m := range w.msgs {
		round += len(m)
	}
	n := len(w.msgs) * max(1, (flateRefMinBytes+round-1)/max(1, round))
	var payload, wire int
	for i := range n {
		msg := w.msgs[i%len(w.msgs)]
		c, err := compress(msg)
		if err != nil {
			res.Error = err.Error()
			return res
		}
		payload += len(msg)
		wire += serverFrameHeader(c) + c
	}
	res.Messages = n
	res.Payload = float64(payload) / float64(n)
	res.Wire = float64(wire) / float64(n)
	return res
}

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

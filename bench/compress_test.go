package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestChatWorkload(t *testing.T) {
	a, b := chatMessages(1, 500), chatMessages(1, 500)
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("message %d differs between two runs with one seed", i)
		}
		if n := len(a[i]); n < 200 || n > 400 {
			t.Errorf("message %d is %d bytes, want 200 to 400: %s", i, n, a[i])
		}
		var m chatMessage
		if err := json.Unmarshal(a[i], &m); err != nil || m.Text == "" || m.User == "" {
			t.Fatalf("message %d: %v %+v", i, err, m)
		}
	}
	for i, d := range chatDocuments(2, 3, 64<<10) {
		if n := len(d); n < 60<<10 || n > 64<<10 {
			t.Errorf("document %d is %d bytes, want about 64 KiB", i, n)
		}
		if !json.Valid(d) {
			t.Errorf("document %d is not valid JSON", i)
		}
	}
}

// TestCompressCases runs every library in every mode briefly: the echoes
// must match, the agreed extension must be the mode's, and a compressed
// mode must put fewer bytes on the wire than the payload.
func TestCompressCases(t *testing.T) {
	for _, w := range compWorkloads() {
		w.msgs = w.msgs[:min(len(w.msgs), 64)]
		for _, lib := range compLibs {
			for _, mode := range lib.modes {
				r := runCompressCase(lib, mode, w, 20*time.Millisecond)
				if r.Errors > 0 || r.Mismatches > 0 || r.RoundTrips == 0 {
					t.Errorf("%s %s %s: %d round trips, %d mismatches, %d errors (%s)",
						lib.name, mode, w.name, r.RoundTrips, r.Mismatches, r.Errors, r.FirstError)
					continue
				}
				compressed := r.UpWire < r.Payload && r.DownWire < r.Payload
				if compressed != (mode != compOff) {
					t.Errorf("%s %s %s: payload %.0f B, on the wire %.0f B up and %.0f B down",
						lib.name, mode, w.name, r.Payload, r.UpWire, r.DownWire)
				}
			}
		}
	}
}

func TestCheckNegotiated(t *testing.T) {
	for _, c := range []struct {
		mode, ext string
		ok        bool
	}{
		{compOff, "", true},
		{compOff, "permessage-deflate", false},
		{compNoTakeover, "permessage-deflate; server_no_context_takeover; client_no_context_takeover", true},
		{compNoTakeover, "permessage-deflate; client_no_context_takeover", false},
		{compTakeover, "permessage-deflate", true},
		{compTakeover, "permessage-deflate; server_no_context_takeover", false},
		{compTakeover, "", false},
	} {
		if err := checkNegotiated(c.mode, c.ext); (err == nil) != c.ok {
			t.Errorf("checkNegotiated(%q, %q) = %v", c.mode, c.ext, err)
		}
	}
}

// TestCompIdleCases runs every case of the memory test with a few
// connections against a server in this process: the extension agreed
// must be the case's, the echoes must match, and every message must go
// compressed each way.
func TestCompIdleCases(t *testing.T) {
	freeMemory := func() (int64, error) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc + ms.StackInuse), nil
	}
	defer func(d time.Duration) { compIdleSettle = d }(compIdleSettle)
	compIdleSettle = 40 * time.Millisecond
	for _, c := range compIdleCases() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go c.lib.serve(ln, c.mode)
		r := measureCompIdle(c, ln.Addr().String(), os.Getpid(), 4, freeMemory)
		ln.Close()
		if r.Errors > 0 || r.Mismatches > 0 || r.Uncompressed > 0 || r.Conns != 4 {
			t.Errorf("%s %s: %d connections, %d mismatches, %d uncompressed, %d errors (%s)",
				c.lib.name, c.mode, r.Conns, r.Mismatches, r.Uncompressed, r.Errors, r.FirstError)
		}
		if _, bits, ok := strings.Cut(c.lib.name, "-w"); ok && !strings.Contains(r.Extensions, "server_max_window_bits="+bits) {
			t.Errorf("%s: agreed %q", c.lib.name, r.Extensions)
		}
	}
}

// TestWindowCases runs wsraise with each smaller window briefly.
func TestWindowCases(t *testing.T) {
	for _, w := range compWorkloads() {
		w.msgs = w.msgs[:min(len(w.msgs), 32)]
		for _, lib := range compWindowLibs {
			r := runCompressCase(lib, compTakeover, w, 20*time.Millisecond)
			if r.Errors > 0 || r.Mismatches > 0 || r.RoundTrips == 0 || r.DownWire >= r.Payload {
				t.Errorf("%s %s: %d round trips, %d mismatches, %d errors (%s), %.0f B on the wire for %.0f",
					lib.name, w.name, r.RoundTrips, r.Mismatches, r.Errors, r.FirstError, r.DownWire, r.Payload)
			}
			if !strings.Contains(r.Extensions, "server_max_window_bits="+strings.TrimPrefix(lib.name, "wsraise-w")) {
				t.Errorf("%s: agreed %q", lib.name, r.Extensions)
			}
		}
	}
}

// TestFlateReference checks the in-process reference: every encoder
// compresses, context takeover compresses chat better, and wsraise's
// frames are read right.
func TestFlateReference(t *testing.T) {
	w := compWorkloads()[0]
	w.msgs = w.msgs[:200]
	none, with := flateReference(w, compNoTakeover), flateReference(w, compTakeover)
	if len(none) != 3 || len(with) != 3 {
		t.Fatalf("%d and %d rows, want 3 each (flate 1 and 2, wsraise)", len(none), len(with))
	}
	for i := range none {
		for _, r := range []flateRefResult{none[i], with[i]} {
			if r.Error != "" || r.Messages < len(w.msgs) || r.Wire <= 0 || r.Wire >= r.Payload || r.NsPerMsg <= 0 {
				t.Errorf("%+v", r)
			}
		}
		if with[i].Wire >= none[i].Wire {
			t.Errorf("%s level %d: %.0f B per message with context takeover, %.0f without", none[i].Lib, none[i].Level, with[i].Wire, none[i].Wire)
		}
	}
	if none[2].Lib != refWsraise {
		t.Errorf("third row is %s, want wsraise", none[2].Lib)
	}
	for n, want := range map[int]int{0: 2, 125: 2, 126: 4, 65535: 4, 65536: 10} {
		if got := serverFrameHeader(n); got != want {
			t.Errorf("serverFrameHeader(%d) = %d, want %d", n, got, want)
		}
	}
	if _, err := compressedPayload([]byte{0x81, 0x80, 1, 2, 3, 4}); err == nil {
		t.Error("compressedPayload took a frame without RSV1")
	}
	if n, err := compressedPayload(append([]byte{0xc1, 0xfe, 0, 130, 1, 2, 3, 4}, make([]byte, 130)...)); n != 130 || err != nil {
		t.Errorf("compressedPayload: %d, %v", n, err)
	}
}

func TestSelectedLib(t *testing.T) {
	for _, c := range []struct {
		lib, only string
		want      bool
	}{
		{"gws", "", true},
		{"gws", "gws,coder", true},
		{"gws-w12", "gws", true},
		{"wsraise-w9", "wsraise", true},
		{"wsraise-w9", "wsraise-w9", true},
		{"wsraise", "wsraise-w9", false},
		{"gorilla", "gws", false},
	} {
		if got := selectedLib(c.lib, c.only); got != c.want {
			t.Errorf("selectedLib(%q, %q) = %v", c.lib, c.only, got)
		}
	}
}

// TestCompressMarkdown checks that each part of the compression section
// appears when it has figures, and the goals' quotients.
func TestCompressMarkdown(t *testing.T) {
	cr := compressReport{
		D: time.Second,
		Results: []compressResult{
			{Lib: "wsraise", Mode: compTakeover, Workload: "chat message", RoundTrips: 10, Payload: 300, DownWire: 100, CPUus: 30},
		},
		Windows: []compressResult{
			{Lib: "wsraise-w12", Mode: compTakeover, Workload: "chat message", RoundTrips: 10, Payload: 300, DownWire: 120, CPUus: 28},
		},
		Flate: []flateRefResult{
			{Workload: "chat message", Mode: compTakeover, Lib: refFlate, Level: 2, Messages: 2000, Payload: 300, Wire: 96, NsPerMsg: 4000},
			{Workload: "chat message", Mode: compTakeover, Lib: refWsraise, Level: 2, Messages: 2000, Payload: 300, Wire: 100, NsPerMsg: 3000},
		},
		Idle: []compIdleResult{
			{Lib: "wsraise", Mode: compTakeover, Conns: 10, BytesPerConn: 40000, HeapBytesPerConn: 80000},
			{Lib: "coder", Mode: compTakeover, Conns: 5, Capped: true, BytesPerConn: 200000, HeapBytesPerConn: 1200000},
			{Lib: "wsraise-w12", Mode: compTakeover, Conns: 10, BytesPerConn: 30000, HeapBytesPerConn: 24000},
		},
	}
	got := compressMarkdown(cr, "")
	for _, want := range []string{
		"## Compression (permessage-deflate)",
		"| chat message | context takeover | - | 3.12 | 3.00 | 0.960 | - | 4.0 | 3.0 | 0.75 |",
		"| coder | context takeover | - | 5 (capped) | 200000 | 0 | 1200000 | 5.00, 15.00 | yes | 0 | 0 |",
		"| 15 bits (32 KiB) | 3.00 | 30.0 | 40000 | 80000 |",
		"| 12 bits (4 KiB) | 2.50 | 28.0 | 30000 | 24000 |",
		"| 9 bits (512 B) | - | - | - | - |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in\n%s", want, got)
		}
	}
	if got := compressMarkdown(compressReport{}, ""); got != "" {
		t.Errorf("without figures: %q", got)
	}
}

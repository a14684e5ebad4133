package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// compressReport is what the compression section of BENCH.md shows; any
// part may be missing.
type compressReport struct {
	D       time.Duration    // each comparison row's time
	Results []compressResult // the comparison
	Windows []compressResult // wsraise with smaller windows, context takeover
	Flate   []flateRefResult // the compress/flate reference
	Idle    []compIdleResult // memory per idle connection
}

// compressMarkdown renders the compression section of BENCH.md, with the
// chart at the link chart unless that is empty.
func compressMarkdown(cr compressReport, chart string) string {
	var b strings.Builder
	comparisonMarkdown(&b, cr.Results, cr.D, chart)
	flateRefMarkdown(&b, cr.Flate)
	compIdleMarkdown(&b, cr.Idle)
	windowMarkdown(&b, cr)
	return b.String()
}

// comparisonMarkdown writes the comparison, with the chart at the link
// chart unless that is empty.
func comparisonMarkdown(b *strings.Builder, rs []compressResult, d time.Duration, chart string) {
	if len(rs) == 0 {
		return
	}
	fmt.Fprintf(b, "\n## Compression (permessage-deflate)\n\n"+
		"Each library talks to itself: its own echo server and its own client, in one process over\n"+
		"loopback TCP (not pinned), one connection, a closed loop of %s per row sending JSON chat\n"+
		"as text messages and checking every echo byte for byte. So a row's round trips include\n"+
		"compressing and decompressing at both ends. The client's socket counts the bytes on the\n"+
		"wire each way (frame headers and masks included); the ratio is payload bytes over wire\n"+
		"bytes. CPU time is the process's (both ends) over the round trips, steadier than the rate\n"+
		"when the machine is busy. \"chat message\": 2,000 different messages of 200 to 400 bytes, sent in turn;\n"+
		"\"64 KiB document\": eight room histories of 64 KiB. Every library at its default level;\n"+
		"gws told to use a 32 KiB window and to compress messages of any size, as the others do\n"+
		"(its defaults: a 4 KiB server window with context takeover, nothing under 512 bytes\n"+
		"compressed without); coder told to compress from 128 bytes, as wsraise does (its default\n"+
		"without context takeover is 512). gorilla and coder compress with compress/flate at level 1\n"+
		"(flate.BestSpeed), gws with klauspost/compress. gorilla implements no context takeover only.\n", d)
	if chart != "" {
		fmt.Fprintf(b, "\n![Bar charts, per workload and compression mode: each library's compression ratio "+
			"(higher is better) and CPU time per round trip (lower is better)](%s)\n", chart)
	}
	var workloads []string
	seen := map[string]bool{}
	for _, r := range rs {
		if !seen[r.Workload] {
			seen[r.Workload] = true
			workloads = append(workloads, r.Workload)
		}
	}
	for _, w := range workloads {
		fmt.Fprintf(b, "\n### %s\n\n", w)
		b.WriteString("| library | compression | round trips/s | vs. off | CPU µs per round trip | wire B/msg up / down | ratio up / down | mismatches |\n" +
			"|---|---|---:|---:|---:|---:|---:|---:|\n")
		for _, r := range rs {
			if r.Workload != w {
				continue
			}
			vs := "-"
			for _, off := range rs {
				if off.Workload == w && off.Lib == r.Lib && off.Mode == compOff && off.RTPS > 0 && r.Mode != compOff {
					vs = fmt.Sprintf("%.2f", r.RTPS/off.RTPS)
				}
			}
			ratio := func(wire float64) string {
				if wire == 0 {
					return "-"
				}
				return fmt.Sprintf("%.2f", r.Payload/wire)
			}
			cell := fmt.Sprintf("%d", r.Mismatches)
			if r.Errors > 0 {
				cell += fmt.Sprintf(" (%d errors: %s)", r.Errors, r.FirstError)
			}
			fmt.Fprintf(b, "| %s | %s | %.0f | %s | %.1f | %.0f / %.0f | %s / %s | %s |\n",
				r.Lib, r.Mode, r.RTPS, vs, r.CPUus, r.UpWire, r.DownWire, ratio(r.UpWire), ratio(r.DownWire), cell)
		}
		var avg float64
		var n int
		for _, r := range rs {
			if r.Workload == w && r.Payload > 0 {
				avg, n = avg+r.Payload, n+1
			}
		}
		if n > 0 {
			fmt.Fprintf(b, "\nPayload: %.0f bytes per message on average.\n", avg/float64(n))
		}
	}
	b.WriteString("\nNegotiated (the server's `Sec-WebSocket-Extensions`):\n\n")
	done := map[string]bool{}
	for _, r := range rs {
		k := r.Lib + "/" + r.Mode
		if done[k] || r.Mode == compOff {
			continue
		}
		done[k] = true
		fmt.Fprintf(b, "- %s, %s: `%s`\n", r.Lib, r.Mode, r.Extensions)
	}
}

// workloadsOf lists the workloads of rs, in order.
func workloadsOf[T any](rs []T, workload func(T) string) []string {
	var out []string
	for _, r := range rs {
		if w := workload(r); !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

// findCompress returns the row of lib in mode on workload w.
func findCompress(rs []compressResult, lib, mode, w string) (compressResult, bool) {
	for _, r := range rs {
		if r.Lib == lib && r.Mode == mode && r.Workload == w && r.RoundTrips > 0 && r.Errors == 0 && r.Mismatches == 0 {
			return r, true
		}
	}
	return compressResult{}, false
}

// downRatio is a row's payload over the bytes the server sent.
func downRatio(r compressResult) float64 {
	if r.DownWire == 0 {
		return 0
	}
	return r.Payload / r.DownWire
}

// flateRefMarkdown writes the compress/flate reference and wsraise beside
// it.
func flateRefMarkdown(b *strings.Builder, refs []flateRefResult) {
	if len(refs) == 0 {
		return
	}
	fmt.Fprintf(b, "\n### Against compress/flate, in process\n\n"+
		"compress/flate is no longer inside wsraise; here it compresses the same messages as above,\n"+
		"in the same order, in process (no network), as a permessage-deflate endpoint compresses\n"+
		"them: Write and Flush per message, the trailing 00 00 ff ff left out; with context takeover\n"+
		"one flate.Writer for all messages, without it a Reset before each (as a pooled writer is).\n"+
		"wsraise's own encoder, at its default level (2, or 1 without context takeover) and window\n"+
		"(15 bits), goes through the "+
		"public API: a wsproto client whose connection answers the handshake itself and keeps the\n"+
		"frames written, so its time also holds framing and masking. Each message counts with the\n"+
		"header of a server's frame, so the ratio (payload over bytes) compares with the \"down\"\n"+
		"ratio above. The encoders take turns, %d rounds of %d to %d messages (whole rounds of the\n"+
		"workload, at least 1 MiB); the time per message is the median round's. \"old level\":\n"+
		"the level wsraise used with compress/flate, 1 (BestSpeed) without context takeover, 2 with it.\n\n",
		flateRefRounds, minFunc(refs, func(r flateRefResult) int { return r.Messages }), maxFunc(refs, func(r flateRefResult) int { return r.Messages }))
	b.WriteString("| workload | compression | ratio: flate level 1 | flate level 2 | wsraise | wsraise / flate level 2 " +
		"| µs per message: flate level 1 | flate level 2 | wsraise | wsraise / flate at the old level |\n" +
		"|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	get := func(w, mode, lib string, level int) (flateRefResult, bool) {
		for _, r := range refs {
			if r.Workload == w && r.Mode == mode && r.Lib == lib && (lib == refWsraise || r.Level == level) {
				return r, r.Error == "" && r.Wire > 0
			}
		}
		return flateRefResult{}, false
	}
	cell := func(r flateRefResult, ok bool, f func(flateRefResult) float64, format string) string {
		if !ok {
			if r.Error != "" {
				return "- (" + strings.NewReplacer("|", "/", "\n", " ").Replace(r.Error) + ")"
			}
			return "-"
		}
		return fmt.Sprintf(format, f(r))
	}
	ratio := func(r flateRefResult) float64 { return r.Payload / r.Wire }
	us := func(r flateRefResult) float64 { return r.NsPerMsg / 1e3 }
	for _, w := range workloadsOf(refs, func(r flateRefResult) string { return r.Workload }) {
		for _, mode := range []string{compNoTakeover, compTakeover} {
			l1, ok1 := get(w, mode, refFlate, 1)
			l2, ok2 := get(w, mode, refFlate, 2)
			ours, ok := get(w, mode, refWsraise, 0)
			old, oldOK := l2, ok2
			if mode == compNoTakeover {
				old, oldOK = l1, ok1
			}
			vsRatio, vsTime := "-", "-"
			if ok && ok2 {
				vsRatio = fmt.Sprintf("%.3f", ratio(ours)/ratio(l2))
			}
			if ok && oldOK && old.NsPerMsg > 0 {
				vsTime = fmt.Sprintf("%.2f", ours.NsPerMsg/old.NsPerMsg)
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", w, mode,
				cell(l1, ok1, ratio, "%.2f"), cell(l2, ok2, ratio, "%.2f"), cell(ours, ok, ratio, "%.2f"), vsRatio,
				cell(l1, ok1, us, "%.1f"), cell(l2, ok2, us, "%.1f"), cell(ours, ok, us, "%.1f"), vsTime)
		}
	}
}

func minFunc[T any](rs []T, f func(T) int) int {
	m := f(rs[0])
	for _, r := range rs[1:] {
		m = min(m, f(r))
	}
	return m
}

func maxFunc[T any](rs []T, f func(T) int) int {
	m := f(rs[0])
	for _, r := range rs[1:] {
		m = max(m, f(r))
	}
	return m
}

// compIdleMarkdown writes the memory test.
func compIdleMarkdown(b *strings.Builder, rs []compIdleResult) {
	if len(rs) == 0 {
		return
	}
	b.WriteString("\n### Memory per idle connection, compression used\n\n" +
		"Each row's echo server runs alone in a child process, pinned to CPU 0. wsproto's client\n" +
		"opens the connections one after another, sends on each one chat message of 300 to 400\n" +
		"bytes, a different one each time, and reads its echo: so the server has decompressed one\n" +
		"message and compressed one, and its compressor and decompressor hold what they keep between\n" +
		"messages. The client checks the agreed extension, the echo, and that both frames had RSV1\n" +
		"set (the message went compressed; gws sometimes sends a short message as a stored block,\n" +
		"which is compressed all the same). The client's options match the server's; it offers\n" +
		"`client_max_window_bits`, so a server may set the client's window. Before the baseline, one\n" +
		"connection is opened and closed, and the server collects its garbage and returns its free\n" +
		"memory to the system (debug.FreeOSMemory, on a signal). \"bytes per connection\": the growth\n" +
		"of the server's VmRSS over the baseline, per connection, after 2 s idle, as in the idle table\n" +
		"above; \"held\": the same after another debug.FreeOSMemory; \"Go heap\": the growth of the\n" +
		"server's live heap objects and goroutine stacks (runtime.MemStats HeapAlloc + StackInuse)\n" +
		"after a collection, which counts what was allocated whether or not its pages were ever\n" +
		"touched (an untouched page is not resident, and compress/flate's Writer at level 1 leaves\n" +
		"most of its hash arrays untouched; memory the allocator reuses is zeroed, and so touched).\n" +
		"wsraise with compression off is the baseline of a connection. coder (compress/flate) keeps a\n" +
		"flate.Writer per connection with context takeover, so it runs with fewer connections,\n" +
		"which the table says. gorilla implements no context takeover only.\n\n")
	b.WriteString("| library | compression | agreed | connections | bytes per connection | held | Go heap | / wsraise (bytes, Go heap) | RSV1 each way | mismatches | errors |\n" +
		"|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|\n")
	var ours compIdleResult
	for _, r := range rs {
		if r.Lib == "wsraise" && r.Mode == compTakeover {
			ours = r
		}
	}
	for _, r := range rs {
		conns := fmt.Sprintf("%d", r.Conns)
		if r.Capped {
			conns += " (capped)"
		}
		vs := "-"
		if ours.BytesPerConn > 0 && ours.HeapBytesPerConn > 0 && r.Mode != compOff {
			vs = fmt.Sprintf("%.2f, %.2f", r.BytesPerConn/ours.BytesPerConn, r.HeapBytesPerConn/ours.HeapBytesPerConn)
		}
		compressed := "yes"
		switch {
		case r.Mode == compOff:
			compressed = "-"
		case r.Uncompressed > 0:
			compressed = fmt.Sprintf("no, on %d", r.Uncompressed)
		}
		errs := fmt.Sprintf("%d", r.Errors)
		if r.Errors > 0 {
			errs += " (" + strings.NewReplacer("|", "/", "\n", " ").Replace(r.FirstError) + ")"
		}
		agreed := "-"
		if r.Extensions != "" {
			agreed = "`" + r.Extensions + "`"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %.0f | %.0f | %.0f | %s | %s | %d | %s |\n",
			r.Lib, r.Mode, agreed, conns, r.BytesPerConn, r.HeldBytesPerConn, r.HeapBytesPerConn, vs, compressed, r.Mismatches, errs)
	}
}

// windowMarkdown writes wsraise's ratio, CPU time and memory by window
// size, with context takeover.
func windowMarkdown(b *strings.Builder, cr compressReport) {
	if len(cr.Windows) == 0 {
		return
	}
	rows := []struct {
		lib  string
		bits int
	}{{"wsraise", 15}, {"wsraise-w12", 12}, {"wsraise-w9", 9}}
	workloads := workloadsOf(cr.Results, func(r compressResult) string { return r.Workload })
	b.WriteString("\n### wsraise by window size, context takeover\n\n" +
		"WindowBits and PeerWindowBits set to the same value on both sides: each end compresses with\n" +
		"a window of that size and keeps that much of the other's output. Ratio and CPU time come\n" +
		"from rows like the comparison's (the 15-bit row is the comparison's own), the ratio from the\n" +
		"server to the client; memory from the test above.\n\n| window |")
	for _, w := range workloads {
		fmt.Fprintf(b, " %s: ratio | %s: CPU µs per round trip |", w, w)
	}
	b.WriteString(" bytes per idle connection | Go heap |\n|---|")
	for range workloads {
		b.WriteString("---:|---:|")
	}
	b.WriteString("---:|---:|\n")
	for _, row := range rows {
		fmt.Fprintf(b, "| %d bits (%s) |", row.bits, sizeName(1<<row.bits))
		for _, w := range workloads {
			r, ok := findCompress(cr.Results, row.lib, compTakeover, w)
			if !ok {
				r, ok = findCompress(cr.Windows, row.lib, compTakeover, w)
			}
			if !ok {
				b.WriteString(" - | - |")
				continue
			}
			fmt.Fprintf(b, " %.2f | %.1f |", downRatio(r), r.CPUus)
		}
		mem, held := "-", "-"
		for _, r := range cr.Idle {
			if r.Lib == row.lib && r.Mode == compTakeover && r.Conns > 0 {
				mem, held = fmt.Sprintf("%.0f", r.BytesPerConn), fmt.Sprintf("%.0f", r.HeapBytesPerConn)
			}
		}
		fmt.Fprintf(b, " %s | %s |\n", mem, held)
	}
}

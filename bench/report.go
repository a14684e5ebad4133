package main

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
)

func sizeName(s int) string {
	switch {
	case s >= 1<<20:
		return fmt.Sprintf("%d MiB", s>>20)
	case s >= 1<<10:
		return fmt.Sprintf("%d KiB", s>>10)
	}
	return fmt.Sprintf("%d B", s)
}

func find(run benchRun, lib string, size, conns int) (loadResult, bool) {
	for _, r := range run.Load {
		if r.Lib == lib && r.Size == size && r.Conns == conns {
			return r, true
		}
	}
	return loadResult{}, false
}

func libsIn(run benchRun) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range run.Load {
		if !seen[r.Lib] {
			seen[r.Lib] = true
			out = append(out, r.Lib)
		}
	}
	return out
}

// reportCharts are the links from the report to its charts, relative to
// the report; an empty one is left out.
type reportCharts struct {
	Main, Idle, Compress string
}

// chartLink is the link from the report at out to the file at path.
func chartLink(out, path string) string {
	dir, err := filepath.Abs(filepath.Dir(out))
	if err != nil {
		return filepath.ToSlash(path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return filepath.ToSlash(path)
	}
	rel, err := filepath.Rel(dir, abs)
	if err != nil {
		return filepath.ToSlash(abs)
	}
	return filepath.ToSlash(rel)
}

// markdown renders the raw figures and the ratios, with the charts.
func markdown(run benchRun, charts reportCharts) string {
	var b strings.Builder
	mode := "full"
	if run.Quick {
		mode = "quick"
	}
	client, clientFlag := run.Client, ""
	if client == "" {
		client = clientDirect // a run from before there was a choice
	}
	if client != clientDirect {
		clientFlag = " -client " + client
	}
	fmt.Fprintf(&b, "# Benchmarks\n\nOne run of `cd bench && go run . run%s` (%s mode), %s, on %s.\n",
		clientFlag, mode, run.Started.UTC().Format("2006-01-02 15:04 MST"), run.Machine)
	b.WriteString("Servers pinned to CPU 0, the shared load client to CPU 1 (taskset). Each connection is a\n" +
		"closed loop: send one binary message, read the echo, compare it byte for byte. The client\n" +
		"keeps each connection's frame masked and re-masks it in place with a new key for every\n" +
		"message (gobwas's ws.Cipher, the fastest masking among the peers), so that its own work\n" +
		"weighs as little as it can, the same for every library.\n")
	switch client {
	case clientBufio64:
		b.WriteString("Load client `bufio64`: it reads echoes through a 64 KiB bufio.Reader, as most clients do,\n" +
			"so that echoes that fit in it are copied out of its buffer. The default client (`direct`)\n" +
			"reads through 4 KiB, larger echoes straight into place; the two reports side by side show\n" +
			"which figures, if any, depend on the client's reading pattern.\n")
	default:
		b.WriteString("Load client `direct` (the default): it reads echoes through a 4 KiB bufio.Reader, so that\n" +
			"larger echoes go straight into place, uncopied. `-client bufio64` reads through 64 KiB, as\n" +
			"most clients do; the two reports side by side show which figures, if any, depend on the\n" +
			"client's reading pattern.\n")
	}
	b.WriteString("With 100 connections that one-core client is still busy all the time against the fast\n" +
		"servers, so round trips per second there measure the client as much as the server: the\n" +
		"server's CPU time per round trip (from /proc) says what each server costs.\n")
	if run.Rounds > 1 {
		fmt.Fprintf(&b, "Each cell is %d rounds of equal length, every library once per round in a rotating order,\n"+
			"so that a slow spell of the machine falls on all of them: round trips per second over all\n"+
			"rounds, latencies of the median round.\n", run.Rounds)
	}
	b.WriteString("\n")
	if charts.Main != "" {
		fmt.Fprintf(&b, "![Bar chart: each library's server CPU time per round trip relative to raw-msg, "+
			"the plain TCP echo, by message size, for 1 and 100 connections; lower is better](%s)\n\n", charts.Main)
	}
	libs := libsIn(run)
	for _, n := range connCount {
		fmt.Fprintf(&b, "## Round trips per second, %d connection(s)\n\n", n)
		sizeTable(&b, run, libs, n, func(r loadResult) string {
			cell := fmt.Sprintf("%.0f", r.RTPS)
			if r.Mismatches > 0 || r.Errors > 0 {
				cell += fmt.Sprintf(" (%d mismatches, %d errors)", r.Mismatches, r.Errors)
			}
			return cell
		})
		fmt.Fprintf(&b, "\nLatency p50 / p99 in µs, %d connection(s):\n\n", n)
		sizeTable(&b, run, libs, n, func(r loadResult) string {
			return fmt.Sprintf("%.0f / %.0f", r.P50us, r.P99us)
		})
		fmt.Fprintf(&b, "\nServer CPU time per round trip in µs (user and system, all threads), %d connection(s):\n\n", n)
		sizeTable(&b, run, libs, n, func(r loadResult) string {
			cpu, ok := cpuPerRoundTrip(r)
			if !ok {
				return "-"
			}
			return fmt.Sprintf("%.1f", cpu)
		})
		b.WriteString("\n")
	}

	b.WriteString("## Ratios\n\nwsraise (plain `wsproto`) divided by the best peer in the column, and by the two raw TCP echoes.\n" +
		"Goals: at least 1.00x the best peer everywhere; at least 0.85x raw TCP at 64 KiB and above.\n" +
		"Where a goal is missed, the profiles that explain it and what would close it:\n" +
		"[PERFORMANCE.md](PERFORMANCE.md), \"Round trips: where the goals stand\".\n\n")
	ratioHeader(&b)
	for _, ours := range []string{"wsraise", "wsraise-stream", "wsraise-server", "wsraise-server-obvious"} {
		fmt.Fprintf(&b, "| %s / best peer |", ours)
		for _, n := range connCount {
			for _, s := range sizes {
				me, mine := find(run, ours, s, n)
				best, bestLib := 0.0, ""
				for _, lib := range libs {
					if r, ok := find(run, lib, s, n); ok && isPeer(lib) && r.RTPS > best {
						best, bestLib = r.RTPS, lib
					}
				}
				if !mine || best == 0 {
					b.WriteString(" - |")
					continue
				}
				bestRun, _ := find(run, bestLib, s, n)
				fmt.Fprintf(&b, " %.2f (%s)%s |", me.RTPS/best, bestLib, roundSpread(me, bestRun))
			}
		}
		b.WriteString("\n")
		for _, raw := range []string{"raw-tcp", "raw-msg"} {
			fmt.Fprintf(&b, "| %s / %s |", ours, raw)
			for _, n := range connCount {
				for _, s := range sizes {
					me, mine := find(run, ours, s, n)
					r, ok := find(run, raw, s, n)
					if !mine || !ok || r.RTPS == 0 {
						b.WriteString(" - |")
						continue
					}
					fmt.Fprintf(&b, " %.2f%s |", me.RTPS/r.RTPS, roundSpread(me, r))
				}
			}
			b.WriteString("\n")
		}
	}
	if run.Rounds > 1 {
		b.WriteString("\nIn brackets: the lowest and highest ratio of one round to the same round of the other\n" +
			"library (every library runs once per round); a range that spans 1.00 is a difference within\n" +
			"the machine's noise.\n")
	}
	b.WriteString("\nraw-tcp copies bytes as they arrive (io.Copy), so its echo overlaps the sending of the\n" +
		"message; raw-msg reads each length-prefixed message whole before writing it back, the most a\n" +
		"server that reads whole messages can do. The gap between the two is the price of store-and-forward,\n" +
		"paid by every WebSocket echo here; the gap to raw-msg is what the WebSocket protocol and library cost.\n")
	frameworkMarkdown(&b, run)

	if len(run.Idle) > 0 {
		fmt.Fprintf(&b, "\n## Idle connections\n\n%d connections held open; the server's resident memory (VmRSS) before and after.\n\n", run.Idle[0].Conns)
		if charts.Idle != "" {
			fmt.Fprintf(&b, "![Bar chart: each library's memory per idle connection, in KiB, "+
				"sorted from the least; lower is better](%s)\n\n", charts.Idle)
		}
		b.WriteString("| library | bytes per connection | handshakes/s | errors |\n|---|---:|---:|---:|\n")
		for _, r := range run.Idle {
			perConn := fmt.Sprintf("%.0f", r.BytesPerConn)
			if r.BytesPerConn == 0 && r.Errors > 0 {
				perConn = "- (" + strings.NewReplacer("|", "/", "\n", " ").Replace(r.FirstError) + ")"
			}
			fmt.Fprintf(&b, "| %s | %s | %.0f | %d |\n", r.Lib, perConn, r.HandshakesPS, r.Errors)
		}
		if r, ok := findIdle(run, "raw-tcp"); ok && r.Errors > 0 {
			b.WriteString("\nraw-tcp's server holds a splice pipe (two more descriptors) per connection in io.Copy:\n" +
				"past the open-file limit it stops accepting and exits, and there is no figure.\n")
		}
	}
	b.WriteString(compressMarkdown(run.compressReport(), charts.Compress))
	return b.String()
}

// frameworkMarkdown writes the framework's server CPU per round trip over
// plain wsproto's, for both framework echoes.
func frameworkMarkdown(b *strings.Builder, run benchRun) {
	b.WriteString("\n## Framework / plain wsproto, server CPU per round trip, goal <= 1.10\n\n" +
		"The server CPU time per round trip of each framework (`wsraise/server`) echo divided by that\n" +
		"of the plain `wsproto` echo (the wsraise rows), from the tables above: what the framework\n" +
		"costs on top of the protocol, a figure that depends less on the client's speed than round\n" +
		"trips per second, which the busy client caps at 100 connections. wsraise-server reuses\n" +
		"one buffer (ReceiveAppend), as the docs recommend for throughput; wsraise-server-obvious\n" +
		"is the echo as users write it: Receive, then a send of the same type. Goal: at most 1.10\n" +
		"in every column.\n\n")
	ratioHeader(b)
	for _, fw := range []string{"wsraise-server", "wsraise-server-obvious"} {
		fmt.Fprintf(b, "| %s / wsraise |", fw)
		for _, n := range connCount {
			for _, s := range sizes {
				me, mine := find(run, fw, s, n)
				plain, ok := find(run, "wsraise", s, n)
				meCPU, mineOK := cpuPerRoundTrip(me)
				plainCPU, plainOK := cpuPerRoundTrip(plain)
				if !mine || !ok || !mineOK || !plainOK {
					b.WriteString(" - |")
					continue
				}
				fmt.Fprintf(b, " %.2f%s |", meCPU/plainCPU, spread(me.RoundCPUus, plain.RoundCPUus))
			}
		}
		b.WriteString("\n")
	}
	if run.Rounds > 1 {
		b.WriteString("\nIn brackets: the lowest and highest ratio of one round to the same round of plain wsproto.\n")
	}
	b.WriteString("\nThe server's CPU time is read from /proc in whole clock ticks of 10 ms, so each round's figure\n" +
		"is uncertain by up to 10 ms of CPU: a few percent where the server used well under a second\n" +
		"(as in a quick run).\n")
}

// ratioHeader writes the head of a table with a column per message size
// and connection count.
func ratioHeader(b *strings.Builder) {
	b.WriteString("| ratio |")
	for _, n := range connCount {
		for _, s := range sizes {
			fmt.Fprintf(b, " %s x%d |", sizeName(s), n)
		}
	}
	b.WriteString("\n|---|" + strings.Repeat("---:|", len(sizes)*len(connCount)) + "\n")
}

// cpuPerRoundTrip is r's server CPU time per round trip in µs; false if
// there is none to tell (no round trips, or no CPU time measured).
func cpuPerRoundTrip(r loadResult) (float64, bool) {
	if r.RoundTrips == 0 || r.ServerCPU <= 0 {
		return 0, false
	}
	return r.ServerCPU * 1e6 / float64(r.RoundTrips), true
}

// roundSpread is " [lo-hi]": the lowest and highest ratio of a's round
// trips per second to b's, round by round, or "" with fewer than two
// rounds.
func roundSpread(a, b loadResult) string { return spread(a.RoundRTPS, b.RoundRTPS) }

// spread is " [lo-hi]": the lowest and highest ratio of a round's figure
// in a to the same round's in b, or "" with fewer than two rounds.
func spread(a, b []float64) string {
	if len(a) < 2 || len(a) != len(b) {
		return ""
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, x := range a {
		if b[i] == 0 {
			return ""
		}
		r := x / b[i]
		lo, hi = math.Min(lo, r), math.Max(hi, r)
	}
	return fmt.Sprintf(" [%.2f-%.2f]", lo, hi)
}

func findIdle(run benchRun, lib string) (idleResult, bool) {
	for _, r := range run.Idle {
		if r.Lib == lib {
			return r, true
		}
	}
	return idleResult{}, false
}

// sizeTable writes a table with a row per library and a column per
// message size, for n connections; cell formats one result.
func sizeTable(b *strings.Builder, run benchRun, libs []string, n int, cell func(loadResult) string) {
	b.WriteString("| library |")
	for _, s := range sizes {
		fmt.Fprintf(b, " %s |", sizeName(s))
	}
	b.WriteString("\n|---|" + strings.Repeat("---:|", len(sizes)) + "\n")
	for _, lib := range libs {
		fmt.Fprintf(b, "| %s |", lib)
		for _, s := range sizes {
			r, _ := find(run, lib, s, n)
			fmt.Fprintf(b, " %s |", cell(r))
		}
		b.WriteString("\n")
	}
}

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

var (
	sizes     = []int{16, 512, 8 << 10, 64 << 10, 1 << 20}
	connCount = []int{1, 100}
)

// pinned returns a command pinned to cpu with taskset, when there is a
// second core to pin the other side to.
func pinned(cpu int, name string, args ...string) *exec.Cmd {
	if _, err := exec.LookPath("taskset"); err == nil && runtime.NumCPU() >= 2 {
		return dieWithParent(exec.Command("taskset", append([]string{"-c", strconv.Itoa(cpu), name}, args...)...))
	}
	return dieWithParent(exec.Command(name, args...))
}

type benchRun struct {
	Quick   bool
	Client  string // the load client, clientDirect or clientBufio64
	Started time.Time
	Load    []loadResult
	Idle    []idleResult
	Machine string
	// The compression comparison, CompressD per row.
	Rounds    int // each cell's load time is split over this many rounds
	Compress  []compressResult
	CompressD time.Duration
	// wsraise's smaller windows, the compress/flate reference and the
	// memory of idle connections that used compression.
	CompressWindows []compressResult
	FlateRef        []flateRefResult
	CompIdle        []compIdleResult
}

// compressReport is the run's compression section.
func (run benchRun) compressReport() compressReport {
	return compressReport{D: run.CompressD, Results: run.Compress, Windows: run.CompressWindows, Flate: run.FlateRef, Idle: run.CompIdle}
}

// runCompressAll runs the compression comparison, rows of d, wsraise's
// smaller windows, the compress/flate reference, and the memory test
// with n connections (none if n is 0), for the libraries in only (all if
// it is empty).
func runCompressAll(self string, d time.Duration, n int, only string) (compressReport, error) {
	cr := compressReport{D: d}
	cr.Results = runCompress(compLibs, d, only)
	cr.Windows = runCompress(compWindowLibs, d, only)
	cr.Flate = runFlateReference()
	if n > 0 {
		var err error
		if cr.Idle, err = runCompIdle(self, n, only); err != nil {
			return cr, err
		}
	}
	return cr, nil
}

// runAll runs everything and writes the report to out, the main chart to
// svg and the others next to it (siblingChart); client names the load
// client that reads the echoes.
func runAll(quick bool, only, client, out, svg string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	// d is a cell's total load time per library, split over rounds.
	d, k, rounds := 5*time.Second, 10000, 5
	if quick {
		d, k, rounds = 300*time.Millisecond, 1000, 1
	}
	libs := libraries
	if only != "" {
		libs = strings.Split(only, ",")
	}
	run := benchRun{Quick: quick, Client: client, Started: time.Now(), Machine: machine(), Rounds: rounds}

	// Every server runs at once, idle but for the one under load. Each cell
	// (size, connections) is measured in rounds, every library once per
	// round in a rotating order, so that a slow spell of the machine falls
	// on all libraries alike rather than on whichever ran at that moment.
	addrs := make(map[string]string, len(libs))
	pids := make(map[string]int, len(libs))
	var servers []*exec.Cmd
	stopServers := func() {
		for _, srv := range servers {
			srv.Process.Kill()
			srv.Wait()
		}
		servers = nil
	}
	defer stopServers()
	for _, lib := range libs {
		srv, addr, err := startServer(self, lib)
		if err != nil {
			return err
		}
		servers = append(servers, srv)
		addrs[lib] = addr
		pids[lib] = srv.Process.Pid
	}
	for _, n := range connCount {
		for _, s := range sizes {
			parts := make(map[string][]loadResult, len(libs))
			for round := range rounds {
				for i := range libs {
					lib := libs[(i+round)%len(libs)]
					var r loadResult
					cpu0 := processCPU(pids[lib])
					if err := runJSON(&r, self, "load", "-lib", lib, "-addr", addrs[lib],
						"-size", strconv.Itoa(s), "-conns", strconv.Itoa(n), "-d", (d / time.Duration(rounds)).String(),
						"-client", client); err != nil {
						return err
					}
					if cpu1 := processCPU(pids[lib]); cpu0 >= 0 && cpu1 >= cpu0 {
						r.ServerCPU = (cpu1 - cpu0).Seconds()
					}
					parts[lib] = append(parts[lib], r)
				}
			}
			for _, lib := range libs {
				r := combine(parts[lib])
				fmt.Fprintf(os.Stderr, "%-15s %7d B x%-3d %10.0f rt/s  p50 %7.1fµs  p99 %8.1fµs  mismatches %d errors %d %s\n",
					lib, s, n, r.RTPS, r.P50us, r.P99us, r.Mismatches, r.Errors, r.FirstError)
				run.Load = append(run.Load, r)
			}
		}
	}

	stopServers()

	// The idle test gets a fresh server per library, so its baseline is
	// clean.
	for _, lib := range libs {
		srv, addr, err := startServer(self, lib)
		if err != nil {
			return err
		}
		var ir idleResult
		err = runJSON(&ir, self, "idle", "-lib", lib, "-addr", addr, "-k", strconv.Itoa(k), "-pid", strconv.Itoa(srv.Process.Pid))
		srv.Process.Kill()
		srv.Wait()
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "%-15s idle x%d: %.0f B/conn, %.0f handshakes/s, errors %d %s\n",
			lib, ir.Conns, ir.BytesPerConn, ir.HandshakesPS, ir.Errors, ir.FirstError)
		run.Idle = append(run.Idle, ir)
	}
	cr, err := runCompressAll(self, compressDuration(quick), k, only)
	if err != nil {
		return err
	}
	run.CompressD, run.Compress, run.CompressWindows, run.FlateRef, run.CompIdle = cr.D, cr.Results, cr.Windows, cr.Flate, cr.Idle
	idleSVG, compressSVG := siblingChart(svg, "idle"), siblingChart(svg, "compress")
	charts := reportCharts{Main: chartLink(out, svg), Idle: chartLink(out, idleSVG), Compress: chartLink(out, compressSVG)}
	if err := os.WriteFile(out, []byte(markdown(run, charts)), 0o644); err != nil {
		return err
	}
	for _, c := range []struct{ path, doc string }{
		{svg, chart(run)},
		{idleSVG, idleChart(run)},
		{compressSVG, compressChart(run.Compress)},
	} {
		if err := os.WriteFile(c.path, []byte(c.doc), 0o644); err != nil {
			return err
		}
	}
	return verdict(run)
}

// combine merges the rounds of one library in one cell: round trips over
// the time of all rounds, the median round's latencies, every mismatch and
// error.
func combine(parts []loadResult) loadResult {
	r := parts[0]
	r.RoundTrips, r.Seconds, r.Mismatches, r.Errors, r.ServerCPU = 0, 0, 0, 0, 0
	var p50, p99 []float64
	r.RoundRTPS, r.RoundCPUus = nil, nil
	cpuEveryRound := true
	for _, p := range parts {
		r.RoundRTPS = append(r.RoundRTPS, p.RTPS)
		cpu, ok := cpuPerRoundTrip(p)
		cpuEveryRound = cpuEveryRound && ok
		r.RoundCPUus = append(r.RoundCPUus, cpu)
		r.ServerCPU += p.ServerCPU
		r.RoundTrips += p.RoundTrips
		r.Seconds += p.Seconds
		r.Mismatches += p.Mismatches
		r.Errors += p.Errors
		if r.FirstError == "" {
			r.FirstError = p.FirstError
		}
		p50 = append(p50, p.P50us)
		p99 = append(p99, p.P99us)
	}
	if r.Seconds > 0 {
		r.RTPS = float64(r.RoundTrips) / r.Seconds
		r.MBPS = r.RTPS * float64(r.Size) * 2 / 1e6
	}
	if !cpuEveryRound {
		r.RoundCPUus = nil
	}
	slices.Sort(p50)
	slices.Sort(p99)
	r.P50us, r.P99us = p50[len(p50)/2], p99[len(p99)/2]
	return r
}

// verdict fails the run, after the report is written, if any echo came
// back different, or a wsraise server had errors: those are bugs, whatever
// the speed. (Errors of a peer library are reported, not failed on.)
func verdict(run benchRun) error {
	for _, r := range run.Load {
		if r.Mismatches > 0 || r.Errors > 0 && strings.HasPrefix(r.Lib, "wsraise") {
			return fmt.Errorf("%s, %d B x%d: %d mismatches, %d errors (%s)", r.Lib, r.Size, r.Conns, r.Mismatches, r.Errors, r.FirstError)
		}
	}
	for _, r := range run.Idle {
		if r.Errors > 0 && strings.HasPrefix(r.Lib, "wsraise") {
			return fmt.Errorf("%s idle: %d errors (%s)", r.Lib, r.Errors, r.FirstError)
		}
	}
	for _, r := range append(slices.Clip(run.Compress), run.CompressWindows...) {
		if r.Mismatches > 0 || r.Errors > 0 && strings.HasPrefix(r.Lib, "wsraise") {
			return fmt.Errorf("%s, compression %s, %s: %d mismatches, %d errors (%s)", r.Lib, r.Mode, r.Workload, r.Mismatches, r.Errors, r.FirstError)
		}
	}
	for _, r := range run.FlateRef {
		if r.Error != "" {
			return fmt.Errorf("compression reference, %s level %d, %s, %s: %s", r.Lib, r.Level, r.Mode, r.Workload, r.Error)
		}
	}
	for _, r := range run.CompIdle {
		if r.Mismatches > 0 || strings.HasPrefix(r.Lib, "wsraise") && (r.Errors > 0 || r.Uncompressed > 0) {
			return fmt.Errorf("%s idle with compression %s: %d mismatches, %d uncompressed, %d errors (%s)", r.Lib, r.Mode, r.Mismatches, r.Uncompressed, r.Errors, r.FirstError)
		}
	}
	return nil
}

// startServer starts "wsbench serve" on CPU 0 and returns its address.
func startServer(self, lib string) (*exec.Cmd, string, error) {
	cmd, addr, _, err := startServerOutput(self, lib)
	return cmd, addr, err
}

// startServerOutput starts "wsbench serve" on CPU 0, with more flags if
// any, and returns its address and the rest of its output.
func startServerOutput(self, lib string, flags ...string) (*exec.Cmd, string, *bufio.Reader, error) {
	cmd := pinned(0, self, append([]string{"serve", "-lib", lib, "-addr", "127.0.0.1:0"}, flags...)...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", nil, err
	}
	out := bufio.NewReader(stdout)
	line, err := out.ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, "", nil, fmt.Errorf("%s server: %v", lib, err)
	}
	addr := strings.TrimSpace(strings.TrimPrefix(line, "listening"))
	// With taskset, the pid is taskset's until it execs: same pid.
	return cmd, addr, out, nil
}

// runJSON runs "wsbench args..." on CPU 1 and decodes its output.
func runJSON(v any, self string, args ...string) error {
	cmd := pinned(1, self, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("wsbench %v: %v", args, err)
	}
	return json.Unmarshal(out, v)
}

func machine() string {
	s := runtime.GOOS + "/" + runtime.GOARCH + ", " + strconv.Itoa(runtime.NumCPU()) + " CPUs, " + runtime.Version()
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if name, ok := strings.CutPrefix(l, "model name"); ok {
				s += ", " + strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
				break
			}
		}
	}
	return s
}

// siblingChart is the file of the chart called name next to the main
// chart's: bench-idle.svg next to bench.svg.
func siblingChart(svg, name string) string {
	return strings.TrimSuffix(svg, ".svg") + "-" + name + ".svg"
}

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
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
	Started time.Time
	Load    []loadResult
	Idle    []idleResult
	Machine string
	// The compression comparison, CompressD per row.
	Compress  []compressResult
	CompressD time.Duration
}

func runAll(quick bool, only, out, svg string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	d, k := 3*time.Second, 10000
	if quick {
		d, k = 300*time.Millisecond, 1000
	}
	libs := libraries
	if only != "" {
		libs = strings.Split(only, ",")
	}
	run := benchRun{Quick: quick, Started: time.Now(), Machine: machine()}
	for _, lib := range libs {
		srv, addr, err := startServer(self, lib)
		if err != nil {
			return err
		}
		for _, n := range connCount {
			for _, s := range sizes {
				var r loadResult
				if err := runJSON(&r, self, "load", "-lib", lib, "-addr", addr,
					"-size", strconv.Itoa(s), "-conns", strconv.Itoa(n), "-d", d.String()); err != nil {
					srv.Process.Kill()
					return err
				}
				fmt.Fprintf(os.Stderr, "%-15s %7d B x%-3d %10.0f rt/s  p50 %7.1fµs  p99 %8.1fµs  mismatches %d errors %d %s\n",
					lib, s, n, r.RTPS, r.P50us, r.P99us, r.Mismatches, r.Errors, r.FirstError)
				run.Load = append(run.Load, r)
			}
		}
		srv.Process.Kill()
		srv.Wait()

		// The idle test gets a fresh server, so its baseline is clean.
		srv, addr, err = startServer(self, lib)
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
	run.CompressD = compressDuration(quick)
	run.Compress = runCompress(run.CompressD, only)
	if err := os.WriteFile(out, []byte(markdown(run)), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(svg, []byte(chart(run)), 0o644); err != nil {
		return err
	}
	return verdict(run)
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
	for _, r := range run.Compress {
		if r.Mismatches > 0 || r.Errors > 0 && r.Lib == "wsraise" {
			return fmt.Errorf("%s, compression %s, %s: %d mismatches, %d errors (%s)", r.Lib, r.Mode, r.Workload, r.Mismatches, r.Errors, r.FirstError)
		}
	}
	return nil
}

// startServer starts "wsbench serve" on CPU 0 and returns its address.
func startServer(self, lib string) (*exec.Cmd, string, error) {
	cmd := pinned(0, self, "serve", "-lib", lib, "-addr", "127.0.0.1:0")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		return nil, "", fmt.Errorf("%s server: %v", lib, err)
	}
	addr := strings.TrimSpace(strings.TrimPrefix(line, "listening"))
	// With taskset, the pid is taskset's until it execs: same pid.
	return cmd, addr, nil
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

// Command wsbench compares wsraise with other Go WebSocket libraries and
// with a raw TCP echo, on one machine, in one run.
//
//	go run . run [-quick]      # everything; writes ../docs/BENCH.md, ../docs/bench.svg, bench-idle.svg, bench-compress.svg
//	go run . run -client bufio64 -out /tmp/BENCH-bufio64.md -svg /tmp/bench-bufio64.svg   # the same, another load client
//	go run . serve -lib gws -addr 127.0.0.1:9000
//	go run . load -lib gws -addr 127.0.0.1:9000 -size 512 -conns 100 -d 3s [-client bufio64]
//	go run . compress [-quick] [-libs gws,gorilla] [-conns N] [-chart ../docs/bench-compress.svg]   # the compression section alone, to stdout
//	go run . compidle [-conns N] [-libs coder,gws]    # memory per idle connection with compression used, to stdout
//	go run . serve -lib gws -comp takeover           # a compression echo (-comp off, no-takeover or takeover)
//	go run . idle -lib gws -addr 127.0.0.1:9000 -k 10000 -pid PID
//	go run . serve -lib wsraise -cpuprofile cpu.prof   # then: go tool pprof cpu.prof
//
// run pins the servers to CPU 0 and the load client to CPU 1 with taskset.
// The load client reads echoes through a 4 KiB bufio.Reader, large ones
// straight into place (-client direct, the default), or through a 64 KiB
// one, as most clients do (-client bufio64).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"syscall"
	"time"
)

func main() {
	raiseFileLimit()
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: wsbench run|serve|load|idle|compress|compidle [flags]")
		os.Exit(64)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	lib := fs.String("lib", "wsraise", "library")
	addr := fs.String("addr", "127.0.0.1:0", "address")
	size := fs.Int("size", 512, "message size in bytes")
	conns := fs.Int("conns", 1, "connections (load); compress, compidle: connections of the memory test, 10000 unless set (1000 with -quick), 0 for none")
	d := fs.Duration("d", 3*time.Second, "duration of a load run")
	k := fs.Int("k", 10000, "idle connections")
	pid := fs.Int("pid", 0, "server process id (idle)")
	quick := fs.Bool("quick", false, "run: the quick mode (under two minutes)")
	out := fs.String("out", "../docs/BENCH.md", "run: report file; compress: the report -chart is linked from")
	svg := fs.String("svg", "../docs/bench.svg", "run: main chart file; the others go next to it (name-idle.svg, name-compress.svg)")
	only := fs.String("libs", "", "run: comma-separated libraries (default all)")
	client := fs.String("client", clientDirect, "run, load: how the load client reads echoes: "+
		clientDirect+" (a 4 KiB bufio.Reader, large echoes read into place) or "+
		clientBufio64+" (a 64 KiB bufio.Reader, as most clients)")
	comp := fs.String("comp", "", "serve: a compression echo in this mode (off, no-takeover, takeover)")
	compChart := fs.String("chart", "", "compress: write the compression chart here, linked as from -out")
	cpuprofile := fs.String("cpuprofile", "", "serve: write a CPU profile here until SIGTERM")
	traceFile := fs.String("trace", "", "serve: write an execution trace here until SIGTERM")
	fs.Parse(os.Args[2:])
	memConns := *conns
	if !flagSet(fs, "conns") {
		memConns = 10000
		if *quick {
			memConns = 1000
		}
	}
	if _, err := readBufferSize(*client); err != nil {
		fmt.Fprintln(os.Stderr, "wsbench:", err)
		os.Exit(64)
	}
	if *cpuprofile != "" || *traceFile != "" {
		stop, perr := profileUntilSignal(*cpuprofile, *traceFile)
		if perr != nil {
			fmt.Fprintln(os.Stderr, "wsbench:", perr)
			os.Exit(1)
		}
		defer stop()
	}

	var err error
	switch os.Args[1] {
	case "serve":
		if *comp != "" {
			err = serveComp(*lib, *comp, *addr)
		} else {
			err = serve(*lib, *addr)
		}
	case "load":
		err = json.NewEncoder(os.Stdout).Encode(runLoad(*lib, *addr, *client, *size, *conns, *d))
	case "idle":
		err = json.NewEncoder(os.Stdout).Encode(runIdle(*lib, *addr, *k, *pid))
	case "compress":
		err = compressCommand(*quick, memConns, *only, *compChart, *out)
	case "compidle":
		err = compIdleCommand(memConns, *only)
	case "run":
		err = runAll(*quick, *only, *client, *out, *svg)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wsbench:", err)
		os.Exit(1)
	}
}

// flagSet reports whether the flag called name was given.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// compressCommand prints the compression section as run writes it, with
// n connections in the memory test, and writes its chart to chart (if
// not empty), linked as from the report out.
func compressCommand(quick bool, n int, only, chart, out string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cr, err := runCompressAll(self, compressDuration(quick), n, only)
	if err != nil {
		return err
	}
	link := ""
	if chart != "" {
		if err := os.WriteFile(chart, []byte(compressChart(cr.Results)), 0o644); err != nil {
			return err
		}
		link = chartLink(out, chart)
	}
	fmt.Print(compressMarkdown(cr, link))
	return verdict(benchRun{Compress: cr.Results, CompressWindows: cr.Windows, FlateRef: cr.Flate, CompIdle: cr.Idle})
}

// compIdleCommand prints the memory test with n connections.
func compIdleCommand(n int, only string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	rs, err := runCompIdle(self, n, only)
	var b strings.Builder
	compIdleMarkdown(&b, rs)
	fmt.Print(b.String())
	if err != nil {
		return err
	}
	return verdict(benchRun{CompIdle: rs})
}

// profileUntilSignal writes a CPU profile to cpuPath and an execution
// trace to tracePath (either may be empty) until SIGTERM or SIGINT, which
// then ends the program. The trace's system-call profile
// (go tool trace -pprof=syscall) shows which calls block, and for how long.
func profileUntilSignal(cpuPath, tracePath string) (stop func(), err error) {
	var stops []func()
	stop = func() {
		for _, s := range stops {
			s()
		}
	}
	if cpuPath != "" {
		f, err := os.Create(cpuPath)
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		stops = append(stops, func() { pprof.StopCPUProfile(); f.Close() })
	}
	if tracePath != "" {
		f, err := os.Create(tracePath)
		if err != nil {
			stop()
			return nil, err
		}
		if err := trace.Start(f); err != nil {
			stop()
			return nil, err
		}
		stops = append(stops, func() { trace.Stop(); f.Close() })
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	go func() { <-sig; stop(); os.Exit(0) }()
	return stop, nil
}

// raiseFileLimit lets the idle test hold 10,000 connections: 20,000
// descriptors on the client, and 30,000 on the raw-tcp server, whose
// io.Copy holds a splice pipe (two more) per connection. Above the hard
// limit only if allowed (root); else up to it.
func raiseFileLimit() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) != nil {
		return
	}
	const want = 1 << 16
	if l.Max < want && syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: want, Max: want}) == nil {
		return
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

// Command soak holds many WebSocket connections to the demo app at once,
// with echo traffic on a share of them, then closes them all and checks
// that nothing was lost or left behind:
//
//	go run ./cmd/soak -conns 10000 -active 0.1 -d 60s
//
// It serves the demo app in this process on 127.0.0.1 (or targets -url,
// with fewer checks), opens -conns connections to /echo, and runs for -d:
// each active connection sends messages of varied sizes, text and binary,
// numbered, with up to -window unanswered, and checks every echo is whole
// and in order; the idle ones only answer the server's keepalive pings.
// Then the idle connections each prove they are alive with one echo, the
// client closes most connections with 1000, and the app's Shutdown closes
// the last -shutdown share, in the middle of their traffic, with 1001 (or
// 1012 with -code 1012). It checks: no message lost, corrupt or out of
// order; every connection ended with the expected close, seen by both
// sides; goroutines and open files back to where they were; the heap back
// near its start. It prints the figures and exits 1 on any violation.
//
// The client side runs in a child process (-role client) when both ends
// would not fit in one process's open-file limit (-split auto).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"wsraise/wsproto"
)

// config is the whole run's configuration.
type config struct {
	clientConfig
	Role            string
	Split           string
	Ping            time.Duration
	PongTimeout     time.Duration
	ShutdownTimeout time.Duration
	HeapSlack       uint64
	MemProfile      string
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Role, "role", "", "internal: \"client\" in the child process")
	fs.StringVar(&cfg.URL, "url", "", "target this ws:// base URL (its /echo) instead of serving the demo app here")
	fs.IntVar(&cfg.Conns, "conns", 1000, "connections to hold")
	fs.Float64Var(&cfg.Active, "active", 0.1, "share of the connections exchanging messages")
	fs.Float64Var(&cfg.Shutdown, "shutdown", 0.1, "share of the connections closed by the app's Shutdown (in-process server only)")
	fs.DurationVar(&cfg.Duration, "d", 10*time.Second, "how long traffic runs once every connection is open")
	fs.IntVar(&cfg.Window, "window", 4, "messages in flight per active connection")
	fs.IntVar(&cfg.MaxSize, "max-size", 64<<10, "largest message body, bytes")
	fs.DurationVar(&cfg.Pause, "pause", 0, "pause between two messages of one active connection")
	fs.IntVar(&cfg.Dialers, "dialers", 32, "dials at once")
	fs.IntVar(&cfg.Retries, "retries", 3, "extra attempts for a failed dial")
	fs.DurationVar(&cfg.Wait, "wait", 30*time.Second, "at the end, how long to wait for the last echoes, and for closes")
	fs.BoolVar(&cfg.ShutdownIdle, "shutdown-idle", false, "no traffic on the connections closed by Shutdown")
	code := fs.Int("code", int(wsproto.StatusGoingAway), "the app's shutdown close code: 1001 or 1012")
	fs.StringVar(&cfg.Split, "split", "auto", "where the clients run: \"child\" process, \"inprocess\", or \"auto\" (child when the open-file limit needs it)")
	fs.DurationVar(&cfg.Ping, "ping", 5*time.Second, "the app's keepalive ping interval")
	fs.DurationVar(&cfg.PongTimeout, "pong-timeout", 0, "how long the app waits for a pong before closing with 1011 (0: the -ping value)")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "the context given to the app's Shutdown")
	fs.StringVar(&cfg.MemProfile, "memprofile", "", "write a heap profile at the end to this file")
	heapSlack := fs.Int("heap-slack", 16<<20, "how far above its start the heap may end, bytes, besides what the runtime keeps of each goroutine at the peak")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	cfg.Code = wsproto.StatusCode(*code)
	if cfg.PongTimeout == 0 {
		cfg.PongTimeout = cfg.Ping
	}
	cfg.HeapSlack = uint64(max(*heapSlack, 0))
	switch {
	case fs.NArg() != 0:
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	case cfg.Conns < 1 || cfg.Conns > 100000:
		return cfg, fmt.Errorf("-conns %d: want 1 to 100000", cfg.Conns)
	case cfg.Active < 0 || cfg.Active > 1 || cfg.Shutdown < 0 || cfg.Shutdown > 1:
		return cfg, fmt.Errorf("-active and -shutdown are shares, from 0 to 1")
	case cfg.Duration < 0 || cfg.Duration > 24*time.Hour:
		return cfg, fmt.Errorf("-d %v: want 0 to 24h", cfg.Duration)
	case cfg.Window < 1 || cfg.Window > 1024:
		return cfg, fmt.Errorf("-window %d: want 1 to 1024", cfg.Window)
	case cfg.MaxSize < 0 || cfg.MaxSize > 8<<20:
		return cfg, fmt.Errorf("-max-size %d: want 0 to 8 MiB", cfg.MaxSize)
	case cfg.Dialers < 1 || cfg.Dialers > 1024 || cfg.Retries < 0 || cfg.Retries > 10:
		return cfg, fmt.Errorf("-dialers want 1 to 1024, -retries 0 to 10")
	case cfg.Code != wsproto.StatusGoingAway && cfg.Code != wsproto.StatusServiceRestart:
		return cfg, fmt.Errorf("-code %d: want 1001 or 1012", cfg.Code)
	case cfg.Wait <= 0 || cfg.Wait > time.Hour:
		return cfg, fmt.Errorf("-wait %v: want up to 1h", cfg.Wait)
	case cfg.Ping <= 0:
		return cfg, fmt.Errorf("-ping %v: want a positive interval", cfg.Ping)
	case cfg.PongTimeout < 0:
		return cfg, fmt.Errorf("-pong-timeout %v: want a positive duration, or 0 for the -ping value", cfg.PongTimeout)
	case cfg.Split != "auto" && cfg.Split != "child" && cfg.Split != "inprocess":
		return cfg, fmt.Errorf("-split %q: want auto, child or inprocess", cfg.Split)
	case cfg.Role != "" && cfg.Role != "client":
		return cfg, fmt.Errorf("-role %q: only \"client\" exists", cfg.Role)
	case cfg.Role == "client" && cfg.URL == "":
		return cfg, errors.New("-role client needs -url")
	}
	return cfg, nil
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "soak:", err)
		}
		os.Exit(2)
	}
	// Every run is bounded: traffic, then at most a few minutes of
	// dialing, draining and closing.
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Duration+10*time.Minute)
	defer cancel()
	if cfg.Role == "client" {
		if _, err := raiseFileLimit(uint64(cfg.Conns) + 64); err != nil {
			fmt.Fprintln(os.Stderr, "soak client:", err)
			os.Exit(2)
		}
		if err := childMain(ctx, cfg.clientConfig); err != nil {
			fmt.Fprintln(os.Stderr, "soak client:", err)
			os.Exit(1)
		}
		return
	}
	cfg.Progress = os.Stderr
	rep, err := soak(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	rep.print(os.Stdout)
	if len(rep.Violations) > 0 {
		os.Exit(1)
	}
}

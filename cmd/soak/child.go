package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
)

// The client side runs in a child process when the connections would not
// fit in one process's open-file limit (each is two sockets when both
// ends are here): the parent serves the demo app and re-executes itself
// with -role client. The child tells the parent where it is with lines on
// its standard output: "held", "shutdown", and last "result" and its
// report as JSON.

// lineEvents reports events as lines on w (the child's standard output).
type lineEvents struct {
	mu sync.Mutex
	w  io.Writer
}

func (e *lineEvents) send(line string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	fmt.Fprintln(e.w, line)
}

func (e *lineEvents) held()         { e.send("held") }
func (e *lineEvents) wantShutdown() { e.send("shutdown") }

// chanEvents reports events on a channel (clients in this process).
type chanEvents chan string

func (e chanEvents) held()         { e <- "held" }
func (e chanEvents) wantShutdown() { e <- "shutdown" }

// childMain is the client role: run the clients and print the report.
func childMain(ctx context.Context, cfg clientConfig) error {
	ev := &lineEvents{w: os.Stdout}
	cfg.Progress = os.Stderr
	res, err := runClients(ctx, cfg, ev)
	if err != nil {
		return err
	}
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	ev.send("result " + string(b))
	return nil
}

// startChild runs the client side in a child process. Its events arrive
// on ev; its report, or the error that ended it, on the returned channel.
func startChild(ctx context.Context, cfg clientConfig, ev chan<- string) (<-chan clientOutcome, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self,
		"-role=client",
		"-url="+cfg.URL,
		fmt.Sprintf("-conns=%d", cfg.Conns),
		fmt.Sprintf("-active=%g", cfg.Active),
		fmt.Sprintf("-shutdown=%g", cfg.Shutdown),
		fmt.Sprintf("-d=%s", cfg.Duration),
		fmt.Sprintf("-window=%d", cfg.Window),
		fmt.Sprintf("-max-size=%d", cfg.MaxSize),
		fmt.Sprintf("-pause=%s", cfg.Pause),
		fmt.Sprintf("-dialers=%d", cfg.Dialers),
		fmt.Sprintf("-retries=%d", cfg.Retries),
		fmt.Sprintf("-code=%d", cfg.Code),
		fmt.Sprintf("-wait=%s", cfg.Wait),
		fmt.Sprintf("-shutdown-idle=%t", cfg.ShutdownIdle),
	)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the client process: %w", err)
	}
	done := make(chan clientOutcome, 1)
	go func() {
		var res *clientResult
		var perr error
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			line := sc.Text()
			if rest, ok := strings.CutPrefix(line, "result "); ok {
				res = new(clientResult)
				if err := json.Unmarshal([]byte(rest), res); err != nil {
					perr = fmt.Errorf("the client process's report does not decode: %w", err)
				}
				continue
			}
			select {
			case ev <- line:
			case <-ctx.Done():
			}
		}
		err := cmd.Wait()
		switch {
		case err != nil:
			err = fmt.Errorf("the client process failed: %w", err)
		case perr != nil:
			err = perr
		case res == nil:
			err = fmt.Errorf("the client process ended without a report")
		}
		done <- clientOutcome{res, err}
	}()
	return done, nil
}

type clientOutcome struct {
	res *clientResult
	err error
}

// Command wscat is a WebSocket client for the terminal and for scripts, in
// the spirit of npm's wscat, with no dependencies:
//
//	wscat -c ws://127.0.0.1:8000/ws
//
// It sends each line of standard input as a text message and prints each
// message received after "< ". When the connection closes it prints
//
//	Disconnected (code: 1008, reason: "Closing the connection...")
//
// exactly as npm wscat does: the reason between the quotes is printed as
// it came, not escaped. Unlike npm wscat it needs no terminal. When
// standard input ends it closes the connection (with -close-code and
// -close-reason) and waits for the server's answer.
//
// Exit status:
//
//	0   the close handshake completed: the server sent a close frame, with
//	    any code (the code it chose is on the Disconnected line), or wscat
//	    sent one (end of input, -x, /close, CTRL+C) and the server answered
//	1   it did not: the connection ended without a close frame (1006), the
//	    server did not answer wscat's close in time, or wscat failed the
//	    connection because the server broke the protocol (1002, 1007,
//	    1009...; the cause is printed on standard error)
//	2   the opening handshake was refused or could not be made
//	64  usage error
//
// These are the statuses of the program itself: build it (go build
// ./cmd/wscat) to script against them. Under go run, the go command
// reports any failure as 1, after a line "exit status N" on standard
// error, and has no way to pass the status through (golang/go#13440).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"wsraise/wsproto"
)

type headerFlags []string

func (h *headerFlags) String() string     { return strings.Join(*h, ", ") }
func (h *headerFlags) Set(v string) error { *h = append(*h, v); return nil }

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wscat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var headers, protocols, execute headerFlags
	url := fs.String("c", "", "connect to this ws:// or wss:// URL")
	fs.Var(&headers, "H", `add a request header, "Name: value" (repeatable)`)
	fs.Var(&protocols, "s", "offer this subprotocol (repeatable)")
	origin := fs.String("o", "", "send this Origin header")
	fs.Var(&execute, "x", "send this message instead of reading standard input (repeatable)")
	wait := fs.Duration("w", time.Second, "with -x or at the end of input: how long to wait for messages before closing")
	closeCode := fs.Int("close-code", int(wsproto.StatusNormalClosure), "close code to send when input ends")
	closeReason := fs.String("close-reason", "", "close reason to send when input ends")
	slash := fs.Bool("slash", false, "enable /close [code] [reason] and /ping [data] on standard input")
	showPing := fs.Bool("P", false, "print a line for each pong received")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageHead)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), usageExit)
	}
	if err := fs.Parse(args); err != nil {
		return 64
	}
	if *url == "" {
		fmt.Fprintln(stderr, "wscat: -c URL is required")
		fs.Usage()
		return 64
	}

	h := http.Header{}
	for _, line := range headers {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			fmt.Fprintf(stderr, "wscat: header %q is not Name: value\n", line)
			return 64
		}
		h.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	if *origin != "" {
		h.Set("Origin", *origin)
	}
	var out sync.Mutex
	println := func(s string) {
		out.Lock()
		fmt.Fprintln(stdout, s)
		out.Unlock()
	}
	opts := &wsproto.DialOptions{Header: h, Subprotocols: protocols}
	if *showPing {
		opts.OnPong = func(p []byte) { println("< Received pong" + dataSuffix(p)) }
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	c, _, err := wsproto.Dial(ctx, *url, opts)
	if err != nil {
		var he *wsproto.HandshakeError
		if errors.As(err, &he) {
			fmt.Fprintf(stderr, "error: Unexpected server response: %d\n", he.Status)
			if body := strings.TrimSpace(he.Body); body != "" {
				fmt.Fprintln(stderr, body)
			}
		} else {
			fmt.Fprintf(stderr, "error: %v\n", err)
		}
		return 2
	}
	println("Connected (press CTRL+C to quit)")

	// The reader prints messages until the connection ends.
	ended := make(chan *wsproto.CloseError, 1)
	go func() {
		for {
			_, msg, err := c.Read(context.Background())
			if err != nil {
				var ce *wsproto.CloseError
				if !errors.As(err, &ce) {
					ce = &wsproto.CloseError{Code: wsproto.StatusAbnormalClosure, Err: err}
				}
				ended <- ce
				return
			}
			println("< " + string(msg))
		}
	}()

	// closed receives the result of wscat's own close, the first one: nil
	// when the server answered it in time.
	closed := make(chan error, 1)
	var closing atomic.Bool
	closeWith := func(code int, reason string) {
		first := closing.CompareAndSwap(false, true)
		err := c.Close(wsproto.StatusCode(code), reason)
		if first {
			closed <- err
		}
		if err != nil && !errors.Is(err, wsproto.ErrClosed) {
			fmt.Fprintf(stderr, "error: %v\n", err)
			c.CloseNow()
		}
	}
	input := make(chan struct{})
	go func() {
		defer close(input)
		if len(execute) > 0 {
			for _, m := range execute {
				if err := c.Write(context.Background(), wsproto.MessageText, []byte(m)); err != nil {
					return
				}
			}
			return
		}
		sc := bufio.NewScanner(stdin)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			line := sc.Text()
			if *slash && strings.HasPrefix(line, "/") {
				if done := command(c, line, closeWith, stderr); done {
					return
				}
				continue
			}
			if err := c.Write(context.Background(), wsproto.MessageText, []byte(line)); err != nil {
				return
			}
		}
	}()

	var end *wsproto.CloseError
	select {
	case end = <-ended:
	case <-input:
		select {
		case end = <-ended:
		case <-time.After(*wait):
			closeWith(*closeCode, *closeReason)
			end = <-ended
		}
	case <-ctx.Done():
		closeWith(int(wsproto.StatusNormalClosure), "")
		end = <-ended
	}
	// npm wscat prints the reason as it came: `reason: "${reason}"`.
	println(fmt.Sprintf(`Disconnected (code: %d, reason: "%s")`, end.Code, end.Reason))
	switch {
	case end.Received:
		// The server closed, with a code of its choosing.
		return 0
	case end.Code == wsproto.StatusAbnormalClosure:
		return 1
	}
	// wscat sent the close frame: the user's close, answered in time or
	// not, or a failure of the server's that wscat detected.
	selfClosed := closing.Load()
	if selfClosed {
		err := <-closed
		if err == nil {
			return 0
		}
		// ErrClosed: the connection had failed before the close went out.
		selfClosed = !errors.Is(err, wsproto.ErrClosed)
	}
	if !selfClosed {
		fmt.Fprintf(stderr, "error: wscat failed the connection: %v\n", end)
	}
	return 1
}

const usageHead = `usage: wscat -c URL [options]

Sends each line of standard input (or each -x message) as a text message,
prints each message received after "< ", and when the connection closes
prints Disconnected (code: N, reason: "...") as npm wscat does.

`

const usageExit = `
Exit status:
  0   the close handshake completed: the server sent a close frame (any
      code: it is on the Disconnected line), or wscat sent one (end of
      input, -x, /close, CTRL+C) and the server answered it
  1   it did not: no close frame (1006), no answer to wscat's close in
      time, or wscat failed the connection because the server broke the
      protocol (1002, 1007, 1009...; the cause goes to standard error)
  2   the opening handshake was refused or could not be made
  64  usage error
Under go run, the go command exits 1 instead, after "exit status N";
build wscat (go build ./cmd/wscat) to get these codes.
`

// command runs a slash command. It reports whether input should stop.
func command(c *wsproto.Conn, line string, closeWith func(int, string), stderr io.Writer) bool {
	fields := strings.SplitN(line, " ", 3)
	switch fields[0] {
	case "/close":
		code, reason := int(wsproto.StatusNormalClosure), ""
		if len(fields) > 1 {
			n, err := strconv.Atoi(fields[1])
			if err != nil {
				fmt.Fprintf(stderr, "error: close code %q is not a number\n", fields[1])
				return false
			}
			code = n
		}
		if len(fields) > 2 {
			reason = fields[2]
		}
		closeWith(code, reason)
		return true
	case "/ping":
		data := strings.TrimSpace(strings.TrimPrefix(line, "/ping"))
		if err := c.Ping(context.Background(), []byte(data)); err != nil {
			fmt.Fprintf(stderr, "error: %v\n", err)
		}
	default:
		fmt.Fprintf(stderr, "error: unknown command %s (try /close [code] [reason] or /ping [data])\n", fields[0])
	}
	return false
}

func dataSuffix(p []byte) string {
	if len(p) == 0 {
		return ""
	}
	return " (data: " + strconv.Quote(string(p)) + ")"
}

// Command memattack checks the framework's default limits against the
// memory attacks of docs/RELIABILITY.md, at full scale: one process serves
// an app with the default Options (and permessage-deflate on), another
// attacks it, and the server's peak memory is read from its cgroup.
//
//	go build -o /tmp/memattack ./cmd/memattack
//	/tmp/memattack serve -addr 127.0.0.1:9500 &   # run it inside a memory cgroup
//	/tmp/memattack attack -addr 127.0.0.1:9500 -idle 7000 -conns 2900
//
// The attack opens -idle plus -conns connections with permessage-deflate
// and context takeover, so that the server keeps each one's 32 KiB window
// between messages. Each sends one whole compressed message and reads the
// answer; the -idle ones then stay idle, the -conns ones send the first
// part of a compressed message that inflates to 3 MiB and stall. Then
// -half connections send half a handshake and stall; then it checks that a
// normal client is still served. Every connection is held until the end.
package main

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"wsraise/internal/rawpeer"
	"wsraise/server"
	"wsraise/wsproto"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: memattack serve|attack [flags]")
		os.Exit(64)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:9500", "address")
	idle := fs.Int("idle", 8000, "attack: connections that send one compressed message, then stay idle")
	conns := fs.Int("conns", 1000, "attack: connections that stall inside a compressed message")
	half := fs.Int("half", 1000, "attack: connections that stall inside their handshake")
	inflated := fs.Int("inflated", 3<<20, "attack: what each stalled message inflates to, in bytes")
	fs.Parse(os.Args[2:])
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(*addr)
	case "attack":
		_, err = attack(*addr, *idle, *conns, *half, *inflated)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "memattack:", err)
		os.Exit(1)
	}
}

// newApp is the app under attack: the default Options, compression on,
// and a handler that answers each message with its length.
func newApp(logger *slog.Logger) *server.App {
	app := server.New(server.Options{Logger: logger, Compression: &wsproto.CompressionOptions{}})
	app.Handle("/ws", func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		ctx := ws.Context()
		for {
			_, p, err := ws.Receive(ctx)
			if err != nil {
				return err
			}
			if err := ws.SendText(ctx, strconv.Itoa(len(p))); err != nil {
				return err
			}
		}
	})
	return app
}

func serve(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	app := newApp(slog.New(slog.NewTextHandler(io.Discard, nil)))
	fmt.Println("listening", ln.Addr())
	return app.Server(nil).Serve(ln)
}

// handshake opens a connection and sends a handshake offering
// permessage-deflate; with whole false it stops halfway.
func handshake(addr string, whole bool) (net.Conn, *bufio.Reader, error) {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, nil, err
	}
	req := rawpeer.Request(addr, "/ws", rawpeer.NewKey(), "Sec-WebSocket-Extensions: permessage-deflate\r\n")
	if !whole {
		req = req[:len(req)/2]
	}
	if _, err := io.WriteString(nc, req); err != nil {
		nc.Close()
		return nil, nil, err
	}
	br := bufio.NewReader(nc)
	if !whole {
		return nc, br, nil
	}
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		nc.Close()
		return nil, nil, fmt.Errorf("handshake: %s", resp.Status)
	}
	return nc, br, nil
}

// outcome counts how the server answered the stalled messages.
type outcome struct{ refused, failed int }

func attack(addr string, idle, conns, half, inflated int) (out outcome, err error) {
	// With context takeover the second message's stream continues the
	// first's: one flate writer makes both (RFC 7692 section 7.2.3.2).
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	fw.Write([]byte("hello, window"))
	fw.Flush()
	hello := rawpeer.Frame{Fin: true, RSV: rawpeer.RSV1, Op: rawpeer.OpBinary,
		Payload: bytes.TrimSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff})}.Mask().Encode()
	buf.Reset()
	fw.Write(make([]byte, inflated))
	fw.Flush()
	// RSV1: compressed (RFC 7692 section 6); FIN clear: more to come.
	part := rawpeer.Frame{RSV: rawpeer.RSV1, Op: rawpeer.OpBinary, Payload: buf.Bytes()}.Mask().Encode()
	ping := rawpeer.Ping([]byte("sync")).Mask().Encode()
	var held []net.Conn
	defer func() {
		for _, nc := range held {
			nc.Close()
		}
	}()
	start := time.Now()
	var failed, refused int
	defer func() { out = outcome{refused, failed} }()
	for i := range idle + conns {
		nc, br, err := handshake(addr, true)
		if err != nil {
			failed++
			if failed == 1 {
				fmt.Println("first failed handshake:", err)
			}
			continue
		}
		held = append(held, nc)
		nc.Write(hello)
		nc.SetReadDeadline(time.Now().Add(30 * time.Second))
		if f, err := rawpeer.ReadFrame(br); err != nil || f.Op != rawpeer.OpText { // "13"
			failed++
			continue
		}
		if i < idle {
			continue // idle from now on, its window kept by the server
		}
		if _, err := nc.Write(part); err != nil {
			failed++
			continue
		}
		// A ping after the part: its pong says the server read it; a
		// close frame says it refused the message (1013).
		nc.Write(ping)
		nc.SetReadDeadline(time.Now().Add(30 * time.Second))
		f, err := rawpeer.ReadFrame(br)
		if err != nil {
			failed++
			continue
		}
		if f.Op == rawpeer.OpClose {
			refused++
		}
		if (i+1)%1000 == 0 {
			fmt.Printf("%d connections, %d refused with a close, %d failed, %v\n", i+1, refused, failed, time.Since(start).Round(time.Second))
		}
	}
	for range half {
		nc, _, err := handshake(addr, false)
		if err != nil {
			failed++
			continue
		}
		held = append(held, nc)
	}
	fmt.Printf("held %d connections (%d idle after a compressed message; %d stalled in one, %d of them refused; %d in a handshake); %d failed\n",
		len(held), idle, conns, refused, half, failed)
	time.Sleep(2 * time.Second)
	// A normal client, while every attacker still holds on.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _, err := wsproto.Dial(ctx, "ws://"+addr+"/ws", nil)
	if err != nil {
		return out, fmt.Errorf("normal client: %w", err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, wsproto.MessageText, []byte("hello")); err != nil {
		return out, fmt.Errorf("normal client: %w", err)
	}
	_, p, err := c.Read(ctx)
	if err != nil {
		return out, fmt.Errorf("normal client: %w", err)
	}
	if string(p) != "5" {
		return out, errors.New("normal client: got " + strconv.Quote(string(p)))
	}
	fmt.Println("normal client served:", strings.TrimSpace(string(p)))
	return out, nil
}

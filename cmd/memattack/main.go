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
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
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
		err = attack(*addr, *idle, *conns, *half, *inflated)
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

// frame is one masked client frame (RFC 6455 section 5.2), FIN clear.
func frame(first byte, payload []byte) []byte {
	b := []byte{first}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n < 1<<16:
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	var key [4]byte
	rand.Read(key[:])
	b = append(b, key[:]...)
	for i, c := range payload {
		b = append(b, c^key[i%4])
	}
	return b
}

// handshake opens a connection and sends a handshake offering
// permessage-deflate; with whole false it stops halfway.
func handshake(addr string, whole bool) (net.Conn, *bufio.Reader, error) {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, nil, err
	}
	var key [16]byte
	rand.Read(key[:])
	req := "GET /ws HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key[:]) + "\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
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

func attack(addr string, idle, conns, half, inflated int) error {
	// With context takeover the second message's stream continues the
	// first's: one flate writer makes both (RFC 7692 section 7.2.3.2).
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	fw.Write([]byte("hello, window"))
	fw.Flush()
	hello := frame(0xC2, bytes.TrimSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff})) // FIN, RSV1, binary
	buf.Reset()
	fw.Write(make([]byte, inflated))
	fw.Flush()
	part := frame(0x42, buf.Bytes()) // RSV1 (compressed), binary, FIN clear
	var held []net.Conn
	defer func() {
		for _, nc := range held {
			nc.Close()
		}
	}()
	start := time.Now()
	var failed, refused int
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
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil || h[0]&0x0f != 0x1 {
			failed++
			continue
		}
		io.CopyN(io.Discard, br, int64(h[1]&0x7f)) // "13"
		if i < idle {
			continue // idle from now on, its window kept by the server
		}
		if _, err := nc.Write(part); err != nil {
			failed++
			continue
		}
		// A ping after the part: its pong says the server read it; a
		// close frame says it refused the message (1013).
		nc.Write(frame(0x89, []byte("sync")))
		nc.SetReadDeadline(time.Now().Add(30 * time.Second))
		var hdr [2]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			failed++
			continue
		}
		if hdr[0]&0x0f == 0x8 {
			refused++
		}
		io.CopyN(io.Discard, br, int64(hdr[1]&0x7f))
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
		return fmt.Errorf("normal client: %w", err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, wsproto.MessageText, []byte("hello")); err != nil {
		return fmt.Errorf("normal client: %w", err)
	}
	_, p, err := c.Read(ctx)
	if err != nil {
		return fmt.Errorf("normal client: %w", err)
	}
	if string(p) != "5" {
		return errors.New("normal client: got " + strconv.Quote(string(p)))
	}
	fmt.Println("normal client served:", strings.TrimSpace(string(p)))
	return nil
}

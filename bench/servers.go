package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"

	coder "github.com/coder/websocket"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	gorilla "github.com/gorilla/websocket"
	"github.com/lxzan/gws"
	xnet "golang.org/x/net/websocket"

	"wsraise/server"
	"wsraise/wsproto"
)

// Each echo server is written the way its library's README or examples
// recommend, with compression off and a read limit of at least 16 MiB so
// that the 1 MiB messages pass everywhere.

const maxMessage = 16 << 20

var servers = map[string]func(net.Listener) error{
	"wsraise":                serveWsproto,
	"wsraise-server":         serveFramework,
	"wsraise-server-obvious": serveFrameworkObvious,
	"wsraise-stream":         serveWsprotoStream,
	"gorilla":                serveGorilla,
	"coder":                  serveCoder,
	"gobwas":                 serveGobwas,
	"gws":                    serveGws,
	"x-net":                  serveXNet,
	"raw-tcp":                serveRawTCP,
	"raw-msg":                serveRawMsg,
}

// libraries in report order; raw-tcp and raw-msg are ceilings, not peers.
var libraries = []string{"wsraise", "wsraise-stream", "wsraise-server", "wsraise-server-obvious", "gorilla", "coder", "gobwas", "gws", "x-net", "raw-tcp", "raw-msg"}

func isPeer(lib string) bool {
	return !strings.HasPrefix(lib, "wsraise") && !isRaw(lib)
}

func isRaw(lib string) bool { return lib == "raw-tcp" || lib == "raw-msg" }

func serveHTTP(ln net.Listener, h http.HandlerFunc) error {
	return (&http.Server{Handler: h}).Serve(ln)
}

func serveWsproto(ln net.Listener) error {
	return serveHTTP(ln, func(w http.ResponseWriter, r *http.Request) {
		c, err := wsproto.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		// As wsproto's documentation recommends for many connections (and
		// as gobwas and gws do): serve from a goroutine of our own, so
		// net/http frees what it held for the request.
		go func() {
			ctx := context.Background()
			var buf []byte // reused: no allocation per message
			for {
				typ, msg, err := c.ReadAppend(ctx, buf[:0])
				if err != nil {
					return
				}
				if err := c.Write(ctx, typ, msg); err != nil {
					return
				}
				buf = msg
			}
		}()
	})
}

// serveWsprotoStream echoes each message as it arrives, as a proxy would,
// and as coder's README echoes: Reader to Writer through a 32 KiB buffer,
// each chunk read going out as a fragment at once (cut-through, like the
// raw-tcp echo), instead of reading the whole message first.
func serveWsprotoStream(ln net.Listener) error {
	return serveHTTP(ln, func(w http.ResponseWriter, r *http.Request) {
		c, err := wsproto.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		go func() {
			ctx := context.Background()
			// 32 KiB, io.Copy's size: at 1 MiB x1 (A/B, 3 rounds of 2 s)
			// 16 KiB gave 1604 round trips/s, 32 KiB 1873, 64 KiB 1286,
			// 128 KiB 1450. Smaller pieces overlap the echo more with
			// the message's arrival; 64 KiB reads wait for whole
			// loopback segments.
			buf := make([]byte, 32<<10)
			for {
				typ, rd, err := c.Reader(ctx)
				if err != nil {
					return
				}
				wr, err := c.Writer(ctx, typ)
				if err != nil {
					return
				}
				if _, err := io.CopyBuffer(wr, rd, buf); err != nil {
					return
				}
				if err := wr.Close(); err != nil {
					return
				}
			}
		}()
	})
}

// serveFramework is the framework's echo tuned as its docs recommend for
// throughput: one buffer reused from message to message.
func serveFramework(ln net.Listener) error {
	return serveApp(ln, func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		ctx := ws.Context()
		var buf []byte // reused, as the docs recommend for throughput
		for {
			typ, msg, err := ws.ReceiveAppend(ctx, buf[:0])
			if err != nil {
				return err
			}
			if err := ws.Send(ctx, typ, msg); err != nil {
				return err
			}
			buf = msg
		}
	})
}

// serveFrameworkObvious is the framework's echo as users write it, with
// nothing tuned: receive a message, send it back. Its server CPU per round
// trip against plain wsproto's is what the framework costs the code users
// actually write.
func serveFrameworkObvious(ln net.Listener) error {
	return serveApp(ln, func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		ctx := ws.Context()
		for {
			typ, msg, err := ws.Receive(ctx)
			if err != nil {
				return err
			}
			if err := ws.Send(ctx, typ, msg); err != nil {
				return err
			}
		}
	})
}

// serveApp serves h with the framework as users run it: default options
// (the keepalive on), its log discarded.
func serveApp(ln net.Listener, h func(*server.WebSocket) error) error {
	app := server.New(server.Options{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	app.Handle("/", h)
	return (&http.Server{Handler: app}).Serve(ln)
}

func serveGorilla(ln net.Listener) error {
	upgrader := gorilla.Upgrader{}
	return serveHTTP(ln, func(w http.ResponseWriter, r *http.Request) {
		c, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.SetReadLimit(maxMessage)
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(mt, msg); err != nil {
				return
			}
		}
	})
}

func serveCoder(ln net.Listener) error {
	return serveHTTP(ln, func(w http.ResponseWriter, r *http.Request) {
		c, err := coder.Accept(w, r, &coder.AcceptOptions{CompressionMode: coder.CompressionDisabled})
		if err != nil {
			return
		}
		coderEcho(c)
	})
}

// coderEcho echoes messages on c, as coder's README does, until an error;
// then it closes c.
func coderEcho(c *coder.Conn) {
	defer c.CloseNow()
	c.SetReadLimit(maxMessage)
	ctx := context.Background()
	for {
		typ, rd, err := c.Reader(ctx)
		if err != nil {
			return
		}
		wr, err := c.Writer(ctx, typ)
		if err != nil {
			return
		}
		if _, err := io.Copy(wr, rd); err != nil {
			return
		}
		if err := wr.Close(); err != nil {
			return
		}
	}
}

func serveGobwas(ln net.Listener) error {
	return serveHTTP(ln, func(w http.ResponseWriter, r *http.Request) {
		conn, _, _, err := ws.UpgradeHTTP(r, w)
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			for {
				msg, op, err := wsutil.ReadClientData(conn)
				if err != nil {
					return
				}
				if err := wsutil.WriteServerMessage(conn, op, msg); err != nil {
					return
				}
			}
		}()
	})
}

type gwsEcho struct{ gws.BuiltinEventHandler }

func (gwsEcho) OnMessage(socket *gws.Conn, message *gws.Message) {
	defer message.Close()
	socket.WriteMessage(message.Opcode, message.Bytes())
}

func serveGws(ln net.Listener) error {
	upgrader := gws.NewUpgrader(gwsEcho{}, &gws.ServerOption{ReadMaxPayloadSize: maxMessage})
	return serveHTTP(ln, func(w http.ResponseWriter, r *http.Request) {
		socket, err := upgrader.Upgrade(w, r)
		if err != nil {
			return
		}
		go socket.ReadLoop()
	})
}

func serveXNet(ln net.Listener) error {
	s := xnet.Server{Handler: func(c *xnet.Conn) {
		c.MaxPayloadBytes = maxMessage
		for {
			var msg []byte
			if err := xnet.Message.Receive(c, &msg); err != nil {
				return
			}
			if err := xnet.Message.Send(c, msg); err != nil {
				return
			}
		}
	}}
	return serveHTTP(ln, s.ServeHTTP)
}

// serveConns serves each connection ln accepts with handle, on a
// goroutine of its own, and closes it when handle returns.
func serveConns(ln net.Listener, handle func(net.Conn)) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			handle(c)
		}()
	}
}

// serveRawTCP echoes bytes with no WebSocket at all: the ceiling.
func serveRawTCP(ln net.Listener) error {
	return serveConns(ln, func(c net.Conn) { io.Copy(c, c) })
}

// serveRawMsg is the fastest a message echo can be: each message is a
// 4-byte length and the bytes, read whole before it is written back in one
// write, as a WebSocket server that reads whole messages must. raw-tcp, a
// byte stream copied as it arrives, overlaps the echo with the sending of
// the message itself, which no store-and-forward server can.
func serveRawMsg(ln net.Listener) error {
	return serveConns(ln, func(c net.Conn) {
		br := bufio.NewReaderSize(c, 4096)
		var buf []byte
		for {
			var h [4]byte
			if _, err := io.ReadFull(br, h[:]); err != nil {
				return
			}
			n := int(binary.BigEndian.Uint32(h[:]))
			if n > maxMessage {
				return
			}
			buf = append(slices.Grow(buf[:0], 4+n), h[:]...)[:4+n]
			if _, err := io.ReadFull(br, buf[4:]); err != nil {
				return
			}
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	})
}

func serve(lib, addr string) error {
	s, ok := servers[lib]
	if !ok {
		return fmt.Errorf("unknown library %q", lib)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Println("listening", ln.Addr())
	return s(ln)
}

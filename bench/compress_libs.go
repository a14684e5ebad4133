package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"

	coder "github.com/coder/websocket"
	gorilla "github.com/gorilla/websocket"
	"github.com/lxzan/gws"

	"wsraise/wsproto"
)

// Compression modes of the comparison.
const (
	compOff        = "off"
	compNoTakeover = "no context takeover"
	compTakeover   = "context takeover"
)

// compLib is one library in the compression comparison: an echo server
// and a client, both of that library, in a given mode.
type compLib struct {
	name  string
	modes []string
	serve func(ln net.Listener, mode string) error
	// dial opens a client over nc, already connected to the server.
	dial func(nc net.Conn, addr, mode string) (compClient, error)
}

// compClient sends a text message and reads its echo.
type compClient interface {
	// echo sends msg and reports whether the echo is the same bytes.
	echo(msg []byte) (same bool, err error)
	close()
}

// compLibs are the libraries compared, in report order.
var compLibs = []compLib{
	compLibWsraise,
	{name: "gorilla", modes: []string{compOff, compNoTakeover}, serve: serveGorillaComp, dial: dialGorillaComp},
	compLibCoder,
	gwsCompLib("gws", 15, compOff, compNoTakeover, compTakeover),
}

// compWindowLibs are wsraise with smaller windows, both ways, with context
// takeover: the table by window size, beside wsraise's default of 15 bits.
var compWindowLibs = []compLib{
	wsraiseCompLib("wsraise-w12", 12, compTakeover),
	wsraiseCompLib("wsraise-w9", 9, compTakeover),
}

// compLibGwsDefault is gws with its own windows for context takeover, 12
// bits both ways, for the memory test.
var compLibGwsDefault = gwsCompLib("gws-w12", 12, compTakeover)

// findCompLib returns the library of any of the lists above called name.
func findCompLib(name string) (compLib, bool) {
	for _, l := range append(append(slices.Clip(compLibs), compWindowLibs...), compLibGwsDefault) {
		if l.name == name {
			return l, true
		}
	}
	return compLib{}, false
}

// onlyConn is a dialer that returns nc, once.
func onlyConn(nc net.Conn) func(context.Context, string, string) (net.Conn, error) {
	used := false
	return func(context.Context, string, string) (net.Conn, error) {
		if used {
			return nil, errors.New("bench: one connection per client")
		}
		used = true
		return nc, nil
	}
}

// wsraise (wsproto): CompressionOptions at its defaults (level 2, a
// 32 KiB window, a threshold of 128 bytes, under every message here), the
// same on both sides; "no context takeover" sets NoContextTakeover and
// PeerNoContextTakeover, "context takeover" is the zero value.

var compLibWsraise = wsraiseCompLib("wsraise", 0, compOff, compNoTakeover, compTakeover)

// wsraiseCompLib is wsraise with windows of bits bits both ways (0 for
// the default, 15), in the modes given.
func wsraiseCompLib(name string, bits int, modes ...string) compLib {
	return compLib{
		name:  name,
		modes: modes,
		serve: func(ln net.Listener, mode string) error {
			return serveWsprotoComp(ln, wsprotoCompression(mode, bits))
		},
		dial: func(nc net.Conn, addr, mode string) (compClient, error) {
			return dialWsprotoComp(nc, addr, wsprotoCompression(mode, bits))
		},
	}
}

// wsprotoCompression is the options of a mode, with windows of bits bits
// (WindowBits and PeerWindowBits; 0 for the default).
func wsprotoCompression(mode string, bits int) *wsproto.CompressionOptions {
	switch mode {
	case compNoTakeover:
		return &wsproto.CompressionOptions{NoContextTakeover: true, PeerNoContextTakeover: true, WindowBits: bits, PeerWindowBits: bits}
	case compTakeover:
		return &wsproto.CompressionOptions{WindowBits: bits, PeerWindowBits: bits}
	}
	return nil
}

func serveWsprotoComp(ln net.Listener, compression *wsproto.CompressionOptions) error {
	opts := &wsproto.UpgradeOptions{Compression: compression, ReadLimit: maxMessage}
	return serveHTTP(ln, func(w http.ResponseWriter, r *http.Request) {
		c, err := wsproto.Upgrade(w, r, opts)
		if err != nil {
			return
		}
		go func() {
			ctx := context.Background()
			var buf []byte
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

type wsprotoClient struct {
	c   *wsproto.Conn
	buf []byte
}

func dialWsprotoComp(nc net.Conn, addr string, compression *wsproto.CompressionOptions) (compClient, error) {
	c, _, err := wsproto.Dial(context.Background(), "ws://"+addr+"/", &wsproto.DialOptions{
		NetDial:     onlyConn(nc),
		ReadLimit:   maxMessage,
		Compression: compression,
	})
	if err != nil {
		return nil, err
	}
	return &wsprotoClient{c: c}, nil
}

func (w *wsprotoClient) echo(msg []byte) (bool, error) {
	ctx := context.Background()
	if err := w.c.Write(ctx, wsproto.MessageText, msg); err != nil {
		return false, err
	}
	typ, got, err := w.c.ReadAppend(ctx, w.buf[:0])
	if err != nil {
		return false, err
	}
	w.buf = got
	return typ == wsproto.MessageText && bytes.Equal(got, msg), nil
}

func (w *wsprotoClient) close() { w.c.CloseNow() }

// gorilla: EnableCompression negotiates permessage-deflate without
// context takeover, the only mode it implements, at its default level
// (1, flate.BestSpeed).

func serveGorillaComp(ln net.Listener, mode string) error {
	upgrader := gorilla.Upgrader{EnableCompression: mode != compOff}
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

type gorillaClient struct{ c *gorilla.Conn }

func dialGorillaComp(nc net.Conn, addr, mode string) (compClient, error) {
	d := gorilla.Dialer{NetDialContext: onlyConn(nc), EnableCompression: mode != compOff}
	c, _, err := d.Dial("ws://"+addr+"/", nil)
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(maxMessage)
	return gorillaClient{c}, nil
}

func (g gorillaClient) echo(msg []byte) (bool, error) {
	if err := g.c.WriteMessage(gorilla.TextMessage, msg); err != nil {
		return false, err
	}
	mt, got, err := g.c.ReadMessage()
	if err != nil {
		return false, err
	}
	return mt == gorilla.TextMessage && bytes.Equal(got, msg), nil
}

func (g gorillaClient) close() { g.c.NetConn().Close() }

// coder: compress/flate at flate.BestSpeed. With context takeover it keeps
// a flate.Writer per connection (its documentation says 1.2 MB) and a
// 32 KiB window for reading: compress/flate as a connection keeps it. Both
// sides compress from 128 bytes, wsraise's default threshold (coder's own
// is 512 without context takeover, which would leave most chat messages
// uncompressed).

const coderThreshold = 128

var compLibCoder = compLib{name: "coder", modes: []string{compOff, compNoTakeover, compTakeover}, serve: serveCoderComp, dial: dialCoderComp}

func coderCompression(mode string) coder.CompressionMode {
	switch mode {
	case compNoTakeover:
		return coder.CompressionNoContextTakeover
	case compTakeover:
		return coder.CompressionContextTakeover
	}
	return coder.CompressionDisabled
}

func serveCoderComp(ln net.Listener, mode string) error {
	return serveHTTP(ln, func(w http.ResponseWriter, r *http.Request) {
		c, err := coder.Accept(w, r, &coder.AcceptOptions{CompressionMode: coderCompression(mode), CompressionThreshold: coderThreshold})
		if err != nil {
			return
		}
		coderEcho(c)
	})
}

type coderClient struct{ c *coder.Conn }

func dialCoderComp(nc net.Conn, addr, mode string) (compClient, error) {
	c, _, err := coder.Dial(context.Background(), "ws://"+addr+"/", &coder.DialOptions{
		HTTPClient:           &http.Client{Transport: &http.Transport{DialContext: onlyConn(nc)}},
		CompressionMode:      coderCompression(mode),
		CompressionThreshold: coderThreshold,
	})
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(maxMessage)
	return coderClient{c}, nil
}

func (k coderClient) echo(msg []byte) (bool, error) {
	ctx := context.Background()
	if err := k.c.Write(ctx, coder.MessageText, msg); err != nil {
		return false, err
	}
	typ, got, err := k.c.Read(ctx)
	if err != nil {
		return false, err
	}
	return typ == coder.MessageText && bytes.Equal(got, msg), nil
}

func (k coderClient) close() { k.c.CloseNow() }

// gws: PermessageDeflate, with its default level (flate.BestSpeed) and
// two settings changed on both sides so that it does what the others do:
// a 32 KiB window (15 bits; its server's default is 12 with context
// takeover) and a threshold of 1 byte (its default, 512, leaves shorter
// messages uncompressed without context takeover, which would be most
// chat messages). The memory test also runs it with its own windows.

// gwsCompLib is gws with windows of bits bits both ways, in the modes
// given.
func gwsCompLib(name string, bits int, modes ...string) compLib {
	return compLib{
		name:  name,
		modes: modes,
		serve: func(ln net.Listener, mode string) error { return serveGwsComp(ln, gwsDeflate(mode, bits)) },
		dial: func(nc net.Conn, addr, mode string) (compClient, error) {
			return dialGwsComp(nc, addr, gwsDeflate(mode, bits))
		},
	}
}

func gwsDeflate(mode string, bits int) gws.PermessageDeflate {
	return gws.PermessageDeflate{
		Enabled:               mode != compOff,
		Threshold:             1,
		ServerContextTakeover: mode == compTakeover,
		ClientContextTakeover: mode == compTakeover,
		ServerMaxWindowBits:   bits,
		ClientMaxWindowBits:   bits,
	}
}

func serveGwsComp(ln net.Listener, pd gws.PermessageDeflate) error {
	upgrader := gws.NewUpgrader(gwsEcho{}, &gws.ServerOption{
		ReadMaxPayloadSize: maxMessage,
		PermessageDeflate:  pd,
	})
	return serveHTTP(ln, func(w http.ResponseWriter, r *http.Request) {
		socket, err := upgrader.Upgrade(w, r)
		if err != nil {
			return
		}
		go socket.ReadLoop()
	})
}

// gwsClient hands each message to its reading goroutine, which compares
// the echo in OnMessage and passes the verdict back.
type gwsClient struct {
	gws.BuiltinEventHandler
	socket *gws.Conn
	want   chan []byte
	got    chan error // nil: same bytes
}

var errEchoDiffers = errors.New("echo differs")

func dialGwsComp(nc net.Conn, addr string, pd gws.PermessageDeflate) (compClient, error) {
	g := &gwsClient{want: make(chan []byte, 1), got: make(chan error, 1)}
	socket, _, err := gws.NewClientFromConn(g, &gws.ClientOption{
		Addr:               "ws://" + addr + "/",
		ReadMaxPayloadSize: maxMessage,
		PermessageDeflate:  pd,
	}, nc)
	if err != nil {
		return nil, err
	}
	g.socket = socket
	go socket.ReadLoop()
	return g, nil
}

func (g *gwsClient) OnMessage(_ *gws.Conn, m *gws.Message) {
	defer m.Close()
	var err error
	select {
	case want := <-g.want:
		if m.Opcode != gws.OpcodeText || !bytes.Equal(m.Bytes(), want) {
			err = errEchoDiffers
		}
	default:
		err = errors.New("gws: a message nobody sent")
	}
	g.got <- err
}

func (g *gwsClient) OnClose(_ *gws.Conn, err error) {
	select {
	case g.got <- fmt.Errorf("gws: closed: %v", err):
	default:
	}
}

func (g *gwsClient) echo(msg []byte) (bool, error) {
	g.want <- msg
	if err := g.socket.WriteMessage(gws.OpcodeText, msg); err != nil {
		<-g.want
		return false, err
	}
	err := <-g.got
	if err == errEchoDiffers {
		return false, nil
	}
	return err == nil, err
}

func (g *gwsClient) close() { g.socket.NetConn().Close() }

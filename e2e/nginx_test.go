package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"wsraise/internal/demo"
	"wsraise/server"
	"wsraise/wsproto"
)

// Debian's nginx as a WebSocket reverse proxy in front of the demo app, as
// most deployments run it: close codes and reasons, pings both ways, large
// messages and the app's graceful shutdown must pass through it.

// nginxConf is the configuration of a proxy on 127.0.0.1:{{port}} to the
// demo on {{upstream}}, with every file it writes under {{dir}}.
const nginxConf = `{{user}}
worker_processes 1;
pid {{dir}}/nginx.pid;
error_log {{dir}}/error.log info;
events { worker_connections 256; }
http {
	access_log {{dir}}/access.log;
	client_body_temp_path {{dir}}/client_body;
	proxy_temp_path {{dir}}/proxy;
	fastcgi_temp_path {{dir}}/fastcgi;
	uwsgi_temp_path {{dir}}/uwsgi;
	scgi_temp_path {{dir}}/scgi;
	server {
		listen 127.0.0.1:{{port}};
		location / {
			proxy_pass http://{{upstream}};
			proxy_http_version 1.1;
			proxy_set_header Upgrade $http_upgrade;
			proxy_set_header Connection "upgrade";
			proxy_set_header Host $host;
			proxy_read_timeout 60s;
		}
	}
}
`

func nginxBinary() string {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if fileExists("/usr/sbin/nginx") {
		return "/usr/sbin/nginx"
	}
	return ""
}

// startNginx runs nginx in front of upstream (host:port) and returns its
// ws:// base URL. It stops when the test ends.
func startNginx(t *testing.T, upstream string) string {
	t.Helper()
	bin := nginxBinary()
	need(t, "Debian's nginx", bin != "", "apt-get install nginx")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nginx binds it next; nothing else here takes loopback ports at random

	dir := t.TempDir()
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // workers run as root too: the temp dir is ours alone
	}
	conf := strings.NewReplacer("{{user}}", user, "{{dir}}", dir, "{{port}}", fmt.Sprint(port), "{{upstream}}", upstream).Replace(nginxConf)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", confPath, "-g", "daemon off;")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting nginx: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	errorLog := func() string {
		b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		return string(b)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM) // fast shutdown
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("nginx output: %s\nerror.log:\n%s", out.String(), errorLog())
		}
	})

	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("nginx exited at start: %v\n%s\n%s", err, out.String(), errorLog())
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return "ws://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx not listening on %s after 10s\n%s", addr, errorLog())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// serveDemoBehindNginx serves the demo app, with fast keepalive pings, and
// nginx in front of it.
// It returns the app's log.
func serveDemoBehindNginx(t *testing.T) (*server.App, string, *lockedBuffer) {
	t.Helper()
	bin := nginxBinary()
	need(t, "Debian's nginx", bin != "", "apt-get install nginx")
	logs := &lockedBuffer{}
	app, h := demo.NewWithOptions(server.Options{
		Logger:       slog.New(slog.NewTextHandler(logs, nil)),
		PingInterval: 100 * time.Millisecond,
		PongTimeout:  500 * time.Millisecond,
	})
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		app.Shutdown(ctx)
		srv.Close()
	})
	return app, startNginx(t, strings.TrimPrefix(srv.URL, "http://")), logs
}

const (
	opPing = 0x9
	opPong = 0xA
)

// frameTap counts the WebSocket frames by opcode in one direction of a
// client's TCP stream, after the HTTP handshake's header block. Payloads
// are skipped, not kept.
type frameTap struct {
	mu      sync.Mutex
	http    []byte // the handshake's bytes until its blank line
	inFrame bool   // past the handshake
	hdr     []byte // the current frame header, so far
	skip    uint64 // payload bytes of the current frame still to come
	ops     [16]int
}

func (f *frameTap) feed(p []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.inFrame {
		f.http = append(f.http, p...)
		i := bytes.Index(f.http, []byte("\r\n\r\n"))
		if i < 0 {
			return
		}
		p = f.http[i+4:]
		f.http, f.inFrame = nil, true
	}
	for len(p) > 0 {
		if f.skip > 0 {
			n := min(f.skip, uint64(len(p)))
			f.skip -= n
			p = p[n:]
			continue
		}
		f.hdr = append(f.hdr, p[0])
		p = p[1:]
		if len(f.hdr) < 2 {
			continue
		}
		need := 2
		switch f.hdr[1] & 0x7F {
		case 126:
			need += 2
		case 127:
			need += 8
		}
		if f.hdr[1]&0x80 != 0 {
			need += 4 // masking key
		}
		if len(f.hdr) < need {
			continue
		}
		switch n := f.hdr[1] & 0x7F; n {
		case 126:
			f.skip = uint64(f.hdr[2])<<8 | uint64(f.hdr[3])
		case 127:
			for _, b := range f.hdr[2:10] {
				f.skip = f.skip<<8 | uint64(b)
			}
		default:
			f.skip = uint64(n)
		}
		f.ops[f.hdr[0]&0x0F]++
		f.hdr = f.hdr[:0]
	}
}

func (f *frameTap) count(op byte) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ops[op]
}

// tappedConn passes what it reads to in and what it writes to out.
type tappedConn struct {
	net.Conn
	in, out *frameTap
}

func (c *tappedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.in.feed(p[:n])
	return n, err
}

func (c *tappedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.out.feed(p[:n])
	return n, err
}

func (c *tappedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// lockedBuffer is a bytes.Buffer safe for the app's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestNginx(t *testing.T) {
	app, base, logs := serveDemoBehindNginx(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dial := func(t *testing.T, path string, opts *wsproto.DialOptions) *wsproto.Conn {
		t.Helper()
		c, _, err := wsproto.Dial(ctx, base+path, opts)
		if err != nil {
			t.Fatalf("dial %s through nginx: %v", path, err)
		}
		t.Cleanup(func() { c.CloseNow() })
		return c
	}
	// closeOf reads until the connection ends and returns how: a
	// *wsproto.CloseError, or the error that was not one.
	closeOf := func(c *wsproto.Conn) error {
		for {
			_, _, err := c.Read(ctx)
			if err != nil {
				return err
			}
		}
	}
	isClose := func(err error, code wsproto.StatusCode, reason string) bool {
		var ce *wsproto.CloseError
		return errors.As(err, &ce) && ce.Received && ce.Code == code && ce.Reason == reason
	}

	t.Run("close codes and reasons", func(t *testing.T) {
		for path, want := range map[string]string{"/ws": "Closing the connection...", "/custom": "Custom exception"} {
			if err := closeOf(dial(t, path, nil)); !isClose(err, 1008, want) {
				t.Errorf("%s: %v, want close 1008 %q from the server", path, err, want)
			}
		}
	})

	t.Run("refusal before accept", func(t *testing.T) {
		_, _, err := wsproto.Dial(ctx, base+"/reject", nil)
		var he *wsproto.HandshakeError
		if !errors.As(err, &he) || he.Status != http.StatusForbidden || he.Body != "Rejected before accept" {
			t.Errorf("/reject: %v, want 403 %q", err, "Rejected before accept")
		}
	})

	t.Run("large messages, pings, client close", func(t *testing.T) {
		pongs := make(chan string, 4)
		// The client has no hook for pings it receives: its TCP conn is
		// tapped instead, counting the app's pings in the bytes it reads
		// and the client's pongs in the bytes it writes.
		var fromApp, toApp frameTap
		c := dial(t, "/echo", &wsproto.DialOptions{
			OnPong: func(p []byte) {
				select {
				case pongs <- string(p):
				default:
				}
			},
			NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
				var d net.Dialer
				nc, err := d.DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return &tappedConn{Conn: nc, in: &fromApp, out: &toApp}, nil
			},
		})
		text := strings.Repeat("large text é€😀 ", 1<<20/20)
		bin := make([]byte, 4<<20)
		for i := range bin {
			bin[i] = byte(i*7 + i>>11)
		}
		for _, m := range []struct {
			typ wsproto.MessageType
			p   []byte
		}{{wsproto.MessageText, []byte(text)}, {wsproto.MessageBinary, bin}} {
			if err := c.Write(ctx, m.typ, m.p); err != nil {
				t.Fatalf("write %d bytes: %v", len(m.p), err)
			}
			typ, got, err := c.Read(ctx)
			if err != nil || typ != m.typ || !bytes.Equal(got, m.p) {
				t.Fatalf("echo of %d bytes (%v): got %d bytes (%v), equal %v, error %v", len(m.p), m.typ, len(got), typ, bytes.Equal(got, m.p), err)
			}
		}

		// Our ping through nginx, and the app's keepalive pings (every
		// 100ms, 500ms to answer) answered by our reads through it. The
		// app sends its next ping only once the pong to the previous one
		// has reached it (else it closes with 1011), so two more pings
		// seen by the client mean a pong went through nginx to the app;
		// then the connection is still open and echoes.
		pingsBefore := fromApp.count(opPing)
		msgs := make(chan []byte, 1)
		readErr := make(chan error, 1)
		go func() {
			for {
				_, p, err := c.Read(ctx)
				if err != nil {
					readErr <- err
					return
				}
				msgs <- p
			}
		}()
		if err := c.Ping(ctx, []byte("through nginx")); err != nil {
			t.Fatal(err)
		}
		select {
		case p := <-pongs:
			if p != "through nginx" {
				t.Errorf("pong %q, want %q", p, "through nginx")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no pong through nginx within 5s")
		}
		deadline := time.Now().Add(5 * time.Second)
		for fromApp.count(opPing) < pingsBefore+2 {
			if time.Now().After(deadline) {
				t.Fatalf("the client saw %d keepalive pings from the app in 5s, want at least 2 (it answered %d)", fromApp.count(opPing)-pingsBefore, toApp.count(opPong))
			}
			time.Sleep(10 * time.Millisecond)
		}
		if n := toApp.count(opPong); n < 1 {
			t.Fatalf("the client answered none of the app's %d pings", fromApp.count(opPing))
		}
		t.Logf("the client saw %d keepalive pings from the app and sent %d pongs", fromApp.count(opPing), toApp.count(opPong))
		if err := c.Write(ctx, wsproto.MessageText, []byte("still here")); err != nil {
			t.Fatalf("after the keepalive pings: %v", err)
		}
		select {
		case p := <-msgs:
			if string(p) != "still here" {
				t.Errorf("echo %q, want %q", p, "still here")
			}
		case err := <-readErr:
			t.Fatalf("after the keepalive pings the connection ended: %v", err)
		case <-time.After(5 * time.Second):
			t.Fatal("no echo within 5s")
		}

		// The client's close with its own code and reason: the server
		// answers through nginx within the close timeout.
		if err := c.Close(4000, "client leaving"); err != nil {
			t.Errorf("close 4000 through nginx: %v", err)
		}
		if ce := wsproto.CloseStatus(<-readErr); ce != 4000 {
			t.Errorf("the reader ended with code %d, want 4000", ce)
		}
		// And the app saw that code and reason.
		want := `closed_by=client code=4000 reason="client leaving"`
		deadline = time.Now().Add(5 * time.Second)
		for !strings.Contains(logs.String(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("the app's log has no %s:\n%s", want, logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	// Last: the app's graceful shutdown reaches the client through nginx.
	t.Run("graceful shutdown", func(t *testing.T) {
		conns := []*wsproto.Conn{dial(t, "/echo", nil), dial(t, "/echo", nil)}
		for _, c := range conns {
			// The handshake is over; make sure the handler runs.
			if err := c.Write(ctx, wsproto.MessageText, []byte("hello")); err != nil {
				t.Fatal(err)
			}
			if _, p, err := c.Read(ctx); err != nil || string(p) != "hello" {
				t.Fatalf("echo: %q, %v", p, err)
			}
		}
		ends := make(chan error, len(conns))
		for _, c := range conns {
			go func() { ends <- closeOf(c) }()
		}
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		if err := app.Shutdown(sctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		for range conns {
			select {
			case err := <-ends:
				if !isClose(err, wsproto.StatusGoingAway, "server shutting down") {
					t.Errorf("%v, want close 1001 %q from the server", err, "server shutting down")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no close within 10s of Shutdown")
			}
		}
	})
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"wsraise/internal/demo"
	"wsraise/internal/rawpeer"
	"wsraise/wsproto"
)

func serveDemo(t *testing.T) string {
	t.Helper()
	_, h := demo.New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

func TestWscat(t *testing.T) {
	base := serveDemo(t)
	cases := []struct {
		name       string
		args       []string
		stdin      string
		code       int
		wantOut    []string
		wantStderr string
	}{
		{"ws raises 1008", []string{"-c", base + "/ws"}, "", 0,
			[]string{"Connected (press CTRL+C to quit)", `Disconnected (code: 1008, reason: "Closing the connection...")`}, ""},
		{"custom exception", []string{"-c", base + "/custom"}, "", 0,
			[]string{`Disconnected (code: 1008, reason: "Custom exception")`}, ""},
		{"echo from a pipe, then a close with code and reason", []string{"-c", base + "/echo", "-close-code", "4000", "-close-reason", "done"},
			"hello\nwörld\n", 0,
			[]string{"< hello", "< wörld", `Disconnected (code: 4000, reason: "done")`}, ""},
		{"-x messages", []string{"-c", base + "/echo", "-x", "one", "-x", "two", "-w", "2s"}, "", 0,
			[]string{"< one", "< two", `Disconnected (code: 1000, reason: "")`}, ""},
		{"slash close", []string{"-c", base + "/echo", "-slash"}, "hi\n/close 3001 bye bye\n", 0,
			// "hi" may or may not come back: the server may see the
			// close before it echoes.
			[]string{`Disconnected (code: 3001, reason: "bye bye")`}, ""},
		{"refused handshake", []string{"-c", base + "/reject"}, "", 2,
			nil, "error: Unexpected server response: 403\nRejected before accept\n"},
		{"no server", []string{"-c", "ws://" + closedAddr(t) + "/"}, "", 2, nil, "error: "},
		{"usage", []string{}, "", 64, nil, "wscat: -c URL is required"},
		{"-H without a colon", []string{"-c", base + "/echo", "-H", "X-Trace"}, "", 64, nil, `wscat: header "X-Trace" is not Name: value`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(c.args, strings.NewReader(c.stdin), &out, &errOut)
			if code != c.code {
				t.Errorf("exit status %d, want %d; stdout %q stderr %q", code, c.code, out.String(), errOut.String())
			}
			lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
			for _, w := range c.wantOut {
				found := false
				for _, l := range lines {
					found = found || l == w
				}
				if !found {
					t.Errorf("stdout %q lacks the line %q", out.String(), w)
				}
			}
			if !strings.HasPrefix(errOut.String(), c.wantStderr) {
				t.Errorf("stderr %q, want it to start with %q", errOut.String(), c.wantStderr)
			}
		})
	}
}

// TestWscatAbnormal: a server that drops the connection without a close
// frame gives 1006 and exit status 1.
func TestWscatAbnormal(t *testing.T) {
	addr := rawServer(t, func(net.Conn, *bufio.Reader) {})
	var out, errOut bytes.Buffer
	code := run([]string{"-c", "ws://" + addr + "/"}, strings.NewReader(""), &out, &errOut)
	if code != 1 || !strings.Contains(out.String(), `Disconnected (code: 1006, reason: "")`) {
		t.Fatalf("exit %d, stdout %q", code, out.String())
	}
}

func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestWscatRawReason: the reason is printed as it came, quotes, backslash
// and all, as npm wscat prints it (`reason: "${reason}"`), not Go-quoted.
func TestWscatRawReason(t *testing.T) {
	reason := `say "hi" \ é`
	addr := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		c.Write(rawpeer.Close(4001, reason).Encode())
		rawpeer.ReadFrame(br)
	})
	var out, errOut bytes.Buffer
	code := run([]string{"-c", "ws://" + addr + "/"}, strings.NewReader(""), &out, &errOut)
	want := "Disconnected (code: 4001, reason: \"say \"hi\" \\ é\")\n"
	if code != 0 || !strings.HasSuffix(out.String(), want) {
		t.Fatalf("exit %d, stdout %q, want it to end with %q", code, out.String(), want)
	}
}

// TestWscatRequestOptions: -H, -s and -o reach the server, and the
// subprotocol the server picks from those -s offered is the connection's.
func TestWscatRequestOptions(t *testing.T) {
	got := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		c, err := wsproto.Upgrade(w, r, &wsproto.UpgradeOptions{Subprotocols: []string{"chat", "superchat"}})
		if err != nil {
			return
		}
		c.Write(context.Background(), wsproto.MessageText, []byte("subprotocol="+c.Subprotocol()))
		c.Close(wsproto.StatusNormalClosure, "")
	}))
	defer srv.Close()
	var out, errOut bytes.Buffer
	code := run([]string{"-c", "ws" + strings.TrimPrefix(srv.URL, "http") + "/",
		"-H", "X-Trace: abc 123", "-H", "X-Trace:second", "-H", "Authorization: Bearer t0k",
		"-s", "superchat", "-s", "chat", "-o", "https://app.example"},
		strings.NewReader(""), &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
	h := <-got
	if v := h.Values("X-Trace"); len(v) != 2 || v[0] != "abc 123" || v[1] != "second" {
		t.Errorf("X-Trace %q, want [\"abc 123\" \"second\"] (-H, repeated)", v)
	}
	if v := h.Get("Authorization"); v != "Bearer t0k" {
		t.Errorf("Authorization %q, want %q (-H)", v, "Bearer t0k")
	}
	if v := h.Get("Origin"); v != "https://app.example" {
		t.Errorf("Origin %q, want %q (-o)", v, "https://app.example")
	}
	var offered []string
	for _, v := range h.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			offered = append(offered, strings.TrimSpace(p))
		}
	}
	if strings.Join(offered, " ") != "superchat chat" {
		t.Errorf("subprotocols offered %q, want [superchat chat] in that order (-s)", offered)
	}
	// The server prefers chat: the connection speaks it.
	if !strings.Contains(out.String(), "< subprotocol=chat\n") {
		t.Errorf("stdout %q lacks %q", out.String(), "< subprotocol=chat")
	}
}

// TestWscatPong: with -P each pong is printed, here the answers to /ping;
// without -P none is.
func TestWscatPong(t *testing.T) {
	base := serveDemo(t)
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"-P"}, []string{`< Received pong (data: "hello")`, "< Received pong"}},
		{nil, nil},
	} {
		var out, errOut bytes.Buffer
		args := append([]string{"-c", base + "/echo", "-slash"}, c.args...)
		code := run(args, strings.NewReader("/ping hello\n/ping\n"), &out, &errOut)
		if code != 0 {
			t.Fatalf("%q: exit %d, stdout %q, stderr %q", args, code, out.String(), errOut.String())
		}
		var pongs []string
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.Contains(l, "pong") {
				pongs = append(pongs, l)
			}
		}
		if strings.Join(pongs, "|") != strings.Join(c.want, "|") {
			t.Errorf("%q: pong lines %q, want %q", args, pongs, c.want)
		}
	}
}

// TestWscatExitStatus: 0 only when the close handshake completed; 1 when
// wscat failed the connection because the server broke the protocol (it
// sends the code on the wire and prints the cause), or when the server
// never answered wscat's close. The raw server reads what wscat sends up to
// its close frame, answers it or not, and closes the connection.
func TestWscatExitStatus(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		script   func(c net.Conn) // after the handshake
		answer   bool             // echo wscat's close frame
		linger   time.Duration    // before closing the connection
		code     int
		sentCode int // the close code wscat must send
		wantOut  string
		wantErr  string
	}{
		{"masked frame from the server", nil, func(c net.Conn) {
			c.Write(rawpeer.Frame{Fin: true, Op: rawpeer.OpText, Masked: true, Key: [4]byte{1, 2, 3, 4}, Payload: []byte("hi")}.Encode())
		}, false, 0, 1, 1002, `Disconnected (code: 1002, reason: "server frame is masked")`, "error: wscat failed the connection: "},
		{"invalid UTF-8 text", nil, func(c net.Conn) {
			c.Write(rawpeer.Text("a\xffb").Encode())
		}, false, 0, 1, 1007, `Disconnected (code: 1007, reason: "invalid UTF-8 in text message")`, "error: wscat failed the connection: "},
		{"server closes with 1002 itself", nil, func(c net.Conn) {
			c.Write(rawpeer.Close(1002, "you did it").Encode())
		}, false, 0, 0, 1002, `Disconnected (code: 1002, reason: "you did it")`, ""},
		{"server answers wscat's close", []string{"-x", "hi", "-w", "0"}, func(net.Conn) {},
			true, 0, 0, 1000, `Disconnected (code: 1000, reason: "")`, ""},
		{"server drops the connection after wscat's close", []string{"-x", "hi", "-w", "0"}, func(net.Conn) {},
			false, 0, 1, 1000, `Disconnected (code: 1000, reason: "")`, "error: websocket: the connection ended without the peer's close frame"},
		{"server never answers wscat's close", []string{"-x", "hi", "-w", "0"}, func(net.Conn) {},
			false, 7 * time.Second, 1, 1000, `Disconnected (code: 1000, reason: "")`, "error: websocket: the close handshake timed out"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			sent := make(chan int, 1)
			addr := rawServer(t, func(nc net.Conn, br *bufio.Reader) {
				c.script(nc)
				code := -1
				for {
					f, err := rawpeer.ReadFrame(br)
					if err != nil {
						break
					}
					if f.Op == rawpeer.OpClose {
						if len(f.Payload) >= 2 {
							code = int(binary.BigEndian.Uint16(f.Payload))
						}
						if c.answer {
							nc.Write(rawpeer.Frame{Fin: true, Op: rawpeer.OpClose, Payload: f.Payload}.Encode())
						}
						break
					}
				}
				sent <- code
				time.Sleep(c.linger)
			})
			var out, errOut bytes.Buffer
			code := run(append([]string{"-c", "ws://" + addr + "/"}, c.args...), strings.NewReader(""), &out, &errOut)
			if code != c.code || !strings.Contains(out.String(), c.wantOut+"\n") {
				t.Errorf("exit %d, stdout %q; want %d and %q", code, out.String(), c.code, c.wantOut)
			}
			if !strings.HasPrefix(errOut.String(), c.wantErr) || (c.wantErr == "") != (errOut.Len() == 0) {
				t.Errorf("stderr %q, want it to start with %q", errOut.String(), c.wantErr)
			}
			select {
			case got := <-sent:
				if got != c.sentCode {
					t.Errorf("wscat sent close code %d, want %d", got, c.sentCode)
				}
			case <-time.After(10 * time.Second):
				t.Error("wscat sent no close frame")
			}
		})
	}
}

// rawServer serves a raw server on a loopback port: it completes the
// opening handshake by hand, runs script, and closes the connection.
func rawServer(t *testing.T, script func(c net.Conn, br *bufio.Reader)) string {
	t.Helper()
	s := rawpeer.Serve(t, func(c net.Conn, br *bufio.Reader, r *http.Request, _ <-chan struct{}) {
		if br.Buffered() > 0 {
			return
		}
		io.WriteString(c, rawpeer.Response(r, ""))
		script(c, br)
	})
	return s.Addr()
}

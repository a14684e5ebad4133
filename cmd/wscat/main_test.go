package main

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"testing"

	"wsraise/internal/demo"
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		buf := make([]byte, 4096)
		n, _ := c.Read(buf)
		key := ""
		for _, l := range strings.Split(string(buf[:n]), "\r\n") {
			if v, ok := strings.CutPrefix(l, "Sec-WebSocket-Key: "); ok {
				key = v
			}
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "+acceptFor(key)+"\r\n\r\n")
		c.Close()
	}()
	var out, errOut bytes.Buffer
	code := run([]string{"-c", "ws://" + ln.Addr().String() + "/"}, strings.NewReader(""), &out, &errOut)
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

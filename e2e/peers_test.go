// Package e2e drives the demo app with WebSocket software we did not write:
// npm ws and wscat, headless Chromium through playwright-core, Debian's
// python3-websockets, and golang.org/x/net/websocket.
//
// A peer that is not installed skips its test with a message, unless
// WSRAISE_E2E=1 (as in CI), which makes every peer mandatory. To install
// them all (Debian or Ubuntu, Node.js 20 or later): `bash e2e/install.sh`.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"wsraise/internal/demo"
)

// serveDemo serves the demo app on a loopback port for the test.
func serveDemo(t *testing.T) (httpURL, wsURL string) {
	t.Helper()
	app, h := demo.New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		app.Shutdown(ctx)
		srv.Close()
	})
	return srv.URL, "ws" + strings.TrimPrefix(srv.URL, "http")
}

// need skips the test when a peer is missing, or fails it in CI.
func need(t *testing.T, what string, ok bool, install string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("WSRAISE_E2E") == "1" {
		t.Fatalf("%s is required (WSRAISE_E2E=1) but missing; install: %s", what, install)
	}
	t.Skipf("%s not installed; skipping (install: %s; WSRAISE_E2E=1 makes it mandatory)", what, install)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func needNode(t *testing.T, module string) {
	t.Helper()
	_, err := exec.LookPath("node")
	need(t, "node and npm module "+module, err == nil && fileExists(filepath.Join("node_modules", module, "package.json")), "cd e2e && npm ci")
}

// run runs a command with a time bound and returns its standard output.
func run(t *testing.T, timeout time.Duration, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\nstdout: %s\nstderr: %s", name, args, err, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.Bytes()
}

type closeResult struct {
	Path       string   `json:"path"`
	Opened     bool     `json:"opened"`
	Code       int      `json:"code"`
	Reason     string   `json:"reason"`
	Status     int      `json:"status"`
	Body       string   `json:"body"`
	Errors     []string `json:"errors"`
	Sent       int      `json:"sent"`
	Matched    int      `json:"matched"`
	Mismatches []int    `json:"mismatches"`
	CloseCode  int      `json:"close_code"`
}

func TestNodeWS(t *testing.T) {
	needNode(t, "ws")
	_, wsURL := serveDemo(t)
	var got []closeResult
	if err := json.Unmarshal(run(t, 60*time.Second, "node", "ws_client.js", wsURL), &got); err != nil {
		t.Fatal(err)
	}
	byPath := map[string]closeResult{}
	for _, r := range got {
		byPath[r.Path] = r
		if len(r.Errors) > 0 {
			t.Errorf("%s: ws reported errors %v (a protocol violation by the server?)", r.Path, r.Errors)
		}
	}
	for _, want := range []closeResult{
		{Path: "/ws", Code: 1008, Reason: "Closing the connection..."},
		{Path: "/custom", Code: 1008, Reason: "Custom exception"},
	} {
		if r := byPath[want.Path]; !r.Opened || r.Code != want.Code || r.Reason != want.Reason {
			t.Errorf("%s: opened=%v code=%d reason=%q, want %d %q", want.Path, r.Opened, r.Code, r.Reason, want.Code, want.Reason)
		}
	}
	if r := byPath["/reject"]; r.Status != 403 || r.Body != "Rejected before accept" {
		t.Errorf("/reject: status %d body %q, want 403 %q", r.Status, r.Body, "Rejected before accept")
	}
	if r := byPath["/echo"]; r.Sent == 0 || r.Matched != r.Sent || r.Code != 1000 {
		t.Errorf("/echo: %d of %d echoed intact (mismatches %v), closed %d %q", r.Matched, r.Sent, r.Mismatches, r.Code, r.Reason)
	}
}

func TestNodeWscat(t *testing.T) {
	needNode(t, "wscat")
	_, err := exec.LookPath("script")
	need(t, "script (util-linux)", err == nil, "apt-get install bsdutils")
	_, wsURL := serveDemo(t)
	wscat, _ := filepath.Abs(filepath.Join("node_modules", ".bin", "wscat"))
	for _, c := range []struct{ path, want string }{
		{"/ws", `Disconnected (code: 1008, reason: "Closing the connection...")`},
		{"/custom", `Disconnected (code: 1008, reason: "Custom exception")`},
	} {
		// npm wscat prints Connected/Disconnected only on a terminal:
		// script gives it one.
		out := run(t, 30*time.Second, "script", "-qec", wscat+" -c "+wsURL+c.path, "/dev/null")
		lines := terminalLines(out)
		for _, want := range []string{"Connected (press CTRL+C to quit)", c.want} {
			if !slices.Contains(lines, want) {
				t.Errorf("%s: npm wscat printed %q (lines %q), want the line %q", c.path, out, lines, want)
			}
		}
	}
}

// ansiEscape matches the control sequences npm wscat writes around its
// lines on a terminal: colours, cursor moves, line erasing.
var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

// terminalLines is what a terminal shows of out, line by line: escape
// sequences removed, split at carriage returns and newlines (readline
// redraws its "> " prompt and each printed line after a \r).
func terminalLines(out []byte) []string {
	return strings.FieldsFunc(ansiEscape.ReplaceAllString(string(out), ""), func(r rune) bool {
		return r == '\r' || r == '\n'
	})
}

// needChromium skips the test, or fails it in CI, unless playwright-core
// and Debian's Chromium (or $CHROMIUM) are there.
func needChromium(t *testing.T) {
	t.Helper()
	needNode(t, "playwright-core")
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	need(t, "Debian's chromium", fileExists(chromium), "apt-get install chromium")
}

// TestChromium: a plain new WebSocket(url) in Chromium sees the close code
// and reason of /ws and /custom. TestDemoPage drives the page.
func TestChromium(t *testing.T) {
	needChromium(t)
	httpURL, _ := serveDemo(t)
	var got struct {
		Plain []struct {
			URL      string `json:"url"`
			Code     int    `json:"code"`
			Reason   string `json:"reason"`
			WasClean bool   `json:"wasClean"`
		} `json:"plain"`
	}
	if err := json.Unmarshal(run(t, 90*time.Second, "node", "browser.js", httpURL), &got); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		code   int
		reason string
	}{{1008, "Closing the connection..."}, {1008, "Custom exception"}}
	if len(got.Plain) != 2 {
		t.Fatalf("got %+v", got)
	}
	for i, w := range want {
		if p := got.Plain[i]; p.Code != w.code || p.Reason != w.reason || !p.WasClean {
			t.Errorf("new WebSocket(%s): CloseEvent %+v, want code %d reason %q wasClean true", p.URL, p, w.code, w.reason)
		}
	}
}

func TestPythonWebsockets(t *testing.T) {
	const python = "/usr/bin/python3"
	ok := fileExists(python) && exec.Command(python, "-c", "import websockets").Run() == nil
	need(t, "Debian's python3-websockets", ok, "apt-get install python3-websockets")
	_, wsURL := serveDemo(t)
	var got []closeResult
	if err := json.Unmarshal(run(t, 60*time.Second, python, "py_client.py", wsURL), &got); err != nil {
		t.Fatal(err)
	}
	want := []closeResult{
		{Path: "/ws", Code: 1008, Reason: "Closing the connection..."},
		{Path: "/custom", Code: 1008, Reason: "Custom exception"},
	}
	if len(got) != 4 {
		t.Fatalf("got %+v", got)
	}
	for i, w := range want {
		if g := got[i]; g.Code != w.Code || g.Reason != w.Reason {
			t.Errorf("%s: closed %d %q, want %d %q", w.Path, g.Code, g.Reason, w.Code, w.Reason)
		}
	}
	if e := got[2]; e.Sent == 0 || e.Matched != e.Sent || e.CloseCode != 1000 {
		t.Errorf("/echo: %d of %d echoed, close code %d", e.Matched, e.Sent, e.CloseCode)
	}
	if r := got[3]; r.Status != 403 {
		t.Errorf("/reject: status %d, want 403", r.Status)
	}
}

// TestXNetWebsocket: golang.org/x/net/websocket, an independent Go
// implementation, echoes through the demo.
func TestXNetWebsocket(t *testing.T) {
	httpURL, wsURL := serveDemo(t)
	ws, err := websocket.Dial(wsURL+"/echo", "", httpURL+"/")
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ws.SetDeadline(time.Now().Add(10 * time.Second))
	for _, msg := range []string{"hello", "héllo 𝄞", strings.Repeat("z", 100<<10)} {
		if err := websocket.Message.Send(ws, msg); err != nil {
			t.Fatal(err)
		}
		var got string
		if err := websocket.Message.Receive(ws, &got); err != nil || got != msg {
			t.Fatalf("text echo: %v, %d bytes back of %d", err, len(got), len(msg))
		}
	}
	bin := bytes.Repeat([]byte{0, 1, 2, 255}, 20000)
	if err := websocket.Message.Send(ws, bin); err != nil {
		t.Fatal(err)
	}
	var back []byte
	if err := websocket.Message.Receive(ws, &back); err != nil || !bytes.Equal(back, bin) {
		t.Fatalf("binary echo: %v, %d bytes back", err, len(back))
	}
}

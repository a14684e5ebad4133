package e2e

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"wsraise/server"
	"wsraise/wsproto"
)

// h2Page is the page h2_browser.js loads. runAll opens each WebSocket in
// turn on the page's own origin, sends the echo route a few messages and
// closes it once they are back, and resolves with what every socket saw.
const h2Page = `<!doctype html>
<meta charset="utf-8">
<title>wsraise over HTTP/2</title>
<script>
const echoSent = ["hello", "κόσμε 𝄞", "x".repeat(70000)];
function open(path, send) {
  return new Promise((resolve) => {
    const r = { path, opened: false, echoes: [], errors: [] };
    const timer = setTimeout(() => { r.errors.push("timed out"); resolve(r); }, 20000);
    const ws = new WebSocket("wss://" + location.host + path);
    ws.onopen = () => {
      r.opened = true;
      for (const m of send) ws.send(m);
    };
    ws.onerror = () => r.errors.push("error event");
    ws.onmessage = (ev) => {
      r.echoes.push(ev.data);
      if (r.echoes.length === send.length) ws.close(1000, "done");
    };
    ws.onclose = (ev) => {
      clearTimeout(timer);
      Object.assign(r, { code: ev.code, reason: ev.reason, wasClean: ev.wasClean });
      resolve(r);
    };
  });
}
window.runAll = async () => [
  await open("/ws", []),
  await open("/custom", []),
  await open("/echo", echoSent),
];
</script>
`

// h2Request is what the server saw of one request.
type h2Request struct {
	path   string
	proto  int    // r.ProtoMajor
	remote string // the client's address: one per TCP connection
}

// h2CustomException is raised by /custom; its registered handler closes
// with 1008 "Custom exception", as in the server package's example.
type h2CustomException struct{}

func (*h2CustomException) Error() string { return "custom exception" }

// Chromium loads a page over HTTPS with HTTP/2 and opens three WebSockets
// from it to a server.App on the same origin: /ws raises 1008 "Closing
// the connection...", /custom raises an exception whose registered
// handler closes with 1008 "Custom exception", /echo echoes three text
// messages (one larger than HTTP/2's initial flow-control window) before
// the page closes with 1000 "done", which the handler receives. The page sees each code and reason and every
// echo; the server saw every WebSocket handshake as HTTP/2, from the TCP
// connection the page came on: Chromium used extended CONNECT (RFC 8441)
// on its HTTP/2 session and opened no HTTP/1.1 connection.
func TestChromiumOverHTTP2(t *testing.T) {
	needChromium(t)

	seen := make(chan h2Request, 16)
	echoEnd := make(chan error, 1)
	record := func(r *http.Request) {
		seen <- h2Request{path: r.URL.Path, proto: r.ProtoMajor, remote: r.RemoteAddr}
	}
	app := server.New(server.Options{})
	server.HandleException(app, func(ws *server.WebSocket, err *h2CustomException) error {
		return ws.Close(wsproto.StatusPolicyViolation, "Custom exception")
	})
	app.Handle("/ws", func(ws *server.WebSocket) error {
		record(ws.Request())
		if err := ws.Accept(); err != nil {
			return err
		}
		return server.Raise(wsproto.StatusPolicyViolation, "Closing the connection...")
	})
	app.Handle("/custom", func(ws *server.WebSocket) error {
		record(ws.Request())
		if err := ws.Accept(); err != nil {
			return err
		}
		return &h2CustomException{}
	})
	app.Handle("/echo", func(ws *server.WebSocket) error {
		record(ws.Request())
		if err := ws.Accept(); err != nil {
			return err
		}
		for {
			s, err := ws.ReceiveText(ws.Context())
			if err != nil {
				echoEnd <- err // the page's close, as a *server.Disconnect
				return err
			}
			if err := ws.SendText(ws.Context(), s); err != nil {
				return err
			}
		}
	})
	mux := http.NewServeMux()
	mux.Handle("/ws", app)
	mux.Handle("/custom", app)
	mux.Handle("/echo", app)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		record(r)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(h2Page))
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)

	start := time.Now()
	out := run(t, 90*time.Second, "node", "h2_browser.js", srv.URL)
	t.Logf("Chromium's run took %v", time.Since(start).Round(time.Millisecond))
	var got struct {
		PageStatus int `json:"pageStatus"`
		Results    []struct {
			Path     string   `json:"path"`
			Opened   bool     `json:"opened"`
			Code     int      `json:"code"`
			Reason   string   `json:"reason"`
			WasClean bool     `json:"wasClean"`
			Echoes   []string `json:"echoes"`
			Errors   []string `json:"errors"`
		} `json:"results"`
		PageErrors []string `json:"pageErrors"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("the report: %v\n%s", err, out)
	}
	if got.PageStatus != http.StatusOK || len(got.PageErrors) > 0 {
		t.Errorf("the page: status %d, script errors %v", got.PageStatus, got.PageErrors)
	}

	echoSent := []string{"hello", "κόσμε 𝄞", strings.Repeat("x", 70000)}
	want := []struct {
		path   string
		code   int
		reason string
		echoes []string
	}{
		{"/ws", 1008, "Closing the connection...", nil},
		{"/custom", 1008, "Custom exception", nil},
		// The server's reply to the page's close need not repeat its
		// reason (RFC 6455 section 5.5.1): the server's end is checked
		// below.
		{"/echo", 1000, "", echoSent},
	}
	if len(got.Results) != len(want) {
		t.Fatalf("the page reported %d WebSockets, want %d: %s", len(got.Results), len(want), out)
	}
	for i, w := range want {
		g := got.Results[i]
		if g.Path != w.path || !g.Opened || g.Code != w.code || (w.reason != "" && g.Reason != w.reason) || !g.WasClean || len(g.Errors) > 0 {
			t.Errorf("%s: opened %v, CloseEvent code %d reason %q wasClean %v, errors %v; want code %d reason %q wasClean true",
				w.path, g.Opened, g.Code, g.Reason, g.WasClean, g.Errors, w.code, w.reason)
		}
		if len(g.Echoes) != len(w.echoes) {
			t.Errorf("%s: %d echoes, want %d", w.path, len(g.Echoes), len(w.echoes))
			continue
		}
		for k := range w.echoes {
			if g.Echoes[k] != w.echoes[k] {
				t.Errorf("%s: echo %d is %d bytes, not as sent (%d bytes)", w.path, k, len(g.Echoes[k]), len(w.echoes[k]))
			}
		}
	}

	// Every handler sent its record before accepting, and so before the
	// page saw its socket open: all four are in the channel already.
	page := ""
	for n, path := range []string{"/", "/ws", "/custom", "/echo"} {
		var s h2Request
		select {
		case s = <-seen:
		case <-time.After(10 * time.Second):
			t.Fatalf("the server recorded %d of 4 requests", n)
		}
		if s.path != path {
			t.Errorf("request %d was for %s, want %s", n, s.path, path)
		}
		if s.proto != 2 {
			t.Errorf("%s came over HTTP/%d, want HTTP/2", s.path, s.proto)
		}
		if n == 0 {
			page = s.remote
		} else if s.remote != page {
			t.Errorf("%s came from %s, the page from %s: not on the page's HTTP/2 connection", s.path, s.remote, page)
		}
	}
	select {
	case err := <-echoEnd:
		var d *server.Disconnect
		if !errors.As(err, &d) || !d.ByPeer || d.Code != wsproto.StatusNormalClosure || d.Reason != "done" {
			t.Errorf("/echo ended on the server with %v, want the page's close 1000 \"done\"", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("/echo's handler did not end")
	}
	select {
	case s := <-seen:
		t.Errorf("an extra request: %s over HTTP/%d from %s", s.path, s.proto, s.remote)
	default:
	}
}

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"wsraise/wsproto"
)

// permessage-deflate (RFC 7692) with peers we did not write: npm ws as a
// client and as a server, and Chromium. Every test checks the extension
// agreed on both sides, every message byte for byte, and that the frames
// really were compressed, by counting the bytes on the wire.

// peerResult is what a JavaScript peer reports of one connection.
type peerResult struct {
	Sent       int      `json:"sent"`
	Matched    int      `json:"matched"`
	Mismatches []int    `json:"mismatches"`
	Errors     []string `json:"errors"`
	Extensions string   `json:"extensions"` // the peer's WebSocket.extensions
	Response   string   `json:"response"`   // the Sec-WebSocket-Extensions it got (ws)
	Params     any      `json:"params"`     // the parameters ws accepted
	Code       int      `json:"code"`
	WasClean   bool     `json:"wasClean"` // (Chromium)
}

func (r peerResult) check(t *testing.T, what string, n int) {
	t.Helper()
	if len(r.Errors) > 0 || r.Sent != n || r.Matched != n || len(r.Mismatches) > 0 || r.Code != 1000 {
		t.Errorf("%s: the peer had %d of %d echoes intact (differing: %v), errors %v, close code %d",
			what, r.Matched, n, r.Mismatches, r.Errors, r.Code)
	}
}

var (
	ctxTakeover = []string{"permessage-deflate"}
	noTakeover  = []string{"permessage-deflate", "server_no_context_takeover", "client_no_context_takeover"}
)

// maxWire is the largest share of the payload a set may take on the wire:
// the large set compresses well; chat messages compressed one by one
// much less (their frame headers and masks included).
func maxWire(set string, takeover bool) float64 {
	switch {
	case set == "small" && !takeover:
		return 0.9
	case set == "small":
		return 0.6
	}
	return 0.5
}

// TestNodeWSClientDeflate: npm ws, as a client with perMessageDeflate,
// against a wsraise server.
func TestNodeWSClientDeflate(t *testing.T) {
	needNode(t, "ws")
	sets := map[string][]echoMsg{"big": bigSet(), "small": smallSet()}
	s := newDeflateServer(t, map[string]*wsproto.CompressionOptions{
		"/echo":     {},
		"/echo-nct": {NoContextTakeover: true, PeerNoContextTakeover: true},
	}, sets, nil)
	wsURL := "ws" + strings.TrimPrefix(s.url, "http")
	for _, c := range []struct {
		name, path, deflate string
		want                []string
	}{
		{"context takeover", "/echo", `{"threshold":0}`, ctxTakeover},
		{"client asks for no context takeover", "/echo",
			`{"threshold":0,"clientNoContextTakeover":true,"serverNoContextTakeover":true}`, noTakeover},
		{"server asks for no context takeover", "/echo-nct", `{"threshold":0}`, noTakeover},
	} {
		for _, set := range []string{"big", "small"} {
			t.Run(c.name+"/"+set, func(t *testing.T) {
				var got peerResult
				out := run(t, 60*time.Second, "node", "ws_deflate_client.js", wsURL+c.path+"?set="+set, filepath.Join(s.dir, set), c.deflate)
				if err := json.Unmarshal(out, &got); err != nil {
					t.Fatalf("%v: %s", err, out)
				}
				rep := s.await(t, 1)[0]
				got.check(t, "ws client", len(sets[set]))
				if got.Extensions != "permessage-deflate" || got.Response != rep.response {
					t.Errorf("ws client: extensions %q, response header %q; the server wrote %q", got.Extensions, got.Response, rep.response)
				}
				if len(c.want) == 1 && strings.Contains(rep.response, "no_context_takeover") {
					t.Errorf("agreed %q, want context takeover both ways", rep.response)
				}
				checkReport(t, rep, sets[set], c.want, maxWire(set, len(c.want) == 1))
			})
		}
	}
}

// TestNodeWSServerDeflate: wsraise's Dial with compression, against an
// npm ws server with perMessageDeflate.
func TestNodeWSServerDeflate(t *testing.T) {
	needNode(t, "ws")
	sets := map[string][]echoMsg{"big": bigSet(), "small": smallSet()}
	for _, c := range []struct {
		name, deflate string
		opts          wsproto.CompressionOptions
		want          []string
	}{
		{"context takeover", `{"threshold":0}`, wsproto.CompressionOptions{}, ctxTakeover},
		{"server asks for no context takeover",
			`{"threshold":0,"serverNoContextTakeover":true,"clientNoContextTakeover":true}`, wsproto.CompressionOptions{}, noTakeover},
		{"client asks for no context takeover", `{"threshold":0}`,
			wsproto.CompressionOptions{NoContextTakeover: true, PeerNoContextTakeover: true}, noTakeover},
	} {
		t.Run(c.name, func(t *testing.T) {
			addr, conns := startNodeServer(t, c.deflate)
			for _, set := range []string{"big", "small"} {
				got := dialEcho(t, addr, &c.opts, sets[set])
				what := c.name + "/" + set
				for _, p := range c.want {
					if !hasParam(got.response, p) {
						t.Errorf("%s: ws answered %q, want %s in it", what, got.response, p)
					}
				}
				if len(c.want) == 1 && strings.Contains(got.response, "no_context_takeover") {
					t.Errorf("%s: ws answered %q, want context takeover both ways", what, got.response)
				}
				peer := readPeerReport(t, what, "the ws server", conns)
				if peer.Extensions != "permessage-deflate" || peer.Response != got.response ||
					peer.Messages != len(sets[set]) || len(peer.Errors) > 0 || peer.Code != 1000 {
					t.Errorf("%s: the ws server saw offer %q, answered %q (we read %q), extensions %q, %d messages of %d, errors %v, close %d",
						what, peer.Offer, peer.Response, got.response, peer.Extensions, peer.Messages, len(sets[set]), peer.Errors, peer.Code)
				}
				payload := payloadSize(sets[set])
				limit := int64(float64(payload) * maxWire(set, len(c.want) == 1))
				if got.wireOut >= limit || got.wireIn >= limit {
					t.Errorf("%s: %d payload bytes each way, on the wire %d out and %d in: want under %d (compressed)",
						what, payload, got.wireOut, got.wireIn, limit)
				}
				t.Logf("%s: offered %q, agreed %q; wire %d out (%.2f), %d in (%.2f)", what, peer.Offer, got.response,
					got.wireOut, float64(got.wireOut)/float64(payload), got.wireIn, float64(got.wireIn)/float64(payload))
			}
		})
	}
}

// startNodeServer starts ws_deflate_server.js and returns its address and
// the connection reports it prints.
// peerReport is what a peer's echo server prints of each connection
// once it closes.
type peerReport struct {
	Offer, Response, Extensions string
	Params                      any // the parameters the peer agreed to, where it tells them
	Messages                    int
	Errors                      []string
	Code                        int
}

// readPeerReport reads the next connection's report from a peer server
// that startPeerServer started.
func readPeerReport(t *testing.T, what, server string, conns <-chan []byte) peerReport {
	t.Helper()
	var peer peerReport
	select {
	case line := <-conns:
		if err := json.Unmarshal(line, &peer); err != nil {
			t.Fatalf("%s: %v: %s", what, err, line)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: %s reported no connection", what, server)
	}
	return peer
}

func startNodeServer(t *testing.T, deflate string) (string, <-chan []byte) {
	t.Helper()
	return startPeerServer(t, "the ws server", "node", "ws_deflate_server.js", deflate)
}

// startPeerServer runs a peer's echo server, what, as the command name
// with args, and returns its address and the connection reports it
// prints. The server prints {"port":N} once listening on 127.0.0.1, then
// a line of JSON per connection, and exits when its input ends.
func startPeerServer(t *testing.T, what, name string, args ...string) (string, <-chan []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close() // the server exits when its input ends
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		cancel()
	})
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() {
		t.Fatalf("%s printed no port: %v", what, sc.Err())
	}
	var hello struct{ Port int }
	if err := json.Unmarshal(sc.Bytes(), &hello); err != nil || hello.Port == 0 {
		t.Fatalf("%s printed %q", what, sc.Bytes())
	}
	lines := make(chan []byte, 16)
	go func() {
		for sc.Scan() {
			lines <- bytes.Clone(sc.Bytes())
		}
		io.Copy(io.Discard, stdout)
	}()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(hello.Port)), lines
}

// dialResult is what wsraise's client saw of one connection.
type dialResult struct {
	response        string // Sec-WebSocket-Extensions of the 101
	wireOut, wireIn int64  // after the handshake
	in, out         []byte // every byte read and written, handshake included
}

// dialEcho dials addr with compression, sends each message of set and
// checks its echo, then closes normally.
func dialEcho(t *testing.T, addr string, opts *wsproto.CompressionOptions, set []echoMsg) dialResult {
	t.Helper()
	var cc *countingConn
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, resp, err := wsproto.Dial(ctx, "ws://"+addr+"/", &wsproto.DialOptions{
		Compression: opts,
		ReadLimit:   64 << 20,
		NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			cc = &countingConn{Conn: nc, keep: true}
			return cc, nil
		},
	})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.CloseNow()
	res := dialResult{response: strings.Join(resp.Header.Values("Sec-WebSocket-Extensions"), ", ")}
	// The same parameters; Extensions() writes them in its own order.
	if !sameParams(c.Extensions(), res.response) {
		t.Errorf("Conn.Extensions() = %q, but the server answered %q", c.Extensions(), res.response)
	}
	out0, in0 := cc.written.Load(), cc.read.Load()
	for _, m := range set {
		typ := wsproto.MessageText
		if m.binary {
			typ = wsproto.MessageBinary
		}
		if err := c.Write(ctx, typ, m.data); err != nil {
			t.Fatalf("%s: write: %v", m.name, err)
		}
		gotTyp, got, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("%s: read: %v", m.name, err)
		}
		if gotTyp != typ || !bytes.Equal(got, m.data) {
			t.Fatalf("%s: echo of %d bytes (type %v), sent %d (type %v)", m.name, len(got), gotTyp, len(m.data), typ)
		}
	}
	res.wireOut, res.wireIn = cc.written.Load()-out0, cc.read.Load()-in0
	if err := c.Close(wsproto.StatusNormalClosure, ""); err != nil {
		t.Errorf("close: %v", err)
	}
	res.in, res.out = cc.kept()
	return res
}

// pageSets returns the message sets a page fetches (big, small and all
// of them), and the index of their files.
func pageSets() (map[string][]echoMsg, []string) {
	big, small := bigSet(), smallSet()
	var index []string
	for _, m := range big {
		index = append(index, "big/"+m.name)
	}
	for _, m := range small {
		index = append(index, "small/"+m.name)
	}
	all := append(append([]echoMsg{}, big...), small...)
	return map[string][]echoMsg{"big": big, "small": small, "all": all}, index
}

// TestChromiumDeflate: headless Chromium offers permessage-deflate; a
// wsraise server agrees, with context takeover and without, and large
// compressible messages go both ways.
func TestChromiumDeflate(t *testing.T) {
	needChromium(t)
	sets, index := pageSets()
	all := sets["all"]
	s := newDeflateServer(t, map[string]*wsproto.CompressionOptions{
		"/echo":     {},
		"/echo-nct": {NoContextTakeover: true, PeerNoContextTakeover: true},
	}, sets, index)
	paths := []string{"/echo?set=all", "/echo-nct?set=all"}
	var got map[string]peerResult
	out := run(t, 120*time.Second, "node", "browser_deflate.js", s.url, strings.Join(paths, ","))
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	reps := s.await(t, len(paths))
	for i, p := range paths {
		r := got[p]
		r.check(t, "Chromium, "+p, len(all))
		if !r.WasClean {
			t.Errorf("Chromium, %s: the close was not clean", p)
		}
		rep := reps[i]
		if rep.path+"?set="+rep.set != p {
			t.Fatalf("the server's reports came in another order: %s for %s", rep.path, p)
		}
		if r.Extensions != rep.response || !strings.HasPrefix(r.Extensions, "permessage-deflate") {
			t.Errorf("Chromium, %s: WebSocket.extensions %q, the server wrote %q", p, r.Extensions, rep.response)
		}
		want := ctxTakeover
		if strings.HasPrefix(p, "/echo-nct") {
			want = noTakeover
		}
		checkReport(t, rep, all, want, 0.5)
	}
}

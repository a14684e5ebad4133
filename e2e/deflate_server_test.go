package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"wsraise/wsproto"
)

// Helpers of the permessage-deflate interop tests: compressible messages
// written to files a peer can read, a socket that counts its bytes, and a
// wsraise echo server that checks what it receives and reports, per
// connection, the extension it agreed and the bytes on the wire.

// echoMsg is one message of a set.
type echoMsg struct {
	name   string
	binary bool
	data   []byte
}

var chatWords = strings.Fields(`the to and a of I you it is in that for on we this be have with not
are was just so but at if do can my me what your all get like will they know about up there out
deploy build test release branch merge review ticket bug fix issue server client latency error log
yes no ok thanks please sure maybe today tomorrow meeting call later lunch coffee ready done`)

// chatJSON returns n JSON chat messages from a seed, 150 to 400 bytes each.
func chatJSON(seed uint64, n int) [][]byte {
	r := rand.New(rand.NewPCG(seed, 42))
	out := make([][]byte, n)
	for i := range out {
		words := make([]string, 20+r.IntN(30))
		for j := range words {
			f := r.Float64()
			words[j] = chatWords[int(f*f*float64(len(chatWords)))]
		}
		out[i], _ = json.Marshal(map[string]any{
			"type": "message", "id": 1000 + i, "room": []string{"general", "ops", "dev"}[r.IntN(3)],
			"user": fmt.Sprintf("user%d", r.IntN(50)), "ts": 1718000000000 + int64(i)*1733,
			"text": strings.Join(words, " "),
		})
	}
	return out
}

// bigSet: a 1 MiB JSON document, 1 MiB of binary records, multi-byte
// UTF-8 text, and an empty message: large and compressible, and the
// edge of an empty compressed message.
func bigSet() []echoMsg {
	doc := []byte("[")
	for _, m := range chatJSON(1, 1<<20/250) {
		if len(doc)+len(m)+2 > 1<<20 {
			break
		}
		if len(doc) > 1 {
			doc = append(doc, ',')
		}
		doc = append(doc, m...)
	}
	doc = append(doc, ']')
	records := make([]byte, 0, 1<<20)
	for i := 0; len(records) < 1<<20; i++ {
		records = binary.LittleEndian.AppendUint32(records, uint32(i))
		records = binary.LittleEndian.AppendUint32(records, uint32(20000+i%97*3))
		records = append(records, "sensor-7"...)
	}
	utf := strings.Repeat("héllo wörld ✓ 𝄞 κόσμε ", 3000)
	return []echoMsg{
		{"000-history.json", false, doc},
		{"001-records.bin", true, records},
		{"002-utf8.txt", false, []byte(utf)},
		{"003-empty.txt", false, nil},
	}
}

// smallSet: 300 chat messages, each compressed on its own or with the
// context of the ones before.
func smallSet() []echoMsg {
	var out []echoMsg
	for i, m := range chatJSON(2, 300) {
		out = append(out, echoMsg{fmt.Sprintf("%03d-chat.json", i), false, m})
	}
	return out
}

func payloadSize(set []echoMsg) int64 {
	var n int64
	for _, m := range set {
		n += int64(len(m.data))
	}
	return n
}

// writeSets writes each set into dir/name/, one file per message.
func writeSets(t *testing.T, sets map[string][]echoMsg) string {
	t.Helper()
	dir := t.TempDir()
	for name, set := range sets {
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, m := range set {
			if err := os.WriteFile(filepath.Join(dir, name, m.name), m.data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// countingConn counts the bytes through a socket, and keeps what is
// written while capturing is on (to read back a handshake response). With
// keep set, it also keeps every byte read and written, for a test to
// decode the frames afterwards.
type countingConn struct {
	net.Conn
	read, written atomic.Int64
	keep          bool

	mu        sync.Mutex
	capturing bool
	captured  []byte
	in, out   []byte // everything read and written, with keep
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	if c.keep {
		c.mu.Lock()
		c.in = append(c.in, p[:n]...)
		c.mu.Unlock()
	}
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	c.mu.Lock()
	if c.capturing {
		c.captured = append(c.captured, p[:n]...)
	}
	if c.keep {
		c.out = append(c.out, p[:n]...)
	}
	c.mu.Unlock()
	return n, err
}

// kept returns copies of what was read and written so far, with keep.
func (c *countingConn) kept() (in, out []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.in), bytes.Clone(c.out)
}

// capture starts keeping what is written; stop returns it.
func (c *countingConn) capture() {
	c.mu.Lock()
	c.capturing, c.captured = true, nil
	c.mu.Unlock()
}

func (c *countingConn) stop() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.capturing = false
	return c.captured
}

type countingListener struct{ net.Listener }

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, keep: true}, nil
}

type connKey struct{}

// extensionsHeader reads the Sec-WebSocket-Extensions of a handshake
// response from its bytes.
func extensionsHeader(head []byte) (string, error) {
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(head)), nil)
	if err != nil {
		return "", fmt.Errorf("reading back the handshake response: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return "", fmt.Errorf("handshake response %s", resp.Status)
	}
	return strings.Join(resp.Header.Values("Sec-WebSocket-Extensions"), ", "), nil
}

// echoReport is what the wsraise server saw on one connection.
type echoReport struct {
	path, set string
	offer     string // the request's Sec-WebSocket-Extensions
	response  string // our 101's Sec-WebSocket-Extensions, as written on the wire
	agreed    string // Conn.Extensions()
	received  int
	bad       []string // messages that differed from the set's
	payload   int64    // bytes of the messages received (and echoed)
	wireIn    int64    // bytes read from the socket after the handshake
	wireOut   int64    // bytes written, the 101 response excluded
	// in and out are every byte read and written, handshake included.
	in, out []byte
	err     string
}

// deflateServer serves, for each route, a wsraise echo with those
// compression options, and the sets' files under /m/ (with /m/index.json
// listing them, for a browser). Each connection's report arrives on
// reports once it ends.
type deflateServer struct {
	url     string // http://127.0.0.1:PORT
	dir     string
	reports chan echoReport
}

func newDeflateServer(t *testing.T, routes map[string]*wsproto.CompressionOptions, sets map[string][]echoMsg, index []string) *deflateServer {
	t.Helper()
	s := &deflateServer{dir: writeSets(t, sets), reports: make(chan echoReport, 16)}
	mux := http.NewServeMux()
	for path, opts := range routes {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			s.echo(w, r, path, opts, sets)
		})
	}
	mux.HandleFunc("/m/index.json", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(index)
	})
	mux.Handle("/m/", http.StripPrefix("/m/", http.FileServer(http.Dir(s.dir))))
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!doctype html><title>deflate</title>")
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener = countingListener{srv.Listener}
	srv.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		return context.WithValue(ctx, connKey{}, c)
	}
	srv.Start()
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

func (s *deflateServer) echo(w http.ResponseWriter, r *http.Request, path string, opts *wsproto.CompressionOptions, sets map[string][]echoMsg) {
	rep := echoReport{path: path, set: r.URL.Query().Get("set"),
		offer: strings.Join(r.Header.Values("Sec-WebSocket-Extensions"), ", ")}
	defer func() { s.reports <- rep }()
	want, ok := sets[rep.set]
	if !ok {
		rep.err = fmt.Sprintf("no message set %q", rep.set)
		http.Error(w, rep.err, http.StatusBadRequest)
		return
	}
	cc := r.Context().Value(connKey{}).(*countingConn)
	cc.capture()
	c, err := wsproto.Upgrade(w, r, &wsproto.UpgradeOptions{Compression: opts, ReadLimit: 64 << 20})
	head := cc.stop()
	if err != nil {
		rep.err = err.Error()
		return
	}
	in0, out0 := cc.read.Load(), cc.written.Load()
	rep.agreed = c.Extensions()
	if rep.response, err = extensionsHeader(head); err != nil {
		rep.err = err.Error()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		typ, msg, err := c.Read(ctx)
		if err != nil {
			if wsproto.CloseStatus(err) != wsproto.StatusNormalClosure && rep.err == "" {
				rep.err = err.Error()
			}
			break
		}
		if i := rep.received; i >= len(want) {
			rep.bad = append(rep.bad, fmt.Sprintf("message %d: more than the %d of the set", i, len(want)))
		} else if (typ == wsproto.MessageBinary) != want[i].binary || !bytes.Equal(msg, want[i].data) {
			rep.bad = append(rep.bad, fmt.Sprintf("%s: %d bytes (binary %v), want %d (binary %v)",
				want[i].name, len(msg), typ == wsproto.MessageBinary, len(want[i].data), want[i].binary))
		}
		rep.received++
		rep.payload += int64(len(msg))
		if err := c.Write(ctx, typ, msg); err != nil {
			rep.err = err.Error()
			break
		}
	}
	rep.wireIn, rep.wireOut = cc.read.Load()-in0, cc.written.Load()-out0
	rep.in, rep.out = cc.kept()
}

// await returns the next n reports.
func (s *deflateServer) await(t *testing.T, n int) []echoReport {
	t.Helper()
	var out []echoReport
	for range n {
		select {
		case r := <-s.reports:
			out = append(out, r)
		case <-time.After(30 * time.Second):
			t.Fatalf("the server reported %d connections of %d", len(out), n)
		}
	}
	return out
}

// checkReport checks a connection of the server: every message of the set
// arrived intact, the extension agreed is the one written on the wire and
// holds want, and both directions were compressed to under maxRatio of
// the payload.
func checkReport(t *testing.T, r echoReport, set []echoMsg, want []string, maxRatio float64) {
	t.Helper()
	what := r.path + "?set=" + r.set
	if r.err != "" {
		t.Errorf("%s: server: %s", what, r.err)
	}
	if r.received != len(set) || len(r.bad) > 0 {
		t.Errorf("%s: server received %d messages of %d; differing: %v", what, r.received, len(set), r.bad)
	}
	if r.agreed != r.response {
		t.Errorf("%s: Conn.Extensions() = %q, but the 101 response said %q", what, r.agreed, r.response)
	}
	for _, p := range want {
		if !hasParam(r.response, p) {
			t.Errorf("%s: agreed %q, want %s in it", what, r.response, p)
		}
	}
	limit := int64(float64(payloadSize(set)) * maxRatio)
	if r.wireIn >= limit || r.wireOut >= limit {
		t.Errorf("%s: %d payload bytes each way, on the wire %d in and %d out: want under %d (compressed)",
			what, payloadSize(set), r.wireIn, r.wireOut, limit)
	}
	t.Logf("%s: agreed %q; %d messages, %d payload bytes each way; wire %d in (%.2f), %d out (%.2f)",
		what, r.response, r.received, r.payload, r.wireIn, float64(r.wireIn)/float64(r.payload),
		r.wireOut, float64(r.wireOut)/float64(r.payload))
}

// hasParam reports whether an extension value holds an element: the
// extension's name or one of its parameters.
func hasParam(ext, p string) bool {
	for _, f := range strings.FieldsFunc(ext, func(r rune) bool { return r == ';' || r == ',' }) {
		if strings.TrimSpace(f) == p {
			return true
		}
	}
	return false
}

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"wsraise/internal/xconnect"
	"wsraise/wsproto"
)

// TestMain runs the tests again in a process whose environment has
// GODEBUG=http2xconnect=1: net/http's HTTP/2 server accepts extended
// CONNECT (RFC 8441) only then, and reads the setting once, when it
// starts, so it cannot be set from a test.
func TestMain(m *testing.M) { xconnect.Main(m) }

// h2Streams is how many WebSockets h2_client.js opens on its one session.
const h2Streams = 100

// h2Messages are the messages h2_client.js sends on stream i; it builds
// the same ones.
func h2Messages(i int) [][]byte {
	big := make([]byte, 70000+i)
	for k := range big {
		big[k] = byte('a' + (k*7+i)%26)
	}
	return [][]byte{
		[]byte(fmt.Sprintf("hello from stream %d", i)),
		big,
		[]byte(strings.Repeat("κόσμε 𝄞 ", 20) + strconv.Itoa(i)),
	}
}

// h2Seen is what the server saw of one WebSocket.
type h2Seen struct {
	stream   int
	proto    int    // r.ProtoMajor
	remote   string // the client's address: one per TCP connection
	messages int    // messages that came as the client sent them
	bad      []string
	closed   *wsproto.CloseError // how reading ended
}

// h2Echo upgrades, echoes every message until the client closes, checks
// each one against h2Messages, and reports what it saw once the
// connection is over. Over HTTP/2 the handler keeps the stream until
// then: returning ends it.
func h2Echo(seen chan<- h2Seen) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := h2Seen{stream: -1, proto: r.ProtoMajor, remote: r.RemoteAddr}
		s.stream, _ = strconv.Atoi(r.URL.Query().Get("stream"))
		c, err := wsproto.Upgrade(w, r, nil)
		if err != nil {
			s.bad = append(s.bad, "upgrade: "+err.Error())
			seen <- s
			return
		}
		want := h2Messages(s.stream)
		ctx := context.Background()
		var buf []byte
		for {
			typ, p, err := c.ReadAppend(ctx, buf[:0])
			if err != nil {
				if !errors.As(err, &s.closed) {
					s.bad = append(s.bad, "read: "+err.Error())
				}
				break
			}
			buf = p
			switch k := s.messages + len(s.bad); {
			case k >= len(want):
				s.bad = append(s.bad, fmt.Sprintf("an extra message of %d bytes", len(p)))
			case typ != wsproto.MessageText || string(p) != string(want[k]):
				s.bad = append(s.bad, fmt.Sprintf("message %d: type %v, %d bytes, not as sent", k, typ, len(p)))
			default:
				s.messages++
			}
			if err := c.Write(ctx, typ, p); err != nil {
				s.bad = append(s.bad, "write: "+err.Error())
				break
			}
		}
		<-c.Done()
		seen <- s
	})
}

// h2Report is what h2_client.js prints.
type h2Report struct {
	Streams        int `json:"streams"`
	RemoteSettings struct {
		EnableConnectProtocol bool `json:"enableConnectProtocol"`
	} `json:"remoteSettings"`
	Results []struct {
		Index       int      `json:"index"`
		Status      int      `json:"status"`
		Echoes      []bool   `json:"echoes"`
		Pong        bool     `json:"pong"`
		CloseCode   int      `json:"closeCode"`
		CloseReason string   `json:"closeReason"`
		Ended       bool     `json:"ended"`
		RSTCode     *int     `json:"rstCode"`
		Errors      []string `json:"errors"`
	} `json:"results"`
	Errors   []string `json:"errors"`
	TimedOut bool     `json:"timedOut"`
}

// Node's own HTTP/2 client, with WebSocket frames the script encodes
// itself, opens 100 WebSockets on one HTTP/2 session (RFC 8441), over
// TLS and over h2c. The server advertises SETTINGS_ENABLE_CONNECT_PROTOCOL
// and answers each extended CONNECT with 200. On every stream a message
// larger than the flow-control windows, a fragmented UTF-8 message cut
// inside characters with a ping between its fragments, and a short one
// come back byte for byte; the ping gets its pong; the client's close
// code (4000 + the stream's index) and reason reach the server, and the
// code comes back (a reply need not repeat the reason, RFC 6455 section
// 5.5.1); the stream then ends. The server saw every request as HTTP/2,
// all from one connection, and every message as sent.
func TestNodeH2ClientManyWebSocketsOnOneSession(t *testing.T) {
	_, err := exec.LookPath("node")
	need(t, "node", err == nil, "Node.js 20 or later")

	tlsSeen := make(chan h2Seen, h2Streams)
	tlsSrv := httptest.NewUnstartedServer(h2Echo(tlsSeen))
	tlsSrv.EnableHTTP2 = true
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)

	h2cSeen := make(chan h2Seen, h2Streams)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h2c := &http.Server{Handler: h2Echo(h2cSeen), Protocols: new(http.Protocols)}
	h2c.Protocols.SetUnencryptedHTTP2(true)
	go h2c.Serve(ln)
	t.Cleanup(func() { h2c.Close() })

	for _, s := range []struct {
		name, url string
		seen      <-chan h2Seen
	}{
		{"tls", tlsSrv.URL, tlsSeen},
		{"h2c", "http://" + ln.Addr().String(), h2cSeen},
	} {
		t.Run(s.name, func(t *testing.T) {
			start := time.Now()
			out := run(t, 90*time.Second, "node", "h2_client.js", s.url, strconv.Itoa(h2Streams))
			t.Logf("node's run took %v", time.Since(start).Round(time.Millisecond))
			var rep h2Report
			if err := json.Unmarshal(out, &rep); err != nil {
				t.Fatalf("the report: %v\n%s", err, out)
			}
			checkH2Report(t, rep)
			checkH2Seen(t, s.seen)
		})
	}
}

func checkH2Report(t *testing.T, rep h2Report) {
	t.Helper()
	if rep.TimedOut || len(rep.Errors) > 0 {
		t.Errorf("the client: timed out %v, errors %v", rep.TimedOut, rep.Errors)
	}
	if !rep.RemoteSettings.EnableConnectProtocol {
		t.Error("the server's SETTINGS did not enable extended CONNECT")
	}
	if rep.Streams != h2Streams || len(rep.Results) != h2Streams {
		t.Fatalf("%d streams asked for, %d results; want %d", rep.Streams, len(rep.Results), h2Streams)
	}
	for i, r := range rep.Results {
		ok := r.Index == i && r.Status == http.StatusOK && r.Pong && r.Ended &&
			r.CloseCode == 4000+i &&
			r.RSTCode != nil && *r.RSTCode == 0 && len(r.Errors) == 0 && len(r.Echoes) == 3
		for _, e := range r.Echoes {
			ok = ok && e
		}
		if !ok {
			rst := "none"
			if r.RSTCode != nil {
				rst = strconv.Itoa(*r.RSTCode)
			}
			t.Errorf("stream %d (index %d): status %d, echoes %v, pong %v, close %d %q (want %d), ended %v, stream closed with code %s, errors %v",
				i, r.Index, r.Status, r.Echoes, r.Pong, r.CloseCode, r.CloseReason, 4000+i, r.Ended, rst, r.Errors)
		}
	}
}

// checkH2Seen takes the server's account of every stream. Each handler
// sends it before returning, and so before its stream ends, which the
// client waited for: all are in the channel already unless a stream
// failed, and the bound keeps that case from hanging.
func checkH2Seen(t *testing.T, seen <-chan h2Seen) {
	t.Helper()
	remotes := map[string]int{}
	streams := map[int]bool{}
	for n := 0; n < h2Streams; n++ {
		var s h2Seen
		select {
		case s = <-seen:
		case <-time.After(10 * time.Second):
			t.Fatalf("the server reported %d of %d WebSockets", n, h2Streams)
		}
		remotes[s.remote]++
		if streams[s.stream] {
			t.Errorf("stream %d twice", s.stream)
		}
		streams[s.stream] = true
		if s.proto != 2 {
			t.Errorf("stream %d: the server saw HTTP/%d", s.stream, s.proto)
		}
		if s.messages != 3 || len(s.bad) > 0 {
			t.Errorf("stream %d: %d of 3 messages as sent; %v", s.stream, s.messages, s.bad)
		}
		if s.closed == nil || !s.closed.Received || int(s.closed.Code) != 4000+s.stream || s.closed.Reason != fmt.Sprint("stream ", s.stream) {
			t.Errorf("stream %d: reading ended with %v, want the client's close %d", s.stream, s.closed, 4000+s.stream)
		}
	}
	if len(remotes) != 1 {
		t.Errorf("the WebSockets came from %d connections (%v), want one HTTP/2 session", len(remotes), remotes)
	}
}

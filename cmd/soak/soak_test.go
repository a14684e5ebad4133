package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"wsraise/wsproto"
)

// shortConfig is the soak's CI size: a few hundred connections for two
// seconds, keepalive pings every half second so the idle ones answer
// several.
func shortConfig(t *testing.T, args ...string) config {
	t.Helper()
	cfg, err := parseFlags(append([]string{
		"-conns=250", "-active=0.1", "-shutdown=0.1", "-d=2s", "-split=inprocess",
		"-ping=500ms", "-max-size=20000", "-wait=10s",
	}, args...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func runSoak(t *testing.T, cfg config) *report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := soak(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep.print(&out)
	t.Log("\n" + out.String())
	return rep
}

func TestSoakShort(t *testing.T) {
	for _, code := range []string{"1001", "1012"} {
		t.Run(code, func(t *testing.T) {
			rep := runSoak(t, shortConfig(t, "-code="+code))
			for _, v := range rep.Violations {
				t.Errorf("violation: %s", v)
			}
			c := rep.Clients
			if c.Conns != 250 || c.Active != 25 || c.ShutdownGroup != 25 {
				t.Errorf("%d connections, %d active, %d closed by Shutdown; want 250, 25, 25", c.Conns, c.Active, c.ShutdownGroup)
			}
			// Shutdown closes 25 connections mid-traffic: what they sent
			// after the close frame is not echoed, and may not be.
			if c.Echoed < 100 || c.Echoed+c.Unanswered != c.Sent {
				t.Errorf("%d messages sent, %d echoed, %d cut short by Shutdown: want at least 100 echoed, none lost", c.Sent, c.Echoed, c.Unanswered)
			}
			if want := "server shutting down"; c.Closes[code+` received "`+want+`"`] != 25 || c.Closes[`1000 sent "soak done"`] != 225 {
				t.Errorf("ends seen by the clients: %v", c.Closes)
			}
			if rep.ServerEndTotal != 250 {
				t.Errorf("the app logged %d connection ends, want 250", rep.ServerEndTotal)
			}
		})
	}
}

// TestSoakDetects runs the soak against echo servers that misbehave on
// the fifth message of every connection: each fault must show up as a
// violation, or the soak proves nothing.
func TestSoakDetects(t *testing.T) {
	type echo = func(typ wsproto.MessageType, p []byte)
	type fault = func(n int, typ wsproto.MessageType, p []byte, send echo)
	for _, tc := range []struct {
		name  string
		fault func() fault // a new one for each connection
		want  string
		count func(*clientResult) int64
	}{
		{"a flipped byte", stateless(func(n int, typ wsproto.MessageType, p []byte, send echo) {
			if n == 5 {
				p[len(p)-1] ^= 1
			}
			send(typ, p)
		}), "corrupt", func(c *clientResult) int64 { return c.Corrupt }},
		{"a dropped message", stateless(func(n int, typ wsproto.MessageType, p []byte, send echo) {
			if n != 5 {
				send(typ, p)
			}
		}), "lost", func(c *clientResult) int64 { return c.Lost }},
		{"a message never echoed", stateless(func(n int, typ wsproto.MessageType, p []byte, send echo) {
			if n < 5 {
				send(typ, p)
			}
		}), "lost", func(c *clientResult) int64 { return c.Lost }},
		{"two messages swapped", func() fault {
			var held []byte
			var heldType wsproto.MessageType
			return func(n int, typ wsproto.MessageType, p []byte, send echo) {
				switch n {
				case 5:
					held, heldType = p, typ
				case 6:
					send(typ, p)
					send(heldType, held)
				default:
					send(typ, p)
				}
			}
		}, "out of order", func(c *clientResult) int64 { return c.Misplaced * c.Lost }},
		{"text echoed as binary", stateless(func(n int, typ wsproto.MessageType, p []byte, send echo) {
			if n == 5 {
				typ = wsproto.MessageBinary
			}
			send(typ, p)
		}), "corrupt", func(c *clientResult) int64 { return c.Corrupt }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := faultyEcho(t, tc.fault)
			cfg := shortConfig(t, "-url="+url, "-conns=20", "-active=0.5", "-d=1s", "-wait=1s", "-max-size=100")
			rep := runSoak(t, cfg)
			if tc.count(rep.Clients) == 0 {
				t.Errorf("the fault was not counted")
			}
			if !strings.Contains(strings.Join(rep.Violations, "\n"), tc.want) {
				t.Errorf("violations %q, want one about %q", rep.Violations, tc.want)
			}
		})
	}
}

func stateless(f func(int, wsproto.MessageType, []byte, func(wsproto.MessageType, []byte))) func() func(int, wsproto.MessageType, []byte, func(wsproto.MessageType, []byte)) {
	return func() func(int, wsproto.MessageType, []byte, func(wsproto.MessageType, []byte)) { return f }
}

// faultyEcho serves an echo that passes the n-th message of each
// connection (from 1) to fault, with the function that sends it back.
// newFault gives each connection its own fault.
func faultyEcho(t *testing.T, newFault func() func(n int, typ wsproto.MessageType, p []byte, send func(wsproto.MessageType, []byte))) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsproto.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := context.Background()
		fault := newFault()
		send := func(typ wsproto.MessageType, p []byte) { c.Write(ctx, typ, p) }
		for n := 1; ; n++ {
			typ, p, err := c.Read(ctx)
			if err != nil {
				return
			}
			fault(n, typ, p, send)
		}
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

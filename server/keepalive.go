package server

import (
	"context"
	"time"

	"wsraise/wsproto"
)

// Keepalive: the server pings every PingInterval; if no pong has come
// PongTimeout after a ping, it closes with 1011 (as uvicorn and the
// websockets library do). It runs on a timer, not a goroutine; the
// goroutine that reads (see receive.go) records pongs.

func (ws *WebSocket) startKeepalive() {
	o := ws.app.opts
	if o.PingInterval <= 0 {
		return
	}
	ws.lastPong.Store(time.Now().UnixNano())
	ws.pinger = time.AfterFunc(o.PingInterval, ws.ping)
}

func (ws *WebSocket) ping() {
	o := ws.app.opts
	sent := time.Now()
	ws.mu.Lock()
	if ws.pinger == nil {
		ws.mu.Unlock()
		return // stopped while this call was starting
	}
	// The pong's deadline runs from before the ping is written: a write
	// can be stuck behind another one (a pong to a peer that floods pings
	// and reads nothing), and the deadline must fire all the same. Close
	// then ends the connection within its own timeout.
	check := time.AfterFunc(o.PongTimeout, func() {
		// While a message waits for the handler to receive it, nothing
		// reads (receive.go), so a pong could not have been seen: the
		// check is skipped rather than closing a live peer.
		if ws.lastPong.Load() < sent.UnixNano() && !ws.rcv.parked.Load() {
			ws.Close(wsproto.StatusInternalError, "keepalive ping timeout")
			return
		}
		ws.mu.Lock()
		defer ws.mu.Unlock()
		if ws.pinger != nil && ws.closed == nil {
			ws.pinger.Reset(max(o.PingInterval-o.PongTimeout, 0))
		}
	})
	ws.pongCheck = check
	ws.mu.Unlock()
	if err := ws.conn.Ping(context.Background(), nil); err != nil {
		check.Stop() // the connection is over
	}
}

func (ws *WebSocket) stopKeepalive() {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.pinger != nil {
		ws.pinger.Stop()
		ws.pinger = nil
	}
	if ws.pongCheck != nil {
		// Nothing of the connection outlives it: not even a pong's
		// deadline, which would hold the WebSocket for PongTimeout.
		ws.pongCheck.Stop()
		ws.pongCheck = nil
	}
}

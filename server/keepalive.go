package server

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"wsraise/wsproto"
)

// Keepalive: the server pings every PingInterval; if no pong has come
// PongTimeout after a ping, it closes with 1011 (as uvicorn and the
// websockets library do). It runs on one timer, not a goroutine, which
// fires for the ping and then for the pong's deadline. Pongs are seen by
// whoever reads; while a pong is due and nothing reads, readAhead
// (receive.go) reads, so that the pong is seen.
//
// While a message waits for a receive method (parked), nothing reads, and
// a pong cannot be seen: the message is given PongTimeout from when it was
// parked, and if it is still not taken, the connection closes with 1011
// and the log says that the handler did not receive.

type keepalive struct {
	mu      sync.Mutex
	timer   *time.Timer
	sent    time.Time // the ping whose pong is awaited; zero if none
	stopped bool
	// due is sent in unix nanoseconds, 0 when no pong is awaited: read
	// without mu by every receive (awaitingPong).
	due atomic.Int64
}

func (ws *WebSocket) startKeepalive() {
	o := ws.app.opts
	if o.PingInterval <= 0 {
		return
	}
	ws.ka.mu.Lock()
	defer ws.ka.mu.Unlock()
	ws.ka.timer = time.AfterFunc(o.PingInterval, ws.keepaliveTick)
}

// keepaliveTick sends a ping, or checks that its pong came.
func (ws *WebSocket) keepaliveTick() {
	o := ws.app.opts
	k := &ws.ka
	k.mu.Lock()
	if k.stopped {
		k.mu.Unlock()
		return
	}
	if k.sent.IsZero() {
		// The pong's deadline runs from before the ping is written: a
		// write can be stuck behind another one (a pong to a peer that
		// floods pings and reads nothing), and the deadline must fire all
		// the same. Close then ends the connection within its own timeout.
		k.sent = time.Now()
		k.due.Store(k.sent.UnixNano())
		k.timer.Reset(o.PongTimeout)
		k.mu.Unlock()
		ws.readOnIfNeeded() // the pong must be read
		ws.conn.Load().Ping(context.Background(), nil)
		return
	}
	if ws.lastPong.Load() >= k.sent.UnixNano() {
		k.sent = time.Time{}
		k.due.Store(0)
		k.timer.Reset(max(o.PingInterval-o.PongTimeout, 0))
		k.mu.Unlock()
		return
	}
	waited, parked := ws.parkedFor()
	if parked && waited < o.PongTimeout {
		k.timer.Reset(o.PongTimeout - waited)
		k.mu.Unlock()
		return
	}
	k.stopped = true
	k.mu.Unlock()
	// 1011 (RFC 6455 section 7.4.1), as uvicorn and websockets close a
	// peer that does not answer.
	if parked {
		ws.mu.Lock()
		ws.note = "the handler did not receive a message for " + o.PongTimeout.String() + "; nothing could read the keepalive's pong meanwhile"
		ws.mu.Unlock()
		ws.Close(wsproto.StatusInternalError, "message not received")
		return
	}
	ws.Close(wsproto.StatusInternalError, "keepalive ping timeout")
}

// awaitingPong reports whether a ping's pong has not come yet. Every
// message a receive returns asks, so it takes no lock.
func (ws *WebSocket) awaitingPong() bool {
	due := ws.ka.due.Load()
	return due != 0 && ws.lastPong.Load() < due
}

// stopKeepalive stops the timer: nothing of the connection outlives it.
func (ws *WebSocket) stopKeepalive() {
	ws.ka.mu.Lock()
	defer ws.ka.mu.Unlock()
	ws.ka.stopped = true
	ws.ka.due.Store(0)
	if ws.ka.timer != nil {
		ws.ka.timer.Stop()
	}
}

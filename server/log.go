package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"wsraise/wsproto"
)

// endInfo describes how a connection ended, for the log.
type endInfo struct {
	status   int // HTTP status, when the handshake was refused
	closedBy string
	code     wsproto.StatusCode
	reason   string
	note     string // why the server closed, when the code does not say
	err      error
}

func (ws *WebSocket) endInfo(failure error) endInfo {
	info := endInfo{err: failure}
	ws.mu.Lock()
	info.note = ws.note
	ws.mu.Unlock()
	c := ws.conn.Load()
	if c == nil {
		ws.mu.Lock()
		info.status, info.reason = ws.status, ws.refusal
		ws.mu.Unlock()
		if ws.aborted {
			info.reason = "aborted with http.ErrAbortHandler: no response"
		}
		return info
	}
	info.status = http.StatusSwitchingProtocols
	end := c.Err()
	switch {
	case end == nil:
	case end.Code == wsproto.StatusAbnormalClosure:
		info.closedBy = "none"
		info.code = end.Code
	case end.Received:
		info.closedBy = "client"
		info.code, info.reason = end.Code, end.Reason
	default:
		info.closedBy = "server"
		info.code, info.reason = end.Code, end.Reason
	}
	return info
}

// logEnd writes the one record of a connection's end: "websocket
// connection ended" once accepted, "websocket handshake refused" (with
// the status and the reason the client was given) otherwise.
func (a *App) logEnd(route *Route, r *http.Request, start time.Time, info endInfo) {
	msg := "websocket connection ended"
	attrs := []slog.Attr{
		slog.String("route", route.pattern),
		slog.String("remote", r.RemoteAddr),
	}
	if info.status != http.StatusSwitchingProtocols {
		msg = "websocket handshake refused"
		attrs = append(attrs, slog.Int("status", info.status))
		if info.reason != "" {
			attrs = append(attrs, slog.String("reason", info.reason))
		}
	} else {
		attrs = append(attrs,
			slog.String("closed_by", info.closedBy),
			slog.Int("code", int(info.code)),
			slog.String("reason", info.reason))
	}
	if info.note != "" {
		attrs = append(attrs, slog.String("note", info.note))
	}
	attrs = append(attrs, slog.Duration("duration", time.Since(start)))
	level := slog.LevelInfo
	if info.note != "" {
		level = slog.LevelWarn
	}
	if info.err != nil {
		level = slog.LevelError
		attrs = append(attrs, slog.String("error", info.err.Error()))
		var pe *PanicError
		if errors.As(info.err, &pe) {
			attrs = append(attrs, slog.String("stack", compactStack(pe.Stack)))
		}
	}
	a.logger.LogAttrs(context.Background(), level, msg, attrs...)
}

// compactStack turns a debug.Stack into one readable line, innermost
// call first: "main.handler (demo.go:42) < server.(*WebSocket).run
// (finish.go:25) < ...", without the goroutine header, the frames of the
// panic and its recovery, or argument values. A log line holds it whole.
func compactStack(stack []byte) string {
	lines := strings.Split(strings.TrimSpace(string(stack)), "\n")
	var frames []string
	panicked := false
	for i := 1; i+1 < len(lines); i += 2 {
		fn, at := strings.TrimSpace(lines[i]), strings.TrimSpace(lines[i+1])
		if j := strings.LastIndexByte(fn, '('); j > 0 && strings.HasSuffix(fn, ")") {
			fn = fn[:j] // drop the arguments
		}
		if j := strings.Index(fn, " in goroutine "); j > 0 {
			fn = fn[:j] // "created by f in goroutine 7"
		}
		if !panicked {
			// Everything up to the runtime's panic is the recovery.
			panicked = strings.HasPrefix(fn, "panic")
			continue
		}
		if j := strings.LastIndexByte(at, ' '); j > 0 {
			at = at[:j] // drop the pc offset
		}
		frames = append(frames, fn+" ("+filepath.Base(at)+")")
	}
	if len(frames) == 0 {
		return strings.TrimSpace(string(stack))
	}
	return strings.Join(frames, " < ")
}

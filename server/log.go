package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
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
		info.status = ws.status
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

// logEnd writes the one record of a connection's end.
func (a *App) logEnd(route *Route, r *http.Request, start time.Time, info endInfo) {
	attrs := []slog.Attr{
		slog.String("route", route.pattern),
		slog.String("remote", r.RemoteAddr),
	}
	if info.status != http.StatusSwitchingProtocols {
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
			attrs = append(attrs, slog.String("stack", string(pe.Stack)))
		}
	}
	a.logger.LogAttrs(context.Background(), level, "websocket connection ended", attrs...)
}

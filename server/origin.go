package server

import (
	"net/http"
	"net/url"
	"path"
	"strings"
)

// originAllowed is the defence against cross-site WebSocket hijacking: a
// browser sends cookies with a cross-site handshake, and only the Origin
// header tells the server who asks (RFC 6455 section 10.2). Clients other
// than browsers send no Origin and are let through.
func (a *App) originAllowed(r *http.Request) bool {
	if a.opts.InsecureSkipOriginCheck {
		return true
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false // includes the "null" origin of sandboxed pages and files
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, p := range a.opts.OriginPatterns {
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(u.Host)); ok {
			return true
		}
	}
	return false
}

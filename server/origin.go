package server

import (
	"net"
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
	// The scheme, when the request's is known: a request that came over
	// TLS is https, and a page served over plain http must not reach it as
	// if it were the same origin (RFC 6454 section 4: an origin is scheme,
	// host and port). Behind a proxy that ends TLS, the request's scheme
	// is not known here, and only the host is compared.
	if r.TLS != nil && u.Scheme != "https" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, p := range a.opts.OriginPatterns {
		target := u.Host
		if strings.Contains(p, "://") {
			target = u.Scheme + "://" + u.Host // a pattern with a scheme matches it too
		}
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(target)); ok {
			return true
		}
	}
	return false
}

// hostAllowed reports whether the app answers to host, a request's Host
// (see Options.AllowedHosts).
func (a *App) hostAllowed(host string) bool {
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.ToLower(strings.TrimSuffix(strings.Trim(name, "[]"), "."))
	if len(a.opts.AllowedHosts) == 0 {
		// By default, what a DNS-rebinding page cannot be: an address, or
		// localhost (RFC 6761 section 6.3: it never leaves the machine).
		return net.ParseIP(name) != nil || name == "localhost" || strings.HasSuffix(name, ".localhost")
	}
	for _, p := range a.opts.AllowedHosts {
		p = strings.ToLower(p)
		switch {
		case p == "*", p == name:
			return true
		case strings.HasPrefix(p, ".") && (name == p[1:] || strings.HasSuffix(name, p)):
			return true
		}
	}
	return false
}

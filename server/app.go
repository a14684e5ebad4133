package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"time"

	"wsraise/wsproto"
)

// Options configures an App. The zero value gives the defaults.
type Options struct {
	// Logger receives one record per connection end. Default slog.Default().
	Logger *slog.Logger

	// OriginPatterns lists the origins allowed besides the request's own
	// host, as path.Match patterns on the Origin's host ("*.example.com",
	// "localhost:*"), or on its scheme and host ("https://*.example.com").
	// By default only same-origin browsers get through; a request that
	// came over TLS also needs an https Origin.
	OriginPatterns []string
	// InsecureSkipOriginCheck accepts every Origin. Only for servers that
	// use no cookies or other ambient credentials: it allows cross-site
	// WebSocket hijacking.
	InsecureSkipOriginCheck bool

	// PingInterval is how often the server pings an idle peer; a peer that
	// does not answer within PongTimeout is closed with 1011. Defaults 20s
	// and 20s, as uvicorn; a negative PingInterval turns pings off.
	PingInterval, PongTimeout time.Duration
	// CloseTimeout bounds the closing handshake. Default 5s.
	CloseTimeout time.Duration
	// HandshakeTimeout bounds writing the 101 response. Default 10s.
	HandshakeTimeout time.Duration
	// WriteTimeout bounds every send (to within an eighth more, see
	// wsproto.UpgradeOptions); a send that times out ends the connection
	// (the peer sees 1006). Default 10s.
	WriteTimeout time.Duration
	// ReadLimit is the largest message accepted; larger ones close with
	// 1009. Default 16 MiB. With compression it bounds the decompressed
	// size too.
	ReadLimit int64
	// Compression, if set, accepts permessage-deflate (RFC 7692) from
	// clients that offer it; nil, the default, leaves it off. A route may
	// override it with Route.Compression. See wsproto.CompressionOptions
	// for what each choice costs per connection.
	Compression *wsproto.CompressionOptions

	// AllowedHosts lists the hosts the app answers to, as Django's
	// ALLOWED_HOSTS: "example.com" matches that host on any port, and
	// ".example.com" matches it and its subdomains; "*" matches every
	// host. A request whose Host matches none is refused with 421 before
	// any handler runs. By default only "localhost", its subdomains and
	// IP addresses are allowed: set it for a server reached by a name.
	// Without it, a DNS-rebinding page (evil.example, its name pointed at
	// 127.0.0.1) would pass the origin check, since its Origin and Host
	// are both evil.example.
	AllowedHosts []string

	// MaxConnections caps the handshakes and connections the app holds at
	// once; past it, a handshake is refused with 503 and Retry-After, and
	// logged. Default 10,000; negative for no limit.
	MaxConnections int
	// MaxBufferedBytes caps the bytes that all connections may hold at
	// once in messages being received (partly read, decompressed, or
	// waiting for a receive method), and in inflating them (48 KiB for
	// each message in progress on a connection with permessage-deflate).
	// A message that would go past it closes its connection with 1013
	// Try Again Later (registered with IANA, RFC 6455 section 11.7),
	// logged. Default 64 MiB; negative for no limit. It counts buffers in
	// use: the heap can reach a few times it, since outgrown buffers and
	// messages already handed to handlers wait for the garbage collector
	// (figures in docs/RELIABILITY.md). The defaults are chosen for a
	// 1 GiB container.
	MaxBufferedBytes int64

	// ShutdownCode is the code Shutdown closes connections with: 1001
	// Going Away by default, or 1012 Service Restart as uvicorn.
	ShutdownCode wsproto.StatusCode

	// CloseAfterAccept makes an exception raised before the handshake was
	// accepted accept it and then close with its code and reason, so that
	// browsers see them; by default the handshake is refused with 403.
	CloseAfterAccept bool
	// Debug puts the text of unhandled errors in the 1011 close reason.
	// Never in production: it shows internals to clients.
	Debug bool
}

// Handler is a WebSocket route's function. Returning an error, or
// panicking with one, raises it: see the package documentation.
type Handler func(ws *WebSocket) error

// Guard runs before the handler, before the handshake is accepted:
// authentication, rate limits, validation. An error it returns is raised
// as if the handler had returned it.
type Guard func(ws *WebSocket) error

// App is an http.Handler that serves WebSocket routes.
type App struct {
	opts     Options
	logger   *slog.Logger
	mux      *http.ServeMux
	handlers handlerSet

	mu       sync.Mutex
	conns    map[*WebSocket]struct{} // accepted and not yet ended
	pending  map[*WebSocket]struct{} // handlers running, not yet accepted
	active   sync.WaitGroup          // running handlers
	running  int                     // the same, counted for MaxConnections
	shutdown bool
	budget   budget // MaxBufferedBytes
}

// New returns an App with opts.
func New(opts Options) *App {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.PingInterval == 0 {
		opts.PingInterval = 20 * time.Second
	}
	if opts.PongTimeout <= 0 {
		opts.PongTimeout = 20 * time.Second
	}
	if opts.CloseTimeout <= 0 {
		opts.CloseTimeout = wsproto.DefaultCloseTimeout
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	if opts.ShutdownCode == 0 {
		opts.ShutdownCode = wsproto.StatusGoingAway
	}
	if opts.MaxConnections == 0 {
		opts.MaxConnections = DefaultMaxConnections
	}
	if opts.MaxBufferedBytes == 0 {
		opts.MaxBufferedBytes = DefaultMaxBufferedBytes
	}
	a := &App{
		opts:    opts,
		logger:  opts.Logger,
		mux:     http.NewServeMux(),
		conns:   make(map[*WebSocket]struct{}),
		pending: make(map[*WebSocket]struct{}),
	}
	a.budget.limit = opts.MaxBufferedBytes
	return a
}

func (a *App) handlerSet() *handlerSet { return &a.handlers }

// Route is a registered WebSocket route.
type Route struct {
	app      *App
	pattern  string
	handler  Handler
	guards   []Guard
	handlers handlerSet

	closeAfterAccept    bool
	closeAfterAcceptSet bool // closeAfterAccept overrides Options.CloseAfterAccept
	compression         *wsproto.CompressionOptions
	compressionSet      bool // compression overrides Options.Compression
}

func (r *Route) handlerSet() *handlerSet { return &r.handlers }

// Guard adds guards that run, in order, before the route's handler. A
// guard hands what it learned (the authenticated user, say) to the
// handler with a Key. A nil guard panics.
func (r *Route) Guard(g ...Guard) *Route {
	for _, f := range g {
		if f == nil {
			misuse("nil guard on route %q", r.pattern)
		}
	}
	r.guards = append(r.guards, g...)
	return r
}

// CloseAfterAccept sets, for this route, whether an exception raised
// before accept accepts the handshake and then closes (true) or refuses it
// with an HTTP status (false), overriding Options.CloseAfterAccept.
func (r *Route) CloseAfterAccept(on bool) *Route {
	r.closeAfterAccept, r.closeAfterAcceptSet = on, true
	return r
}

// Compression sets permessage-deflate for this route, overriding
// Options.Compression; nil turns it off on this route.
func (r *Route) Compression(opts *wsproto.CompressionOptions) *Route {
	r.compression, r.compressionSet = opts, true
	return r
}

// compressionOptions is what the route's connections accept.
func (r *Route) compressionOptions() *wsproto.CompressionOptions {
	if r.compressionSet {
		return r.compression
	}
	return r.app.opts.Compression
}

// Handle registers a WebSocket route. pattern is a net/http ServeMux
// pattern, such as "/rooms/{room}"; the handler reads path values with
// ws.PathValue. A pattern without a method matches GET only, since every
// WebSocket handshake is a GET (RFC 6455 section 4.1); a pattern with
// another method panics, as do a nil handler, an App not made by New, and
// the patterns http.ServeMux refuses. Register routes before the app
// serves.
func (a *App) Handle(pattern string, h Handler) *Route {
	if a.mux == nil {
		misuse("Handle(%q) on an App not made by server.New", pattern)
	}
	if h == nil {
		misuse("nil handler for %q", pattern)
	}
	r := &Route{app: a, pattern: pattern, handler: h}
	if method, _, ok := strings.Cut(pattern, " "); !ok {
		pattern = http.MethodGet + " " + pattern
	} else if method != http.MethodGet {
		misuse("pattern %q: a WebSocket handshake is a GET, not %s", pattern, method)
	}
	serve := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		a.serve(r, w, req)
	})
	a.mux.Handle(pattern, serve)
	// Over HTTP/2 the handshake is an extended CONNECT (RFC 8441 section
	// 4), which net/http accepts when GODEBUG=http2xconnect=1.
	a.mux.Handle(http.MethodConnect+strings.TrimPrefix(pattern, http.MethodGet), serve)
	return r
}

// ServeHTTP dispatches a request to its route; other requests get 404.
// For a WebSocket route, it returns once Accept has hijacked the
// connection, or once the handshake is refused: the handler goes on in a
// goroutine of its own, and net/http frees what it held for the request.
// WebSocket.Request stays valid.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if a.mux == nil {
		misuse("ServeHTTP on an App not made by server.New")
	}
	if !a.hostAllowed(r.Host) {
		// RFC 9110 section 15.5.20: this server does not answer for that
		// authority.
		http.Error(w, "host not allowed (see server.Options.AllowedHosts)", http.StatusMisdirectedRequest)
		a.logger.LogAttrs(r.Context(), slog.LevelWarn, "request refused: host not allowed",
			slog.String("host", r.Host), slog.String("path", r.URL.Path), slog.String("remote", r.RemoteAddr))
		return
	}
	a.mux.ServeHTTP(w, r)
}

// misuse panics with a message that names the caller of the exported
// function that found the mistake, as net/http's ServeMux does.
func misuse(format string, args ...any) {
	msg := "server: " + fmt.Sprintf(format, args...)
	if _, file, line, ok := runtime.Caller(2); ok {
		msg += fmt.Sprintf(" (at %s:%d)", file, line)
	}
	panic(msg)
}

// warnValueReceiver logs, at registration, a HandleException for *T whose
// T has a value-receiver Error method: an error returned as a T, not a *T,
// never matches it.
func warnValueReceiver(r Registry, t reflect.Type) {
	var logger *slog.Logger
	switch r := r.(type) {
	case *App:
		logger = r.logger
	case *Route:
		logger = r.app.logger
	}
	if logger == nil {
		return
	}
	where := ""
	if _, file, line, ok := runtime.Caller(2); ok {
		where = fmt.Sprintf("%s:%d", file, line)
	}
	logger.Warn(fmt.Sprintf("HandleException[%v]: %v has a value-receiver Error method, so an error returned as %v (not %v) never matches this handler; register HandleException[%v] as well, or give Error a pointer receiver", t, t.Elem(), t.Elem(), t, t.Elem()),
		"at", where)
}

// serve runs one WebSocket connection from handshake request to end.
func (a *App) serve(route *Route, w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	// Not a WebSocket handshake at all: answer as the protocol says, and
	// never run the handler.
	if status, _ := wsproto.CheckRequest(r); status != 0 {
		wsproto.Upgrade(w, r, nil) // writes the refusal for this status
		return
	}
	if !a.originAllowed(r) {
		http.Error(w, "origin not allowed", http.StatusForbidden)
		a.logEnd(route, r, start, endInfo{status: http.StatusForbidden, reason: "origin not allowed"})
		return
	}
	if refusal := a.enter(); refusal != "" {
		w.Header().Set("Retry-After", "1")
		http.Error(w, refusal, http.StatusServiceUnavailable)
		a.logEnd(route, r, start, endInfo{status: http.StatusServiceUnavailable, reason: refusal})
		return
	}
	ws := newWebSocket(a, route, w, r)
	a.mu.Lock()
	a.pending[ws] = struct{}{}
	a.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer a.leave()
		defer close(done)
		defer func() {
			a.mu.Lock()
			delete(a.pending, ws)
			a.mu.Unlock()
		}()
		finished := false
		defer func() {
			if !finished {
				// runtime.Goexit in the handler, a guard or an exception
				// handler: the connection still ends by the rules, with
				// no exception handler this time.
				ws.finish(errGoexit, start, false)
			}
		}()
		ws.finish(ws.run(), start, true)
		finished = true
	}()
	// net/http's part ends with the handshake. Once the connection is
	// hijacked, return, so that net/http frees what it held for the
	// request (its buffers, about 6 KiB) while the handler goes on in its
	// own goroutine. A refusal is written before done is closed. Over
	// HTTP/2 the stream is never hijacked: this waits for the handler's
	// end, and returning ends the stream.
	select {
	case <-ws.hijacked:
	case <-done:
		if ws.aborted {
			// http.ErrAbortHandler before accept: net/http, in its own
			// goroutine, drops the connection with no response.
			panic(http.ErrAbortHandler)
		}
	}
}

// enter counts a handler in, or says why it may not run.
func (a *App) enter() (refusal string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case a.shutdown:
		return "server shutting down"
	case a.opts.MaxConnections > 0 && a.running >= a.opts.MaxConnections:
		return "too many connections"
	}
	a.running++
	a.active.Add(1)
	return ""
}

// leave counts a handler out.
func (a *App) leave() {
	a.mu.Lock()
	a.running--
	a.mu.Unlock()
	a.active.Done()
}

func (a *App) track(ws *WebSocket) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.shutdown {
		return false
	}
	a.conns[ws] = struct{}{}
	return true
}

func (a *App) untrack(ws *WebSocket) {
	a.mu.Lock()
	delete(a.conns, ws)
	a.mu.Unlock()
}

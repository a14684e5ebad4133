package wsproto

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// DialOptions configures Dial. The zero value is ready to use.
type DialOptions struct {
	// Header holds extra request headers: Origin, Authorization, Cookie...
	Header http.Header
	// Subprotocols to offer, in order of preference.
	Subprotocols []string
	// TLSConfig is used for wss:// URLs. ServerName defaults to the host.
	TLSConfig *tls.Config
	// NetDial, if set, opens the TCP connection.
	NetDial func(ctx context.Context, network, addr string) (net.Conn, error)
	// HandshakeTimeout bounds the whole opening handshake, on top of ctx.
	// Default 10s.
	HandshakeTimeout time.Duration
	// As in UpgradeOptions.
	ReadLimit                       int64
	CloseTimeout                    time.Duration
	WriteTimeout                    time.Duration
	ReadBufferSize, WriteBufferSize int
	OnPong                          func(payload []byte)
	// Compression, if set, offers permessage-deflate (RFC 7692); the
	// server may decline it. nil offers nothing.
	Compression *CompressionOptions
	// HTTP2, if set, opens the WebSocket over HTTP/2 (RFC 8441) through
	// this transport: an extended CONNECT on a connection it opens or
	// reuses, so that many WebSockets share one connection. It must send
	// the :protocol pseudo-header, as golang.org/x/net/http2's Transport
	// does (net/http's does not); TLSConfig and NetDial are then its own
	// business. A server that does not speak RFC 8441 fails the dial.
	HTTP2 http.RoundTripper
}

// maxErrorBody is how much of a refusal's body a HandshakeError keeps.
const maxErrorBody = 1024

// Dial opens a WebSocket connection to a ws:// or wss:// URL (RFC 6455
// section 4.1). ctx bounds the handshake only. If the server answers with
// anything but 101, Dial returns a *HandshakeError holding its status,
// headers and the start of its body; the response is returned as well
// whenever one was read.
func Dial(ctx context.Context, rawURL string, opts *DialOptions) (*Conn, *http.Response, error) {
	if opts == nil {
		opts = &DialOptions{}
	}
	if err := checkCompressionOptions(opts.Compression); err != nil {
		return nil, nil, err
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, err
	}
	// Section 3: the ws and wss schemes; a fragment "MUST NOT be used".
	var port string
	switch u.Scheme {
	case "ws", "http":
		port = "80"
	case "wss", "https":
		port = "443"
	default:
		return nil, nil, fmt.Errorf("websocket: URL scheme must be ws or wss, not %q", u.Scheme)
	}
	if u.Fragment != "" || strings.Contains(rawURL, "#") {
		return nil, nil, errors.New("websocket: URL must not have a fragment")
	}
	timeout := opts.HandshakeTimeout
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	if opts.HTTP2 != nil {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return dialH2(ctx, u, opts)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), port)
	}

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	dial := opts.NetDial
	if dial == nil {
		dial = new(net.Dialer).DialContext
	}
	nc, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	// Until the handshake is over, ctx ends it by closing the connection.
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(aLongTimeAgo) })
	c, resp, err := handshake(ctx, nc, u, port == "443", opts)
	if !stop() || err != nil {
		nc.Close()
		if err == nil {
			err = fmt.Errorf("websocket: handshake with %s: %w", addr, ctx.Err())
		} else if cerr := ctxError(ctx, err); cerr != err {
			err = fmt.Errorf("websocket: handshake with %s: %w", addr, cerr)
		}
		return nil, resp, err
	}
	nc.SetDeadline(time.Time{})
	return c, resp, nil
}

func handshake(ctx context.Context, nc net.Conn, u *url.URL, secure bool, opts *DialOptions) (*Conn, *http.Response, error) {
	if secure {
		cfg := opts.TLSConfig.Clone()
		if cfg == nil {
			cfg = &tls.Config{}
		}
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, nil, err
		}
		nc = tc
	}

	// Section 4.1: the key is 16 random bytes, base64-encoded.
	var raw [16]byte
	rand.Read(raw[:])
	key := base64.StdEncoding.EncodeToString(raw[:])

	var req strings.Builder
	req.WriteString("GET " + u.RequestURI() + " HTTP/1.1\r\n")
	req.WriteString("Host: " + u.Host + "\r\n")
	req.WriteString("Upgrade: websocket\r\nConnection: Upgrade\r\n")
	req.WriteString("Sec-WebSocket-Key: " + key + "\r\n")
	req.WriteString("Sec-WebSocket-Version: 13\r\n")
	if len(opts.Subprotocols) > 0 {
		if err := checkSubprotocols(opts.Subprotocols); err != nil {
			return nil, nil, err
		}
		req.WriteString("Sec-WebSocket-Protocol: " + strings.Join(opts.Subprotocols, ", ") + "\r\n")
	}
	if opts.Compression != nil {
		req.WriteString("Sec-WebSocket-Extensions: " + deflateOffer(clientOffer(opts.Compression)) + "\r\n")
	}
	for name, values := range opts.Header {
		if err := checkDialHeader(name); err != nil {
			return nil, nil, err
		}
		for _, v := range values {
			if !validHeaderValue(v) {
				return nil, nil, fmt.Errorf("websocket: invalid value for header %s", name)
			}
			req.WriteString(name + ": " + v + "\r\n")
		}
	}
	req.WriteString("\r\n")
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	if _, err := io.WriteString(nc, req.String()); err != nil {
		return nil, nil, err
	}

	bufSize := max(opts.ReadBufferSize, defaultBufferSize)
	br := bufio.NewReaderSize(nc, bufSize)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet, URL: u})
	if err != nil {
		return nil, nil, fmt.Errorf("websocket: reading the handshake response: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		return nil, resp, &HandshakeError{Status: resp.StatusCode, Header: resp.Header, Body: string(body)}
	}
	if err := checkResponse(resp, key, opts.Subprotocols); err != nil {
		return nil, resp, err
	}
	// Section 4.1 item 5, and RFC 7692 section 5.1: an extension in the
	// response must be one offered, with parameters the client accepts.
	compression, err := negotiateClient(resp.Header["Sec-Websocket-Extensions"], opts.Compression)
	if err != nil {
		return nil, resp, err
	}
	return newConn(nc, br, false, opts.config(resp, compression)), resp, nil
}

// config is what newConn takes of the options, with what the server's
// response agreed.
func (opts *DialOptions) config(resp *http.Response, compression *compressionConfig) config {
	return config{
		readLimit:       opts.ReadLimit,
		closeTimeout:    opts.CloseTimeout,
		writeTimeout:    opts.WriteTimeout,
		readBufferSize:  opts.ReadBufferSize,
		writeBufferSize: opts.WriteBufferSize,
		onPong:          opts.OnPong,
		subprotocol:     resp.Header.Get("Sec-WebSocket-Protocol"),
		compression:     compression,
	}
}

// checkDialHeader refuses a header Dial sets itself, or a name that is
// not a token.
func checkDialHeader(name string) error {
	switch http.CanonicalHeaderKey(name) {
	case "Host", "Upgrade", "Connection", "Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Protocol", "Sec-Websocket-Extensions":
		return fmt.Errorf("websocket: header %s is set by Dial", name)
	}
	if !isToken(name) {
		return fmt.Errorf("websocket: invalid header name %q", name)
	}
	return nil
}

// checkSubprotocolChosen applies RFC 6455 section 4.1 item 6: a
// subprotocol in the response only from those offered.
func checkSubprotocolChosen(h http.Header, offered []string) error {
	if p := h["Sec-Websocket-Protocol"]; len(p) > 0 {
		if len(p) > 1 || selectSubprotocol(offered, p) == "" {
			return errors.New("websocket: server chose a subprotocol that was not offered")
		}
	}
	return nil
}

// checkResponse applies RFC 6455 section 4.1's checks to a 101 response;
// any failure fails the connection.
// checkSubprotocols enforces section 4.1, item 10: the subprotocols
// offered "MUST be non-empty strings with characters in the range U+0021 to
// U+007E not including separator characters as defined in [RFC2616] and
// MUST all be unique strings" — that is, HTTP tokens. (It also keeps a CR
// or LF in a name from adding lines to the request.)
func checkSubprotocols(protocols []string) error {
	for i, p := range protocols {
		if !isToken(p) {
			return fmt.Errorf("websocket: subprotocol %q is not a token", p)
		}
		if slices.Contains(protocols[:i], p) {
			return fmt.Errorf("websocket: subprotocol %q offered twice", p)
		}
	}
	return nil
}

func checkResponse(resp *http.Response, key string, offered []string) error {
	// Items 2 and 3: Upgrade: websocket, Connection: Upgrade.
	if !headerContainsToken(resp.Header["Upgrade"], "websocket") {
		return errors.New("websocket: server's response lacks Upgrade: websocket")
	}
	if !headerContainsToken(resp.Header["Connection"], "upgrade") {
		return errors.New("websocket: server's response lacks Connection: Upgrade")
	}
	// Item 4: Sec-WebSocket-Accept is derived from our key.
	if resp.Header.Get("Sec-WebSocket-Accept") != acceptKey(key) {
		return errors.New("websocket: server's Sec-WebSocket-Accept does not match the key")
	}
	return checkSubprotocolChosen(resp.Header, offered)
}

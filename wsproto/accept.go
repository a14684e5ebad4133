package wsproto

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// UpgradeOptions configures Upgrade. The zero value is ready to use.
type UpgradeOptions struct {
	// Subprotocols the server speaks, in its order of preference. The first
	// one the client also offered is chosen; if none is, the handshake goes
	// on without a subprotocol (RFC 6455 section 4.2.2).
	Subprotocols []string
	// Header holds extra headers for the 101 response (cookies, for
	// instance). The handshake's own headers (Upgrade, Connection,
	// Sec-WebSocket-Accept, -Protocol, -Extensions) may not be set here:
	// Upgrade answers 500 if they are.
	Header http.Header
	// HandshakeTimeout bounds writing the response. Default 10s.
	HandshakeTimeout time.Duration
	// ReadLimit is the largest message accepted, in bytes; a larger one is
	// answered with 1009. Default DefaultReadLimit; negative for no limit.
	ReadLimit int64
	// CloseTimeout bounds the closing handshake. Default 5s.
	CloseTimeout time.Duration
	// WriteTimeout, if set, bounds each write whose context has no
	// deadline (to within an eighth more: the deadline is moved once per
	// eighth of the timeout, not at every write); a write that times out
	// closes the connection.
	WriteTimeout time.Duration
	// ReadBufferSize and WriteBufferSize size the I/O buffers. Default 4096.
	ReadBufferSize, WriteBufferSize int
	// OnPong, if set, is called with the payload of every pong received,
	// from the goroutine that is reading.
	OnPong func(payload []byte)
	// Compression, if set, accepts permessage-deflate (RFC 7692) when the
	// client offers it in a form the server can honour; nil leaves it off.
	Compression *CompressionOptions
}

// handshakeHeaders are the response headers Upgrade writes itself, which
// UpgradeOptions.Header may not hold.
var handshakeHeaders = map[string]bool{
	"Upgrade":                  true,
	"Connection":               true,
	"Sec-Websocket-Accept":     true,
	"Sec-Websocket-Protocol":   true,
	"Sec-Websocket-Extensions": true,
}

// DefaultHandshakeTimeout bounds a handshake when the options set none.
const DefaultHandshakeTimeout = 10 * time.Second

// Upgrade validates an opening handshake (RFC 6455 section 4.2.1), takes
// over the connection from net/http and answers 101 Switching Protocols.
//
// If the request is not a valid WebSocket handshake, Upgrade writes an HTTP
// error response and returns a *HandshakeError with its status: 405 for a
// method other than GET; 426 with "Upgrade: websocket" when the request is
// not an HTTP/1.1 upgrade to websocket; 426 with "Sec-WebSocket-Version: 13"
// for another protocol version; 400 for a missing or malformed
// Sec-WebSocket-Key; 501 when the ResponseWriter cannot be hijacked.
//
// Over HTTP/2, Upgrade accepts an extended CONNECT whose :protocol is
// websocket (RFC 8441), answering 200, or refuses it with 400 when
// Sec-WebSocket-Version is not 13; the handler must then not return
// before the connection ends (see HTTP/2 in the package documentation).
//
// Upgrade does not check the Origin header. By default the connection has
// no write timeout (set UpgradeOptions.WriteTimeout), and nothing pings
// the peer: that is the application's job (Conn.Ping, with
// UpgradeOptions.OnPong for the answers), or package server's. A server
// that browsers or the Internet can reach needs all three; the package
// documentation shows how.
func Upgrade(w http.ResponseWriter, r *http.Request, opts *UpgradeOptions) (*Conn, error) {
	if opts == nil {
		opts = &UpgradeOptions{}
	}
	// An HTTP/2 extended CONNECT (RFC 8441, h2.go), or an HTTP/1.1
	// upgrade.
	h2 := isExtendedConnect(r)
	refuse := refuse
	if isOtherExtendedConnect(r) {
		return nil, refuseH2(w, http.StatusBadRequest, errProtocol)
	}
	if h2 {
		refuse = refuseH2
		if status, err := checkExtendedConnect(r); err != nil {
			return nil, refuse(w, status, err)
		}
	} else if status, err := checkRequest(r); err != nil {
		return nil, refuse(w, status, err)
	}
	subprotocol := selectSubprotocol(ClientSubprotocols(r), opts.Subprotocols)
	if err := checkCompressionOptions(opts.Compression); err != nil {
		return nil, refuse(w, http.StatusInternalServerError, err)
	}
	// RFC 7692 section 5.1: the server accepts at most one offer; one it
	// cannot honour, or a malformed one, is declined, never refused.
	compression := negotiateServer(r.Header["Sec-Websocket-Extensions"], opts.Compression)
	var extra strings.Builder
	for name, values := range opts.Header {
		if !isToken(name) {
			return nil, refuse(w, http.StatusInternalServerError, errors.New("invalid response header name "+strconv.Quote(name)))
		}
		if handshakeHeaders[http.CanonicalHeaderKey(name)] {
			// A second Upgrade, Sec-WebSocket-Accept or -Extensions line
			// makes a response the client must reject (section 4.1).
			return nil, refuse(w, http.StatusInternalServerError, errors.New("response header "+name+" is the handshake's own: use UpgradeOptions.Subprotocols or Compression"))
		}
		for _, v := range values {
			if !validHeaderValue(v) {
				return nil, refuse(w, http.StatusInternalServerError, errors.New("invalid value for response header "+name))
			}
			extra.WriteString(name + ": " + v + "\r\n")
		}
	}
	timeout := opts.HandshakeTimeout
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	cfg := config{
		readLimit:       opts.ReadLimit,
		closeTimeout:    opts.CloseTimeout,
		writeTimeout:    opts.WriteTimeout,
		readBufferSize:  opts.ReadBufferSize,
		writeBufferSize: opts.WriteBufferSize,
		onPong:          opts.OnPong,
		subprotocol:     subprotocol,
		compression:     compression,
	}
	if h2 {
		headers := opts.Header.Clone()
		if headers == nil {
			headers = http.Header{}
		}
		if subprotocol != "" {
			headers.Set("Sec-WebSocket-Protocol", subprotocol)
		}
		if compression != nil {
			headers.Set("Sec-WebSocket-Extensions", compression.extension)
		}
		nc, err := acceptH2(w, r, headers, timeout)
		if err != nil {
			return nil, err
		}
		return newConn(nc, nil, true, cfg), nil
	}

	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, refuse(w, http.StatusNotImplemented, errors.New("the connection cannot be hijacked"))
	}
	// Section 4.2.2: the response to a valid handshake.
	resp := "HTTP/1.1 101 Switching Protocols\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + acceptKey(r.Header.Get("Sec-WebSocket-Key")) + "\r\n"
	if subprotocol != "" {
		resp += "Sec-WebSocket-Protocol: " + subprotocol + "\r\n"
	}
	if compression != nil {
		resp += "Sec-WebSocket-Extensions: " + compression.extension + "\r\n"
	}
	resp += extra.String() + "\r\n"

	// net/http may have left its own deadlines on the connection.
	nc.SetDeadline(time.Time{})
	nc.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := nc.Write([]byte(resp)); err != nil {
		nc.Close()
		return nil, err
	}
	nc.SetWriteDeadline(time.Time{})
	// Bytes the HTTP server read past the request are the first frames.
	return newConn(nc, brw.Reader, true, cfg), nil
}

var (
	errMethod     = errors.New("the method must be GET")
	errNotUpgrade = errors.New("not a websocket upgrade request")
	errVersion    = errors.New("unsupported Sec-WebSocket-Version: only 13 is supported")
	errKey        = errors.New("Sec-WebSocket-Key must be one base64-encoded 16-byte value")
)

// CheckRequest reports whether r is a valid opening handshake, as Upgrade
// would judge it: 0 and nil, or the HTTP status Upgrade would refuse it with.
func CheckRequest(r *http.Request) (status int, err error) {
	if isOtherExtendedConnect(r) {
		return http.StatusBadRequest, errProtocol
	}
	if isExtendedConnect(r) {
		return checkExtendedConnect(r)
	}
	return checkRequest(r)
}

// checkRequest applies the rules of RFC 6455 section 4.2.1 to a request
// and returns the status to refuse it with, or 0 and nil.
func checkRequest(r *http.Request) (int, error) {
	// 4.2.1 item 1: "An HTTP/1.1 or higher GET request".
	if r.Method != http.MethodGet {
		return http.StatusMethodNotAllowed, errMethod
	}
	if !r.ProtoAtLeast(1, 1) {
		return http.StatusUpgradeRequired, errNotUpgrade
	}
	// Items 3 and 4: "An |Upgrade| header field containing the value
	// "websocket""; "A |Connection| header field that includes the token
	// "Upgrade"", both ASCII case-insensitive.
	if !headerContainsToken(r.Header["Upgrade"], "websocket") ||
		!headerContainsToken(r.Header["Connection"], "upgrade") {
		return http.StatusUpgradeRequired, errNotUpgrade
	}
	// Item 6 and section 4.4: version 13, or a 426 that names it.
	if v := r.Header["Sec-Websocket-Version"]; len(v) != 1 || strings.TrimSpace(v[0]) != "13" {
		return http.StatusUpgradeRequired, errVersion
	}
	// Item 5: "a |Sec-WebSocket-Key| header field with a base64-encoded
	// value that, when decoded, is 16 bytes in length".
	k := r.Header["Sec-Websocket-Key"]
	if len(k) != 1 {
		return http.StatusBadRequest, errKey
	}
	var raw [18]byte
	key := strings.TrimSpace(k[0])
	if len(key) != 24 {
		return http.StatusBadRequest, errKey
	}
	if n, err := base64.StdEncoding.Decode(raw[:], []byte(key)); err != nil || n != 16 {
		return http.StatusBadRequest, errKey
	}
	return 0, nil
}

// refuse writes the HTTP answer to a request that cannot be upgraded.
func refuse(w http.ResponseWriter, status int, err error) error {
	h := w.Header()
	switch {
	case errors.Is(err, errMethod):
		h.Set("Allow", http.MethodGet)
	case errors.Is(err, errNotUpgrade):
		h.Set("Upgrade", "websocket")
		h.Set("Connection", "Upgrade")
	case errors.Is(err, errVersion):
		// Section 4.4: list the versions the server speaks.
		h.Set("Sec-WebSocket-Version", "13")
		h.Set("Upgrade", "websocket")
		h.Set("Connection", "Upgrade")
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	body := err.Error()
	w.WriteHeader(status)
	w.Write([]byte(body + "\n"))
	return &HandshakeError{Status: status, Header: h.Clone(), Body: body}
}

// acceptKey computes Sec-WebSocket-Accept (section 4.2.2 item 5.4): the
// base64 SHA-1 of the key and the protocol's GUID.
func acceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte("258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// ClientSubprotocols returns the subprotocols a handshake request offers,
// in the client's order (section 4.1: Sec-WebSocket-Protocol is a
// comma-separated list, possibly over several header lines).
func ClientSubprotocols(r *http.Request) []string {
	var out []string
	for _, line := range r.Header["Sec-Websocket-Protocol"] {
		for _, p := range strings.Split(line, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func selectSubprotocol(offered, supported []string) string {
	for _, s := range supported {
		for _, o := range offered {
			if s == o {
				return s
			}
		}
	}
	return ""
}

// HandshakeError is an opening handshake that was refused: by Upgrade,
// which answered with Status; or by a server that Dial contacted, which
// answered with Status, Header and Body (the first KiB of the body).
type HandshakeError struct {
	Status int
	Header http.Header
	Body   string
}

func (e *HandshakeError) Error() string {
	s := "websocket: handshake refused: " + strconv.Itoa(e.Status) + " " + http.StatusText(e.Status)
	if b := strings.TrimSpace(e.Body); b != "" {
		s += ": " + b
	}
	return s
}

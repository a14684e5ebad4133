package wsproto

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// The client side of WebSockets over HTTP/2 (RFC 8441), for Dial with
// DialOptions.HTTP2 set: an extended CONNECT on a connection the
// transport opens or reuses, so that many WebSockets can share one.

// dialH2 opens the WebSocket at u with an extended CONNECT through rt.
func dialH2(ctx context.Context, u *url.URL, opts *DialOptions) (*Conn, *http.Response, error) {
	target := *u
	// RFC 8441 section 4: :scheme is https for wss, http for ws.
	switch u.Scheme {
	case "wss":
		target.Scheme = "https"
	case "ws":
		target.Scheme = "http"
	}
	header := http.Header{}
	for name, values := range opts.Header {
		if err := checkDialHeader(name); err != nil {
			return nil, nil, err
		}
		for _, v := range values {
			if !validHeaderValue(v) {
				return nil, nil, fmt.Errorf("websocket: invalid value for header %s", name)
			}
		}
		header[name] = values
	}
	// Section 5: the headers of RFC 6455 but for Upgrade, Connection and
	// Sec-WebSocket-Key, and :protocol websocket.
	header.Set("Sec-WebSocket-Version", "13")
	header[":protocol"] = []string{"websocket"}
	if len(opts.Subprotocols) > 0 {
		if err := checkSubprotocols(opts.Subprotocols); err != nil {
			return nil, nil, err
		}
		header.Set("Sec-WebSocket-Protocol", strings.Join(opts.Subprotocols, ", "))
	}
	if opts.Compression != nil {
		header.Set("Sec-WebSocket-Extensions", deflateOffer(clientOffer(opts.Compression)))
	}

	// The request's context is the stream's whole life, not the
	// handshake's: cancelling it resets the stream. The handshake is
	// bounded apart.
	streamCtx, reset := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	req, err := http.NewRequestWithContext(streamCtx, http.MethodConnect, target.String(), pr)
	if err != nil {
		reset()
		return nil, nil, err
	}
	req.Header = header
	type result struct {
		resp *http.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := opts.HTTP2.RoundTrip(req)
		done <- result{resp, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		reset()
		pw.Close()
		if r := <-done; r.resp != nil {
			r.resp.Body.Close()
		}
		return nil, nil, fmt.Errorf("websocket: handshake with %s: %w", u.Host, ctx.Err())
	}
	resp, err := res.resp, res.err
	fail := func(err error) (*Conn, *http.Response, error) {
		reset()
		pw.Close()
		if resp != nil {
			resp.Body.Close()
		}
		return nil, resp, err
	}
	if err != nil {
		return fail(fmt.Errorf("websocket: extended CONNECT to %s: %w", u.Host, err))
	}
	// Section 5: a 2xx status accepts.
	if resp.StatusCode/100 != 2 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return fail(&HandshakeError{Status: resp.StatusCode, Header: resp.Header, Body: string(body)})
	}
	if err := checkSubprotocolChosen(resp.Header, opts.Subprotocols); err != nil {
		return fail(err)
	}
	compression, err := negotiateClient(resp.Header["Sec-Websocket-Extensions"], opts.Compression)
	if err != nil {
		return fail(err)
	}
	out := &clientSide{pw: pw, reset: reset}
	s := newH2Stream(resp.Body, out, nil, h2Addr(target.Host))
	return newConn(s, nil, false, opts.config(resp, compression)), resp, nil
}

// clientSide sends into the request body, which the transport sends as
// the stream's DATA frames. A write returns once the transport has taken
// its bytes.
type clientSide struct {
	pw    *io.PipeWriter
	reset context.CancelFunc // cancels the request: RST_STREAM

	mu    sync.Mutex
	timer *time.Timer // the write deadline, which resets the stream
}

func (c *clientSide) Write(p []byte) (int, error) { return c.pw.Write(p) }

func (c *clientSide) writeVector(bufs [][]byte) (int64, error) {
	var total int64
	for _, b := range bufs {
		n, err := c.pw.Write(b)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// SetWriteDeadline arms a timer that resets the stream when it fires, as
// a write deadline on a server's stream does: a write that times out
// ends the connection.
func (c *clientSide) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	if !t.IsZero() {
		c.timer = time.AfterFunc(time.Until(t), c.abort)
	}
	return nil
}

func (c *clientSide) abort() {
	c.reset()
	c.pw.CloseWithError(os.ErrDeadlineExceeded)
}

// closeWrite ends the client's side of the stream (END_STREAM).
func (c *clientSide) closeWrite() {
	c.SetWriteDeadline(time.Time{})
	c.pw.Close()
}

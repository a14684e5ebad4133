package wsproto_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"time"

	"wsraise/wsproto"
)

// An echo server: each message comes back as it was sent. Upgrade checks
// no Origin, sets no write timeout and sends no pings; this handler does
// the first two itself. For pings, see the package documentation.
func ExampleUpgrade() {
	echo := func(w http.ResponseWriter, r *http.Request) {
		// A browser sends its cookies along with a handshake from any
		// site (RFC 6455 section 10.2). Refuse pages of other hosts;
		// clients other than browsers send no Origin.
		if origin := r.Header.Get("Origin"); origin != "" {
			u, err := url.Parse(origin)
			if err != nil || !strings.EqualFold(u.Host, r.Host) {
				http.Error(w, "origin not allowed", http.StatusForbidden)
				return
			}
		}
		c, err := wsproto.Upgrade(w, r, &wsproto.UpgradeOptions{
			// A write to a peer that stops reading fails after this,
			// and closes the connection.
			WriteTimeout: 10 * time.Second,
		})
		if err != nil {
			return // Upgrade has answered with an HTTP error
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return // the client closed, or the connection failed
			}
			if err := c.Write(r.Context(), typ, msg); err != nil {
				return
			}
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(echo))
	defer srv.Close()
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http")
	ctx := context.Background()

	c, _, err := wsproto.Dial(ctx, wsURL, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.CloseNow()
	if err := c.Write(ctx, wsproto.MessageText, []byte("hello")); err != nil {
		fmt.Println(err)
		return
	}
	_, msg, err := c.Read(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(msg))
	c.Close(wsproto.StatusNormalClosure, "")

	// A page of another site is refused.
	other := &wsproto.DialOptions{Header: http.Header{"Origin": {"https://other.example"}}}
	_, _, err = wsproto.Dial(ctx, wsURL, other)
	fmt.Println(err)
	// Output:
	// hello
	// websocket: handshake refused: 403 Forbidden: origin not allowed
}

// A client sends messages and reads the answers, then closes.
func ExampleDial() {
	// A server to talk to, which echoes; see the Upgrade example.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsproto.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil || c.Write(r.Context(), typ, msg) != nil {
				return
			}
		}
	}))
	defer srv.Close()

	// ctx bounds the handshake here, and every read and write below.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := wsproto.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.CloseNow()
	for _, s := range []string{"hello", "world"} {
		if err := c.Write(ctx, wsproto.MessageText, []byte(s)); err != nil {
			fmt.Println(err)
			return
		}
		typ, msg, err := c.Read(ctx)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(typ, string(msg))
	}
	// The closing handshake: send 1000, wait for the server's close.
	if err := c.Close(wsproto.StatusNormalClosure, "done"); err != nil {
		fmt.Println(err)
	}
	// Output:
	// text hello
	// text world
}

// A message too large to hold in memory is streamed: Writer sends it as
// it is written, Reader gives it as it arrives. The server here passes
// each message on as it comes in, without holding it whole.
func ExampleConn_Writer() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsproto.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		buf := make([]byte, 32<<10)
		for {
			typ, mr, err := c.Reader(r.Context())
			if err != nil {
				return
			}
			mw, err := c.Writer(r.Context(), typ)
			if err != nil {
				return
			}
			if _, err := io.CopyBuffer(mw, mr, buf); err != nil {
				return
			}
			if err := mw.Close(); err != nil {
				return
			}
		}
	}))
	defer srv.Close()

	ctx := context.Background()
	c, _, err := wsproto.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.CloseNow()

	// One message, written in pieces. Close ends the message, not the
	// connection.
	mw, err := c.Writer(ctx, wsproto.MessageText)
	if err != nil {
		fmt.Println(err)
		return
	}
	for i := 1; i <= 3; i++ {
		fmt.Fprintf(mw, "piece %d\n", i)
	}
	if err := mw.Close(); err != nil {
		fmt.Println(err)
		return
	}

	// The message comes back; Reader streams it to stdout.
	_, mr, err := c.Reader(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := io.Copy(os.Stdout, mr); err != nil {
		fmt.Println(err)
		return
	}
	c.Close(wsproto.StatusNormalClosure, "")
	// Output:
	// piece 1
	// piece 2
	// piece 3
}

package wsproto

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestDialTLS: Dial speaks wss:// over crypto/tls (section 4.1: a secure
// connection is TLS, the handshake inside it), with the caller's TLS
// configuration; a server whose certificate is not trusted is refused.
func TestDialTLS(t *testing.T) {
	conns := make(chan *Conn, 1)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Upgrade(w, r, nil)
		if err != nil {
			return
		}
		conns <- c
	}))
	defer srv.Close()
	url := "wss" + strings.TrimPrefix(srv.URL, "https")
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	ctx := ctCtx(t)

	c, resp, err := Dial(ctx, url, &DialOptions{TLSConfig: &tls.Config{RootCAs: pool}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	s := <-conns
	defer s.CloseNow()
	if err := c.Write(ctx, MessageText, []byte("over TLS")); err != nil {
		t.Fatal(err)
	}
	if _, p, err := s.Read(ctx); err != nil || string(p) != "over TLS" {
		t.Fatalf("server read %q, %v", p, err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB, masked in pieces
	if err := c.Write(ctx, MessageBinary, big); err != nil {
		t.Fatal(err)
	}
	if _, p, err := s.Read(ctx); err != nil || !bytes.Equal(p, big) {
		t.Fatalf("server read %d bytes, %v", len(p), err)
	}
	go s.Close(StatusNormalClosure, "bye")
	var ce *CloseError
	if _, _, err := c.Read(ctx); !errors.As(err, &ce) || ce.Code != StatusNormalClosure || ce.Reason != "bye" {
		t.Fatalf("client read %v, want 1000 bye", err)
	}

	// Without the test CA, the certificate is refused.
	if c, _, err := Dial(ctx, url, nil); err == nil {
		c.CloseNow()
		t.Fatal("dialed a server with an untrusted certificate")
	} else {
		var ue x509.UnknownAuthorityError
		if !errors.As(err, &ue) && !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("error %v, want a certificate error", err)
		}
	}
}

// TestDialSubprotocolsChecked: section 4.1 item 10 — subprotocols offered
// are unique tokens; anything else is refused before a byte is sent (a CR
// LF in one would add a line to the request).
func TestDialSubprotocolsChecked(t *testing.T) {
	srv, _, _ := hsServer(t, nil)
	for _, bad := range [][]string{
		{""},
		{"chat\r\nX-Injected: 1"},
		{"chat, superchat"},
		{"a b"},
		{"chat", "chat"},
		{"caf\u00e9"},
	} {
		c, _, err := Dial(ctCtx(t), hsURL(srv), &DialOptions{Subprotocols: bad})
		if err == nil {
			c.CloseNow()
			t.Errorf("%q: dialed", bad)
		} else if !strings.Contains(err.Error(), "subprotocol") {
			t.Errorf("%q: %v, want an error about the subprotocol", bad, err)
		}
	}
	c, _, err := Dial(ctCtx(t), hsURL(srv), &DialOptions{Subprotocols: []string{"chat", "v2.json", "x!#$%&'*+-.^_`|~"}})
	if err != nil {
		t.Fatalf("valid tokens: %v", err)
	}
	c.CloseNow()
}

// TestDefaultReadLimit: with no ReadLimit, a connection, server or client,
// accepts messages up to DefaultReadLimit (16 MiB) and closes with 1009
// on one byte more.
func TestDefaultReadLimit(t *testing.T) {
	if DefaultReadLimit != 16<<20 {
		t.Fatalf("DefaultReadLimit = %d, want 16 MiB", DefaultReadLimit)
	}
	for _, fromServer := range []bool{true, false} {
		server, client := ctPair(t, nil, nil)
		from, to := client, server
		if fromServer {
			from, to = server, client
		}
		ctx := ctCtx(t)
		msg := make([]byte, DefaultReadLimit+1)
		go func() {
			if err := from.Write(ctx, MessageBinary, msg[:DefaultReadLimit]); err == nil {
				from.Write(ctx, MessageBinary, msg)
			}
		}()
		if _, p, err := to.Read(ctx); err != nil || len(p) != DefaultReadLimit {
			t.Fatalf("server %v: read %d bytes, %v; want the 16 MiB message", !fromServer, len(p), err)
		}
		var ce *CloseError
		if _, _, err := to.Read(ctx); !errors.As(err, &ce) || ce.Code != StatusMessageTooBig {
			t.Fatalf("server %v: %v, want 1009", !fromServer, err)
		}
		from.CloseNow()
	}
}

// TestClientCompressionBomb: the client, too, limits a compressed
// message by its inflated size: 10 MiB of zeros, a few KiB on the wire,
// under a 1 MiB limit fails with 1009, which the server receives.
func TestClientCompressionBomb(t *testing.T) {
	server, client := ctPair(t,
		&UpgradeOptions{Compression: &CompressionOptions{}},
		&DialOptions{ReadLimit: 1 << 20, Compression: &CompressionOptions{}})
	if !client.Compressed() {
		t.Fatal("compression not agreed")
	}
	ctx := ctCtx(t)
	werr := make(chan error, 1)
	go func() { werr <- server.Write(ctx, MessageBinary, make([]byte, 10<<20)) }()
	var ce *CloseError
	if _, _, err := client.Read(ctx); !errors.As(err, &ce) || ce.Code != StatusMessageTooBig {
		t.Fatalf("client read %v, want 1009", err)
	}
	if err := <-werr; err != nil {
		t.Fatalf("server write: %v", err)
	}
	if _, _, err := server.Read(ctx); !errors.As(err, &ce) || ce.Code != StatusMessageTooBig || !ce.Received {
		t.Fatalf("server read %v, want the client's 1009", err)
	}
}
